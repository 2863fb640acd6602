import AtomicFiles
import Foundation

/// SHA-256 digests of large files (the model weights, about 121 MB), remembered by the file's
/// identity so that every process start does not re-read them to record provenance. A digest is
/// reused only while the file's resolved path, size, inode, modification time and status-change
/// time (nanoseconds) are all unchanged, the test git's index uses; an atomic replace gives a new
/// inode, and any write changes the status-change time, which no user call can set back.
///
/// The cache is one JSON file: TUMORBOARD_DIGEST_CACHE, else $XDG_CACHE_HOME/tumorboard/digests.json,
/// else ~/.cache/tumorboard/digests.json. A missing, unreadable or corrupt cache only costs the
/// re-hash, and a cache that cannot be written is skipped: the digest is always computed
/// correctly, the cache only saves time.
public final class FileDigestCache: @unchecked Sendable {
    struct Entry: Codable, Equatable {
        var size: Int64
        var inode: UInt64
        var mtimeNs: Int64
        var ctimeNs: Int64
        var sha256: String
    }

    /// Where the cache lives; nil: no cache (every call hashes).
    public let url: URL?
    private let lock = NSLock()

    public init(url: URL?) { self.url = url }

    /// The cache for this process's environment.
    public static let shared = FileDigestCache(url: defaultURL(environment: ProcessInfo.processInfo.environment))

    public static func defaultURL(environment: [String: String]) -> URL? {
        if let p = environment["TUMORBOARD_DIGEST_CACHE"], !p.isEmpty { return URL(fileURLWithPath: p) }
        let base: String
        if let x = environment["XDG_CACHE_HOME"], x.hasPrefix("/") { base = x }
        else if let h = environment["HOME"], h.hasPrefix("/") { base = h + "/.cache" }
        else { return nil }
        return URL(fileURLWithPath: base + "/tumorboard/digests.json")
    }

    /// Lowercase hex SHA-256 of the file at `file`, from the cache when the file is unchanged.
    public func hex(ofFile file: URL) throws -> String {
        let path = file.resolvingSymlinksInPath().path
        guard let id = Self.identity(path) else { return try SHA256Digest.hex(ofFile: file) }  // let the read report it
        lock.lock(); defer { lock.unlock() }
        var entries = load()
        if let e = entries[path], e.size == id.size, e.inode == id.inode, e.mtimeNs == id.mtimeNs, e.ctimeNs == id.ctimeNs {
            return e.sha256
        }
        let digest = try SHA256Digest.hex(ofFile: file)
        // The file may have changed while it was read: remember the digest only if it did not.
        if let after = Self.identity(path), after == id {
            entries[path] = Entry(size: id.size, inode: id.inode, mtimeNs: id.mtimeNs, ctimeNs: id.ctimeNs, sha256: digest)
            store(entries)
        }
        return digest
    }

    private struct Identity: Equatable { var size: Int64; var inode: UInt64; var mtimeNs: Int64; var ctimeNs: Int64 }

    private static func identity(_ path: String) -> Identity? {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Identity(size: Int64(st.st_size), inode: UInt64(st.st_ino),
                        mtimeNs: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec),
                        ctimeNs: Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec))
    }

    private func load() -> [String: Entry] {
        guard let url, let data = try? Data(contentsOf: url),
              let entries = try? JSONDecoder().decode([String: Entry].self, from: data) else { return [:] }
        return entries
    }

    private func store(_ entries: [String: Entry]) {
        guard let url else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(entries) else { return }
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? AtomicFile.write(data, to: url)
    }
}
