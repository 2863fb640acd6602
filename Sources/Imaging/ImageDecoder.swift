import CImageCodecs
import Foundation

/// The formats the decoder recognises by their first bytes (never by the file name).
public enum ImageFormat: String, Sendable, Equatable, CustomStringConvertible {
    case png = "PNG"
    case jpeg = "JPEG"
    public var description: String { rawValue }

    /// PNG: 89 50 4E 47 0D 0A 1A 0A. JPEG: FF D8 FF (SOI followed by a marker).
    public static func sniff<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> ImageFormat? {
        let head = Array(bytes.prefix(8))
        if head.count >= 8, head == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        if head.count >= 3, head[0] == 0xFF, head[1] == 0xD8, head[2] == 0xFF { return .jpeg }
        return nil
    }
}

extension ImagingError: LocalizedError {
    public var errorDescription: String? { description }
}

/// Decodes PNG (8/16-bit grey, grey+alpha, RGB, RGBA, palette) and JPEG (8-bit grey, YCbCr/RGB)
/// into an `Image` that keeps the file's bit depth.
///
/// - Alpha is dropped (as PIL's `convert("RGB")` / `convert("L")` do); palettes become RGB;
///   1/2/4-bit grey is scaled to 8 bit (0/255 for 1 bit). No gamma or ICC conversion.
/// - Width x height from the header is checked against `maxPixels` before anything is allocated.
/// - Corrupt and truncated data come back as `ImagingError` values; the process keeps running.
///   A JPEG that libjpeg would "repair" (premature end, bad Huffman code) is refused, not shown
///   with invented grey rows.
/// Stateless and `Sendable`: one decoder may be used from several threads at once.
public struct ImageDecoder: Sendable {
    /// Default pixel limit: 100 megapixels (a 10,000 x 10,000 radiograph; 200 MB at 16-bit).
    public static let defaultMaxPixels = 100_000_000
    /// Default file-size limit: 1 GiB.
    public static let defaultMaxFileBytes = 1 << 30

    public var maxPixels: Int
    public var maxFileBytes: Int

    public init(maxPixels: Int = ImageDecoder.defaultMaxPixels,
                maxFileBytes: Int = ImageDecoder.defaultMaxFileBytes) {
        self.maxPixels = max(1, maxPixels)
        self.maxFileBytes = max(1, maxFileBytes)
    }

    /// Reads and decodes a file. Errors name `url.path`.
    public func decode(contentsOf url: URL) throws(ImagingError) -> Image {
        try decode(try readFile(url), name: url.path)
    }

