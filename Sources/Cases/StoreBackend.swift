import Foundation

// The case store's one seam between its logic (CaseStore: the version check, sign-off, the audit
// row in the same transaction as the change) and the database that keeps it: SQLite (one file,
// WAL mode; the default) or PostgreSQL (a department's server; issue 18). The logic is written
// once, in SQL both understand; a back end runs it in transactions and says what its dialect needs.

/// A value crossing the store's SQL boundary.
public enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
}

/// What can be bound to a `?` in the store's SQL.
public protocol SQLArgument: Sendable {
    var sqlValue: SQLValue { get }
}
extension String: SQLArgument { public var sqlValue: SQLValue { .text(self) } }
extension Int: SQLArgument { public var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Int64: SQLArgument { public var sqlValue: SQLValue { .integer(self) } }
extension Double: SQLArgument { public var sqlValue: SQLValue { .real(self) } }
extension SQLValue: SQLArgument { public var sqlValue: SQLValue { self } }

/// Arguments of one statement, in `?` order; nil binds NULL.
public typealias SQLArguments = [(any SQLArgument)?]

/// What a column value can be read as.
public protocol SQLColumnValue: Sendable {
    init?(sqlValue: SQLValue)
}
extension String: SQLColumnValue {
    public init?(sqlValue v: SQLValue) { guard case .text(let s) = v else { return nil }; self = s }
}
extension Int64: SQLColumnValue {
    public init?(sqlValue v: SQLValue) {
        switch v {
        case .integer(let i): self = i
        default: return nil
        }
    }
}
extension Int: SQLColumnValue {
    public init?(sqlValue v: SQLValue) { guard let i = Int64(sqlValue: v) else { return nil }; self = Int(i) }
}
extension Double: SQLColumnValue {
    public init?(sqlValue v: SQLValue) {
        switch v {
        case .real(let d): self = d
        case .integer(let i): self = Double(i)
        default: return nil
        }
    }
}

/// One result row, by column name (lower case, as both databases report unquoted names).
public struct SQLRow: Sendable {
    public var values: [String: SQLValue]
    /// Where the row came from, for messages ("table labs").
    public var table: String

    public init(values: [String: SQLValue], table: String = "") {
        self.values = values
        self.table = table
    }

    /// The column's value, or nil when it is NULL, absent, or of another kind.
    public subscript<T: SQLColumnValue>(_ column: String) -> T? {
        values[column].flatMap { T(sqlValue: $0) }
    }

    /// A column the schema declares NOT NULL: a missing or mistyped value is a damaged store, named.
    public func required<T: SQLColumnValue>(_ column: String, as _: T.Type = T.self) throws -> T {
        guard let v: T = self[column] else {
            let id: Int64? = self["id"]
            throw StoreBackendError.damaged("\(table.isEmpty ? "a row" : "table \(table)")\(id.map { ", row \($0)" } ?? ""): column \(column) is \(values[column].map { "\($0)" } ?? "missing"), not a \(T.self)")
        }
        return v
    }
}

/// A problem of the database under the store, before CaseStore names the store.
public enum StoreBackendError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A value the schema forbids (NULL in a NOT NULL column, a wrong type).
    case damaged(String)
    /// Could not reach or talk to the server (its address, what happened).
    case unavailable(String)
    /// The transaction lost to a concurrent one after its one retry.
    case conflict(String)
    /// A commit whose outcome is unknown: the connection went away while COMMIT was in flight.
    case commitUnknown(String)
    /// The database refused the work (disk full, permissions, a constraint), in its words.
    case refused(String)
    /// A store location that cannot be used (a URL with a password, an unknown TLS mode...).
    case location(String)

    public var description: String {
        switch self {
        case .damaged(let s): return "damaged: \(s)"
        case .unavailable(let s): return s
        case .conflict(let s): return s
        case .commitUnknown(let s): return s
        case .refused(let s): return s
        case .location(let s): return s
        }
    }
}

