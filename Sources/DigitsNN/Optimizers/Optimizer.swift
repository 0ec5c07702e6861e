// The Optimizer protocol: one update step over every parameter, from its gradient; and the state an
// optimizer carries from step to step, which a checkpoint saves so that a run can be resumed exactly.

import DigitsTensor

/// An update rule: after a backward pass, `step` moves every parameter against its gradient.
///
/// Per-parameter state (momenta, squared averages) is kept by the optimizer, in parameter order.
public protocol Optimizer: AnyObject {
    /// The step size η (a schedule may change it between steps).
    var learningRate: Float { get set }
    /// Applies one update to each parameter from its current gradient.
    func step(_ parameters: [Parameter])
    /// Everything the next step depends on besides the parameters, the gradients and η.
    var state: OptimizerState { get }
    /// Replaces this optimizer's memory with `state`, taken from an optimizer of the same kind and
    /// settings that stepped the same `parameters`. Throws `OptimizerStateError` when the roles are not
    /// this rule's or a buffer does not fit its parameter.
    func restore(_ state: OptimizerState, parameters: [Parameter]) throws
}

/// An optimizer's memory between steps: per-parameter buffers by role, and the step count.
///
/// Roles are named as in the update rule: SGD with momentum keeps `velocity` (v), RMSprop `mean_square`
/// (v), Adam `m` and `v`. Each role lists one buffer per parameter, in parameter order, with as many
/// values as the parameter; before the first step there are none.
public struct OptimizerState: Equatable, Sendable {
    /// The buffers by role, each in parameter order.
    public var buffers: [String: [[Float]]]
    /// t, the steps taken, for rules that use it (Adam's bias correction); 0 for the others.
    public var step: Int

    /// A state with the given buffers and step count.
    public init(buffers: [String: [[Float]]] = [:], step: Int = 0) {
        self.buffers = buffers
        self.step = step
    }
}

/// A saved optimizer state that does not fit the optimizer or parameters it is restored into.
public struct OptimizerStateError: Error, CustomStringConvertible, Equatable {
    /// What does not fit, in words.
    public var description: String

    /// An error saying `description`.
    public init(_ description: String) {
        self.description = description
    }
}

extension OptimizerState {
    /// The buffers of `roles` for `parameters`, after checking that the state holds exactly those roles
    /// (or none at all, before a first step) and that every buffer matches its parameter's size.
    func buffers(roles: [String], parameters: [Parameter], optimizer: String) throws -> [String: [[Float]]] {
        if buffers.isEmpty { return [:] }
        guard Set(buffers.keys) == Set(roles) else {
            let found = buffers.keys.sorted().joined(separator: ", ")
            let expected = roles.isEmpty ? "none" : roles.joined(separator: ", ")
            throw OptimizerStateError("the saved \(optimizer) state has buffers \(found) but this \(optimizer) keeps \(expected)")
        }
        for role in roles {
            let list = buffers[role] ?? []
            guard list.count == parameters.count else {
                throw OptimizerStateError("the saved \(optimizer) state has \(list.count) '\(role)' buffers for \(parameters.count) parameters")
            }
            for (values, p) in zip(list, parameters) where values.count != p.value.count {
                throw OptimizerStateError("the saved '\(role)' buffer of \(p.name) holds \(values.count) values, the parameter \(p.value.count)")
            }
        }
        return buffers
    }
}

/// Per-parameter state buffers, created (zero) on first use.
struct SlotStore {
    /// The buffers, one per parameter index (empty until that parameter's first step).
    var contents: [[Float]] = []

    /// The buffer for parameter `index`, `count` floats, zero on first use.
    mutating func withSlot<R>(_ index: Int, count: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
        while contents.count <= index { contents.append([]) }
        if contents[index].count != count { contents[index] = [Float](repeating: 0, count: count) }
        return contents[index].withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    }
}
