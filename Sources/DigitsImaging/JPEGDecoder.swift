// JPEGDecoder: JPEG through libjpeg-turbo, made safe to call from Swift.
//
// The problem: libjpeg reports a fatal error by calling `err->error_exit`, which must not return
// (the default prints and calls exit()). C code longjmps out of it; Swift cannot, because setjmp
// returns twice and Swift does not model that. Our design has two layers:
//
// 1. Validate in Swift first (`JPEGHeader.parse`). We walk every marker segment as libjpeg's
//    jdmarker.c would, and reject what would make libjpeg call error_exit: a missing or duplicate SOF,
//    precision other than 8, component counts other than 1 or 3, sampling factors outside 1...4 or more
//    than 10 blocks per MCU, unknown or duplicate component ids, Huffman tables that libjpeg's
//    jpeg_make_d_derived_tbl rejects (over-subscribed codes, DC symbols > 15), scans that use undefined
//    quantisation or Huffman tables, impossible progression parameters, unknown markers, a file that
//    ends before EOI (truncated), and more scans than `ImageLimits.maxJPEGScans` (each scan costs a pass
//    over the whole frame, so counting them bounds a decode's time). The header's size is checked against
//    ImageLimits here, before any allocation. What remains for libjpeg is entropy-coded data, where libjpeg-turbo is tolerant: corrupt
//    Huffman data raises warnings (JWRN_*), not errors, and the damaged blocks decode as grey.
//
// 2. A last-resort error_exit that does not return and does not longjmp: libjpeg runs on a thread of its
//    own, and error_exit formats the message into the job and calls pthread_exit. glibc ends the thread by
//    forced unwinding (C and Swift code carry unwind tables on Linux), the caller's pthread_join returns, and
//    the caller, which owns every buffer including the jpeg_decompress_struct, calls
//    jpeg_destroy_decompress to free libjpeg's pools. The decoding thread holds no Swift references, so
//    nothing is leaked by the skipped cleanups. A thread per picture costs ~20 µs, nothing beside a decode.
//
// Limits: warnings are counted but tolerated (real cameras write files with "extraneous bytes" warnings);
// CMYK/YCCK (4-component), 12-bit, lossless and hierarchical JPEGs are refused as unsupported.
// The Exif orientation tag (APP1) is honoured, so a phone photo comes out upright.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CJPEG
import DigitsTensor

/// Reads JPEG files with libjpeg-turbo after validating their structure in Swift.
enum JPEGDecoder {
    /// Decodes a JPEG; with `minimumSide`, at 1/2, 1/4 or 1/8 of its size, the smallest whose longer side
    /// is still at least `minimumSide` pixels.
    static func decode(_ bytes: [UInt8], source: String, limits: ImageLimits, reducingTo minimumSide: Int? = nil) throws -> GrayImage {
        let header = try JPEGHeader.parse(bytes, source: source, limits: limits)
        let denominator = ImageDecoder.reduction(width: header.width, height: header.height, minimumSide: minimumSide)
        // libjpeg's scaled size: each side divided by the denominator, rounded up.
        let width = (header.width + denominator - 1) / denominator, height = (header.height + denominator - 1) / denominator
        let components = header.components

        let cinfo = UnsafeMutablePointer<jpeg_decompress_struct>.allocate(capacity: 1)
        cinfo.initialize(to: jpeg_decompress_struct())
        let jerr = UnsafeMutablePointer<jpeg_error_mgr>.allocate(capacity: 1)
        jerr.initialize(to: jpeg_error_mgr())
        let message = UnsafeMutablePointer<CChar>.allocate(capacity: Int(JMSG_LENGTH_MAX) * 2)
        message.initialize(repeating: 0, count: Int(JMSG_LENGTH_MAX) * 2)
        let output = UnsafeMutablePointer<UInt8>.allocate(capacity: width * height * components)
        let input = UnsafeMutablePointer<UInt8>.allocate(capacity: bytes.count)
        input.initialize(from: bytes, count: bytes.count)
        let job = UnsafeMutablePointer<JPEGJob>.allocate(capacity: 1)
        job.initialize(to: JPEGJob(cinfo: cinfo, jerr: jerr, message: message, input: input, inputCount: bytes.count,
                                   output: output, width: width, height: height, components: components,
                                   scaleDenominator: denominator))
        defer {
            if job.pointee.created { jpeg_destroy_decompress(cinfo) }
            cinfo.deallocate(); jerr.deallocate(); message.deallocate()
            output.deallocate(); input.deallocate(); job.deallocate()
        }

        try runOnOwnThread(job, source: source)

        if job.pointee.failed {
            let text = String(cString: message)
            throw ImageError.corrupt(source: source, format: .jpeg, detail: "libjpeg: \(text)")
        }
        if job.pointee.mismatch {
            throw ImageError.corrupt(source: source, format: .jpeg,
                                     detail: "libjpeg decodes a different size or colour layout than the header gives")
        }
        let grey = [Float](unsafeUninitializedCapacity: width * height) { buffer, initialized in
            let to = buffer.baseAddress!
            if components == 1 {
                Kernels.levels(output, to, count: width * height)
            } else {
                for p in 0..<(width * height) { to[p] = min(1, ImageDecoder.luminance(output[3 * p], output[3 * p + 1], output[3 * p + 2])) }
            }
            initialized = width * height
        }
        return GrayImage(width: width, height: height, unitPixels: grey).oriented(exif: header.orientation)
    }

