import Cases
import Foundation

/// Cases from the case store, live: a snapshot that `refresh` brings up to date when another
/// workstation (or this one) wrote to the store, and the store itself for edits. Read from the
/// main thread and the background lanes; the snapshot is swapped under a lock.
public final class StoreSource: CaseSource, @unchecked Sendable {
    // @unchecked: `snapshot` is only touched inside `Locked.withLock`; `store` is Sendable.
    public let store: CaseStore
    private let snapshot: Locked<Snapshot>

    struct Snapshot: Sendable {
        var cases: RecordSource
        var versions: [String: Int]
        var token: Int64
    }

    public init(store: CaseStore) throws {
        self.store = store
        let token = try store.changeToken()
        let found = try store.allRecordsReportingProblems()
        snapshot = Locked(Snapshot(cases: Self.records(found, path: store.path), versions: found.versions, token: token))
    }

    static func records(_ found: (records: [CaseRecord], versions: [String: Int], problems: [String]), path: String) -> RecordSource {
        RecordSource(title: "\(StoreLocation.shortName(path)) (store, \(found.records.count) cases)",
                     records: found.records, problems: found.problems)
    }

    public var title: String { snapshot.withLock { $0.cases.title } }
    public var problems: [String] { snapshot.withLock { $0.cases.problems } }
    public func summaries() -> [CaseSummary] { snapshot.withLock { $0.cases.summaries() } }
    public func detail(id: String) throws -> CaseDetail { try snapshot.current.cases.detail(id: id) }
    public func record(id: String) throws -> CaseRecord { try snapshot.current.cases.record(id: id) }
    /// The version of the case as this snapshot holds it: what an edit opened now expects.
    public func version(id: String) -> Int? { snapshot.withLock { $0.versions[id] } }

    /// Reads the store again if anything was written since the last look (one cheap query when
    /// nothing was). Returns the IDs of the cases that were added, removed or edited, or nil
    /// when none were (kept model results do not count: they change no case).
    public func refresh() throws -> Set<String>? {
        let token = try store.changeToken()
        if snapshot.withLock({ $0.token }) == token { return nil }
        let found = try store.allRecordsReportingProblems()
        let fresh = Snapshot(cases: Self.records(found, path: store.path), versions: found.versions, token: token)
        let old = snapshot.withLock { s -> [String: Int] in
            let before = s.versions
            s = fresh
            return before
        }
        var changed = Set<String>()
        for (id, v) in fresh.versions where old[id] != v { changed.insert(id) }
        for id in old.keys where fresh.versions[id] == nil { changed.insert(id) }
        return changed.isEmpty ? nil : changed
    }
}
