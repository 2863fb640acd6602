import Diagnosis
import Dispatch
import Foundation

/// A value shared between the main thread and the background queues.
final class Locked<Value: Sendable>: @unchecked Sendable {
    // @unchecked: `value` is only read or written while `lock` is held.
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) -> R) -> R {
        lock.lock(); defer { lock.unlock() }
        return body(&value)
    }
    var current: Value { withLock { $0 } }
}

/// All the workstation's background work in one small type: five serial queues (image
/// decoding; the engine, one case at a time; a scan of kept results; the case store; the PACS), latest-wins requests per
/// channel, cancellable batches that let single requests in between their items, results
/// posted to the main loop through `WakeUp`, and the engine's freed buffers given back once its
/// lane has been idle a while. Nothing here touches the terminal.
final class BackgroundWork<Message: Sendable>: Sendable {
    enum Lane: Sendable { case decode, engine, scan, store, network }

    let wake: WakeUp<Message>
    private let decodeQueue = DispatchQueue(label: "tumorboard.decode", qos: .userInitiated)
    private let engineQueue = DispatchQueue(label: "tumorboard.engine", qos: .userInitiated)
    private let scanQueue = DispatchQueue(label: "tumorboard.scan", qos: .utility)
    /// Case-store reads and writes (edits, live refresh, reports): never behind a long scan.
    private let storeQueue = DispatchQueue(label: "tumorboard.store", qos: .userInitiated)
    /// PACS requests (seconds each, bounded by their timeouts): never in front of the store.
    private let networkQueue = DispatchQueue(label: "tumorboard.network", qos: .userInitiated)
    /// The newest ticket of each channel: a job whose ticket is older has been superseded.
    private let tickets = Locked<[String: UInt64]>([:])
    /// Engine-lane jobs finished so far: the idle drain below runs only if none finished since it
    /// was scheduled.
    private let engineJobs = Locked<UInt64>(0)
    /// How long the engine lane stays idle before the engine's freed buffers (`TensorBufferPool`,
    /// up to 128 MiB after a diagnosis) go back to the system; nil: never. A diagnosis within that
    /// time reuses them (no fresh pages); a workstation left open on a case gives the memory back.
    /// The pool is the process's, so only the program's one session sets it (`Workstation.run`).
    let engineIdleDrain: DispatchTimeInterval?

    init(wake: WakeUp<Message>, engineIdleDrain: DispatchTimeInterval? = nil) {
        self.wake = wake
        self.engineIdleDrain = engineIdleDrain
    }

    /// Called on a lane's queue after each of its jobs: on the engine lane, schedules the idle drain.
    private func jobDone(on lane: Lane) {
        guard lane == .engine, let idle = engineIdleDrain else { return }
        let n = engineJobs.withLock { count -> UInt64 in count += 1; return count }
        engineQueue.asyncAfter(deadline: .now() + idle) { [engineJobs] in
            if engineJobs.current == n { ModelSet.releaseFreedBuffers() }
        }
    }

    private func queue(_ lane: Lane) -> DispatchQueue {
        switch lane {
        case .decode: decodeQueue
        case .engine: engineQueue
        case .scan: scanQueue
        case .store: storeQueue
        case .network: networkQueue
        }
    }

    /// Supersedes every earlier request of `channel`; returns the new ticket's test.
    private func newTicket(_ channel: String) -> @Sendable () -> Bool {
        let ticket = tickets.withLock { t -> UInt64 in
            let n = (t[channel] ?? 0) + 1
            t[channel] = n
            return n
        }
        return { [tickets] in tickets.withLock { $0[channel] } == ticket }
    }

    /// Runs `job` on `lane` unless a newer request of `channel` came before it started (then it
    /// is dropped unrun). `isCurrent` tells a running job whether it has been superseded since.
    func request(_ channel: String, on lane: Lane,
                 _ job: @escaping @Sendable (_ isCurrent: @escaping @Sendable () -> Bool) -> Message?) {
        let isCurrent = newTicket(channel)
        queue(lane).async { [self] in
            guard isCurrent() else { return }
            defer { jobDone(on: lane) }
            if let m = job(isCurrent) { wake.post(m) }
        }
    }

    /// Drops what is queued for `channel` and tells a running job it is no longer current.
    func cancel(_ channel: String) { _ = newTicket(channel) }

    /// Runs `step` for each item in order on `lane`, one queued job per item, so that requests
    /// made meanwhile run between two items. Stops at the next item after `cancel(channel)` or a
    /// new batch of the same channel; `finished(done, cancelled)` is posted last either way.
    func batch<Item: Sendable>(_ channel: String, on lane: Lane, items: [Item],
                               step: @escaping @Sendable (_ index: Int, Item) -> Message?,
                               finished: @escaping @Sendable (_ done: Int, _ cancelled: Bool) -> Message?) {
        let isCurrent = newTicket(channel)
        let q = queue(lane)
        @Sendable func run(_ i: Int) {
            guard isCurrent() else {
                if let m = finished(i, true) { wake.post(m) }
                return
            }
            guard i < items.count else {
                if let m = finished(i, false) { wake.post(m) }
                return
            }
            if let m = step(i, items[i]) { wake.post(m) }
            jobDone(on: lane)
            q.async { run(i + 1) }
        }
        q.async { run(0) }
    }

    /// Runs `job` on `lane` with no channel (nothing supersedes it).
    func run(on lane: Lane, _ job: @escaping @Sendable () -> Message?) {
        queue(lane).async { [self] in
            defer { jobDone(on: lane) }
            if let m = job() { wake.post(m) }
        }
    }
}
