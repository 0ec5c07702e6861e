// The Optimizer protocol: one update step over every parameter, from its gradient.

import DigitsTensor

/// An update rule: after a backward pass, `step` moves every parameter against its gradient.
///
/// Per-parameter state (momenta, squared averages) is kept by the optimizer, in parameter order.
public protocol Optimizer: AnyObject {
    /// The step size η (a schedule may change it between steps).
    var learningRate: Float { get set }
    /// Applies one update to each parameter from its current gradient.
    func step(_ parameters: [Parameter])
}

/// Per-parameter state buffers, created (zero) on first use.
struct SlotStore {
    private var slots: [[Float]] = []

    /// The buffer for parameter `index`, `count` floats, zero on first use.
    mutating func withSlot<R>(_ index: Int, count: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
        while slots.count <= index { slots.append([]) }
        if slots[index].count != count { slots[index] = [Float](repeating: 0, count: count) }
        return slots[index].withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    }
}