    /// Decodes bytes already in memory. `name` is used in error messages (usually the path).
    public func decode(_ data: Data, name: String) throws(ImagingError) -> Image {
        guard !data.isEmpty else { throw .empty(file: name) }
        guard let format = ImageFormat.sniff(data) else {
            // A file cut inside the signature is a truncated image, not a foreign format.
            let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], jpeg: [UInt8] = [0xFF, 0xD8, 0xFF]
            if data.count < png.count, png.starts(with: data) {
                throw .truncated(file: name, format: .png, detail: "the file ends after \(data.count) bytes, inside the PNG signature")
            }
            if data.count < jpeg.count, jpeg.starts(with: data) {
                throw .truncated(file: name, format: .jpeg, detail: "the file ends after \(data.count) bytes, inside the JPEG start marker")
            }
            throw .notAnImage(file: name, leadingBytes: Array(data.prefix(4)), hint: Self.hint(for: data))
        }
        let limit = maxPixels
        let result = data.withUnsafeBytes { raw in
            Result { () throws(ImagingError) -> Image in
                let image = try Self.decode(raw, format: format, name: name, maxPixels: limit)
                // libjpeg ignores EXIF; a camera or phone JPEG stored sideways is shown upright
                // by every viewer (and Pillow's exif_transpose), so the models must see it so too.
                guard format == .jpeg, let o = Self.exifOrientation(raw) else { return image }
                return Self.oriented(image, exifOrientation: o)
            }
        }
        return try result.get()
    }

    /// Reads the whole file, refusing folders, missing files and files over `maxFileBytes`.
    func readFile(_ url: URL) throws(ImagingError) -> Data {
        let path = url.path
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            // A link that exists but leads nowhere (a loop, a dangling target) is not "no such file".
            var ls = stat(), st = stat()
            if lstat(path, &ls) == 0, stat(path, &st) != 0 {
                throw .unreadable(file: path, reason: errno == ELOOP ? "a symbolic link loop" : "a symbolic link to nothing (\(String(cString: strerror(errno))))")
            }
            throw .notFound(file: path)
        }
        if isFolder.boolValue { throw .isDirectory(file: path) }
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            // A FIFO, device or socket would block the read forever (or never end): refuse it.
            // A symbolic link is judged by what it leads to (a dataset of linked images is fine).
            if let type = Self.targetKind(path), type != .typeRegular {
                throw ImagingError.unreadable(file: path, reason: "not a regular file (\(Self.kind(type)))")
            }
            if let size = (attributes[.size] as? NSNumber)?.intValue {
                if size > maxFileBytes { throw ImagingError.fileTooLarge(file: path, bytes: size, limit: maxFileBytes) }
                // Regular empty file: say so without reading (Foundation leaks a page reading 0 bytes).
                if size == 0, attributes[.type] as? FileAttributeType == .typeRegular { throw ImagingError.empty(file: path) }
            }
            // Read, not mapped: a mapped file that another process truncates would crash us (SIGBUS).
            return try Data(contentsOf: url)
        } catch let error as ImagingError {
            throw error
        } catch {
            throw .unreadable(file: path, reason: Self.reason(error))
        }
    }

    /// What `path` is once its symbolic links are followed (stat(2)); nil when that fails.
    public static func targetKind(_ path: String) -> FileAttributeType? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return .typeRegular
        case S_IFDIR: return .typeDirectory
        case S_IFCHR: return .typeCharacterSpecial
        case S_IFBLK: return .typeBlockSpecial
        case S_IFSOCK: return .typeSocket
        default: return .typeUnknown
        }
    }

    public static func kind(_ t: FileAttributeType) -> String {
        switch t {
        case .typeCharacterSpecial, .typeBlockSpecial: "a device"
        case .typeSocket: "a socket"
        case .typeSymbolicLink: "a symbolic link"
        case .typeDirectory: "a folder"
        default: "a FIFO or other special file"
        }
    }

    static func reason(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError,
           underlying.domain == NSPOSIXErrorDomain, let text = strerror(Int32(underlying.code)) {
            return String(cString: text)
        }
        return ns.localizedDescription
    }

    /// Recognises a few files people mistake for images, to say what to do instead.
    static func hint(for data: Data) -> String? {
        if data.count >= 132, data[data.startIndex + 128 ..< data.startIndex + 132].elementsEqual(Array("DICM".utf8)) {
            return "this is a DICOM file; import it as DICOM"
        }
        let head = Array(data.prefix(4))
        if head.starts(with: [0x49, 0x49, 0x2A, 0x00]) || head.starts(with: [0x4D, 0x4D, 0x00, 0x2A]) {
            return "this looks like a TIFF; export it as PNG"
        }
        if head.starts(with: Array("GIF8".utf8)) { return "this looks like a GIF; export it as PNG" }
        if head.starts(with: Array("BM".utf8)) { return "this looks like a BMP; export it as PNG" }
        return nil
    }

    /// Two calls into the shim: the first reads the header (size, channels, depth; pixel limit
    /// checked), the second decodes straight into the array that becomes the image, so there is
    /// no copy and no second buffer of the image's size.
    static func decode(_ raw: UnsafeRawBufferPointer, format: ImageFormat, name: String,
                       maxPixels: Int) throws(ImagingError) -> Image {
        let bytes = raw.bindMemory(to: UInt8.self)
        var info = tb_image_info()
        let capacity = 512
        var message = [CChar](repeating: 0, count: capacity)

        func run(into pixels: UnsafeMutableRawPointer?, _ byteCount: Int) -> tb_status {
            message.withUnsafeMutableBufferPointer { text in
                switch format {
                case .png: tb_png_decode(bytes.baseAddress, bytes.count, UInt64(maxPixels), pixels, byteCount, &info, text.baseAddress, capacity)
                case .jpeg: tb_jpeg_decode(bytes.baseAddress, bytes.count, UInt64(maxPixels), pixels, byteCount, &info, text.baseAddress, capacity)
                }
            }
        }
        func check(_ status: tb_status) throws(ImagingError) {
            let detail = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            switch status {
            case TB_OK: return
            case TB_ERR_TRUNCATED: throw .truncated(file: name, format: format, detail: detail)
            case TB_ERR_TOO_LARGE:
                throw .tooLarge(file: name, width: Int(info.width), height: Int(info.height), limit: maxPixels)
            case TB_ERR_UNSUPPORTED: throw .unsupported(file: name, format: format, detail: detail)
            case TB_ERR_NO_MEMORY: throw .unreadable(file: name, reason: detail.isEmpty ? "out of memory" : detail)
            default: throw .corrupt(file: name, format: format, detail: detail)
            }
        }

        try check(run(into: nil, 0))
        let width = Int(info.width), height = Int(info.height)
        let colour: Image.Colour = info.channels == 1 ? .grey : .rgb
        let count = width * height * Int(info.channels)
        guard count > 0 else { throw .corrupt(file: name, format: format, detail: "image has no pixels") }

        var status = TB_OK
        if info.bit_depth == 16 {
            let samples = [UInt16](unsafeUninitializedCapacity: count) { buffer, initialised in
                status = run(into: UnsafeMutableRawPointer(buffer.baseAddress), count * 2)
                initialised = status == TB_OK ? count : 0
            }
            try check(status)
            return Image(unchecked: width, height, colour, .sixteenBit(samples))
        }
        let samples = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialised in
            status = run(into: UnsafeMutableRawPointer(buffer.baseAddress), count)
            initialised = status == TB_OK ? count : 0
        }
        try check(status)
        return Image(unchecked: width, height, colour, .eightBit(samples))
    }
}

