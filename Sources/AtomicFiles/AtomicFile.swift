import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The one atomic file writer of the project (weights, PNGs, case manifests): a reader, or a
/// crash, sees either the old file or the whole new one: a temporary file in the same folder,
/// fsync, rename, fsync of the folder. POSIX calls directly, so every step's failure is reported.
public enum AtomicFile {
    /// A write that did not happen; the previous file, if any, is untouched.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "\(path): write failed (\(reason)); the previous file is untouched" }
    }

    public static func write(_ data: Data, to url: URL) throws(Failure) {
        let path = url.path
        let folder = url.deletingLastPathComponent().path
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            throw Failure(path: path, reason: "a folder of that name exists")
        }
        var template = Array((folder + "/." + url.lastPathComponent + ".tmp-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw Failure(path: path, reason: errnoText()) }
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
            throw Failure(path: path, reason: failure)
        }
        // Make the rename itself durable.
        let folderFD = open(folder, O_RDONLY)
        if folderFD >= 0 { _ = fsync(folderFD); close(folderFD) }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
