import Foundation
import Imaging

/// Why a DICOM file was refused. Each message names the file.
public enum DICOMError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(file: String, reason: String)
    case empty(file: String)
    case notDICOM(file: String)
    case truncated(file: String, detail: String)
    /// A transfer syntax other than Implicit / Explicit VR Little Endian.
    case unsupportedTransferSyntax(file: String, uid: String, name: String)
    case unsupported(file: String, detail: String)
    case missingTag(file: String, tag: String, name: String)
    case invalidValue(file: String, tag: String, name: String, value: String)
    case tooLarge(file: String, width: Int, height: Int, limit: Int)

    public var description: String {
        switch self {
        case .unreadable(let file, let reason): return "\(file): cannot be read (\(reason))"
        case .empty(let file): return "\(file): file is empty (0 bytes); it was probably not copied completely"
        case .notDICOM(let file): return "\(file): not a DICOM file (no 'DICM' after the 128-byte preamble)"
        case .truncated(let file, let detail): return "\(file): DICOM is truncated (\(detail)); the file was probably not copied completely"
        case .unsupportedTransferSyntax(let file, let uid, let name):
            return "\(file): DICOM transfer syntax \(uid) (\(name)) is not supported; TumorBoard reads uncompressed Implicit VR Little Endian (1.2.840.10008.1.2) and Explicit VR Little Endian (1.2.840.10008.1.2.1). Convert it first, e.g. with dcmtk: dcmdjpeg / dcmconv +te"
        case .unsupported(let file, let detail): return "\(file): DICOM of a kind not supported (\(detail))"
        case .missingTag(let file, let tag, let name): return "\(file): DICOM tag \(tag) \(name) is missing"
        case .invalidValue(let file, let tag, let name, let value): return "\(file): DICOM tag \(tag) \(name) has an invalid value '\(value)'"
        case .tooLarge(let file, let width, let height, let limit):
            return "\(file): image declares \(width) x \(height) pixels, more than the limit of \(limit) pixels"
        }
    }
}

extension DICOMError: LocalizedError {
    public var errorDescription: String? { description }
}

/// The patient tags of a DICOM file. Kept apart from everything else so that nothing shows
/// them by accident: `DICOMFile.description` never includes them.
public struct DICOMPatient: Sendable, Equatable {
    public var age: Int?
    public var sex: Sex?
    public var patientID: String?
    public var name: String?
    public var birthDate: String?
}

/// An uncompressed DICOM image (PS3.10 file, Implicit or Explicit VR Little Endian).
///
/// Reads the first frame's pixels into an Imaging `Image` at its stored depth (8 or 16 bit;
/// bits above BitsStored cleared, signed samples sign-extended to 16 bits and flagged in
/// `rescale`), plus what display needs: Rescale Slope/Intercept, the default VOI window (the
/// first Window Center/Width, else the image's own range), MONOCHROME1 inversion and pixel
/// spacing. `displayImage()` applies them in the standard's order: modality LUT, VOI window,
/// then inversion for MONOCHROME1.
public struct DICOMFile: Sendable {
    public static let implicitVRLittleEndian = "1.2.840.10008.1.2"
    public static let explicitVRLittleEndian = "1.2.840.10008.1.2.1"

    public let file: String
    public let transferSyntaxUID: String
    public let image: Image
    public let rows: Int
    public let columns: Int
    public let bitsAllocated: Int
    public let bitsStored: Int
    public let pixelRepresentation: Int
    public let photometricInterpretation: String
    public let rescale: Rescale
    /// From the file when it has one, else the full range of the rescaled samples.
    public let window: Window
    public let windowFromFile: Bool
    /// Row spacing, column spacing in mm (PixelSpacing, else ImagerPixelSpacing).
    public let pixelSpacing: (row: Double, column: Double)?
    public let modality: String?
    public let studyDate: String?
    public let bodyPart: String?
    public let viewPosition: String?
    public let numberOfFrames: Int
    /// Patient tags: not shown unless asked for.
    public let patient: DICOMPatient

    public var isMonochrome1: Bool { photometricInterpretation == "MONOCHROME1" }

    /// True when the file has 'DICM' at offset 128.
    public static func looksLikeDICOM(_ url: URL) -> Bool {
        guard let h = FileHandle(forReadingAtPath: url.path) else { return false }
        defer { try? h.close() }
        guard let d = try? h.read(upToCount: 132), d.count == 132 else { return false }
        return d[d.startIndex + 128 ..< d.startIndex + 132].elementsEqual("DICM".utf8)
    }

