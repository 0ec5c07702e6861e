// Augmentation: small random shifts, rotations and rescalings of the training digits, drawn afresh for
// every sample in every epoch, so that the network sees a slightly different digit each time.

import DigitsTensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Random affine distortions of training images: a shift of up to `maxShift` pixels in x and in y, a rotation
/// of up to `maxRotationDegrees` either way and a rescaling by up to `maxScaleChange` (0.1 is ×0.9 to ×1.1),
/// each drawn uniformly. The distortion of a sample depends only on the seed, the epoch and the sample's
/// index in the dataset, so runs are reproducible whatever the thread count or batch order.
public struct Augmentation: Codable, Equatable, Sendable {
    /// The largest shift along each axis, in pixels.
    public var maxShift: Float
    /// The largest rotation, in degrees, either way.
    public var maxRotationDegrees: Float
    /// The largest relative change of size.
    public var maxScaleChange: Float

    /// An augmentation with the given bounds (each must be zero or more).
    public init(maxShift: Float, maxRotationDegrees: Float, maxScaleChange: Float) {
        self.maxShift = maxShift
        self.maxRotationDegrees = maxRotationDegrees
        self.maxScaleChange = maxScaleChange
    }

    /// Shifts up to 2 px, rotations up to 10°, size ±10%: distortions a reader would still read as the same digit.
    public static let standard = Augmentation(maxShift: 2, maxRotationDegrees: 10, maxScaleChange: 0.1)

    /// Parses `shift:S,rotate:DEG,scale:F` (any subset, in any order; missing parts are 0) or `standard`;
    /// nil when malformed or negative.
    public init?(parsing text: String) {
        if text == "standard" { self = .standard; return }
        var result = Augmentation(maxShift: 0, maxRotationDegrees: 0, maxScaleChange: 0)
        for part in text.split(separator: ",") {
            let kv = part.split(separator: ":")
            guard kv.count == 2, let v = Float(kv[1]), v.isFinite, v >= 0 else { return nil }
            switch kv[0] {
            case "shift": result.maxShift = v
            case "rotate": result.maxRotationDegrees = v
            case "scale" where v < 1: result.maxScaleChange = v
            default: return nil
            }
        }
        self = result
    }

    /// One drawn distortion: the picture is scaled by `scale` and rotated by `rotation` radians about its
    /// centre, then moved by (`shiftX`, `shiftY`) pixels.
    public struct Transform: Codable, Equatable, Sendable {
        /// Movement to the right, in pixels.
        public var shiftX: Float
        /// Movement downwards, in pixels.
        public var shiftY: Float
        /// Counter-clockwise rotation as seen on screen, in radians.
        public var rotation: Float
        /// Size factor (1 keeps the size).
        public var scale: Float

        /// The distortion that changes nothing.
        public static let identity = Transform(shiftX: 0, shiftY: 0, rotation: 0, scale: 1)

        /// A distortion with these values.
        public init(shiftX: Float, shiftY: Float, rotation: Float, scale: Float) {
            self.shiftX = shiftX
            self.shiftY = shiftY
            self.rotation = rotation
            self.scale = scale
        }
    }

    /// The distortion of sample `sample` in epoch `epoch` of a run seeded with `seed`.
    public func transform(seed: UInt64, epoch: Int, sample: Int) -> Transform {
        var rng = SeededGenerator(seed: seed &* 0xD1B5_4A32_D192_ED03 &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15
                                  &+ UInt64(sample) &+ 0xA076_1D64_78BD_642F)
        func symmetric(_ bound: Float) -> Float { bound * (2 * rng.nextUniform() - 1) }
        return Transform(shiftX: symmetric(maxShift), shiftY: symmetric(maxShift),
                         rotation: symmetric(maxRotationDegrees) * .pi / 180, scale: 1 + symmetric(maxScaleChange))
    }

    /// Draws `src` (`rows × columns` bytes) distorted by `t` into `dst` as values in [0, 1].
    public static func warp(_ src: UnsafePointer<UInt8>, rows: Int, columns: Int, by t: Transform,
                            into dst: UnsafeMutablePointer<Float>) {
        warp(rows: rows, columns: columns, by: t, into: dst, divisor: 255) { Float(src[$0]) }  // as the plain encoding scales bytes
    }

    /// Draws `src` (`rows × columns` values, e.g. pixels in [0, 1]) distorted by `t` into `dst`.
    public static func warp(_ src: UnsafePointer<Float>, rows: Int, columns: Int, by t: Transform,
                            into dst: UnsafeMutablePointer<Float>) {
        warp(rows: rows, columns: columns, by: t, into: dst, divisor: 1) { src[$0] }
    }

