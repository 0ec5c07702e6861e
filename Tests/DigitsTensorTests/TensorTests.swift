import XCTest
import Foundation
import DigitsTensor

final class TensorTests: XCTestCase {
    func testShapeAndIndexing() {
        var t = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(t.rows, 2)
        XCTAssertEqual(t.columns, 3)
        XCTAssertEqual(t[1, 2], 6)
        t[0, 1] = 9
        XCTAssertEqual(t.storage, [1, 9, 3, 4, 5, 6])
        XCTAssertEqual(t.reshaped([3, 2]).shape, [3, 2])
    }

    /// The BLAS product against the plain triple loop, every transpose combination, odd sizes.
    func testGEMMMatchesReference() {
        var rng = SeededGenerator(seed: 7)
        for (m, n, k) in [(1, 1, 1), (3, 5, 7), (17, 9, 33), (64, 10, 129), (130, 7, 20), (5, 300, 9)] {
            for ta in [false, true] {
                for tb in [false, true] {
                    let a = (0..<(m * k)).map { _ in rng.nextNormal() }
                    let b = (0..<(k * n)).map { _ in rng.nextNormal() }
                    let c0 = (0..<(m * n)).map { _ in rng.nextNormal() }
                    var fast = c0, slow = c0
                    let lda = ta ? m : k, ldb = tb ? k : n
                    BLAS.gemm(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: 0.5,
                              a: a, lda: lda, b: b, ldb: ldb, beta: 2, c: &fast, ldc: n)
                    BLAS.referenceGEMM(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: 0.5,
                                       a: a, lda: lda, b: b, ldb: ldb, beta: 2, c: &slow, ldc: n)
                    for i in 0..<(m * n) {
                        XCTAssertEqual(fast[i], slow[i], accuracy: 1e-4 * Float(k), "m\(m) n\(n) k\(k) ta\(ta) tb\(tb) at \(i)")
                    }
                }
            }
        }
    }

    /// The tiled product gives the same bits with 1, 2 or 3 threads.
    func testGEMMIsIndependentOfTheThreadCount() {
        var rng = SeededGenerator(seed: 3)
        let saved = BLAS.threads
        defer { BLAS.setThreads(saved) }
        for (m, n, k) in [(300, 70, 200), (20, 600, 300), (576, 64, 40), (64, 577, 30)] {
            let a = (0..<(m * k)).map { _ in rng.nextNormal() }
            let b = (0..<(k * n)).map { _ in rng.nextNormal() }
            var results: [[Float]] = []
            for threads in [1, 2, 3] {
                BLAS.setThreads(threads)
                var c = [Float](repeating: 0, count: m * n)
                BLAS.gemm(transposeA: false, transposeB: true, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, c: &c, ldc: n)
                results.append(c)
            }
            XCTAssertTrue(results[0] == results[1] && results[1] == results[2], "m\(m) n\(n) k\(k)")
        }
    }

    func testMatmulSmallByHand() {
        let a = Tensor(shape: [2, 2], values: [1, 2, 3, 4])
        let b = Tensor(shape: [2, 2], values: [5, 6, 7, 8])
        XCTAssertEqual(Tensor.matmul(a, b).storage, [19, 22, 43, 50])
        XCTAssertEqual(Tensor.matmul(a, b, transposeB: true).storage, [17, 23, 39, 53])
        XCTAssertEqual(Tensor.matmul(a, b, transposeA: true).storage, [26, 30, 38, 44])
    }

