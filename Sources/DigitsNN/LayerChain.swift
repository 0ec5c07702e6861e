// LayerChain: checks that a list of layer specs can be built and run, before anything is built from it.
//
// A model file is a stranger's claim about a network. Building a layer from a spec trusts its numbers (a
// pooling stride of 0 divides by zero, a negative width allocates a negative count, a kernel wider than its
// input reads outside it), so every spec read from outside goes through `LayerChain.check` first: each
// layer's numbers in range, each input shape what the layer accepts, the shapes chained from the input to
// the output, and the parameters and activations a sample needs bounded. The arithmetic is the layers' own
// (`outputShape(for:)`), written here without the batch dimension and without building anything.

/// Why a list of layer specs cannot be built: the layer at fault and what is wrong with it.
public struct LayerChainError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The position of the layer at fault, from 0.
    public var layer: Int
    /// The layer's display name, e.g. `MaxPool2D(2×2, stride 0)`.
    public var name: String
    /// What is wrong, in words.
    public var reason: String

    /// An error about the layer at `layer`, named `name`.
    public init(layer: Int, name: String, reason: String) {
        self.layer = layer
        self.name = name
        self.reason = reason
    }

    /// `layer 3 (MaxPool2D(2×2, stride 0)): the stride must be at least 1`.
    public var description: String { "layer \(layer) (\(name)): \(reason)" }
}

/// The bounds `LayerChain.check` holds every network to.
public struct LayerChainLimits: Sendable, Equatable {
    /// The largest any single size may be: features, channels, kernel sides, strides, padding (65,536).
    public var maxDimension: Int
    /// The most trainable scalars and buffers the whole network may hold (2²⁷, 512 MB of Float32).
    public var maxParameters: Int
    /// The most values one sample's activations may take, summed over every layer's output (2²², 16 MB).
    public var maxActivationsPerSample: Int

    /// Limits with the given bounds; the defaults are far above every recipe's network (`best` has 260,000
    /// parameters and 80,000 activations per sample) and far below what would exhaust a machine.
    public init(maxDimension: Int = 1 << 16, maxParameters: Int = 1 << 27, maxActivationsPerSample: Int = 1 << 22) {
        self.maxDimension = maxDimension
        self.maxParameters = maxParameters
        self.maxActivationsPerSample = maxActivationsPerSample
    }

    /// The default limits.
    public static let `default` = LayerChainLimits()
}

/// Shape checking for a list of layer specs, one sample at a time (shapes without the batch dimension).
public enum LayerChain {
    /// Checks that `specs` can be built and run on one sample of `inputShape` ([features] or [C, H, W]):
    /// returns each layer's output shape for one sample, or throws naming the first layer at fault.
    public static func check(_ specs: [LayerSpec], inputShape: [Int],
                             limits: LayerChainLimits = .default) throws(LayerChainError) -> [[Int]] {
        var shape = inputShape
        var shapes: [[Int]] = []
        var parameters = 0, activations = 0
        for (index, spec) in specs.enumerated() {
            func fail(_ reason: String) -> LayerChainError {
                LayerChainError(layer: index, name: spec.displayName, reason: reason)
            }
            do throws(LayerCheckFailure) {
                shape = try spec.checkedOutputShape(for: shape, limits: limits)
            } catch {
                throw fail(error.reason)
            }
            let (sum, overflow) = parameters.addingReportingOverflow(spec.checkedParameterCount ?? Int.max)
            parameters = sum
            guard !overflow && parameters <= limits.maxParameters else {
                throw fail("the network would hold more than \(limits.maxParameters) parameters")
            }
            let values = shape.reduce(1, *)
            activations += values
            guard activations <= limits.maxActivationsPerSample else {
                throw fail("one sample's activations would exceed \(limits.maxActivationsPerSample) values")
            }
            shapes.append(shape)
        }
        return shapes
    }
}

/// A layer's reason for refusing its input or its own numbers (wrapped into `LayerChainError`).
struct LayerCheckFailure: Error {
    var reason: String
}

extension LayerSpec {
    /// The trainable scalars and buffers this layer holds: Dense i·o + o, Conv2D O·C·KH·KW + O, BatchNorm 4·F.
    /// Call it on specs that passed `LayerChain.check` (the products of unchecked sizes may overflow).
    public var parameterCount: Int {
        switch self {
        case .dense(let i, let o): return i * o + o
        case .conv2d(let c, let o, let kh, let kw, _, _, _): return o * c * kh * kw + o
        case .batchNorm(let f): return 4 * f
        default: return 0
        }
    }