    /// The warp itself, reading source pixel i as `pixel(i)` and dividing each result by `divisor`.
    ///
    /// Each output pixel d takes the source at s = R(θ)(d − c − shift)/scale + c, with c the centre and
    /// R(θ) = [cos θ, −sin θ; sin θ, cos θ] in pixel coordinates (y down) — the inverse of turning the picture
    /// by θ counter-clockwise on screen — interpolated bilinearly between the four nearest source pixels,
    /// black outside the picture.
    @inline(__always)
    private static func warp(rows: Int, columns: Int, by t: Transform, into dst: UnsafeMutablePointer<Float>,
                             divisor: Float, pixel: (Int) -> Float) {
        let cx = Float(columns - 1) / 2, cy = Float(rows - 1) / 2
        let cosT = cos(t.rotation) / t.scale, sinT = sin(t.rotation) / t.scale
        func at(_ x: Int, _ y: Int) -> Float {
            (x >= 0 && y >= 0 && x < columns && y < rows) ? pixel(y * columns + x) : 0
        }
        for y in 0..<rows {
            let dy = Float(y) - cy - t.shiftY
            for x in 0..<columns {
                let dx = Float(x) - cx - t.shiftX
                let sx = cosT * dx - sinT * dy + cx
                let sy = sinT * dx + cosT * dy + cy
                let x0 = Int(sx.rounded(.down)), y0 = Int(sy.rounded(.down))
                let fx = sx - Float(x0), fy = sy - Float(y0)
                let top = at(x0, y0) + (at(x0 + 1, y0) - at(x0, y0)) * fx
                let bottom = at(x0, y0 + 1) + (at(x0 + 1, y0 + 1) - at(x0, y0 + 1)) * fx
                dst[y * columns + x] = (top + (bottom - top) * fy) / divisor
            }
        }
    }
}

/// Test-time augmentation: the model reads several fixed views of each picture and its answer is the mean
/// of its probabilities over the views,
///   p(c | x) = 1/V Σ_v p(c | T_v(x)),
/// which smooths out what a single pixel grid's placement of the digit does to one reading.
public struct TestTimeAugmentation: Codable, Equatable, Sendable {
    /// The views, each a fixed distortion of the picture (the first is usually the identity).
    public var views: [Augmentation.Transform]

    /// Test-time augmentation over `views` (at least one).
    public init(views: [Augmentation.Transform]) {
        precondition(!views.isEmpty, "test-time augmentation needs at least one view")
        self.views = views
    }

    /// Views as written in a model file; throws when there are none or one is not finite.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let views = try c.decode([Augmentation.Transform].self, forKey: .views)
        guard !views.isEmpty else {
            throw DecodingError.dataCorruptedError(forKey: .views, in: c, debugDescription: "test-time augmentation needs at least one view")
        }
        guard views.allSatisfy({ [$0.shiftX, $0.shiftY, $0.rotation, $0.scale].allSatisfy(\.isFinite) && $0.scale > 0 }) else {
            throw DecodingError.dataCorruptedError(forKey: .views, in: c, debugDescription: "a view holds a non-finite value or a scale of 0 or less")
        }
        self.views = views
    }

    private enum CodingKeys: String, CodingKey { case views }

    /// The picture as it is plus the picture moved one pixel left, right, up and down: 5 views.
    public static let shifts = TestTimeAugmentation(views: [.identity] + [(-1, 0), (1, 0), (0, -1), (0, 1)].map {
        Augmentation.Transform(shiftX: $0.0, shiftY: $0.1, rotation: 0, scale: 1)
    })

    /// The named views: `shifts`.
    public init?(named name: String) {
        switch name {
        case "shifts": self = .shifts
        default: return nil
        }
    }
}

extension LabeledImages {
    /// The inputs for the samples at `indices`, each distorted by `augmentation` as drawn for (`seed`, `epoch`,
    /// sample index), then encoded like `inputs(_:encoding:)`. Samples are spread over the cores.
    public func augmentedInputs<C: Collection>(_ indices: C, encoding: InputEncoding, augmentation: Augmentation,
                                               seed: UInt64, epoch: Int) -> Tensor where C.Element == Int {
        warpedInputs(indices, encoding: encoding) { augmentation.transform(seed: seed, epoch: epoch, sample: $0) }
    }

    /// The inputs for the samples at `indices`, each distorted by the same `transform` (one view of
    /// test-time augmentation), then encoded like `inputs(_:encoding:)`.
    public func inputs<C: Collection>(_ indices: C, encoding: InputEncoding, view transform: Augmentation.Transform) -> Tensor
    where C.Element == Int {
        warpedInputs(indices, encoding: encoding) { _ in transform }
    }

    /// The inputs for the samples at `indices`, sample i distorted by `transform(i)`, then encoded.
    private func warpedInputs<C: Collection>(_ indices: C, encoding: InputEncoding,
                                             transform: @escaping @Sendable (Int) -> Augmentation.Transform) -> Tensor
    where C.Element == Int {
        let size = rows * columns
        let shape = encoding.layout == .flat ? [indices.count, size] : [indices.count, 1, rows, columns]
        var x = Tensor(shape: shape)
        let order = Array(indices)
        let (rows, columns) = (self.rows, self.columns)
        images.withUnsafeBufferPointer { src in
            x.withUnsafeMutableBufferPointer { dst in
                let source = src.baseAddress!, target = dst.baseAddress!
                Parallel.forEachRange(order.count, workPerItem: size * 24) { range in
                    for k in range {
                        let sample = order[k]
                        let out = target + k * size
                        Augmentation.warp(source + sample * size, rows: rows, columns: columns, by: transform(sample), into: out)
                        encoding.standardize(out, count: size)
                    }
                }
            }
        }
        return x
    }
}
