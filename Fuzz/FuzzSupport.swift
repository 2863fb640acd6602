// Shared by every fuzz entry (compiled next to each one by scripts/fuzz; not part of the package).
import Foundation

/// A scratch file of this process, for parsers whose entry point reads a file: on tmpfs where
/// there is one, so a write per input costs microseconds.
let fuzzScratchFolder: String = {
    let shm = "/dev/shm"
    var isDir: ObjCBool = false
    if FileManager.default.fileExists(atPath: shm, isDirectory: &isDir), isDir.boolValue,
       access(shm, W_OK) == 0 { return shm }
    return NSTemporaryDirectory()
}()

func fuzzScratchPath(_ suffix: String) -> String {
    "\(fuzzScratchFolder)/tumorboard-fuzz-\(getpid())-\(suffix)"
}

/// Writes the input to `path` (replacing it); false if the write fails (then the input is skipped).
func fuzzWrite(_ data: UnsafePointer<UInt8>, _ size: Int, to path: String) -> Bool {
    FileManager.default.createFile(atPath: path, contents: Data(bytes: data, count: size))
}

/// A property the target checks was broken: stop here so libFuzzer saves the input.
func fuzzViolation(_ what: String) -> Never {
    fatalError("fuzz property violated: \(what)")
}
