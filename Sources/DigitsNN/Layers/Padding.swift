// Padding: how many zero rows and columns a convolution adds around each input image.

/// Zero padding around the height and width of a convolution's input.
///
/// With input size `in`, kernel `k`, stride `s` and padding `before`/`after` along one axis,
/// the output size is `out = ⌊(in + before + after − k) / s⌋ + 1`.
///
/// - `valid`: no padding, `out = ⌊(in − k) / s⌋ + 1`.
/// - `same`: TensorFlow's rule, `out = ⌈in / s⌉` (for stride 1 the size is kept). The total padding is
///   `max((out − 1)·s + k − in, 0)`, split `before = ⌊total / 2⌋`, `after = total − before`: any odd
///   extra goes to the bottom / right. Because it depends on `in`, it is resolved for each input shape.
/// - `explicit`: fixed amounts on each side, as PyTorch's `padding=(h, w)` when symmetric.
public enum Padding: Codable, Equatable, Sendable {
    /// No padding.
    case valid
    /// Output size ⌈in / stride⌉, padding split with the extra on the bottom and right (TensorFlow's "SAME").
    case same
    /// Fixed zero rows above (`top`) and below (`bottom`), zero columns left and right.
    case explicit(top: Int, bottom: Int, left: Int, right: Int)

    /// `height` zero rows above and below, `width` zero columns left and right (PyTorch's `padding=(h, w)`).
    public static func symmetric(height: Int, width: Int) -> Padding {
        .explicit(top: height, bottom: height, left: width, right: width)
    }

    /// The padding on each side for an input of `inputHeight`×`inputWidth`, a kernel of
    /// `kernelHeight`×`kernelWidth` and the given strides.
    public func resolved(inputHeight: Int, inputWidth: Int, kernelHeight: Int, kernelWidth: Int,
                         strideHeight: Int, strideWidth: Int) -> (top: Int, bottom: Int, left: Int, right: Int) {
        switch self {
        case .valid:
            return (0, 0, 0, 0)
        case .same:
            let (top, bottom) = Padding.sameSplit(inputHeight, kernelHeight, strideHeight)
            let (left, right) = Padding.sameSplit(inputWidth, kernelWidth, strideWidth)
            return (top, bottom, left, right)
        case .explicit(let top, let bottom, let left, let right):
            precondition(top >= 0 && bottom >= 0 && left >= 0 && right >= 0, "Padding: negative amount in \(self)")
            return (top, bottom, left, right)
        }
    }

    /// TensorFlow's "SAME" along one axis: total = max((⌈in/s⌉ − 1)·s + k − in, 0), the odd unit after.
    private static func sameSplit(_ size: Int, _ kernel: Int, _ stride: Int) -> (before: Int, after: Int) {
        let out = (size + stride - 1) / stride                        // ⌈in / s⌉
        let total = max((out - 1) * stride + kernel - size, 0)        // rows needed beyond the input
        return (total / 2, total - total / 2)                         // extra one on the bottom / right
    }

    /// A short name for display: `valid`, `same`, or `pad(t,b,l,r)`.
    public var displayName: String {
        switch self {
        case .valid: return "valid"
        case .same: return "same"
        case .explicit(let t, let b, let l, let r):
            return t == b && l == r ? "pad \(t)×\(l)" : "pad(\(t),\(b),\(l),\(r))"
        }
    }
}
