// Dense (fully connected) layer: y = x Wᵀ + b.

import DigitsTensor

/// A fully connected layer, y = x·Wᵀ + b.
///
/// Shapes: x [N, inputs], W [outputs, inputs] (PyTorch's layout), b [outputs], y [N, outputs].
/// Backward, with g = ∂L/∂y:  ∂L/∂W = gᵀ·x,  ∂L/∂b = Σ_n g[n],  ∂L/∂x = g·W.
public final class Dense: Layer {
    /// Number of input features.
    public let inputs: Int
    /// Number of output features.
    public let outputs: Int
    /// W, shape [outputs, inputs].
    public let weight: Parameter
    /// b, shape [outputs].
    public let bias: Parameter
    private var input = Tensor(shape: [0])

    /// A dense layer with weights drawn by `initializer` from `rng` and a zero bias.
    public init(inputs: Int, outputs: Int, initializer: WeightInitializer, rng: inout SeededGenerator) {
        self.inputs = inputs
        self.outputs = outputs
        let w = initializer.draw(shape: [outputs, inputs], fanIn: inputs, fanOut: outputs, rng: &rng)
        weight = Parameter(name: "weight", value: w, decays: true)
        bias = Parameter(name: "bias", value: Tensor(shape: [outputs]), decays: false)
    }

    public var parameters: [Parameter] { [weight, bias] }
    public var spec: LayerSpec { .dense(inputs: inputs, outputs: outputs) }

    public func outputShape(for inputShape: [Int]) -> [Int] {
        precondition(inputShape.dropFirst().reduce(1, *) == inputs,
                     "Dense(\(inputs)→\(outputs)): input shape \(inputShape) has the wrong feature count")
        return [inputShape[0], outputs]
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let n = x.rows
        precondition(x.columns == inputs, "Dense(\(inputs)→\(outputs)): got input \(x.shape)")
        var y = Tensor(shape: [n, outputs])
        x.withUnsafeBufferPointer { px in
            weight.value.withUnsafeBufferPointer { pw in
                y.withUnsafeMutableBufferPointer { py in
                    // y = x · Wᵀ
                    BLAS.gemm(transposeA: false, transposeB: true, m: n, n: outputs, k: inputs,
                              a: px.baseAddress!, lda: inputs, b: pw.baseAddress!, ldb: inputs,
                              c: py.baseAddress!, ldc: outputs)
                    // y += b (each row)
                    bias.value.withUnsafeBufferPointer { pb in
                        Kernels.addRowVector(py.baseAddress!, rows: n, columns: outputs, pb.baseAddress!)
                    }
                }
            }
        }
        if mode == .training { input = x }
        return y
    }

    public func backward(_ g: Tensor, needsInputGradient: Bool) -> Tensor {
        let n = g.rows
        precondition(input.rows == n && g.columns == outputs, "Dense.backward: gradient \(g.shape) does not match the last forward")
        g.withUnsafeBufferPointer { pg in
            input.withUnsafeBufferPointer { px in
                weight.gradient.withUnsafeMutableBufferPointer { pdw in
                    // ∂L/∂W = gᵀ · x   [outputs, inputs]
                    BLAS.gemm(transposeA: true, transposeB: false, m: outputs, n: inputs, k: n,
                              a: pg.baseAddress!, lda: outputs, b: px.baseAddress!, ldb: inputs,
                              c: pdw.baseAddress!, ldc: inputs)
                }
            }
            bias.gradient.withUnsafeMutableBufferPointer { pdb in
                // ∂L/∂b = Σ_n g[n]
                Kernels.columnSums(pg.baseAddress!, rows: n, columns: outputs, into: pdb.baseAddress!)
            }
        }
        guard needsInputGradient else { return Tensor(shape: [0]) }
        // ∂L/∂x = g · W   [N, inputs]
        var dx = Tensor(shape: [n, inputs])
        g.withUnsafeBufferPointer { pg in
            weight.value.withUnsafeBufferPointer { pw in
                dx.withUnsafeMutableBufferPointer { pdx in
                    BLAS.gemm(transposeA: false, transposeB: false, m: n, n: inputs, k: outputs,
                              a: pg.baseAddress!, lda: outputs, b: pw.baseAddress!, ldb: inputs,
                              c: pdx.baseAddress!, ldc: inputs)
                }
            }
        }
        return dx.reshaped(input.shape)
    }
}
