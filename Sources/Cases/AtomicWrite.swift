import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes `data` to `url` so that a reader (or a crash) sees either the old file or the whole
/// new one: a temporary file in the same folder, fsync, rename, fsync of the folder.
func atomicWrite(_ data: Data, to url: URL) throws(CaseError) {
    let folder = url.deletingLastPathComponent().path
    let tmp = folder + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
    let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw .writeFailed(file: url.path, reason: String(cString: strerror(errno))) }
    var failure: String?
    data.withUnsafeBytes { raw in
        var done = 0
        while done < raw.count {
            let n = write(fd, raw.baseAddress! + done, raw.count - done)
            if n < 0 { if errno == EINTR { continue }; failure = String(cString: strerror(errno)); return }
            done += n
        }
    }
    if failure == nil, fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
    close(fd)
    if failure == nil, rename(tmp, url.path) != 0 { failure = String(cString: strerror(errno)) }
    if let failure {
        unlink(tmp)
        throw .writeFailed(file: url.path, reason: failure)
    }
    let dfd = open(folder, O_RDONLY | O_DIRECTORY)
    if dfd >= 0 { fsync(dfd); close(dfd) }
}
