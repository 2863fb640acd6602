import CDigest
import Foundation

/// SHA-256 (FIPS 180-4): CryptoKit is not on Linux, and images are referenced by path and sha256.
/// Streaming: `update` any number of times, then `finalize`. The block compression is C (CDigest).
public struct SHA256Digest: Sendable {
    private var h: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) =
        (0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19)
    private var buffer = [UInt8]()

    public init() {}

    public mutating func update<Bytes: Sequence<UInt8>>(_ bytes: Bytes) {
        buffer.append(contentsOf: bytes)
        processFullBlocks()
    }

    public mutating func update(_ data: Data) {
        data.withUnsafeBytes { raw in
            var p = raw.bindMemory(to: UInt8.self)[...]
            // Top up a partial block first, then compress whole blocks in place (no copy).
            if !buffer.isEmpty {
                let take = min(64 - buffer.count, p.count)
                buffer.append(contentsOf: p.prefix(take))
                p = p.dropFirst(take)
                processFullBlocks()
            }
            let blocks = p.count / 64
            if blocks > 0, let base = UnsafeBufferPointer(rebasing: p).baseAddress {
                compress(base, blocks: blocks)
                consumed &+= UInt64(blocks * 64)
            }
            buffer.append(contentsOf: p.dropFirst(blocks * 64))
        }
    }

    private var consumed: UInt64 = 0

    private mutating func processFullBlocks() {
        let blocks = buffer.count / 64
        guard blocks > 0 else { return }
        buffer.withUnsafeBufferPointer { p in
            compress(p.baseAddress!, blocks: blocks)
        }
        consumed &+= UInt64(blocks * 64)
        buffer.removeFirst(blocks * 64)
    }

    /// Whole 64-byte blocks through the compression function (C, CDigest: optimised in debug builds too).
    private mutating func compress(_ p: UnsafePointer<UInt8>, blocks: Int) {
        // A homogeneous tuple is laid out as 8 contiguous UInt32.
        withUnsafeMutablePointer(to: &h) { $0.withMemoryRebound(to: UInt32.self, capacity: 8) { tb_sha256_blocks($0, p, blocks) } }
    }

    /// The 32-byte digest.
    public mutating func finalize() -> [UInt8] {
        let bitLength = (consumed &+ UInt64(buffer.count)) &* 8
        buffer.append(0x80)
        while buffer.count % 64 != 56 { buffer.append(0) }
        for i in (0..<8).reversed() { buffer.append(UInt8(truncatingIfNeeded: bitLength >> (8 * UInt64(i)))) }
        processFullBlocks()
        var out = [UInt8]()
        for v in [h.0, h.1, h.2, h.3, h.4, h.5, h.6, h.7] {
            out += [UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)]
        }
        return out
    }

    /// Lowercase hex digest of `data`.
    public static func hex<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        var s = SHA256Digest()
        s.update(bytes)
        return hexString(s.finalize())
    }

    /// Lowercase hex digest of a file, read in 1 MiB pieces.
    public static func hex(ofFile url: URL) throws -> String {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var s = SHA256Digest()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { s.update(chunk) }
        return hexString(s.finalize())
    }
}

func hexString(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    var chars = [Character]()
    chars.reserveCapacity(bytes.count * 2)
    for b in bytes { chars.append(digits[Int(b >> 4)]); chars.append(digits[Int(b & 15)]) }
    return String(chars)
}