    func testSeededGeneratorIsReproducible() {
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42), c = SeededGenerator(seed: 43)
        let xs = (0..<100).map { _ in a.next() }
        XCTAssertEqual(xs, (0..<100).map { _ in b.next() })
        XCTAssertNotEqual(xs, (0..<100).map { _ in c.next() })
        var order = Array(0..<50), order2 = Array(0..<50)
        var r1 = SeededGenerator(seed: 5), r2 = SeededGenerator(seed: 5)
        r1.shuffle(&order); r2.shuffle(&order2)
        XCTAssertEqual(order, order2)
        XCTAssertEqual(order.sorted(), Array(0..<50))
        XCTAssertNotEqual(order, Array(0..<50))
    }

    func testGeneratorStateCarriesOnTheSequence() throws {
        var a = SeededGenerator(seed: 42)
        for _ in 0..<5 { _ = a.next() }
        var b = try XCTUnwrap(SeededGenerator(stateWords: a.stateWords))
        var c = try JSONDecoder().decode(SeededGenerator.self, from: JSONEncoder().encode(a))
        let expected = (0..<8).map { _ in a.next() }
        XCTAssertEqual((0..<8).map { _ in b.next() }, expected)
        XCTAssertEqual((0..<8).map { _ in c.next() }, expected)
        XCTAssertNil(SeededGenerator(stateWords: [0, 0, 0, 0]))
        XCTAssertNil(SeededGenerator(stateWords: [1, 2, 3]))
        XCTAssertThrowsError(try JSONDecoder().decode(SeededGenerator.self, from: Data(#"["12","34","56","78"]"#.utf8)))
    }

    func testNormalDrawsHaveTheRightMoments() {
        var rng = SeededGenerator(seed: 1)
        let xs = (0..<20000).map { _ in Double(rng.nextNormal(mean: 1, std: 2)) }
        let mean = xs.reduce(0, +) / Double(xs.count)
        let variance = xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(xs.count)
        XCTAssertEqual(mean, 1, accuracy: 0.05)
        XCTAssertEqual(variance.squareRoot(), 2, accuracy: 0.05)
        let us = (0..<10000).map { _ in rng.nextUniform() }
        XCTAssertTrue(us.allSatisfy { $0 >= 0 && $0 < 1 })
    }

    func testKernels() {
        var y: [Float] = Array(repeating: 1, count: 19)
        let x: [Float] = (0..<19).map(Float.init)
        Kernels.axpy(19, alpha: 2, x, &y)
        XCTAssertEqual(y, (0..<19).map { 1 + 2 * Float($0) })
        var m: [Float] = [1, 2, 3, 4, 5, 6]
        var sums: [Float] = [0, 0, 0]
        Kernels.columnSums(m, rows: 2, columns: 3, into: &sums)
        XCTAssertEqual(sums, [5, 7, 9])
        Kernels.addRowVector(&m, rows: 2, columns: 3, [10, 20, 30])
        XCTAssertEqual(m, [11, 22, 33, 14, 25, 36])
        // Sums of integers are exact, so every length (lanes plus tail) must give the plain sum.
        for n in [0, 1, 7, 8, 9, 19, 64] {
            let a = (0..<n).map { Float($0 % 5) }, b = (0..<n).map { Float(3 - $0 % 4) }
            XCTAssertEqual(Kernels.dot(n, a, b), zip(a, b).map(*).reduce(0, +), "n = \(n)")
        }
        var transposed = [Float](repeating: 0, count: 6)
        Kernels.transpose([1, 2, 3, 4, 5, 6], rows: 2, columns: 3, into: &transposed)
        XCTAssertEqual(transposed, [1, 4, 2, 5, 3, 6])
        // Whole 8×8 blocks, edges of every width around them, and matrices smaller than a block.
        for (rows, columns) in [(1, 1), (8, 8), (9, 8), (8, 9), (16, 3), (17, 23), (64, 10), (196, 64)] {
            let a = (0..<(rows * columns)).map { Float($0) }
            var t = [Float](repeating: -1, count: rows * columns)
            Kernels.transpose(a, rows: rows, columns: columns, into: &t)
            XCTAssertEqual(t, (0..<(rows * columns)).map { k in a[(k % rows) * columns + k / rows] }, "\(rows)x\(columns)")
        }
        // Batch-norm sums in Double over lanes and a tail: exact for small integers and a mean of 0.5.
        for n in [0, 1, 7, 8, 9, 19, 64] {
            let g = (0..<n).map { Float($0 % 5) - 2 }, h = (0..<n).map { Float(3 - $0 % 4) }
            XCTAssertEqual(Kernels.sumOfSquaredDeviations(h, n, from: 0.5), h.reduce(0) { $0 + (Double($1) - 0.5) * (Double($1) - 0.5) }, "n = \(n)")
            let sums = Kernels.sumAndDot(g, h, n)
            XCTAssertEqual(sums.sum, Double(g.reduce(0, +)), "n = \(n)")
            XCTAssertEqual(sums.dot, Double(zip(g, h).map(*).reduce(0, +)), "n = \(n)")
        }
        // Nonzeros per column, over rows with lanes and a tail; −0 is zero, NaN is not.
        let matrix: [Float] = [0, 1, -0.0, .nan, 0, 2, 0, 0, 3, 0, 0,
                               5, 0, 0, 1, 0, 0, 0, 0, 7, 0, 1]
        var counts = [Int32](repeating: 99, count: 11)
        Kernels.countNonzerosByColumn(matrix, rows: 2, columns: 11, into: &counts)
        XCTAssertEqual(counts, [1, 1, 0, 2, 0, 1, 0, 0, 2, 0, 1])
        XCTAssertEqual(Tensor(shape: [2, 3], values: [0, 5, 1, 7, 2, 7]).argmaxRows(), [1, 0])   // first maximum on ties
        XCTAssertEqual(Tensor.oneHot([2, 0], classes: 3, on: 0.99, off: 0.01).storage, [0.01, 0.01, 0.99, 0.99, 0.01, 0.01])
    }

    /// combineRows over every width class (64-, 32-, 16- and 8-column blocks, single columns), with and without
    /// an initial row, in place: small integers make every sum exact, so the plain loop must match.
    func testCombineRowsAtEveryWidth() {
        var rng = SeededGenerator(seed: 5)
        for width in [1, 7, 8, 15, 16, 24, 31, 32, 40, 48, 56, 63, 64, 72, 80, 96, 112, 120, 127, 200] {
            let stride = width + 3, rows = 6
            let base = (0..<(rows * stride)).map { _ in Float(rng.nextInt(below: 9) - 4) }
            let terms = [RowTerm(scale: 2, row: 4), RowTerm(scale: -1, row: 0), RowTerm(scale: 3, row: 5), RowTerm(scale: 1, row: 4)]
            let start = (0..<width).map { _ in Float(rng.nextInt(below: 9) - 4) }
            var expected = start
            for t in terms { for j in 0..<width { expected[j] += t.scale * base[Int(t.row) * stride + j] } }
            var inPlace = start
            inPlace.withUnsafeMutableBufferPointer { out in
                Kernels.combineRows(count: terms.count, terms: terms, stride: stride, base: base, width: width,
                                    initial: out.baseAddress!, out: out.baseAddress!)
            }
            XCTAssertEqual(inPlace, expected, "width \(width)")
            var fresh = [Float](repeating: 99, count: width)
            Kernels.combineRows(count: terms.count, terms: terms, stride: stride, base: base, width: width, initial: nil, out: &fresh)
            XCTAssertEqual(fresh, zip(expected, start).map { $0 - $1 }, "width \(width), no initial row")
        }
        // Nonzeros: −0 is zero, NaN and the smallest subnormal are not; lanes and a tail.
        let values: [Float] = [0, -0.0, .nan, .leastNonzeroMagnitude, 1, 0, 0, -2, 0, 0, 3, .infinity, 0, 0, 0, 0, 0, 5, 0]
        for n in 0...values.count {
            XCTAssertEqual(Kernels.countNonzeros(values, n), values.prefix(n).filter { $0 != 0 || $0.isNaN }.count, "n = \(n)")
        }
    }

    /// The narrow products (A·Bᵀ and Aᵀ·B for B with few rows or columns) over every shape class: lengths and
    /// column ranges with lanes, 16-wide blocks and tails, 1 to 13 outputs (whole groups of four and a short
    /// last one), sub-ranges of rows and columns. Small integers make every sum exact, so the plain loops must
    /// match; entries outside the asked range stay untouched.
    func testNarrowProductsMatchThePlainLoops() {
        var rng = SeededGenerator(seed: 8)
        for (rows, length, p) in [(1, 1, 1), (3, 7, 2), (5, 8, 4), (4, 17, 5), (6, 40, 10), (2, 33, 13), (9, 64, 3)] {
            let (lda, ldb, ldc) = (length + 2, length + 1, p + 3)
            let a = (0..<(rows * lda)).map { _ in Float(rng.nextInt(below: 7) - 3) }
            let b = (0..<(p * ldb)).map { _ in Float(rng.nextInt(below: 7) - 3) }
            // C = A·Bᵀ over rows 1..<rows (row 0 left alone).
            var c = [Float](repeating: 99, count: rows * ldc)
            Kernels.productWithTransposed(a, lda: lda, rows: 1..<rows, b, ldb: ldb, bRows: p, length: length, into: &c, ldc: ldc)
            for r in 0..<rows {
                for o in 0..<ldc {
                    let expected = r > 0 && o < p ? (0..<length).reduce(Float(0)) { $0 + a[r * lda + $1] * b[o * ldb + $1] } : 99
                    XCTAssertEqual(c[r * ldc + o], expected, "A·Bᵀ [\(r), \(o)] rows \(rows) length \(length) p \(p)")
                }
            }
            // C = Aᵀ·B with A [rows, length] and B [rows, p], over columns 1..<length (column 0 left alone).
            let bb = (0..<(rows * ldb)).map { _ in Float(rng.nextInt(below: 7) - 3) }
            var t = [Float](repeating: 99, count: length * ldc)
            Kernels.transposedProduct(a, lda: lda, columns: 1..<length, bb, ldb: ldb, bColumns: p, rows: rows, into: &t, ldc: ldc)
            for i in 0..<length {
                for j in 0..<ldc {
                    let expected = i > 0 && j < p ? (0..<rows).reduce(Float(0)) { $0 + a[$1 * lda + i] * bb[$1 * ldb + j] } : 99
                    XCTAssertEqual(t[i * ldc + j], expected, "Aᵀ·B [\(i), \(j)] rows \(rows) length \(length) p \(p)")
                }
            }
        }
    }

    /// The vector square root gives the bits of Float.squareRoot() for every kind of value, including zeros,
    /// subnormals, infinity, NaN and negative numbers.
    /// Grey levels to floats: every byte value, with and without standardising, the same float as the scalar
    /// formula (b / 255 − mean) / deviation, in runs of zeros, mixed runs and a tail shorter than sixteen.
    func testLevelsGiveTheScalarFormulaForEveryByte() {
        var rng = SeededGenerator(seed: 21)
        var bytes = (0..<256).map { UInt8($0) } + [UInt8](repeating: 0, count: 40)
        bytes += (0..<77).map { _ in rng.nextUniform() < 0.5 ? 0 : UInt8(rng.next() % 256) }
        for (mean, deviation) in [(Float(0), Float(1)), (0.1307, 0.3081), (-2, 0.5)] {
            for count in [bytes.count, 255, 15, 1] {
                var out = [Float](repeating: .nan, count: count + 1)
                Kernels.levels(bytes, &out, count: count, mean: mean, deviation: deviation)
                for i in 0..<count {
                    let expected = (Float(bytes[i]) / 255 - mean) / deviation
                    XCTAssertEqual(out[i].bitPattern, expected.bitPattern, "byte \(bytes[i]) at \(i), mean \(mean), count \(count)")
                }
                XCTAssertTrue(out[count].isNaN, "wrote past count \(count)")
            }
        }
        XCTAssertEqual(Kernels.fourLevels(0xFF80_0100), SIMD4<Float>(0, 1, 128, 255))
    }

    /// Batch normalisation's two per-channel kernels give the bits of their scalar formulas, vector body and
    /// tail alike (lengths 0 to 19), and write nothing past the count.
    func testNormalizeKernelsGiveTheScalarFormulas() {
        var rng = SeededGenerator(seed: 22)
        let x = (0..<20).map { _ in rng.nextNormal() * 3 }, g = (0..<20).map { _ in rng.nextNormal() }
        let (mean, inverseStd, scale, shift): (Float, Float, Float, Float) = (0.37, 1.9, -0.8, 0.25)
        let (factor, count, sum, dot): (Float, Float, Float, Float) = (0.013, 784, -2.5, 7.75)
        for n in 0..<20 {
            var xh = [Float](repeating: .nan, count: n + 1), y = xh, dx = xh
            Kernels.normalize(x, n, mean: mean, inverseStd: inverseStd, scale: scale, shift: shift, normalized: &xh, into: &y)
            Kernels.normalizeGradient(g, normalized: x, n, factor: factor, count: count, sum: sum, dot: dot, into: &dx)
            for i in 0..<n {
                let v = (x[i] - mean) * inverseStd
                XCTAssertEqual(xh[i].bitPattern, v.bitPattern, "x̂[\(i)] of \(n)")
                XCTAssertEqual(y[i].bitPattern, (scale * v + shift).bitPattern, "y[\(i)] of \(n)")
                XCTAssertEqual(dx[i].bitPattern, (factor * (count * g[i] - sum - x[i] * dot)).bitPattern, "dx[\(i)] of \(n)")
            }
            XCTAssertTrue(xh[n].isNaN && y[n].isNaN && dx[n].isNaN, "wrote past \(n)")
        }
    }

    func testRetainingFreedBlocksIsAcceptedAndIdempotent() {
        #if canImport(Glibc)
        XCTAssertTrue(Memory.retainFreedBlocks())
        XCTAssertTrue(Memory.retainFreedBlocks())
        #else
        XCTAssertFalse(Memory.retainFreedBlocks())
        #endif
    }

    func testVectorSquareRootIsTheCorrectlyRoundedOne() {
        var rng = SeededGenerator(seed: 3)
        var values: [Float] = [0, -0.0, .leastNonzeroMagnitude, .leastNormalMagnitude, 1, 2, .greatestFiniteMagnitude,
                               .infinity, .nan, -1, 0.4, 0.76, 1e-7, 3.999_999_8]
        values += (0..<1000).map { _ in Float(bitPattern: UInt32(rng.nextInt(below: 0x7F80_0000))) }   // any finite positive
        while values.count % 8 != 0 { values.append(0.5) }
        for start in stride(from: 0, to: values.count, by: 8) {
            let v = SIMD8<Float>(values[start..<(start + 8)])
            let root = Kernels.squareRoot(v)
            for i in 0..<8 {
                let expected = v[i].squareRoot()
                XCTAssertTrue(root[i].bitPattern == expected.bitPattern || (root[i].isNaN && expected.isNaN),
                              "√\(v[i]): \(root[i]) against \(expected)")
            }
        }
    }
}

/// `Machine` names the CPU and the BLAS kernels, and tells a generic fallback from kernels that fit the CPU.
final class MachineTests: XCTestCase {
    func testThisMachineIsDescribed() {
        let machine = Machine.current
        XCTAssertFalse(machine.blas.isEmpty)
        XCTAssertFalse(machine.blasKernels.isEmpty)
        XCTAssertTrue([128, 256, 512].contains(machine.vectorBits))
        XCTAssertTrue(machine.summary.contains(machine.blasKernels), machine.summary)
    }

    func testGenericKernelsOnAWideCPUAreAFallback() {
        func machine(_ bits: Int, _ kernels: String) -> Machine {
            Machine(cpuModel: "test", cpuFamilyModel: Machine.FamilyModel(family: 6, model: 207), vectorBits: bits,
                    blas: "OpenBLAS 0.3.21 DYNAMIC_ARCH \(kernels)", blasKernels: kernels)
        }
        // Issue 25's Intel Xeon: AVX-512, and OpenBLAS 0.3.21 ran its Prescott kernels.
        let intel = machine(512, "Prescott").blasFallbackWarning
        XCTAssertNotNil(intel)
        XCTAssertTrue(intel?.contains("OPENBLAS_CORETYPE=SkylakeX") ?? false, intel ?? "")
        XCTAssertTrue(machine(256, "Sandybridge").blasFallbackWarning?.contains("OPENBLAS_CORETYPE=Haswell") ?? false)
        for fitting in [machine(512, "Cooperlake"), machine(512, "SkylakeX"), machine(256, "Zen"), machine(256, "Haswell"),
                        machine(128, "Prescott")] {
            XCTAssertNil(fitting.blasFallbackWarning, fitting.summary)
        }
    }
}