    public init(contentsOf url: URL, maxPixels: Int = ImageDecoder.defaultMaxPixels,
                maxFileBytes: Int = ImageDecoder.defaultMaxFileBytes) throws(DICOMError) {
        let path = url.path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw .unreadable(file: path, reason: "no such file") }
        guard !isDir.boolValue else { throw .unreadable(file: path, reason: "is a folder") }
        let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
        guard size <= maxFileBytes else { throw .unreadable(file: path, reason: "\(size) bytes, more than the limit of \(maxFileBytes)") }
        let data: Data
        do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw .unreadable(file: path, reason: error.localizedDescription)
        }
        try self.init(data: data, name: path, maxPixels: maxPixels)
    }

    public init(data: Data, name: String, maxPixels: Int = ImageDecoder.defaultMaxPixels) throws(DICOMError) {
        guard !data.isEmpty else { throw .empty(file: name) }
        let bytes = [UInt8](data)
        guard bytes.count >= 132, bytes[128..<132].elementsEqual("DICM".utf8) else {
            if bytes.count < 132 && bytes.count > 0 && bytes.allSatisfy({ $0 == 0 }) { throw .truncated(file: name, detail: "\(bytes.count) bytes, the preamble alone is 128") }
            throw .notDICOM(file: name)
        }
        let reader = ElementReader(bytes: bytes, file: name)
        // File meta information: always Explicit VR Little Endian.
        let meta = try reader.readDataset(from: 132, explicit: true, stopAtGroupOtherThan: 0x0002)
        guard let ts = meta.elements[0x0002_0010].map({ reader.text($0) }) else {
            throw .missingTag(file: name, tag: "(0002,0010)", name: "TransferSyntaxUID")
        }
        transferSyntaxUID = ts
        let explicit: Bool
        switch ts {
        case Self.explicitVRLittleEndian: explicit = true
        case Self.implicitVRLittleEndian: explicit = false
        default: throw .unsupportedTransferSyntax(file: name, uid: ts, name: Self.transferSyntaxName(ts))
        }
        let ds = try reader.readDataset(from: meta.end, explicit: explicit, stopAtGroupOtherThan: nil)
        file = name

        func us(_ tag: UInt32, _ label: String, required: Bool = true) throws(DICOMError) -> Int? {
            guard let e = ds.elements[tag] else {
                if required { throw .missingTag(file: name, tag: tagText(tag), name: label) }
                return nil
            }
            if e.length >= 2, e.vr == "US" || e.vr == "SS" || e.vr == nil || e.vr == "UN" || e.vr == "OW" {
                return Int(UInt16(bytes[e.offset]) | UInt16(bytes[e.offset + 1]) << 8)
            }
            // Some writers put numbers as text.
            if let v = Int(reader.text(e)) { return v }
            throw .invalidValue(file: name, tag: tagText(tag), name: label, value: reader.text(e))
        }
        func str(_ tag: UInt32) -> String? {
            guard let e = ds.elements[tag] else { return nil }
            let s = reader.text(e)
            return s.isEmpty ? nil : s
        }
        func decimals(_ tag: UInt32, _ label: String) throws(DICOMError) -> [Double]? {
            guard let s = str(tag) else { return nil }
            var out: [Double] = []
            for part in s.split(separator: "\\") {
                guard let v = Double(part.trimmingCharacters(in: .whitespaces)), v.isFinite else {
                    throw .invalidValue(file: name, tag: tagText(tag), name: label, value: s)
                }
                out.append(v)
            }
            return out.isEmpty ? nil : out
        }

        rows = try us(0x0028_0010, "Rows")!
        columns = try us(0x0028_0011, "Columns")!
        bitsAllocated = try us(0x0028_0100, "BitsAllocated")!
        bitsStored = try us(0x0028_0101, "BitsStored", required: false) ?? bitsAllocated
        let highBit = try us(0x0028_0102, "HighBit", required: false) ?? (bitsStored - 1)
        pixelRepresentation = try us(0x0028_0103, "PixelRepresentation", required: false) ?? 0
        let samplesPerPixel = try us(0x0028_0002, "SamplesPerPixel", required: false) ?? 1
        let planar = try us(0x0028_0006, "PlanarConfiguration", required: false) ?? 0
        guard let pi = str(0x0028_0004) else { throw .missingTag(file: name, tag: "(0028,0004)", name: "PhotometricInterpretation") }
        photometricInterpretation = pi
        numberOfFrames = max(1, Int(str(0x0028_0008) ?? "1") ?? 1)

        guard rows > 0, columns > 0 else { throw .invalidValue(file: name, tag: "(0028,0010)", name: "Rows/Columns", value: "\(rows) x \(columns)") }
        guard rows * columns <= maxPixels else { throw .tooLarge(file: name, width: columns, height: rows, limit: maxPixels) }
        guard bitsAllocated == 8 || bitsAllocated == 16 else {
            throw .unsupported(file: name, detail: "BitsAllocated \(bitsAllocated); only 8 and 16 are read")
        }
        guard bitsStored >= 1, bitsStored <= bitsAllocated, highBit >= bitsStored - 1, highBit < bitsAllocated else {
            throw .invalidValue(file: name, tag: "(0028,0101)", name: "BitsStored/HighBit", value: "\(bitsStored)/\(highBit)")
        }
        guard pixelRepresentation == 0 || pixelRepresentation == 1 else {
            throw .invalidValue(file: name, tag: "(0028,0103)", name: "PixelRepresentation", value: "\(pixelRepresentation)")
        }
        let colour: Image.Colour
        switch (pi, samplesPerPixel) {
        case ("MONOCHROME1", 1), ("MONOCHROME2", 1): colour = .grey
        case ("RGB", 3): colour = .rgb
        default: throw .unsupported(file: name, detail: "PhotometricInterpretation \(pi) with \(samplesPerPixel) samples per pixel; MONOCHROME1, MONOCHROME2 and RGB are read")
        }
        guard colour == .grey || bitsAllocated == 8 else { throw .unsupported(file: name, detail: "16-bit RGB") }

        guard let pixel = ds.elements[0x7FE0_0010] else { throw .missingTag(file: name, tag: "(7FE0,0010)", name: "PixelData") }
        guard pixel.length != 0xFFFF_FFFF else { throw .unsupported(file: name, detail: "encapsulated (compressed) pixel data") }
        let bytesPer = bitsAllocated / 8
        let frameBytes = rows * columns * samplesPerPixel * bytesPer
        guard pixel.length >= frameBytes else {
            throw .truncated(file: name, detail: "PixelData has \(pixel.length) bytes, \(rows) x \(columns) x \(samplesPerPixel) x \(bitsAllocated) bit needs \(frameBytes)")
        }
        let start = pixel.offset
        let n = rows * columns * samplesPerPixel
        let shift = highBit - bitsStored + 1
        let signed = pixelRepresentation == 1
        let decoded: Image
        do {
            if bitsAllocated == 8 {
                var px = [UInt8](repeating: 0, count: n)
                if colour == .rgb && planar == 1 {
                    let plane = rows * columns
                    for i in 0..<plane { for c in 0..<3 { px[i * 3 + c] = bytes[start + c * plane + i] } }
                } else {
                    for i in 0..<n { px[i] = bytes[start + i] }
                }
                if bitsStored < 8 || shift > 0 {
                    let mask = UInt8((1 << bitsStored) - 1)
                    for i in 0..<n { px[i] = (px[i] >> UInt8(shift)) & mask }
                }
                if signed { throw DICOMError.unsupported(file: name, detail: "signed 8-bit samples") }
                decoded = try Image(width: columns, height: rows, colour: colour, pixels: px)
            } else {
                var px = [UInt16](repeating: 0, count: n)
                let mask = UInt16(truncatingIfNeeded: (1 << bitsStored) - 1)
                let signBit = UInt16(truncatingIfNeeded: 1 << (bitsStored - 1))
                let narrow = bitsStored < 16
                bytes.withUnsafeBufferPointer { b in
                    for i in 0..<n {
                        var v = (UInt16(b[start + 2 * i]) | UInt16(b[start + 2 * i + 1]) << 8) >> UInt16(shift) & mask
                        if signed, narrow, v & signBit != 0 { v |= ~mask }
                        px[i] = v
                    }
                }
                decoded = try Image(width: columns, height: rows, colour: colour, pixels: px)
            }
        } catch let e as DICOMError {
            throw e
        } catch {
            throw .unsupported(file: name, detail: "\(error)")
        }
        image = decoded
        let slope = try decimals(0x0028_1053, "RescaleSlope")?.first ?? 1
        let intercept = try decimals(0x0028_1052, "RescaleIntercept")?.first ?? 0
        rescale = Rescale(slope: slope, intercept: intercept, signedSamples: signed && bitsAllocated == 16)
        if let c = try decimals(0x0028_1050, "WindowCenter")?.first, let w = try decimals(0x0028_1051, "WindowWidth")?.first, w >= 1 {
            window = Window(center: c, width: w)
            windowFromFile = true
        } else {
            window = decoded.fullRangeWindow(rescale: rescale)
            windowFromFile = false
        }
        let spacing = try decimals(0x0028_0030, "PixelSpacing")
        let imagerSpacing = try decimals(0x0018_1164, "ImagerPixelSpacing")
        if let s = spacing ?? imagerSpacing, s.count >= 2 {
            pixelSpacing = (s[0], s[1])
        } else {
            pixelSpacing = nil
        }
        modality = str(0x0008_0060)
        studyDate = str(0x0008_0020) ?? str(0x0008_0022)
        bodyPart = str(0x0018_0015)
        viewPosition = str(0x0018_5101)
        var p = DICOMPatient()
        p.patientID = str(0x0010_0020)
        p.name = str(0x0010_0010)
        p.birthDate = str(0x0010_0030)
        switch str(0x0010_0040) {
        case "F": p.sex = .female
        case "M": p.sex = .male
        default: p.sex = nil
        }
        p.age = Self.age(patientAge: str(0x0010_1010), birthDate: p.birthDate, studyDate: studyDate)
        patient = p
    }

    /// The patient tags only, from the file's header (the first MiB, or the whole file when
    /// the header is longer): for listing cases without decoding pixels.
    public static func patient(contentsOf url: URL) throws(DICOMError) -> DICOMPatient {
        let path = url.path
        guard let handle = FileHandle(forReadingAtPath: path) else { throw .unreadable(file: path, reason: "cannot be opened") }
        defer { try? handle.close() }
        var data: Data
        do { data = try handle.read(upToCount: 1 << 20) ?? Data() } catch {
            throw .unreadable(file: path, reason: error.localizedDescription)
        }
        guard !data.isEmpty else { throw .empty(file: path) }
        let bytes = [UInt8](data)
        guard bytes.count >= 132, bytes[128..<132].elementsEqual("DICM".utf8) else { throw .notDICOM(file: path) }
        let reader = ElementReader(bytes: bytes, file: path)
        let meta = try reader.readDataset(from: 132, explicit: true, stopAtGroupOtherThan: 0x0002)
        guard let ts = meta.elements[0x0002_0010].map({ reader.text($0) }) else {
            throw .missingTag(file: path, tag: "(0002,0010)", name: "TransferSyntaxUID")
        }
        guard ts == explicitVRLittleEndian || ts == implicitVRLittleEndian else {
            throw .unsupportedTransferSyntax(file: path, uid: ts, name: transferSyntaxName(ts))
        }
        let ds: ElementReader.Dataset
        do {
            ds = try reader.readDataset(from: meta.end, explicit: ts == explicitVRLittleEndian, stopAtGroupOtherThan: nil,
                                        stopAtPixelData: true)
        } catch {
            guard case .truncated = error, bytes.count == 1 << 20 else { throw error }
            return try DICOMFile(contentsOf: url).patient  // a header longer than 1 MiB
        }
        func str(_ tag: UInt32) -> String? {
            guard let e = ds.elements[tag] else { return nil }
            let s = reader.text(e)
            return s.isEmpty ? nil : s
        }
        var p = DICOMPatient()
        p.patientID = str(0x0010_0020)
        p.name = str(0x0010_0010)
        p.birthDate = str(0x0010_0030)
        p.sex = str(0x0010_0040).flatMap { Sex(rawValue: $0) }
        p.age = age(patientAge: str(0x0010_1010), birthDate: p.birthDate, studyDate: str(0x0008_0020) ?? str(0x0008_0022))
        return p
    }

    /// PatientAge (AS: nnnD/W/M/Y) in whole years, else from the birth and study dates.
    static func age(patientAge: String?, birthDate: String?, studyDate: String?) -> Int? {
        if let a = patientAge, a.count == 4, let n = Int(a.prefix(3)) {
            switch a.last {
            case "Y": return n
            case "M": return n / 12
            case "W": return n / 52
            case "D": return n / 365
            default: break
            }
        }
        guard let b = birthDate, let s = studyDate, b.count >= 8, s.count >= 8,
              let by = Int(b.prefix(4)), let bmd = Int(b.dropFirst(4).prefix(4)),
              let sy = Int(s.prefix(4)), let smd = Int(s.dropFirst(4).prefix(4)) else { return nil }
        let years = sy - by - (smd < bmd ? 1 : 0)
        return years >= 0 ? years : nil
    }

    /// 8-bit display pixels: modality LUT, then the VOI window (`window` unless given), then
    /// inversion for MONOCHROME1 (PS3.3 C.7.6.3.1.2: after the VOI LUT).
    public func displayImage(window override: Window? = nil) throws(ImagingError) -> Image {
        try image.windowed(override ?? window, rescale: rescale, invert: isMonochrome1)
    }

    static let transferSyntaxNames: [String: String] = [
        "1.2.840.10008.1.2": "Implicit VR Little Endian",
        "1.2.840.10008.1.2.1": "Explicit VR Little Endian",
        "1.2.840.10008.1.2.1.99": "Deflated Explicit VR Little Endian",
        "1.2.840.10008.1.2.2": "Explicit VR Big Endian",
        "1.2.840.10008.1.2.4.50": "JPEG Baseline (Process 1)",
        "1.2.840.10008.1.2.4.51": "JPEG Extended (Process 2 & 4)",
        "1.2.840.10008.1.2.4.57": "JPEG Lossless, Non-Hierarchical (Process 14)",
        "1.2.840.10008.1.2.4.70": "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14, SV1)",
        "1.2.840.10008.1.2.4.80": "JPEG-LS Lossless",
        "1.2.840.10008.1.2.4.81": "JPEG-LS Lossy (Near-Lossless)",
        "1.2.840.10008.1.2.4.90": "JPEG 2000 Image Compression (Lossless Only)",
        "1.2.840.10008.1.2.4.91": "JPEG 2000 Image Compression",
        "1.2.840.10008.1.2.4.201": "High-Throughput JPEG 2000 (Lossless Only)",
        "1.2.840.10008.1.2.4.203": "High-Throughput JPEG 2000",
        "1.2.840.10008.1.2.5": "RLE Lossless",
        "1.2.840.10008.1.2.4.100": "MPEG2 Main Profile / Main Level",
        "1.2.840.10008.1.2.4.102": "MPEG-4 AVC/H.264 High Profile / Level 4.1",
    ]

    public static func transferSyntaxName(_ uid: String) -> String {
        transferSyntaxNames[uid] ?? "an unknown transfer syntax"
    }
}