    private static func runOnOwnThread(_ job: UnsafeMutablePointer<JPEGJob>, source: String) throws {
        #if canImport(Darwin)
        var thread: pthread_t? = nil
        let rc = pthread_create(&thread, nil, { arg in jpegWorker(arg) }, job)
        guard rc == 0, let thread else {
            throw ImageError.corrupt(source: source, format: .jpeg, detail: "could not start a decoding thread (error \(rc))")
        }
        #else
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { arg in jpegWorker(arg) }, job)
        guard rc == 0 else {
            throw ImageError.corrupt(source: source, format: .jpeg, detail: "could not start a decoding thread (error \(rc))")
        }
        #endif
        pthread_join(thread, nil)
    }
}

/// Everything the decoding thread touches; owned and freed by the calling thread.
struct JPEGJob {
    let cinfo: UnsafeMutablePointer<jpeg_decompress_struct>
    let jerr: UnsafeMutablePointer<jpeg_error_mgr>
    let message: UnsafeMutablePointer<CChar>
    let input: UnsafeMutablePointer<UInt8>
    let inputCount: Int
    let output: UnsafeMutablePointer<UInt8>
    let width: Int, height: Int, components: Int
    /// The output is the picture divided by this on each side (1, 2, 4 or 8).
    let scaleDenominator: Int
    var created = false
    var failed = false
    var mismatch = false
    var warnings = 0
}

/// The decoding thread: libjpeg's whole life cycle, from create to finish.
private func jpegWorker(_ arg: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    guard let job = arg?.assumingMemoryBound(to: JPEGJob.self) else { return nil }
    let cinfo = job.pointee.cinfo
    cinfo.pointee.err = jpeg_std_error(job.pointee.jerr)
    job.pointee.jerr.pointee.error_exit = jpegErrorExit
    job.pointee.jerr.pointee.output_message = jpegOutputMessage
    cinfo.pointee.client_data = UnsafeMutableRawPointer(job)
    job.pointee.created = true
    jpeg_CreateDecompress(cinfo, JPEG_LIB_VERSION, MemoryLayout<jpeg_decompress_struct>.size)
    jpeg_mem_src(cinfo, job.pointee.input, UInt(job.pointee.inputCount))
    _ = jpeg_read_header(cinfo, 1)
    let components = job.pointee.components
    cinfo.pointee.out_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB
    cinfo.pointee.scale_num = 1
    cinfo.pointee.scale_denom = UInt32(job.pointee.scaleDenominator)
    _ = jpeg_start_decompress(cinfo)
    guard Int(cinfo.pointee.output_width) == job.pointee.width,
          Int(cinfo.pointee.output_height) == job.pointee.height,
          Int(cinfo.pointee.output_components) == components else {
        job.pointee.mismatch = true
        jpeg_abort_decompress(cinfo)
        return nil
    }
    let stride = job.pointee.width * components
    while cinfo.pointee.output_scanline < cinfo.pointee.output_height {
        var row: JSAMPROW? = job.pointee.output + Int(cinfo.pointee.output_scanline) * stride
        let read = jpeg_read_scanlines(cinfo, &row, 1)
        if read == 0 { break }
    }
    _ = jpeg_finish_decompress(cinfo)
    job.pointee.warnings = Int(job.pointee.jerr.pointee.num_warnings)
    return nil
}

