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

/// A folder of files published all or nothing (reports): the files are written into a new
/// folder beside the target, fsynced, and that folder then takes the target's place; an earlier
/// folder is moved aside first and put back if the swap fails. A reader sees the old folder or
/// the whole new one, never a new file beside an old one.
public enum AtomicFolder {
    public static func replace(_ folder: URL, fill: (URL) throws -> Void) throws {
        let fm = FileManager.default
        let folder = folder.standardizedFileURL
        let parent = folder.deletingLastPathComponent()
        try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        let staging = parent.appendingPathComponent(".\(folder.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try fm.createDirectory(at: staging, withIntermediateDirectories: false)
        do {
            try fill(staging)
            // fsync the files before the rename makes them the folder.
            for name in try fm.contentsOfDirectory(atPath: staging.path) {
                let fd = open(staging.appendingPathComponent(name).path, O_RDONLY)
                if fd >= 0 { _ = fsync(fd); close(fd) }
            }
            var old: URL?
            if fm.fileExists(atPath: folder.path) {
                let aside = parent.appendingPathComponent(".\(folder.lastPathComponent).old-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
                try fm.moveItem(at: folder, to: aside)
                old = aside
            }
            do { try fm.moveItem(at: staging, to: folder) } catch {
                if let old { try? fm.moveItem(at: old, to: folder) }  // put the earlier folder back
                throw error
            }
            if let old { try? fm.removeItem(at: old) }
            let fd = open(parent.path, O_RDONLY)
            if fd >= 0 { _ = fsync(fd); close(fd) }
        } catch {
            try? fm.removeItem(at: staging)
            throw error
        }
    }
}
