// NumberSegmenter: a number written on one line (a postcode, an amount, an ID) cut into its digits, each
// prepared as MNIST's were, so the classifier can read them one by one from left to right.
//
//   1. find the ink exactly as `MNISTPreprocessor.prepare` does (working copy, polarity, background removal,
//      Otsu threshold, 8-connected components, specks under 5% of the largest dropped) — the same code;
//   2. join broken strokes: components whose horizontal extents overlap by at least half the narrower one
//      are one digit (a '5' or '7' drawn in two strokes, a dotted stroke, the dot-less pieces of a '4');
//   3. split touching digits: with H the median height of the pieces, a piece wider than 1.3 H holds
//      n = round((width + gap) / (typical width + gap)) digits (at least 2), where the typical width is the
//      median width of the pieces 0.4 H ... 1.3 H wide (bars like '1' left out), clamped to 0.4 H ... 0.9 H
//      (0.65 H when there is none), and the gap the median gap between neighbouring pieces, at most 0.5 H
//      (0.15 H when there are no neighbours); each cut is made at the column with the least ink within ±35%
//      of a digit's width of the even cut;
//   4. order the pieces left to right and prepare each from its own ink only (`MNISTPreprocessor.place`):
//      graded, cropped, fitted in 20×20 keeping its aspect, centre of mass at (14, 14).

/// Why a picture could not be cut into digits.
public enum SegmentationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The picture has no pixels.
    case emptyImage
    /// Nothing in the picture stands out from the background (`contrast` is the spread of its grey levels).
    case noInkFound(width: Int, height: Int, contrast: Float)
    /// More separate marks than any number on one line has; the picture is likely text, a texture or noise.
    case tooManySegments(found: Int, limit: Int)

    /// A sentence saying what is wrong and what to do.
    public var description: String {
        switch self {
        case .emptyImage:
            return "the picture has no pixels; pass a picture of a number written on one line."
        case .noInkFound(let width, let height, let contrast):
            return "no ink found in the \(width)x\(height) picture (contrast \((Double(contrast) * 1000).rounded() / 1000)): "
                + "it is blank or too faint; write the number darker or with more contrast and try again."
        case .tooManySegments(let found, let limit):
            return "the picture holds \(found) separate marks, more than the \(limit) digits a number may have; "
                + "crop the picture to the one line of digits and try again."
        }
    }
}

/// One digit cut from a number: where it is in the source picture and its MNIST-style preparation.
public struct SegmentedDigit: Equatable, Sendable {
    /// The digit's ink bounding box in the source picture's pixels (the same as `digit.boundingBox`).
    public var boundingBox: PreparedDigit.Box
    /// The digit prepared from its own ink only, as `MNISTPreprocessor.prepare` prepares a single digit.
    public var digit: PreparedDigit
}

/// Cuts a one-line number into digits (see the file comment for the steps and thresholds).
public enum NumberSegmenter {
    /// Pictures with a longer side above this many pixels are first shrunk to it (a line is wider than a digit).
    public static let workingSize = 1000
    /// The most digits accepted in one picture.
    public static let maxSegments = 64
    /// Components overlapping horizontally by at least this fraction of the narrower one are one digit.
    static let joinOverlap = 0.5
    /// A piece wider than this many times the median height holds touching digits.
    static let splitAspect = 1.3