/// libjpeg's fatal-error hook: records the message and ends the decoding thread (see the file comment).
private func jpegErrorExit(_ cinfo: j_common_ptr?) {
    if let cinfo, let job = cinfo.pointee.client_data?.assumingMemoryBound(to: JPEGJob.self) {
        cinfo.pointee.err.pointee.format_message?(cinfo, job.pointee.message)
        job.pointee.failed = true
    }
    pthread_exit(nil)
}

/// libjpeg's message printer, silenced: a library must not write to stderr; warnings are counted instead.
private func jpegOutputMessage(_ cinfo: j_common_ptr?) {}

/// What `JPEGHeader.parse` learns from the marker segments.
struct JPEGHeader {
    var width = 0, height = 0, components = 0
    var orientation = 1

    /// Walks the markers from SOI to EOI, rejecting what libjpeg would treat as fatal (see the file comment).
    static func parse(_ b: [UInt8], source: String, limits: ImageLimits) throws -> JPEGHeader {
        func corrupt(_ s: String) -> ImageError { .corrupt(source: source, format: .jpeg, detail: s) }
        func truncated(_ s: String) -> ImageError { .truncated(source: source, format: .jpeg, detail: s) }
        func be16(_ i: Int) -> Int { Int(b[i]) << 8 | Int(b[i + 1]) }

        guard b.count >= 2, b[0] == 0xFF, b[1] == 0xD8 else { throw corrupt("no start-of-image marker") }
        var header = JPEGHeader()
        var sawSOF = false, sawSOS = false, progressive = false
        var scans = 0
        var componentIDs: [Int] = [], sampling: [(h: Int, v: Int)] = [], quantOf: [Int] = []
        var quantDefined = [Bool](repeating: false, count: 4)
        var dcDefined = [Bool](repeating: false, count: 4), acDefined = [Bool](repeating: false, count: 4)
        var pos = 2

        while true {
            // Find the next marker; libjpeg skips stray bytes with a warning, and so do we.
            while pos < b.count && b[pos] != 0xFF { pos += 1 }
            while pos < b.count && b[pos] == 0xFF { pos += 1 }
            guard pos < b.count else { throw truncated("the file ends at byte \(b.count) before the end-of-image marker") }
            let marker = b[pos]
            pos += 1
            switch marker {
            case 0xD9:  // EOI
                guard sawSOF else { throw corrupt("no frame header (SOF) before the end of the image") }
                guard sawSOS else { throw corrupt("no scan (SOS) holds image data") }
                return header
            case 0xD8: throw corrupt("a second start-of-image marker at byte \(pos - 2)")
            case 0x01, 0xD0...0xD7: continue  // TEM, RSTn: no payload
            default: break
            }
            guard pos + 2 <= b.count else { throw truncated("the file ends inside a marker at byte \(pos)") }
            let length = be16(pos)
            guard length >= 2 else { throw corrupt("marker 0x\(String(marker, radix: 16)) has length \(length)") }
            guard pos + length <= b.count else {
                throw truncated("marker 0x\(String(marker, radix: 16, uppercase: true)) at byte \(pos - 2) needs \(length) bytes, \(b.count - pos) remain")
            }
            let start = pos + 2, end = pos + length
            pos = end

            switch marker {
            case 0xC0, 0xC1, 0xC2, 0xC9, 0xCA:  // baseline, extended, progressive (Huffman or arithmetic)
                guard !sawSOF else { throw corrupt("a second frame header (SOF)") }
                guard length >= 8 else { throw corrupt("frame header of \(length) bytes") }
                sawSOF = true
                progressive = marker == 0xC2 || marker == 0xCA
                let precision = Int(b[start])
                header.height = be16(start + 1)
                header.width = be16(start + 3)
                header.components = Int(b[start + 5])
                guard precision == 8 else {
                    throw ImageError.unsupported(source: source, format: .jpeg, detail: "\(precision)-bit samples")
                }
                if header.height == 0 || header.width == 0 {
                    throw ImageError.zeroSize(source: source, format: .jpeg, width: header.width, height: header.height)
                }
                try limits.check(width: header.width, height: header.height, source: source, format: .jpeg)
                guard header.components == 1 || header.components == 3 else {
                    throw ImageError.unsupported(source: source, format: .jpeg,
                                                 detail: "\(header.components) colour components (only grey and colour, not CMYK)")
                }
                guard length == 8 + 3 * header.components else { throw corrupt("frame header length \(length) does not fit \(header.components) components") }
                var blocks = 0
                for c in 0..<header.components {
                    let id = Int(b[start + 6 + 3 * c])
                    let h = Int(b[start + 7 + 3 * c] >> 4), v = Int(b[start + 7 + 3 * c] & 15)
                    let q = Int(b[start + 8 + 3 * c])
                    guard !componentIDs.contains(id) else { throw corrupt("component id \(id) appears twice") }
                    guard (1...4).contains(h), (1...4).contains(v) else { throw corrupt("sampling factors \(h)x\(v) outside 1...4") }
                    guard q < 4 else { throw corrupt("quantisation table \(q) outside 0...3") }
                    componentIDs.append(id); sampling.append((h, v)); quantOf.append(q)
                    blocks += h * v
                }
                guard header.components == 1 || blocks <= 10 else { throw corrupt("\(blocks) blocks per MCU, above 10") }
            case 0xC3, 0xC5, 0xC6, 0xC7, 0xCB, 0xCD, 0xCE, 0xCF:
                throw ImageError.unsupported(source: source, format: .jpeg, detail: "lossless or hierarchical coding (marker 0x\(String(marker, radix: 16, uppercase: true)))")
            case 0xC4:  // DHT
                var p = start
                while p < end {
                    let tc = Int(b[p] >> 4), th = Int(b[p] & 15)
                    guard tc <= 1, th <= 3 else { throw corrupt("Huffman table class \(tc) id \(th)") }
                    guard p + 17 <= end else { throw corrupt("Huffman table header overruns its segment") }
                    var code = 0, total = 0
                    var lastLength = 0
                    for l in 1...16 where b[p + l] > 0 { lastLength = l }
                    for l in 1...16 {
                        let count = Int(b[p + l])
                        total += count
                        code += count
                        // jpeg_make_d_derived_tbl: no code may be all ones, nor overflow its length.
                        if l <= lastLength && code >= (1 << l) { throw corrupt("Huffman table \(th) is over-subscribed") }
                        code <<= 1
                    }
                    guard total <= 256, p + 17 + total <= end else { throw corrupt("Huffman table \(th) has \(total) symbols") }
                    if tc == 0 {
                        for s in 0..<total where b[p + 17 + s] > 15 { throw corrupt("DC Huffman table \(th) has symbol \(b[p + 17 + s])") }
                        dcDefined[th] = true
                    } else { acDefined[th] = true }
                    p += 17 + total
                }
            case 0xDB:  // DQT
                var p = start
                while p < end {
                    let pq = Int(b[p] >> 4), tq = Int(b[p] & 15)
                    guard pq <= 1, tq <= 3 else { throw corrupt("quantisation table precision \(pq) id \(tq)") }
                    let size = 1 + 64 * (pq + 1)
                    guard p + size <= end else { throw corrupt("quantisation table \(tq) overruns its segment") }
                    quantDefined[tq] = true
                    p += size
                }
            case 0xDD:  // DRI
                guard length == 4 else { throw corrupt("restart interval segment of \(length) bytes") }
            case 0xDA:  // SOS
                guard sawSOF else { throw corrupt("a scan (SOS) before the frame header (SOF)") }
                scans += 1
                guard scans <= limits.maxJPEGScans else {
                    throw ImageError.tooLarge(source: source, what: "more than \(limits.maxJPEGScans) scans (SOS) at byte \(start - 4)",
                                              limit: "\(limits.maxJPEGScans) scans, each a pass over the whole picture")
                }
                let ns = Int(b[start])
                guard (1...4).contains(ns), length == 6 + 2 * ns else { throw corrupt("scan header with \(ns) components, length \(length)") }
                let ss = Int(b[start + 1 + 2 * ns]), se = Int(b[start + 2 + 2 * ns])
                let ah = Int(b[start + 3 + 2 * ns] >> 4), al = Int(b[start + 3 + 2 * ns] & 15)
                var blocks = 0
                for k in 0..<ns {
                    let id = Int(b[start + 1 + 2 * k])
                    let td = Int(b[start + 2 + 2 * k] >> 4), ta = Int(b[start + 2 + 2 * k] & 15)
                    guard let c = componentIDs.firstIndex(of: id) else { throw corrupt("scan names component \(id), not in the frame") }
                    guard quantDefined[quantOf[c]] else { throw corrupt("component \(id) uses undefined quantisation table \(quantOf[c])") }
                    guard td <= 3, ta <= 3 else { throw corrupt("scan uses Huffman table ids \(td)/\(ta)") }
                    // libjpeg-turbo substitutes the standard tables for undefined tables 0 and 1.
                    let needDC = !progressive || (ss == 0 && ah == 0)
                    let needAC = !progressive || ss > 0
                    if (needDC && td > 1 && !dcDefined[td]) || (needAC && ta > 1 && !acDefined[ta]) {
                        throw corrupt("component \(id) uses an undefined Huffman table")
                    }
                    blocks += sampling[c].h * sampling[c].v
                }
                guard ns == 1 || blocks <= 10 else { throw corrupt("\(blocks) blocks per MCU in a scan, above 10") }
                if progressive {
                    let bad = ss == 0 ? se != 0 : (se < ss || se > 63 || ns != 1)
                    if bad || (ah != 0 && al != ah - 1) || al > 13 {
                        throw corrupt("impossible progression Ss=\(ss) Se=\(se) Ah=\(ah) Al=\(al)")
                    }
                }
                sawSOS = true
                // Skip the entropy-coded data: 0xFF 0x00 is a stuffed byte, 0xFF 0xD0-D7 a restart marker.
                while true {
                    while pos < b.count && b[pos] != 0xFF { pos += 1 }
                    guard pos + 1 < b.count else { throw truncated("the image data stops at byte \(b.count) before the end-of-image marker") }
                    let next = b[pos + 1]
                    if next == 0x00 || (0xD0...0xD7).contains(next) || next == 0xFF { pos += next == 0xFF ? 1 : 2; continue }
                    break
                }
            case 0xE1:  // APP1: Exif orientation
                if let o = exifOrientation(Array(b[start..<end])) { header.orientation = o }
            case 0xCC, 0xDC, 0xE0, 0xE2...0xEF, 0xFE: break  // DAC, DNL, APPn, COM
            default:
                throw corrupt("unknown marker 0x\(String(marker, radix: 16, uppercase: true)) at byte \(start - 4)")
            }
        }
    }

