import Foundation

/// Standard output and error through write(2), not Foundation's `FileHandle.write`, whose
/// internal `try!` turns a failed write (`> /dev/full`, a closed pipe) into SIGILL.
enum Output {
    struct WriteError: Error, CustomStringConvertible { let description: String }

    static func write(_ data: Data, fd: Int32, name: String) throws {
        // A reader that went away must be an error here, not a silent SIGPIPE death.
        signal(SIGPIPE, SIG_IGN)
        try data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)  // raw.count > 0 here, so baseAddress is set
                if n < 0 {
                    if errno == EINTR { continue }
                    throw WriteError(description: "cannot write to \(name): \(String(cString: strerror(errno)))")
                }
                offset += n
            }
        }
    }

    /// Results: a failed write is an error the command reports and exits on.
    static func out(_ data: Data) throws { try write(data, fd: 1, name: "standard output") }

    /// Messages: best effort (a failure to write one has nowhere left to be reported).
    static func err(_ text: String) { try? write(Data(text.utf8), fd: 2, name: "standard error") }
}
