// From bytes to batches: pixels are kept once as bytes and turned into Float tensors per batch.

import DigitsTensor

/// How pixels become network inputs: scaled to [0, 1], optionally standardised, flat or as images.
public struct InputEncoding: Codable, Equatable, Sendable {
    /// The shape of one sample as the network sees it.
    public enum Layout: String, Codable, Sendable {
        /// One vector of rows·columns features: [N, 784].
        case flat
        /// One channel of rows×columns: [N, 1, 28, 28] (NCHW).
        case image
    }

    /// MNIST's mean pixel value after scaling to [0, 1].
    public static let mnistMean: Float = 0.1307
    /// MNIST's pixel standard deviation after scaling to [0, 1].
    public static let mnistStd: Float = 0.3081

    /// Whether inputs are standardised, x ← (x − mean) / std, after scaling to [0, 1].
    public var normalize: Bool
    /// Flat vectors or single-channel images.
    public var layout: Layout

    /// An encoding; by default [0, 1] pixels as flat vectors.
    public init(normalize: Bool = false, layout: Layout = .flat) {
        self.normalize = normalize
        self.layout = layout
    }

    /// How a pixel byte b becomes an input, in words: `x = b/255` or `x = (b/255 − 0.1307) / 0.3081 (standardised)`.
    public var formula: String {
        normalize ? "x = (b/255 − \(Self.mnistMean)) / \(Self.mnistStd) (standardised)" : "x = b/255"
    }

    /// The value each byte 0...255 becomes: b/255, then (· − mean)/std when normalising (`Kernels.levels`).
    public var table: [Float] {
        let bytes = (0...255).map { UInt8($0) }
        var values = [Float](repeating: 0, count: 256)
        let (mean, deviation) = standardization
        Kernels.levels(bytes, &values, count: 256, mean: mean, deviation: deviation)
        return values
    }

    /// The mean and deviation `Kernels.levels` standardises with: MNIST's when normalising, else (0, 1).
    public var standardization: (mean: Float, deviation: Float) { normalize ? (Self.mnistMean, Self.mnistStd) : (0, 1) }

    /// Encodes pixels already scaled to [0, 1] (e.g. a prepared picture) as a batch [n, ...] in this
    /// encoding's layout, standardising when asked; `pixels.count` must be n · rows · columns.
    public func encode(pixels: [Float], rows: Int = 28, columns: Int = 28) -> Tensor {
        let size = rows * columns
        precondition(size > 0 && pixels.count % size == 0, "InputEncoding.encode: \(pixels.count) pixels are not whole \(rows)x\(columns) images")
        let n = pixels.count / size
        var x = Tensor(shape: layout == .flat ? [n, size] : [n, 1, rows, columns], values: pixels)
        x.withUnsafeMutableBufferPointer { if let base = $0.baseAddress { standardize(base, count: $0.count) } }
        return x
    }

    /// Standardises `count` values in [0, 1] in place, x ← (x − mean) / std, when this encoding normalises.
    public func standardize(_ values: UnsafeMutablePointer<Float>, count: Int) {
        guard normalize else { return }
        let mean = Self.mnistMean, scale = 1 / Self.mnistStd
        for i in 0..<count { values[i] = (values[i] - mean) * scale }
    }
}

extension LabeledImages {
    /// The pixels of one sample, rows·columns bytes.
    public func pixels(of index: Int) -> ArraySlice<UInt8> {
        let size = rows * columns
        return images[index * size ..< (index + 1) * size]
    }

    /// The inputs for the samples at `indices`, encoded: [n, rows·columns] or [n, 1, rows, columns].
    public func inputs<C: Collection>(_ indices: C, encoding: InputEncoding) -> Tensor where C.Element == Int {
        let size = rows * columns
        let shape = encoding.layout == .flat ? [indices.count, size] : [indices.count, 1, rows, columns]
        let order = Array(indices)
        let (mean, deviation) = encoding.standardization
        return Tensor(shape: shape) { dst in
            images.withUnsafeBufferPointer { src in
                let (source, target) = (src.baseAddress!, dst.baseAddress!)
                Parallel.forEachRange(order.count, workPerItem: size) { samples in
                    for k in samples {
                        Kernels.levels(source + order[k] * size, target + k * size, count: size, mean: mean, deviation: deviation)
                    }
                }
            }
        }
    }

    /// The class indices of the samples at `indices`.
    public func labels<C: Collection>(_ indices: C) -> [Int] where C.Element == Int {
        indices.map { Int(labels[$0]) }
    }

    /// The sample order for one epoch: 0..<count, shuffled by a generator seeded from (`seed`, `epoch`),
    /// so that any epoch's order can be recomputed on its own (for resuming).
    public func epochOrder(seed: UInt64, epoch: Int, shuffle: Bool = true) -> [Int] {
        var order = Array(0..<count)
        if shuffle {
            var rng = SeededGenerator(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(epoch))
            rng.shuffle(&order)
        }
        return order
    }
}

/// Splits `order` into consecutive mini-batches of `size` (the last one may be smaller).
public func miniBatches(_ order: [Int], size: Int) -> [ArraySlice<Int>] {
    precondition(size > 0, "miniBatches: batch size must be positive")
    return stride(from: 0, to: order.count, by: size).map { order[$0 ..< min($0 + size, order.count)] }
}