// MARK: - EXIF orientation (JPEG)

extension ImageDecoder {
    /// The EXIF Orientation tag (0x0112) of a JPEG: 1-8, or nil when there is none, or a value
    /// outside 1-8 (viewers and Pillow's `ImageOps.exif_transpose` leave those images as stored).
    /// Reads the first APP1 "Exif" segment before the first scan, as Pillow does; every offset is
    /// checked against the data, so any bytes are safe here.
    public static func exifOrientation(_ data: Data) -> Int? {
        data.withUnsafeBytes { exifOrientation($0) }
    }

    static func exifOrientation(_ raw: UnsafeRawBufferPointer) -> Int? {
        let b = raw.bindMemory(to: UInt8.self)
        let n = b.count
        guard n >= 4, b[0] == 0xFF, b[1] == 0xD8 else { return nil }
        var i = 2
        while i + 4 <= n {
            guard b[i] == 0xFF else { return nil }
            let marker = b[i + 1]
            if marker == 0xFF { i += 1; continue }                                   // fill byte
            if marker == 0x01 || marker == 0xD8 || (0xD0...0xD7).contains(marker) { i += 2; continue }
            if marker == 0xDA || marker == 0xD9 { return nil }                       // scan or end: no Exif
            let length = Int(b[i + 2]) << 8 | Int(b[i + 3])
            guard length >= 2, i + 2 + length <= n else { return nil }
            let start = i + 4, end = i + 2 + length
            if marker == 0xE1, end - start >= 6,
               b[start] == 0x45, b[start + 1] == 0x78, b[start + 2] == 0x69, b[start + 3] == 0x66,  // "Exif"
               b[start + 4] == 0, b[start + 5] == 0 {
                return tiffOrientation(b, from: start + 6, to: end)
            }
            i = end
        }
        return nil
    }

