import Foundation
import XCTest
@testable import Cases

/// The digest cache must give the file's true SHA-256 whatever the cache holds: reused only for an
/// unchanged file, recomputed after any change, and harmless when missing, corrupt or unwritable.
final class FileDigestCacheTests: XCTestCase {
    private func entries(_ url: URL) throws -> [String: FileDigestCache.Entry] {
        try JSONDecoder().decode([String: FileDigestCache.Entry].self, from: Data(contentsOf: url))
    }

    func testReusesTheDigestOnlyWhileTheFileIsUnchanged() throws {
        let dir = try temporaryFolder(self, "digests")
        let file = dir.appendingPathComponent("weights.bin"), cacheURL = dir.appendingPathComponent("cache/digests.json")
        try Data((0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }).write(to: file)
        let cache = FileDigestCache(url: cacheURL)
        let truth = try SHA256Digest.hex(ofFile: file)
        XCTAssertEqual(try cache.hex(ofFile: file), truth)
        let key = file.resolvingSymlinksInPath().path
        XCTAssertEqual(try entries(cacheURL)[key]?.sha256, truth, "the digest is remembered")

        // Proof that an unchanged file is answered from the cache: plant a marker digest.
        var planted = try entries(cacheURL)
        planted[key]!.sha256 = "planted"
        try JSONEncoder().encode(planted).write(to: cacheURL)
        XCTAssertEqual(try cache.hex(ofFile: file), "planted")

        // Same size, new content, written in place (same inode): hashed again.
        let handle = try FileHandle(forWritingTo: file)
        try handle.seek(toOffset: 100); try handle.write(contentsOf: Data([0xFF, 0xEE])); try handle.close()
        let changed = try SHA256Digest.hex(ofFile: file)
        XCTAssertNotEqual(changed, truth)
        XCTAssertEqual(try cache.hex(ofFile: file), changed)
        XCTAssertEqual(try entries(cacheURL)[key]?.sha256, changed)

        // Replaced by another file (the way the exporter writes weights): hashed again.
        let other = dir.appendingPathComponent("other.bin")
        try Data(repeating: 7, count: 5000).write(to: other)
        XCTAssertEqual(rename(other.path, file.path), 0)
        XCTAssertEqual(try cache.hex(ofFile: file), try SHA256Digest.hex(ofFile: file))
    }

    func testACorruptMissingOrUnwritableCacheStillGivesTheTrueDigest() throws {
        let dir = try temporaryFolder(self, "digests")
        let file = dir.appendingPathComponent("w.bin")
        try Data("abc".utf8).write(to: file)
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  // FIPS 180-2 example

        let corrupt = dir.appendingPathComponent("corrupt.json")
        try Data("{not json".utf8).write(to: corrupt)
        XCTAssertEqual(try FileDigestCache(url: corrupt).hex(ofFile: file), abc)
        XCTAssertEqual(try entries(corrupt).count, 1, "a corrupt cache is replaced")

        let blocker = dir.appendingPathComponent("a-file")
        try Data().write(to: blocker)
        XCTAssertEqual(try FileDigestCache(url: blocker.appendingPathComponent("digests.json")).hex(ofFile: file), abc)
        XCTAssertEqual(try FileDigestCache(url: nil).hex(ofFile: file), abc)

        assertThrowsMessage({ _ = try FileDigestCache(url: corrupt).hex(ofFile: dir.appendingPathComponent("absent.bin")) },
                           contains: ["absent.bin"])
    }

    func testCacheLocation() {
        XCTAssertEqual(FileDigestCache.defaultURL(environment: ["TUMORBOARD_DIGEST_CACHE": "/x/d.json", "HOME": "/h"])?.path, "/x/d.json")
        XCTAssertEqual(FileDigestCache.defaultURL(environment: ["XDG_CACHE_HOME": "/c", "HOME": "/h"])?.path, "/c/tumorboard/digests.json")
        XCTAssertEqual(FileDigestCache.defaultURL(environment: ["HOME": "/h"])?.path, "/h/.cache/tumorboard/digests.json")
        XCTAssertNil(FileDigestCache.defaultURL(environment: [:]))
    }
}
