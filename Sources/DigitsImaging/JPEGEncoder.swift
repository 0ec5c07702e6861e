// JPEGEncoder: pictures written as JPEG files by libjpeg-turbo's compressor (for benchmarks and tests that
// need a photo file of a known picture).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CJPEG

/// Writes JPEG files with libjpeg-turbo.
enum JPEGEncoder {
    /// Encodes 8-bit `samples` (row-major; 1 channel grey or 3 channels RGB) as a baseline JPEG of `quality`
    /// (1...100), or a progressive one.
    ///
    /// Everything libjpeg's compressor could refuse (sizes, channel counts, quality) is checked first: its
    /// error handler would end the process.
    static func encode(width: Int, height: Int, channels: Int, samples: [UInt8], quality: Int = 90,
                       progressive: Bool = false) throws -> [UInt8] {
        guard width > 0, height > 0, width <= 65_500, height <= 65_500 else {
            throw ImageError.encodingFailed(format: .jpeg, detail: "the picture is \(width)x\(height) (JPEG allows 1 to 65500 a side)")
        }
        guard channels == 1 || channels == 3, samples.count == width * height * channels else {
            throw ImageError.encodingFailed(format: .jpeg, detail: "\(samples.count) samples are not \(width)x\(height) with 1 or 3 channels")
        }
        guard (1...100).contains(quality) else {
            throw ImageError.encodingFailed(format: .jpeg, detail: "quality \(quality) is outside 1...100")
        }
        var cinfo = jpeg_compress_struct()
        var jerr = jpeg_error_mgr()
        cinfo.err = jpeg_std_error(&jerr)
        jpeg_CreateCompress(&cinfo, JPEG_LIB_VERSION, MemoryLayout<jpeg_compress_struct>.size)
        var buffer: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        jpeg_mem_dest(&cinfo, &buffer, &size)
        cinfo.image_width = JDIMENSION(width)
        cinfo.image_height = JDIMENSION(height)
        cinfo.input_components = Int32(channels)
        cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB
        jpeg_set_defaults(&cinfo)
        jpeg_set_quality(&cinfo, Int32(quality), 1)
        if progressive { jpeg_simple_progression(&cinfo) }
        jpeg_start_compress(&cinfo, 1)
        var rows = samples
        rows.withUnsafeMutableBufferPointer { p in
            while cinfo.next_scanline < cinfo.image_height {
                var row: JSAMPROW? = p.baseAddress! + Int(cinfo.next_scanline) * width * channels
                _ = jpeg_write_scanlines(&cinfo, &row, 1)
            }
        }
        jpeg_finish_compress(&cinfo)
        jpeg_destroy_compress(&cinfo)
        let out = Array(UnsafeBufferPointer(start: buffer, count: Int(size)))
        free(buffer)
        return out
    }
}

extension GrayImage {
    /// This picture encoded as a greyscale JPEG file of `quality` (1...100), written by libjpeg-turbo.
    public func jpegData(quality: Int = 90) throws -> [UInt8] {
        try JPEGEncoder.encode(width: width, height: height, channels: 1, samples: bytes, quality: quality)
    }
}
