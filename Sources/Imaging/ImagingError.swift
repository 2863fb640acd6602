/// What went wrong reading, processing or writing an image, phrased so that a radiologist (or
/// whoever runs the import) can act on it. Every file error names the file.
public enum ImagingError: Error, Sendable, Equatable, CustomStringConvertible {
    case notFound(file: String)
    case isDirectory(file: String)
    case unreadable(file: String, reason: String)
    case empty(file: String)
    /// Neither a PNG nor a JPEG; `leadingBytes` are the first bytes of the file (up to 4).
    case notAnImage(file: String, leadingBytes: [UInt8], hint: String?)
    /// The file ends before the image does. `detail` is the decoder's message.
    case truncated(file: String, format: ImageFormat, detail: String)
    /// libpng / libjpeg refused the data. `detail` is the library's message.
    case corrupt(file: String, format: ImageFormat, detail: String)
    /// The header declares more pixels (or the file has more bytes) than this program accepts.
    case tooLarge(file: String, width: Int, height: Int, limit: Int)
    case fileTooLarge(file: String, bytes: Int, limit: Int)
    case unsupported(file: String, format: ImageFormat, detail: String)
    case writeFailed(file: String, reason: String)
    /// A caller passed an impossible value (size, window width, crop outside the image).
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .notFound(let file):
            return "\(file): no such file"
        case .isDirectory(let file):
            return "\(file): is a folder, not an image file"
        case .unreadable(let file, let reason):
            return "\(file): cannot be read (\(reason))"
        case .empty(let file):
            return "\(file): file is empty (0 bytes); it was probably not copied completely"
        case .notAnImage(let file, let bytes, let hint):
            let hex = bytes.isEmpty ? "" : "0x" + bytes.map { hexByte($0) }.joined()
            return "\(file): not a PNG or JPEG (starts with \(hex))" + (hint.map { "; \($0)" } ?? "")
        case .truncated(let file, let format, let detail):
            return "\(file): \(format) is truncated (\(detail)); the file was probably not copied completely"
        case .corrupt(let file, let format, let detail):
            return "\(file): \(format) is corrupt (\(detail))"
        case .tooLarge(let file, let width, let height, let limit):
            return "\(file): image declares \(width) x \(height) pixels, more than the limit of \(limit) pixels"
        case .fileTooLarge(let file, let bytes, let limit):
            return "\(file): file is \(bytes) bytes, more than the limit of \(limit) bytes"
        case .unsupported(let file, let format, let detail):
            return "\(file): \(format) of a kind not supported (\(detail))"
        case .writeFailed(let file, let reason):
            return "\(file): could not write (\(reason)); nothing was changed"
        case .invalidArgument(let message):
            return message
        }
    }
}

extension ImagingError: CustomDebugStringConvertible {
    public var debugDescription: String { description }
}

func hexByte(_ byte: UInt8) -> String {
    let digits = Array("0123456789ABCDEF")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
}
