// A serialisable description of each layer, from which a network is rebuilt when a model file is loaded.

import DigitsTensor

/// What a layer is, without its weights: enough to rebuild it. Stored as JSON in model files.
public enum LayerSpec: Codable, Equatable, Sendable {
    /// `Dense(inputs → outputs)`.
    case dense(inputs: Int, outputs: Int)
    /// ReLU activation.
    case relu
    /// Sigmoid activation.
    case sigmoid
    /// Tanh activation.
    case tanh
    /// Flattens [N, ...] to [N, features].
    case flatten
    /// `Conv2D`: a 2-D convolution over [N, inputChannels, H, W] with a kernelHeight×kernelWidth kernel.
    case conv2d(inputChannels: Int, outputChannels: Int, kernelHeight: Int, kernelWidth: Int,
                strideHeight: Int, strideWidth: Int, padding: Padding)
    /// `MaxPool2D`: the maximum of each kernel×kernel window, windows `stride` apart.
    case maxPool2d(kernel: Int, stride: Int)
    /// `AvgPool2D`: the mean of each kernel×kernel window, windows `stride` apart.
    case avgPool2d(kernel: Int, stride: Int)
    /// `Dropout` with the given rate (its seed is drawn from the model's generator when built).
    case dropout(rate: Float)
    /// `BatchNorm` over `features` features or channels, with PyTorch's momentum 0.1 and ε 1e-5.
    case batchNorm(features: Int)

    /// A square convolution: `kernel`×`kernel`, the same `stride` on both axes.
    public static func conv2d(inputChannels: Int, outputChannels: Int, kernel: Int, stride: Int = 1,
                              padding: Padding = .valid) -> LayerSpec {
        .conv2d(inputChannels: inputChannels, outputChannels: outputChannels, kernelHeight: kernel, kernelWidth: kernel,
                strideHeight: stride, strideWidth: stride, padding: padding)
    }

    /// Builds the layer, drawing its initial weights (if any) with `initializer` from `rng`.
    public func makeLayer(initializer: WeightInitializer, rng: inout SeededGenerator) -> Layer {
        switch self {
        case .dense(let inputs, let outputs):
            return Dense(inputs: inputs, outputs: outputs, initializer: initializer, rng: &rng)
        case .relu: return ReLU()
        case .sigmoid: return Sigmoid()
        case .tanh: return Tanh()
        case .flatten: return Flatten()
        case .conv2d(let c, let o, let kh, let kw, let sh, let sw, let padding):
            return Conv2D(inputChannels: c, outputChannels: o, kernelSize: (kh, kw), stride: (sh, sw),
                          padding: padding, initializer: initializer, rng: &rng)
        case .maxPool2d(let kernel, let stride): return MaxPool2D(kernelSize: kernel, stride: stride)
        case .avgPool2d(let kernel, let stride): return AvgPool2D(kernelSize: kernel, stride: stride)
        case .dropout(let rate): return Dropout(rate: rate, seed: rng.next())      // the mask seed follows the model's seed
        case .batchNorm(let features): return BatchNorm(features: features)
        }
    }

    /// The layer's output shape for an input of `inputShape` (batch first), e.g. to chain shapes through a
    /// list of specs; it builds a throwaway layer with zero weights and asks it.
    public func outputShape(for inputShape: [Int]) -> [Int] {
        var rng = SeededGenerator(seed: 0)
        return makeLayer(initializer: .zeros, rng: &rng).outputShape(for: inputShape)
    }

    /// A short human-readable name, e.g. `Dense(784→512)` or `Conv2D(1→32, 5×5, stride 1, same)`.
    public var displayName: String {
        switch self {
        case .dense(let i, let o): return "Dense(\(i)→\(o))"
        case .relu: return "ReLU"
        case .sigmoid: return "Sigmoid"
        case .tanh: return "Tanh"
        case .flatten: return "Flatten"
        case .conv2d(let c, let o, let kh, let kw, let sh, let sw, let padding):
            let stride = sh == sw ? "\(sh)" : "\(sh)×\(sw)"
            return "Conv2D(\(c)→\(o), \(kh)×\(kw), stride \(stride), \(padding.displayName))"
        case .maxPool2d(let k, let s): return "MaxPool2D(\(k)×\(k), stride \(s))"
        case .avgPool2d(let k, let s): return "AvgPool2D(\(k)×\(k), stride \(s))"
        case .dropout(let rate): return "Dropout(\(rate))"
        case .batchNorm(let features): return "BatchNorm(\(features))"
        }
    }
}