extension DICOMFile: CustomStringConvertible {
    /// Technical summary; never the patient tags.
    public var description: String {
        var s = "DICOM \(columns) x \(rows) \(photometricInterpretation) \(bitsStored)/\(bitsAllocated)-bit"
        s += pixelRepresentation == 1 ? " signed" : ""
        s += ", \(Self.transferSyntaxName(transferSyntaxUID)), window \(window)"
        if let m = modality { s += ", \(m)" }
        if let p = pixelSpacing { s += ", spacing \(p.row) x \(p.column) mm" }
        return s
    }
}

func tagText(_ tag: UInt32) -> String {
    func hex4(_ v: UInt32) -> String {
        let s = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - s.count)) + s
    }
    return "(\(hex4(tag >> 16)),\(hex4(tag & 0xFFFF)))"
}

/// Walks the elements of a dataset, keeping the top-level ones (sequences are skipped).
struct ElementReader {
    struct Element {
        let tag: UInt32
        let vr: String?
        let offset: Int
        let length: Int
    }
    struct Dataset {
        var elements: [UInt32: Element] = [:]
        var end: Int
    }

    let bytes: [UInt8]
    let file: String
    static let longVRs: Set<String> = ["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"]

    func u16(_ i: Int) -> UInt16 { UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8 }
    func u32(_ i: Int) -> UInt32 { UInt32(u16(i)) | UInt32(u16(i + 2)) << 16 }

