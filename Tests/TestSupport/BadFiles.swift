import Foundation

/// Builders of damaged and hostile files for the bad-input tests of several layers.

public func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}

public func bigEndian32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

public func pngChunk(_ type: String, _ payload: [UInt8]) -> [UInt8] {
    let body = Array(type.utf8) + payload
    return bigEndian32(UInt32(payload.count)) + body + bigEndian32(crc32(body))
}

/// A well-formed PNG header declaring width x height 8-bit grey, with a token IDAT: what a
/// malicious or mangled file could claim without carrying the pixels.
public func pngDeclaring(width: UInt32, height: UInt32) -> Data {
    let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    let ihdr = bigEndian32(width) + bigEndian32(height) + [8, 0, 0, 0, 0]
    // zlib stream of an empty deflate block: not the declared pixels, but valid framing.
    let idat: [UInt8] = [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]
    return Data(signature + pngChunk("IHDR", ihdr) + pngChunk("IDAT", idat) + pngChunk("IEND", []))
}

/// A file that starts like DICOM (128-byte preamble, "DICM") and continues with random bytes.
public func dicomLookingRandomBytes(count: Int = 4096, seed: UInt64 = 7) -> Data {
    var bytes = [UInt8](repeating: 0, count: 128) + Array("DICM".utf8)
    var s = seed | 1
    for _ in 0..<count { s ^= s << 13; s ^= s >> 7; s ^= s << 17; bytes.append(UInt8(truncatingIfNeeded: s)) }
    return Data(bytes)
}
