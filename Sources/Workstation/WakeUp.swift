import Foundation

/// The main loop's wake-up: a pipe the loop polls next to the keyboard. Background work posts
/// a message and writes one byte; the loop drains the pipe and then the mailbox. Writing to a
/// pipe is async-signal-safe, so signal handlers can use it too.
public final class WakeUp<Message: Sendable>: @unchecked Sendable {
    // @unchecked: the descriptors are immutable after init; `pending` is only touched under `lock`.
    public let readFD: Int32
    let writeFD: Int32
    private let lock = NSLock()
    private var pending: [Message] = []

    public init() {
        var fds: [Int32] = [0, 0]
        precondition(pipe(&fds) == 0, "cannot create the wake-up pipe")
        readFD = fds[0]; writeFD = fds[1]
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    }

    deinit { close(readFD); close(writeFD) }

    /// From any thread.
    public func post(_ message: Message) {
        lock.lock(); pending.append(message); lock.unlock()
        ring()
    }

    public func ring() {
        var b: UInt8 = 1
        _ = write(writeFD, &b, 1)
    }

    /// On the main thread, after poll said the pipe is readable.
    public func drain() -> [Message] {
        var buf = [UInt8](repeating: 0, count: 256)
        while read(readFD, &buf, buf.count) > 0 {}
        lock.lock(); defer { lock.unlock() }
        let out = pending
        pending.removeAll()
        return out
    }
}