/// The statements of one transaction.
public protocol SQLTransaction {
    func execute(_ sql: String, _ arguments: SQLArguments) throws
    func rows(_ sql: String, _ arguments: SQLArguments, table: String) throws -> [SQLRow]
    /// Marks the transaction as a change the workstations should see (PostgreSQL: NOTIFY at commit).
    func announceChange() throws
}

extension SQLTransaction {
    func execute(_ sql: String) throws { try execute(sql, []) }
    func rows(_ sql: String, _ arguments: SQLArguments = [], table: String = "") throws -> [SQLRow] {
        try rows(sql, arguments, table: table)
    }
    func row(_ sql: String, _ arguments: SQLArguments = [], table: String = "") throws -> SQLRow? {
        try rows(sql, arguments, table: table).first
    }
    /// The first column of the first row, or nil.
    func value<T: SQLColumnValue>(_ sql: String, _ arguments: SQLArguments = [], as _: T.Type = T.self) throws -> T? {
        guard let r = try rows(sql, arguments, table: "").first, let v = r.values.first?.value else { return nil }
        // a one-column select: any key is the column
        if r.values.count == 1 { return T(sqlValue: v) }
        return nil
    }
    func exists(_ sql: String, _ arguments: SQLArguments = []) throws -> Bool {
        try !rows(sql, arguments, table: "").isEmpty
    }
}

/// Which back end, for the few statements whose spelling differs.
public enum SQLDialect: Sendable {
    case sqlite, postgresql

    /// Appended to the SELECT that reads a case before changing it: PostgreSQL locks the row
    /// until commit (so two servers' edits of one case queue up and the version check holds;
    /// NO KEY: a finding's foreign-key check on the case does not wait for it); SQLite needs
    /// nothing, its write transactions are already one at a time (IMMEDIATE).
    var lockForUpdate: String { self == .postgresql ? " FOR NO KEY UPDATE" : "" }

    /// Text ordered by its bytes, as SQLite does (PostgreSQL's database collation may ignore
    /// '-' and '_', which would order case lists differently on the two back ends).
    var byteOrder: String { self == .postgresql ? " COLLATE \"C\"" : "" }
}

/// A database that keeps a case store.
public protocol StoreBackend: AnyObject, Sendable {
    /// What messages call the store: the file path, or the URL without any password.
    var location: String { get }
    var dialect: SQLDialect { get }
    /// One write transaction, committed when `body` returns and rolled back when it throws.
    func write<T>(_ body: (any SQLTransaction) throws -> T) throws -> T
    /// Reads from one consistent snapshot.
    func read<T>(_ body: (any SQLTransaction) throws -> T) throws -> T
    /// The schema version the database holds (0: none yet).
    func schemaVersion() throws -> Int
    /// Applies every step newer than the stored version in one transaction that only one
    /// process at a time runs; refuses a store written by a newer TumorBoard.
    func migrate(to steps: [(version: Int, name: String, sql: String)]) throws
    /// "ok" when the database's own checks pass, else what they found.
    func integrityCheck() throws -> String
    /// A number that changes whenever another process announced a change (see `announceChange`).
    /// `fallback` computes it from the tables when the back end has no cheaper way.
    func changeToken(fallback: (any SQLTransaction) throws -> Int64) throws -> Int64
}

/// Splits a store location: a path opens SQLite, a postgresql:// (or postgres://) URL PostgreSQL.
public enum StoreLocation: Sendable, Equatable {
    case sqlite(path: String)
    case postgresql(url: String)

    public init(_ text: String) {
        let lower = text.lowercased()
        if lower.hasPrefix("postgresql://") || lower.hasPrefix("postgres://") { self = .postgresql(url: text) }
        else { self = .sqlite(path: text) }
    }

    public static func isURL(_ text: String) -> Bool {
        if case .postgresql = StoreLocation(text) { return true }
        return false
    }

    /// A short name for titles: the file's name, or "database@host" of a URL (no options).
    public static func shortName(_ text: String) -> String {
        switch StoreLocation(text) {
        case .sqlite(let path): return (path as NSString).lastPathComponent
        case .postgresql(let url):
            guard let u = try? PostgresURL(url, environment: [:]) else { return "PostgreSQL store" }
            return "\(u.database)@\(u.host)"
        }
    }
}