    /// `parameterCount`, or nil when it does not fit in an `Int`.
    var checkedParameterCount: Int? {
        func product(_ factors: [Int]) -> Int? {
            var result = 1
            for f in factors {
                let (p, overflow) = result.multipliedReportingOverflow(by: f)
                if overflow { return nil }
                result = p
            }
            return result
        }
        switch self {
        case .dense(let i, let o): return product([i, o]).flatMap { $0 <= Int.max - o ? $0 + o : nil }
        case .conv2d(let c, let o, let kh, let kw, _, _, _): return product([o, c, kh, kw]).flatMap { $0 <= Int.max - o ? $0 + o : nil }
        default: return parameterCount
        }
    }

    /// One sample's output shape for an input of `shape` (no batch dimension), after checking this layer's
    /// numbers against `limits` and the input against what the layer accepts.
    func checkedOutputShape(for shape: [Int], limits: LayerChainLimits) throws(LayerCheckFailure) -> [Int] {
        func fail(_ reason: String) -> LayerCheckFailure { LayerCheckFailure(reason: reason) }
        func size(_ value: Int, _ what: String) throws(LayerCheckFailure) {
            guard value >= 1 else { throw fail("\(what) is \(value); it must be at least 1") }
            guard value <= limits.maxDimension else { throw fail("\(what) is \(value), above the limit of \(limits.maxDimension)") }
        }
        func image(_ channels: Int?) throws(LayerCheckFailure) -> (c: Int, h: Int, w: Int) {
            guard shape.count == 3 else { throw fail("its input must be an image [C, H, W], not \(shape)") }
            if let channels, shape[0] != channels {
                throw fail("its input has \(shape[0]) channels, not \(channels)")
            }
            return (shape[0], shape[1], shape[2])
        }
        switch self {
        case .dense(let inputs, let outputs):
            try size(inputs, "the input count")
            try size(outputs, "the output count")
            guard shape.count == 1 else { throw fail("its input must be flat [features] (put a Flatten before it), not \(shape)") }
            guard shape[0] == inputs else { throw fail("its input has \(shape[0]) features, not \(inputs)") }
            return [outputs]
        case .relu, .sigmoid, .tanh:
            return shape
        case .dropout(let rate):
            guard rate >= 0 && rate < 1 else { throw fail("the rate is \(rate); it must be in [0, 1)") }
            return shape
        case .flatten:
            return [shape.reduce(1, *)]
        case .batchNorm(let features):
            try size(features, "the feature count")
            guard shape.count == 1 || shape.count == 3 else { throw fail("its input must be [F] or [C, H, W], not \(shape)") }
            guard shape[0] == features else { throw fail("its input has \(shape[0]) features or channels, not \(features)") }
            return shape
        case .conv2d(let c, let o, let kh, let kw, let sh, let sw, let padding):
            try size(c, "the input channel count")
            try size(o, "the output channel count")
            try size(kh, "the kernel height")
            try size(kw, "the kernel width")
            try size(sh, "the vertical stride")
            try size(sw, "the horizontal stride")
            let input = try image(c)
            if case .explicit(let top, let bottom, let left, let right) = padding {
                for (amount, side) in [(top, "top"), (bottom, "bottom"), (left, "left"), (right, "right")] {
                    guard amount >= 0 && amount <= limits.maxDimension else {
                        throw fail("the \(side) padding is \(amount); it must be in 0...\(limits.maxDimension)")
                    }
                }
            }
            let pad = padding.resolved(inputHeight: input.h, inputWidth: input.w, kernelHeight: kh, kernelWidth: kw,
                                       strideHeight: sh, strideWidth: sw)
            let paddedHeight = input.h + pad.top + pad.bottom, paddedWidth = input.w + pad.left + pad.right
            guard paddedHeight >= kh && paddedWidth >= kw else {
                throw fail("a \(kh)×\(kw) kernel does not fit its \(paddedHeight)×\(paddedWidth) padded input")
            }
            return [o, (paddedHeight - kh) / sh + 1, (paddedWidth - kw) / sw + 1]
        case .maxPool2d(let kernel, let stride), .avgPool2d(let kernel, let stride):
            try size(kernel, "the window side")
            try size(stride, "the stride")
            let input = try image(nil)
            guard input.h >= kernel && input.w >= kernel else {
                throw fail("a \(kernel)×\(kernel) window does not fit its \(input.h)×\(input.w) input")
            }
            return [input.c, (input.h - kernel) / stride + 1, (input.w - kernel) / stride + 1]
        }
    }
}
