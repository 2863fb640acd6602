import AtomicFiles
import Foundation

/// Writes `data` to `url` atomically (AtomicFiles), as a CaseError.
func atomicWrite(_ data: Data, to url: URL) throws(CaseError) {
    do { try AtomicFile.write(data, to: url) } catch { throw .writeFailed(file: error.path, reason: error.reason) }
}