    /// The digits of the number in `image`, from left to right.
    ///
    /// - Throws: `SegmentationError.noInkFound` when the picture is blank or too faint,
    ///   `.tooManySegments` when it holds more than `maxSegments` marks, `.emptyImage` for a 0×0 picture.
    public static func segment(_ image: GrayImage) throws -> [SegmentedDigit] {
        let ink: InkMap
        do {
            ink = try MNISTPreprocessor.findInk(image, workingSize: workingSize)
        } catch PreprocessingError.emptyImage {
            throw SegmentationError.emptyImage
        } catch PreprocessingError.noInkFound(let width, let height, let contrast) {
            throw SegmentationError.noInkFound(width: width, height: height, contrast: contrast)
        }
        let w = ink.w

        // The kept components' extents.
        var pieces: [Piece] = []
        var pieceOfLabel = [Int](repeating: -1, count: ink.areas.count)
        for label in ink.areas.indices where ink.keepLabel[label] {
            pieceOfLabel[label] = pieces.count
            pieces.append(Piece(labels: [label], x0: w, x1: -1, y0: ink.h, y1: -1))
        }
        for i in ink.labels.indices where ink.labels[i] >= 0 {
            let p = pieceOfLabel[ink.labels[i]]
            if p >= 0 { pieces[p].include(x: i % w, y: i / w) }
        }
        guard !pieces.isEmpty else {
            throw SegmentationError.noInkFound(width: image.width, height: image.height, contrast: ink.peak)
        }
        // A limit on the work: a texture of thousands of marks is not a number.
        if pieces.count > 4 * maxSegments {
            throw SegmentationError.tooManySegments(found: pieces.count, limit: maxSegments)
        }

        // 2. Join pieces that overlap horizontally, until no pair does.
        var joined = true
        while joined {
            joined = false
            search: for a in pieces.indices {
                for b in (a + 1)..<pieces.count where pieces[a].overlapsHorizontally(pieces[b], by: joinOverlap) {
                    pieces[a].absorb(pieces[b])
                    pieces.remove(at: b)
                    joined = true
                    break search
                }
            }
        }

        // 3. Split pieces much wider than the typical digit. The typical width is the median of the narrow
        // pieces that are not bars ('1's), the typical gap the median between neighbours; their sum is the pitch.
        let heights = pieces.map(\.height).sorted()
        let medianHeight = Double(heights[heights.count / 2])
        let narrow = pieces.map { Double($0.width) }
            .filter { $0 >= 0.4 * medianHeight && $0 <= splitAspect * medianHeight }.sorted()
        let typicalWidth = narrow.isEmpty
            ? 0.65 * medianHeight
            : min(max(narrow[narrow.count / 2], 0.4 * medianHeight), 0.9 * medianHeight)
        let byLeft = pieces.sorted { $0.x0 < $1.x0 }
        let gaps = zip(byLeft, byLeft.dropFirst()).map { Double($1.x0 - $0.x1 - 1) }.filter { $0 > 0 }.sorted()
        let typicalGap = gaps.isEmpty ? 0.15 * medianHeight : min(gaps[gaps.count / 2], 0.5 * medianHeight)
        // A whole piece is graded over every column (as `prepare` grades), a cut one only within its cut.
        var spans: [(piece: Piece, left: Int, columns: ClosedRange<Int>)] = []
        for piece in pieces {
            guard Double(piece.width) > splitAspect * medianHeight else {
                spans.append((piece, piece.x0, 0...(w - 1)))
                continue
            }
            let estimate = ((Double(piece.width) + typicalGap) / (typicalWidth + typicalGap)).rounded()
            let count = min(maxSegments + 1, max(2, Int(estimate)))
            for columns in cuts(of: piece, into: count, ink: ink) { spans.append((piece, columns.lowerBound, columns)) }
        }
        spans.sort { $0.left < $1.left }

        // 4. Prepare each piece from its own ink.
        var digits: [SegmentedDigit] = []
        for (piece, _, columns) in spans {
            var kept = [Bool](repeating: false, count: ink.w * ink.h)
            var any = false
            for y in piece.y0...piece.y1 {
                for x in max(piece.x0, columns.lowerBound)...min(piece.x1, columns.upperBound) {
                    let label = ink.labels[y * w + x]
                    if label >= 0 && piece.labels.contains(label) { kept[y * w + x] = true; any = true }
                }
            }
            guard any else { continue }
            // A cut sliver can grade to nothing; it is not a digit.
            guard let digit = try? MNISTPreprocessor.place(ink, kept: kept, columns: columns) else { continue }
            digits.append(SegmentedDigit(boundingBox: digit.boundingBox, digit: digit))
        }
        guard !digits.isEmpty else {
            throw SegmentationError.noInkFound(width: image.width, height: image.height, contrast: ink.peak)
        }
        guard digits.count <= maxSegments else {
            throw SegmentationError.tooManySegments(found: digits.count, limit: maxSegments)
        }
        return digits
    }

    /// The column ranges of `piece` cut into `count` digits at the columns with least ink near the even cuts.
    static func cuts(of piece: Piece, into count: Int, ink: InkMap) -> [ClosedRange<Int>] {
        // Vertical projection of the piece's own ink.
        var projection = [Int](repeating: 0, count: piece.width)
        for y in piece.y0...piece.y1 {
            for x in piece.x0...piece.x1 {
                let label = ink.labels[y * ink.w + x]
                if label >= 0 && piece.labels.contains(label) { projection[x - piece.x0] += 1 }
            }
        }
        let step = Double(piece.width) / Double(count)
        let reach = max(1, Int(0.35 * step))
        var bounds = [0]
        for i in 1..<count {
            let even = Int((Double(i) * step).rounded())
            let lo = max(bounds[bounds.count - 1] + 1, even - reach), hi = min(piece.width - 1, even + reach)
            guard lo <= hi else { continue }
            // Least ink; on a tie, the column nearest the even cut.
            let best = (lo...hi).min { a, b in
                (projection[a], abs(a - even)) < (projection[b], abs(b - even))
            } ?? even
            bounds.append(best)
        }
        bounds.append(piece.width)
        var ranges: [ClosedRange<Int>] = []
        for i in 0..<(bounds.count - 1) where bounds[i] < bounds[i + 1] {
            ranges.append((piece.x0 + bounds[i])...(piece.x0 + bounds[i + 1] - 1))
        }
        return ranges
    }

    /// Components taken as one digit, with their joint extent on the working grid.
    struct Piece {
        var labels: Set<Int>
        var x0: Int, x1: Int, y0: Int, y1: Int

        var width: Int { x1 - x0 + 1 }
        var height: Int { y1 - y0 + 1 }

        mutating func include(x: Int, y: Int) {
            x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y)
        }

        /// True when the columns the two share are at least `fraction` of the narrower one's width.
        func overlapsHorizontally(_ other: Piece, by fraction: Double) -> Bool {
            let shared = min(x1, other.x1) - max(x0, other.x0) + 1
            return shared > 0 && Double(shared) >= fraction * Double(min(width, other.width))
        }

        mutating func absorb(_ other: Piece) {
            labels.formUnion(other.labels)
            include(x: other.x0, y: other.y0)
            include(x: other.x1, y: other.y1)
        }
    }
}