    func text(_ e: Element) -> String {
        let raw = bytes[e.offset ..< e.offset + e.length]
        let s = String(decoding: raw, as: UTF8.self)
        return s.trimmingCharacters(in: CharacterSet(charactersIn: " \0"))
    }

    func need(_ i: Int, _ n: Int, _ what: String) throws(DICOMError) {
        if i + n > bytes.count { throw .truncated(file: file, detail: "\(what) at byte \(i) runs past the end (\(bytes.count) bytes)") }
    }

    /// Reads one element header at `i`; returns the element and the offset after its header.
    func header(at i: Int, explicit: Bool) throws(DICOMError) -> Element {
        try need(i, 8, "element header")
        let tag = UInt32(u16(i)) << 16 | UInt32(u16(i + 2))
        // Item and delimitation tags have no VR, whatever the transfer syntax.
        if tag >> 16 == 0xFFFE {
            return Element(tag: tag, vr: nil, offset: i + 8, length: Int(u32(i + 4)))
        }
        if explicit {
            let vr = String(decoding: bytes[i + 4 ..< i + 6], as: UTF8.self)
            guard vr.utf8.allSatisfy({ $0 >= 65 && $0 <= 90 }) else {
                throw .unsupported(file: file, detail: "element \(tagText(tag)) at byte \(i) has no valid VR ('\(vr)'): the transfer syntax says Explicit VR but the data are not")
            }
            if Self.longVRs.contains(vr) {
                try need(i, 12, "element header")
                return Element(tag: tag, vr: vr, offset: i + 12, length: Int(u32(i + 8)))
            }
            return Element(tag: tag, vr: vr, offset: i + 8, length: Int(u16(i + 6)))
        }
        return Element(tag: tag, vr: nil, offset: i + 8, length: Int(u32(i + 4)))
    }