    /// The orientation tag (0x0112) from an Exif APP1 payload, when present and in 1...8.
    static func exifOrientation(_ p: [UInt8]) -> Int? {
        guard p.count >= 14, p.starts(with: Array("Exif".utf8) + [0, 0]) else { return nil }
        let t = 6  // TIFF header
        let little = p[t] == 0x49
        guard little || p[t] == 0x4D else { return nil }
        func u16(_ i: Int) -> Int? {
            guard i >= 0, i + 2 <= p.count else { return nil }
            return little ? Int(p[i]) | Int(p[i + 1]) << 8 : Int(p[i]) << 8 | Int(p[i + 1])
        }
        func u32(_ i: Int) -> Int? {
            guard let a = u16(i), let b = u16(i + 2) else { return nil }
            return little ? a | b << 16 : a << 16 | b
        }
        guard let ifd = u32(t + 4), let count = u16(t + ifd) else { return nil }
        for e in 0..<min(count, 512) {
            let entry = t + ifd + 2 + 12 * e
            guard let tag = u16(entry) else { return nil }
            if tag == 0x0112, let value = u16(entry + 8), (1...8).contains(value) { return value }
        }
        return nil
    }
}

extension GrayImage {
    /// This picture turned upright according to an Exif orientation value (1 = as stored, 6 = rotate 90° clockwise, ...).
    public func oriented(exif orientation: Int) -> GrayImage {
        guard (2...8).contains(orientation) else { return self }
        let (w, h) = (width, height)
        let swap = orientation >= 5
        let (ow, oh) = swap ? (h, w) : (w, h)
        var out = [Float](repeating: 0, count: w * h)
        for y in 0..<oh {
            for x in 0..<ow {
                let (sx, sy): (Int, Int)
                switch orientation {
                case 2: (sx, sy) = (w - 1 - x, y)
                case 3: (sx, sy) = (w - 1 - x, h - 1 - y)
                case 4: (sx, sy) = (x, h - 1 - y)
                case 5: (sx, sy) = (y, x)
                case 6: (sx, sy) = (y, h - 1 - x)
                case 7: (sx, sy) = (w - 1 - y, h - 1 - x)
                default: (sx, sy) = (w - 1 - y, x)
                }
                out[y * ow + x] = pixels[sy * w + sx]
            }
        }
        return GrayImage(width: ow, height: oh, pixels: out)
    }
}
