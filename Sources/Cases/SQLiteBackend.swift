import Foundation
import GRDB

/// The default back end: one SQLite file through GRDB, in WAL mode, so several TumorBoard
/// processes (several users over SSH on one server) read and write it at once. Write transactions
/// are IMMEDIATE: one at a time, each seeing the last commit.
final class SQLiteBackend: StoreBackend, @unchecked Sendable {
    // @unchecked: `pool` is a GRDB DatabasePool, which is thread-safe; the rest is immutable.
    let location: String
    let pool: DatabasePool
    var dialect: SQLDialect { .sqlite }

    /// A 0-byte file older than this is refused (younger: another process is creating the store).
    static let creationGrace: TimeInterval = 10

    init(path file: String, busyTimeout: TimeInterval) throws {
        location = file
        let folder = URL(fileURLWithPath: file).deletingLastPathComponent()
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw CaseError.store(file: file, problem: "cannot create its folder (\(error.localizedDescription))")
        }
        let fm = FileManager.default
        let existed = fm.fileExists(atPath: file)
        if existed, let a = try? fm.attributesOfItem(atPath: file), (a[.size] as? NSNumber)?.intValue == 0,
           let modified = a[.modificationDate] as? Date, Date().timeIntervalSince(modified) > Self.creationGrace {
            // A store being created by another process right now is younger than this.
            throw CaseError.store(file: file, problem: "an empty (0-byte) file, not a case store; remove it, or give another path")
        }
        var config = Configuration()
        config.busyMode = .timeout(busyTimeout)
        config.foreignKeysEnabled = true
        config.label = "CaseStore"
        config.prepareDatabase { db in
            // Durable against a killed process in WAL mode; a power cut may lose the last commits only.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        // Two processes creating the same new store at once can see SQLITE_BUSY from the switch
        // to WAL mode, which SQLite does not route through the busy handler: retry until the
        // busy timeout, as the busy handler would.
        let deadline = Date().addingTimeInterval(busyTimeout)
        var opened: DatabasePool?
        while opened == nil {
            do {
                opened = try DatabasePool(path: file, configuration: config)
            } catch let e as DatabaseError where (e.resultCode == .SQLITE_BUSY || e.resultCode == .SQLITE_LOCKED) && Date() < deadline {
                usleep(20_000)
            } catch {
                throw CaseError.store(file: file, problem: "cannot be opened (\(error))")
            }
        }
        guard let opened else { throw CaseError.store(file: file, problem: "cannot be opened") }
        pool = opened
        if !existed { Self.restrictToOwnerAndGroup(file) }
    }

    /// The store holds patient data: a new store and its WAL files are readable and writable by
    /// the owner and the group only (mode 0660, whatever the umask); SQLite gives the WAL and
    /// shared-memory files it creates later the mode of the database file.
    static func restrictToOwnerAndGroup(_ file: String) {
        for f in [file, file + "-wal", file + "-shm"] where FileManager.default.fileExists(atPath: f) {
            _ = chmod(f, 0o660)
        }
    }

    func write<T>(_ body: (any SQLTransaction) throws -> T) throws -> T {
        try pool.writeWithoutTransaction { db in
            var result: T?
            try db.inTransaction(.immediate) {
                result = try body(Transaction(db: db))
                return .commit
            }
            guard let result else { throw StoreBackendError.damaged("a transaction returned nothing") }
            return result
        }
    }

    func read<T>(_ body: (any SQLTransaction) throws -> T) throws -> T {
        try pool.read { db in try body(Transaction(db: db)) }
    }

    func schemaVersion() throws -> Int {
        try pool.read { db in try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0 }
    }

    func migrate(to steps: [(version: Int, name: String, sql: String)]) throws {
        let latest = steps.last?.version ?? 0
        try pool.writeWithoutTransaction { db in
            try db.inTransaction(.immediate) {
                let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
                guard version <= latest else {
                    throw CaseError.store(file: location, problem: "schema version \(version) was written by a newer TumorBoard (this one knows up to \(latest)); update TumorBoard")
                }
                for step in steps where step.version > version {
                    try db.execute(sql: step.sql)
                    try db.execute(sql: "PRAGMA user_version = \(step.version)")
                }
                return .commit
            }
        }
    }

    /// SQLite's `PRAGMA integrity_check` plus a foreign-key check: "ok" when consistent.
    func integrityCheck() throws -> String {
        try pool.read { db in try Self.check(db, pragma: "integrity_check") }
    }

    func changeToken(fallback: (any SQLTransaction) throws -> Int64) throws -> Int64 {
        try read(fallback)
    }

    func journalMode() throws -> String {
        try pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "" }
    }

    static func check(_ db: Database, pragma: String) throws -> String {
        let rows = try String.fetchAll(db, sql: "PRAGMA \(pragma)")
        let fk = try Row.fetchAll(db, sql: "PRAGMA foreign_key_check")
        if rows == ["ok"], fk.isEmpty { return "ok" }
        return (rows + fk.map { "foreign key: \($0)" }).joined(separator: "; ")
    }

    /// SQLite's quick_check (the page structure; not index contents, which integrity_check adds
    /// at many times the cost) and the foreign-key check, on a plain connection that neither
    /// creates nor migrates anything: "ok" when both pass. Run before an import writes.
    static func quickCheck(_ path: String) throws -> String {
        var config = Configuration()
        config.busyMode = .timeout(30)
        let queue = try DatabaseQueue(path: path, configuration: config)
        defer { try? queue.close() }
        return try queue.read { db in try check(db, pragma: "quick_check") }
    }

    struct Transaction: SQLTransaction {
        let db: Database

        func execute(_ sql: String, _ arguments: SQLArguments) throws {
            try db.execute(sql: sql, arguments: Self.bind(arguments))
        }

        func rows(_ sql: String, _ arguments: SQLArguments, table: String) throws -> [SQLRow] {
            try Row.fetchAll(db, sql: sql, arguments: Self.bind(arguments)).map { row in
                var values: [String: SQLValue] = [:]
                for (name, dbValue) in row {
                    let v: SQLValue
                    switch dbValue.storage {
                    case .null: v = .null
                    case .int64(let i): v = .integer(i)
                    case .double(let d): v = .real(d)
                    case .string(let s): v = .text(s)
                    case .blob(let b): v = .text(String(decoding: b, as: UTF8.self))
                    }
                    values[name.lowercased()] = v
                }
                return SQLRow(values: values, table: table)
            }
        }

        func announceChange() throws {}  // other processes poll the audit table (changeToken)

        static func bind(_ arguments: SQLArguments) -> StatementArguments {
            StatementArguments(arguments.map { a -> (any DatabaseValueConvertible)? in
                switch a?.sqlValue ?? .null {
                case .null: return nil
                case .integer(let i): return i
                case .real(let d): return d
                case .text(let s): return s
                }
            })
        }
    }
}
