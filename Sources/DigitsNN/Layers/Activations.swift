// Elementwise activations: ReLU, sigmoid and tanh, each with its derivative beside it.

import DigitsTensor

/// ReLU, y = max(0, x).  Backward: ∂L/∂x = ∂L/∂y where x > 0, else 0.
public final class ReLU: Layer {
    private var output = Tensor(shape: [0])

    /// A ReLU activation.
    public init() {}

    public var parameters: [Parameter] { [] }
    public var spec: LayerSpec { .relu }
    public func outputShape(for inputShape: [Int]) -> [Int] { inputShape }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let y = x.withUnsafeBufferPointer { p in
            Tensor(shape: x.shape) { out in
                Parallel.forEachRange(out.count, minimumWork: 1 << 14) { range in
                    for i in range { out[i] = max(p[i], 0) }     // y = max(0, x)
                }
            }
        }
        if mode == .training { output = y }
        return y
    }

    public func backward(_ g: Tensor, needsInputGradient: Bool) -> Tensor {
        precondition(g.shape == output.shape, "ReLU.backward: gradient \(g.shape) does not match the last output \(output.shape)")
        return output.withUnsafeBufferPointer { y in
            g.withUnsafeBufferPointer { dy in
                Tensor(shape: g.shape) { dx in
                    Parallel.forEachRange(dx.count, minimumWork: 1 << 14) { range in
                        for i in range { dx[i] = y[i] > 0 ? dy[i] : 0 }   // ∂y/∂x = 1 if x > 0 else 0 (a select: vectorises)
                    }
                }
            }
        }
    }
}

/// The logistic sigmoid, y = σ(x) = 1 / (1 + e^(−x)).  Backward: ∂L/∂x = ∂L/∂y · y(1 − y).
public final class Sigmoid: Layer {
    private var output = Tensor(shape: [0])

    /// A sigmoid activation.
    public init() {}

    public var parameters: [Parameter] { [] }
    public var spec: LayerSpec { .sigmoid }
    public func outputShape(for inputShape: [Int]) -> [Int] { inputShape }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        var y = x
        y.withUnsafeMutableBufferPointer { p in
            for i in p.indices { p[i] = 1 / (1 + exp(-p[i])) }  // σ(x)
        }
        if mode == .training { output = y }
        return y
    }

    public func backward(_ g: Tensor, needsInputGradient: Bool) -> Tensor {
        var dx = g
        output.withUnsafeBufferPointer { y in
            dx.withUnsafeMutableBufferPointer { d in
                for i in d.indices { d[i] *= y[i] * (1 - y[i]) } // σ'(x) = σ(x)(1 − σ(x))
            }
        }
        return dx
    }
}

/// The hyperbolic tangent, y = tanh(x).  Backward: ∂L/∂x = ∂L/∂y · (1 − y²).
public final class Tanh: Layer {
    private var output = Tensor(shape: [0])

    /// A tanh activation.
    public init() {}

    public var parameters: [Parameter] { [] }
    public var spec: LayerSpec { .tanh }
    public func outputShape(for inputShape: [Int]) -> [Int] { inputShape }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        var y = x
        y.withUnsafeMutableBufferPointer { p in
            for i in p.indices { p[i] = tanh(p[i]) }
        }
        if mode == .training { output = y }
        return y
    }

    public func backward(_ g: Tensor, needsInputGradient: Bool) -> Tensor {
        var dx = g
        output.withUnsafeBufferPointer { y in
            dx.withUnsafeMutableBufferPointer { d in
                for i in d.indices { d[i] *= 1 - y[i] * y[i] }   // tanh'(x) = 1 − tanh²(x)
            }
        }
        return dx
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
