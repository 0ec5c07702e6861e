// How a layer's initial weights are drawn.

import DigitsTensor

/// A rule for drawing initial weights; every draw comes from a seeded generator.
public enum WeightInitializer: Codable, Equatable, Sendable {
    /// Glorot (Xavier) uniform: U(−l, l) with l = √(6 / (fanIn + fanOut)). Keras's default for Dense.
    case glorotUniform
    /// He normal: N(0, 2 / fanIn), suited to ReLU layers.
    case heNormal
    /// N(0, std²) with std = fanOut^(−1/2): the from-scratch sigmoid network's rule
    /// (std from the number of units in the receiving layer).
    case normalByReceivingUnits
    /// N(0, std²) with a fixed standard deviation.
    case normal(std: Float)
    /// All zeros.
    case zeros

    /// Draws a tensor of `shape` for a layer with the given fan-in and fan-out.
    public func draw(shape: [Int], fanIn: Int, fanOut: Int, rng: inout SeededGenerator) -> Tensor {
        var t = Tensor(shape: shape)
        switch self {
        case .glorotUniform:
            let limit = (6 / Float(fanIn + fanOut)).squareRoot()
            for i in 0..<t.count { t.storage[i] = (2 * rng.nextUniform() - 1) * limit }
        case .heNormal:
            let std = (2 / Float(fanIn)).squareRoot()
            for i in 0..<t.count { t.storage[i] = rng.nextNormal(std: std) }
        case .normalByReceivingUnits:
            let std = 1 / Float(fanOut).squareRoot()
            for i in 0..<t.count { t.storage[i] = rng.nextNormal(std: std) }
        case .normal(let std):
            for i in 0..<t.count { t.storage[i] = rng.nextNormal(std: std) }
        case .zeros:
            break
        }
        return t
    }
}
