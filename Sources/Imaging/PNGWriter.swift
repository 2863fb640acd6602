import CImageCodecs
import AtomicFiles
import Foundation

extension Image {
    /// PNG bytes of this image: grey or RGB, 8 or 16 bit, as stored. `compressionLevel` 0...9
    /// (zlib; 6 is libpng's default).
    public func pngData(compressionLevel: Int = 6) throws(ImagingError) -> Data {
        var output: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        let capacity = 512
        var message = [CChar](repeating: 0, count: capacity)
        let status: tb_status = message.withUnsafeMutableBufferPointer { text in
            func encode(_ pointer: UnsafeRawPointer?) -> tb_status {
                tb_png_encode(pointer, UInt32(width), UInt32(height), UInt32(channels), UInt32(bitDepth),
                              Int32(compressionLevel), &output, &size, text.baseAddress, capacity)
            }
            switch samples {
            case .eightBit(let values): return values.withUnsafeBytes { encode($0.baseAddress) }
            case .sixteenBit(let values): return values.withUnsafeBytes { encode($0.baseAddress) }
            }
        }
        defer { tb_free(output) }
        guard status == TB_OK, let bytes = output else {
            let detail = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw .invalidArgument("PNG encoding failed: \(detail)")
        }
        return Data(bytes: bytes, count: size)
    }

    /// Writes the image as PNG atomically: the bytes go to a temporary file in the same folder,
    /// are fsync'ed, then renamed over `url` (and the folder is fsync'ed), so a reader sees the
    /// old file or the new one, never half of one.
    public func writePNG(to url: URL, compressionLevel: Int = 6) throws(ImagingError) {
        let data = try pngData(compressionLevel: compressionLevel)
        do { try AtomicFile.write(data, to: url) } catch { throw .writeFailed(file: error.path, reason: error.reason) }
    }
}