    /// Reads elements from `start` to the end (or until the group changes, for the file meta).
    func readDataset(from start: Int, explicit: Bool, stopAtGroupOtherThan group: UInt32?,
                     stopAtPixelData: Bool = false) throws(DICOMError) -> Dataset {
        var ds = Dataset(end: start)
        var i = start
        while i < bytes.count {
            if let group {
                try need(i, 2, "element header")
                if UInt32(u16(i)) != group { break }
            }
            if stopAtPixelData, i + 4 <= bytes.count, u16(i) == 0x7FE0, u16(i + 2) == 0x0010 { break }
            let e = try header(at: i, explicit: explicit)
            if e.length == 0xFFFF_FFFF {
                if e.tag == 0x7FE0_0010 {
                    ds.elements[e.tag] = e
                    i = bytes.count
                    break
                }
                // Sequence (or UN) of undefined length: skip its items (implicit VR inside UN).
                i = try skipUndefined(from: e.offset, explicit: explicit && e.vr != "UN")
                ds.elements[e.tag] = Element(tag: e.tag, vr: e.vr, offset: e.offset, length: 0)
                continue
            }
            try need(e.offset, e.length, "value of \(tagText(e.tag))")
            ds.elements[e.tag] = e
            i = e.offset + e.length
        }
        ds.end = i
        return ds
    }