    /// Orientation from the TIFF structure in an Exif segment: IFD0's tag 0x0112, SHORT or LONG.
    static func tiffOrientation(_ b: UnsafeBufferPointer<UInt8>, from s: Int, to e: Int) -> Int? {
        guard e - s >= 8 else { return nil }
        let little: Bool
        if b[s] == 0x49, b[s + 1] == 0x49 { little = true }        // "II"
        else if b[s] == 0x4D, b[s + 1] == 0x4D { little = false }  // "MM"
        else { return nil }
        func u16(_ at: Int) -> Int? {
            guard at >= s, at + 2 <= e else { return nil }
            return little ? Int(b[at]) | Int(b[at + 1]) << 8 : Int(b[at]) << 8 | Int(b[at + 1])
        }
        func u32(_ at: Int) -> Int? {
            guard let lo = u16(little ? at : at + 2), let hi = u16(little ? at + 2 : at) else { return nil }
            return hi << 16 | lo
        }
        guard u16(s + 2) == 42, let ifd = u32(s + 4), ifd <= e - s, let count = u16(s + ifd) else { return nil }
        for k in 0..<count {
            let entry = s + ifd + 2 + 12 * k
            guard entry + 12 <= e, let tag = u16(entry) else { return nil }
            guard tag == 0x0112 else { continue }
            let value: Int?
            switch u16(entry + 2) {
            case 3: value = u16(entry + 8)   // SHORT
            case 4: value = u32(entry + 8)   // LONG
            default: value = nil
            }
            guard let v = value, (1...8).contains(v) else { return nil }
            return v
        }
        return nil
    }

    /// The image as EXIF orientation `o` says to show it (Pillow's exif_transpose): 2 mirror,
    /// 3 rotate 180, 4 flip, 5 transpose, 6 rotate 90 clockwise, 7 transverse, 8 rotate 90
    /// anticlockwise; 5-8 swap width and height. Other values return the image unchanged.
    public static func oriented(_ image: Image, exifOrientation o: Int) -> Image {
        guard (2...8).contains(o) else { return image }
        let w = image.width, h = image.height, c = image.channels
        let swaps = o >= 5
        let ow = swaps ? h : w, oh = swaps ? w : h
        // Source pixel of output pixel (x, y).
        func source(_ x: Int, _ y: Int) -> Int {
            let (sx, sy): (Int, Int)
            switch o {
            case 2: (sx, sy) = (w - 1 - x, y)
            case 3: (sx, sy) = (w - 1 - x, h - 1 - y)
            case 4: (sx, sy) = (x, h - 1 - y)
            case 5: (sx, sy) = (y, x)
            case 6: (sx, sy) = (y, h - 1 - x)
            case 7: (sx, sy) = (w - 1 - y, h - 1 - x)
            default: (sx, sy) = (w - 1 - y, x)
            }
            return sy * w + sx
        }
        func remap<T>(_ v: [T]) -> [T] {
            [T](unsafeUninitializedCapacity: v.count) { out, initialised in
                v.withUnsafeBufferPointer { src in
                    var k = 0
                    for y in 0..<oh {
                        for x in 0..<ow {
                            let p = source(x, y) * c
                            for ch in 0..<c { out.initializeElement(at: k, to: src[p + ch]); k += 1 }
                        }
                    }
                }
                initialised = v.count
            }
        }
        switch image.samples {
        case .eightBit(let v): return Image(unchecked: ow, oh, image.colour, .eightBit(remap(v)))
        case .sixteenBit(let v): return Image(unchecked: ow, oh, image.colour, .sixteenBit(remap(v)))
        }
    }
}
