import AtomicFiles
import CKernels
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A read-only memory map of a whole file; unmapped when the last reference goes.
final class MappedFile: @unchecked Sendable {
    let base: UnsafeRawPointer
    let size: Int

    init(path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw EngineError.weights(file: path, tensor: nil, problem: "cannot open (\(String(cString: strerror(errno))))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw EngineError.weights(file: path, tensor: nil, problem: "cannot stat (\(String(cString: strerror(errno))))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw EngineError.weights(file: path, tensor: nil, problem: "not a regular file")
        }
        size = Int(st.st_size)
        guard size > 0 else {
            throw EngineError.weights(file: path, tensor: nil, problem: "empty file (0 bytes)")
        }
        // Private and writable: F32 tensors are used in place (no copy), and a write, which the
        // engine never does to its inputs, would only touch this process's copy of the page.
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw EngineError.weights(file: path, tensor: nil, problem: "cannot map (\(String(cString: strerror(errno))))")
        }
        base = UnsafeRawPointer(p)
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), size) }
}

/// A safetensors file (8-byte little-endian header length, JSON header, raw little-endian data),
/// memory-mapped. Every offset and length is checked against the file before any read, so a
/// truncated or inconsistent file is an error naming the file and tensor.
public final class SafeTensors: @unchecked Sendable {
    public enum DType: String, Sendable {
        case f32 = "F32", f16 = "F16", bf16 = "BF16", i64 = "I64", i32 = "I32", u8 = "U8"
        var size: Int { switch self { case .f32, .i32: 4; case .f16, .bf16: 2; case .i64: 8; case .u8: 1 } }
        var isInteger: Bool { self == .i64 || self == .i32 || self == .u8 }
    }

    public struct Entry: Sendable {
        public let dtype: DType
        public let shape: [Int]
        let begin: Int   // absolute byte offsets in the file
        let end: Int
    }

    public let path: String
    public let entries: [String: Entry]
    public let metadata: [String: String]
    private let file: MappedFile

    public var names: [String] { entries.keys.sorted() }

    public convenience init(path: String) throws {
        try self.init(mapped: MappedFile(path: path), path: path)
    }