    /// Skips items up to and past the sequence delimitation item; returns the offset after it.
    func skipUndefined(from start: Int, explicit: Bool) throws(DICOMError) -> Int {
        var i = start
        while true {
            let e = try header(at: i, explicit: explicit)
            switch e.tag {
            case 0xFFFE_E0DD: return e.offset // sequence delimitation
            case 0xFFFE_E000: // item
                if e.length == 0xFFFF_FFFF {
                    i = try skipItem(from: e.offset, explicit: explicit)
                } else {
                    try need(e.offset, e.length, "sequence item")
                    i = e.offset + e.length
                }
            default:
                throw .unsupported(file: file, detail: "unexpected element \(tagText(e.tag)) inside a sequence at byte \(i)")
            }
        }
    }

    /// Skips the elements of an undefined-length item; returns the offset after its delimiter.
    func skipItem(from start: Int, explicit: Bool) throws(DICOMError) -> Int {
        var i = start
        while true {
            let e = try header(at: i, explicit: explicit)
            if e.tag == 0xFFFE_E00D { return e.offset }
            if e.length == 0xFFFF_FFFF {
                i = try skipUndefined(from: e.offset, explicit: explicit && e.vr != "UN")
            } else {
                try need(e.offset, e.length, "value of \(tagText(e.tag))")
                i = e.offset + e.length
            }
        }
    }
}
