import CImageCodecs
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
        try AtomicFile.write(data, to: url)
    }
}

/// Write-to-temp, fsync, rename. POSIX calls directly so every step's failure is reported.
enum AtomicFile {
    static func write(_ data: Data, to url: URL) throws(ImagingError) {
        let path = url.path
        let folder = url.deletingLastPathComponent().path
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            throw .writeFailed(file: path, reason: "a folder of that name exists")
        }
        var template = Array((folder + "/." + url.lastPathComponent + ".tmp-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw .writeFailed(file: path, reason: errnoText()) }
        let temporary = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        var failure: String? = nil
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errnoText(); return
                }
                offset += n
            }
        }
        if failure == nil, fchmod(fd, 0o644) != 0 { failure = errnoText() }
        if failure == nil, fsync(fd) != 0 { failure = errnoText() }
        if close(fd) != 0, failure == nil { failure = errnoText() }
        if failure == nil, rename(temporary, path) != 0 { failure = errnoText() }
        if let failure {
            unlink(temporary)
            throw .writeFailed(file: path, reason: failure)
        }
        // Make the rename itself durable.
        let folderFD = open(folder, O_RDONLY)
        if folderFD >= 0 { _ = fsync(folderFD); close(folderFD) }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