    init(mapped file: MappedFile, path: String) throws {
        self.path = path
        self.file = file
        let name = (path as NSString).lastPathComponent
        func fail(_ problem: String, _ tensor: String? = nil) -> EngineError {
            EngineError.weights(file: name, tensor: tensor, problem: problem)
        }
        guard file.size >= 8 else { throw fail("truncated: \(file.size) bytes, shorter than the 8-byte header length") }
        // Unsigned 64-bit in the file: one at or above 2^63 does not fit an Int (found by the
        // fuzzer: the conversion trapped), and is as much "not this file" as any other too large.
        let declared = UInt64(littleEndian: file.base.loadUnaligned(as: UInt64.self))
        guard let headerLength = Int(exactly: declared), headerLength > 0, headerLength <= file.size - 8 else {
            throw fail("header length \(declared) does not fit in the file (\(file.size) bytes): truncated or not a safetensors file")
        }
        let headerData = Data(bytes: file.base + 8, count: headerLength)
        guard let json = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
            throw fail("header is not a JSON object")
        }
        let dataStart = 8 + headerLength
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (key, value) in json {
            if key == "__metadata__" {
                if let m = value as? [String: Any] {
                    for (k, v) in m { if let s = v as? String { metadata[k] = s } }
                }
                continue
            }
            guard let info = value as? [String: Any],
                  let dtypeName = info["dtype"] as? String,
                  let shapeAny = info["shape"] as? [Any],
                  let offsAny = info["data_offsets"] as? [Any], offsAny.count == 2
            else { throw fail("malformed header entry", key) }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw fail("unsupported dtype \(dtypeName) (supported: F32, F16, BF16, I64, I32, U8)", key)
            }
            let shape = shapeAny.compactMap { ($0 as? NSNumber)?.intValue }
            guard shape.count == shapeAny.count, shape.allSatisfy({ $0 >= 0 }) else {
                throw fail("invalid shape \(shapeAny)", key)
            }
            let offs = offsAny.compactMap { ($0 as? NSNumber)?.intValue }
            guard offs.count == 2, offs[0] >= 0, offs[1] >= offs[0] else {
                throw fail("invalid data_offsets \(offsAny)", key)
            }
            var elements = 1
            for d in shape {
                let (m, o) = elements.multipliedReportingOverflow(by: d)
                guard !o else { throw fail("shape \(shape) overflows", key) }
                elements = m
            }
            let (bytes, o) = elements.multipliedReportingOverflow(by: dtype.size)
            guard !o, offs[1] - offs[0] == bytes else {
                throw fail("data_offsets \(offs) hold \(offs[1] - offs[0]) bytes, but \(dtypeName) \(shape) needs \(bytes)", key)
            }
            guard dataStart + offs[1] <= file.size else {
                throw fail("data ends at byte \(dataStart + offs[1]) but the file has \(file.size) bytes: truncated", key)
            }
            entries[key] = Entry(dtype: dtype, shape: shape, begin: dataStart + offs[0], end: dataStart + offs[1])
        }
        self.entries = entries
        self.metadata = metadata
    }

    public func contains(_ name: String) -> Bool { entries[name] != nil }

    /// Refuses a file holding a NaN or an infinity in any floating-point tensor (F32, F16, BF16),
    /// naming the tensor and the first such element: a network with one such weight answers
    /// NaN or nothing (a detector finds no lesion) without a word. Reads the bits in place (no
    /// conversion, no copy), one pass over the mapping; integer tensors are always finite.
    public func checkFinite() throws {
        for name in names {
            guard let e = entries[name], let hit = Self.firstNonFinite(file.base + e.begin, count: e.shape.reduce(1, *), dtype: e.dtype) else { continue }
            let what = hit.bits.isNaN ? "NaN" : (hit.bits < 0 ? "-infinity" : "+infinity")
            throw EngineError.weights(file: (path as NSString).lastPathComponent, tensor: name,
                                      problem: "holds \(what) at element \(hit.index) of \(e.shape.reduce(1, *)) (shape \(e.shape)): the checkpoint is damaged; retrain or restore it")
        }
    }

    /// The first element whose exponent bits are all ones (NaN or infinity), and its value.
    static func firstNonFinite(_ src: UnsafeRawPointer, count n: Int, dtype: DType) -> (index: Int, bits: Float)? {
        switch dtype {
        case .f32:
            // In C (tb_first_nonfinite32: 64 values a step, vectorised), optimised in debug builds too.
            let i = tb_first_nonfinite32(src, n, 0x7F80_0000)
            return i < 0 ? nil : (i, Float(bitPattern: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
        case .f16, .bf16:
            let i = tb_first_nonfinite16(src, n, dtype == .f16 ? 0x7C00 : 0x7F80)
            guard i >= 0 else { return nil }
            let h = src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
            return (i, dtype == .f16 ? halfToFloat(h) : Float(bitPattern: UInt32(h) << 16))
        case .i64, .i32, .u8:
            return nil
        }
    }

    public func shape(_ name: String) throws -> [Int] {
        guard let e = entries[name] else { throw missing(name) }
        return e.shape
    }

    private func missing(_ name: String) -> EngineError {
        EngineError.weights(file: (path as NSString).lastPathComponent, tensor: name, problem: "not in the file")
    }

    /// The tensor as Float32 (F16, BF16 and the integer types are converted).
    public func tensor(_ name: String) throws -> Tensor {
        guard let e = entries[name] else { throw missing(name) }
        let n = e.shape.reduce(1, *)
        let src = file.base + e.begin
        if e.dtype == .f32, n > 0, Int(bitPattern: src) % MemoryLayout<Float>.alignment == 0 {
            // Used in place from the mapping, which the storage keeps alive.
            let p = UnsafeMutableRawPointer(mutating: src).assumingMemoryBound(to: Float.self)
            return Tensor(shape: e.shape, storage: TensorStorage(borrowing: p, count: n, owner: file))
        }
        let t = Tensor(uninitialized: e.shape)
        let dst = t.pointer
        switch e.dtype {
        case .f32:
            if n > 0 { UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: n * 4) }
        case .f16:
            for i in 0..<n { dst[i] = halfToFloat(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case .bf16:
            for i in 0..<n {
                let b = UInt32(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16
                dst[i] = Float(bitPattern: b)
            }
        case .i64:
            for i in 0..<n { dst[i] = Float(src.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)) }
        case .i32:
            for i in 0..<n { dst[i] = Float(src.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)) }
        case .u8:
            for i in 0..<n { dst[i] = Float(src.load(fromByteOffset: i, as: UInt8.self)) }
        }
        return t
    }

    /// An integer tensor (I64, I32 or U8) as integers: token ids, masks, 8-bit images.
    public func integers(_ name: String) throws -> [Int] {
        guard let e = entries[name] else { throw missing(name) }
        let n = e.shape.reduce(1, *)
        let src = file.base + e.begin
        switch e.dtype {
        case .i64: return (0..<n).map { Int(src.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
        case .i32: return (0..<n).map { Int(src.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) }
        case .u8: return (0..<n).map { Int(src.load(fromByteOffset: $0, as: UInt8.self)) }
        default:
            throw EngineError.weights(file: (path as NSString).lastPathComponent, tensor: name, problem: "expected an integer type, found \(e.dtype.rawValue)")
        }
    }
}

/// IEEE 754 half to single precision, including subnormals, infinities and NaN.
@inline(__always)
func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exp = Int((h >> 10) & 0x1F)
    let mant = UInt32(h & 0x3FF)
    if exp == 0 {
        if mant == 0 { return Float(bitPattern: sign) }
        let v = Float(mant) * 0x1p-24   // subnormal
        return sign != 0 ? -v : v
    }
    if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13)) }
    return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | (mant << 13))
}

/// Writes a safetensors file (F32 only) atomically: a temporary file in the same folder, then rename.
public enum SafeTensorsWriter {
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to path: String) throws {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let t = tensors[name]!
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.count]]
            offset += 4 * t.count
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        var out = Data()
        var len = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &len) { out.append(contentsOf: $0) }
        out.append(json)
        for name in names {
            let t = tensors[name]!
            out.append(Data(bytes: t.pointer, count: 4 * t.count))
        }
        do { try AtomicFile.write(out, to: URL(fileURLWithPath: path)) }
        catch { throw EngineError.argument(op: "write", detail: "\(error)") }
    }
}
