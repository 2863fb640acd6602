#if TUMORBOARD_POSTGRESQL  // absent from a build made with TUMORBOARD_POSTGRESQL=0 (Package.swift)
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

/// PostgreSQL through PostgresNIO: one connection per store, transactions one at a time on it.
/// A connection lost before COMMIT (a server restart) is reopened and the transaction retried
/// once; so is one that lost a serialization or deadlock check. A commit whose reply never came
/// is reported as such, not retried (it may have been saved). Live refresh: every change sends
/// NOTIFY inside its transaction; a second connection LISTENs and counts.
final class PostgresBackend: StoreBackend, @unchecked Sendable {
    // @unchecked: the connection and the listener state are only touched under `lock` / `listenLock`.
    let url: PostgresURL
    let location: String
    var dialect: SQLDialect { .postgresql }
    let configuration: PostgresConnection.Configuration
    let timeout: TimeInterval
    let logger: Logger
    private let lock = NSLock()
    private var connection: PostgresConnection?
    private var nextID = 0

    static let channel = "tumorboard_changes"

    init(url text: String, connectTimeout: TimeInterval, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let u = try PostgresURL(text, environment: environment)
        url = u
        location = u.display
        timeout = max(1, connectTimeout)
        var tls = PostgresConnection.Configuration.TLS.disable
        if u.sslMode != "disable" {
            var t = TLSConfiguration.makeClientConfiguration()
            t.minimumTLSVersion = .tlsv12
            t.certificateVerification = u.sslMode == "verify-full" ? .fullVerification : .noHostnameVerification
            if let root = u.sslRootCert {
                guard FileManager.default.isReadableFile(atPath: root) else {
                    throw StoreBackendError.location("sslrootcert \(root) does not exist or cannot be read")
                }
                t.trustRoots = .file(root)
            }
            do { tls = .require(try NIOSSLContext(configuration: t)) } catch {
                throw StoreBackendError.location("TLS cannot be set up (\(error))")
            }
        }
        var c = PostgresConnection.Configuration(host: u.host, port: u.port, username: u.user,
                                                 password: try u.password(environment: environment), database: u.database, tls: tls)
        c.options.connectTimeout = .milliseconds(Int64(Self.serverMilliseconds(timeout)))
        configuration = c
        var l = Logger(label: "tumorboard.store")
        l.logLevel = .critical  // PostgresNIO logs queries at debug; nothing of a case reaches a log
        logger = l
        lock.lock(); defer { lock.unlock() }
        _ = try connected()
    }

    deinit {
        _ = try? connection?.close().wait()
        listenLock.lock()
        _ = try? listener?.close().wait()
        listenLock.unlock()
    }

    /// The open connection, (re)connecting when there is none. Call with `lock` held. A server
    /// that is restarting (refusing connections, or "shutting down" / "starting up") is tried
    /// again every half second for up to the connect timeout (at most 10 s); a refusal of the
    /// login itself is reported at once.
    private func connected() throws -> PostgresConnection {
        if let c = connection, !c.isClosed { return c }
        connection = nil
        let deadline = Date().addingTimeInterval(min(timeout, 10))
        while true {
            do { return try connectOnce() } catch let e as PSQLError where Self.isTransientAtConnect(e) && Date() < deadline {
                Thread.sleep(forTimeInterval: 0.5)
            } catch let e as PSQLError where e.code == .authMechanismRequiresPassword {
                throw StoreBackendError.unavailable("cannot connect to the PostgreSQL server at \(url.host):\(url.port): it asks for a password, and the password file has none for \(url.host):\(url.port):\(url.database):\(url.user) (~/.pgpass, PGPASSFILE or passfile= in the URL)")
            } catch {
                throw StoreBackendError.unavailable("cannot connect to the PostgreSQL server at \(url.host):\(url.port) (\(Self.describe(error)))")
            }
        }
    }

    /// The limits every connection sets for its session, in milliseconds: a lock wait the busy
    /// timeout, a statement at least two minutes, a transaction left idle by a stopped process one
    /// minute (the server then ends it).
    static func sessionLimits(timeout: TimeInterval) -> [(name: String, milliseconds: Int)] {
        [("lock_timeout", serverMilliseconds(timeout)), ("statement_timeout", serverMilliseconds(statementLimit(timeout: timeout))),
         ("idle_in_transaction_session_timeout", 60_000)]
    }

    /// Seconds a statement may run on the server (its `statement_timeout`): the busy timeout, and
    /// at least two minutes. The client waits that long and 10 s more for a reply.
    static func statementLimit(timeout: TimeInterval) -> TimeInterval { max(timeout, 120) }

    /// A timeout as the server's millisecond settings take it: at most Int32.max.
    static func serverMilliseconds(_ seconds: TimeInterval) -> Int {
        Int(min(seconds * 1000, Double(Int32.max)).rounded(.down))
    }

    static func isTransientAtConnect(_ e: PSQLError) -> Bool {
        // A certificate that does not verify is not going to verify in half a second.
        if let u = e.underlying, u is NIOSSLError || u is BoringSSLError || "\(type(of: u))".contains("SSL") { return false }
        if e.code == .connectionError || e.code == .serverClosedConnection || e.code == .uncleanShutdown { return true }
        return ["57P03", "57P01", "53300"].contains(e.serverInfo?[.sqlState] ?? "")  // cannot connect now, shutdown, too many connections
    }

    private func connectOnce() throws -> PostgresConnection {
        nextID += 1
        do {
            let c = try PostgresConnection.connect(on: PostgresConnection.defaultEventLoopGroup.any(), configuration: configuration,
                                                   id: nextID, logger: logger).wait()
            // Nothing waits on the server for ever: a row another server keeps locked, a statement
            // that does not end, a transaction left open by a stopped process (server side). The
            // server takes at most Int32.max milliseconds (about 24 days) for each.
            // One round trip for the three (set_config is SET as a function; values in milliseconds).
            let setup = Transaction(connection: c, logger: logger, deadline: timeout + 10), limits = Self.sessionLimits(timeout: timeout)
            do {
                try setup.execute("SELECT " + limits.map { _ in "set_config(?, ?, false)" }.joined(separator: ", "),
                                  limits.flatMap { [$0.name, String($0.milliseconds)] })
            } catch {
                _ = try? c.close().wait()   // a connection without its limits is not used, nor left open
                throw error
            }
            connection = c
            return c
        }
    }

    // MARK: Transactions

    func write<T>(_ body: (any SQLTransaction) throws -> T) throws -> T {
        try transaction(begin: "BEGIN ISOLATION LEVEL READ COMMITTED", body)
    }

    func read<T>(_ body: (any SQLTransaction) throws -> T) throws -> T {
        try transaction(begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", body)
    }

    private func transaction<T>(begin: String, _ body: (any SQLTransaction) throws -> T) throws -> T {
        lock.lock(); defer { lock.unlock() }
        var attempt = 0
        while true {
            attempt += 1
            let conn = try connected()
            let tx = Transaction(connection: conn, logger: logger, deadline: Self.statementLimit(timeout: timeout) + 10)
            var committing = false
            do {
                try tx.execute(begin, [])
                let result = try body(tx)
                committing = true
                try tx.execute("COMMIT", [])
                // This process's own change shows in its token at once (its notification comes
                // later and costs one more re-read), as on SQLite.
                if tx.announced.value { notifications.increment() }
                return result
            } catch {
                let retry = Self.isRetryable(error)
                if conn.isClosed || (try? tx.execute("ROLLBACK", [])) == nil {
                    // A connection that cannot even roll back is not used again.
                    closeNow(conn)
                    connection = nil
                }
                if committing && Self.isConnectionLoss(error) {
                    throw StoreBackendError.commitUnknown("the connection to \(url.host):\(url.port) was lost while the change was being committed; it may or may not have been saved (see the case's history)")
                }
                if retry && attempt == 1 { continue }
                throw Self.translate(error, url: url)
            }
        }
    }

    static func isConnectionLoss(_ error: Error) -> Bool {
        if error is ReplyLost { return true }
        guard let e = error as? PSQLError else { return false }
        return [.serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown].contains(e.code)
    }

    /// Connection lost (server restart), serialization failure, deadlock, a server shutting down,
    /// or a unique key taken by a concurrent transaction (two servers adding the same new case:
    /// the retry sees the other's committed case and skips or refuses it by the usual rule).
    static func isRetryable(_ error: Error) -> Bool {
        if isConnectionLoss(error) { return true }
        guard let e = error as? PSQLError, let state = e.serverInfo?[.sqlState] else { return false }
        return ["40001", "40P01", "57P01", "57P02", "57P03", "23505"].contains(state)
    }

    /// A server error in the server's own words, with what it means for the user.
    static func translate(_ error: Error, url: PostgresURL) -> Error {
        if error is CaseError || error is StoreBackendError { return error }
        if let lost = error as? ReplyLost {
            return StoreBackendError.unavailable("the connection to the PostgreSQL server at \(url.host):\(url.port) was lost (\(lost.reason)) and could not be restored; nothing was saved")
        }
        guard let e = error as? PSQLError else { return error }
        if isConnectionLoss(e) {
            return StoreBackendError.unavailable("the connection to the PostgreSQL server at \(url.host):\(url.port) was lost and could not be restored; nothing was saved")
        }
        let state = e.serverInfo?[.sqlState] ?? ""
        let message = e.serverInfo?[.message] ?? describe(e)
        switch state {
        case "53100": return StoreBackendError.refused("the database server's disk is full (\(message)); nothing was saved")
        case "40001", "40P01": return StoreBackendError.conflict("another writer changed the same rows at the same moment, twice (\(message)); nothing was saved, try again")
        case "42501": return StoreBackendError.refused("permission denied (\(message)); ask the database administrator to grant this user access")
        case "55P03": return StoreBackendError.conflict("another server kept the case locked for longer than the busy timeout (\(message)); nothing was saved, try again")
        case "57014": return StoreBackendError.refused("the server cancelled a statement that ran too long (\(message)); nothing was saved")
        default: return StoreBackendError.refused("the server refused it: \(message)\(state.isEmpty ? "" : " (SQLSTATE \(state))")")
        }
    }

    /// A PSQLError without the query or its arguments (they may hold patient data).
    static func describe(_ error: Error) -> String {
        guard let e = error as? PSQLError else { return "\(error)" }
        if let m = e.serverInfo?[.message] { return m }
        if let u = e.underlying { return "\(e.code): \(u)" }
        return "\(e.code)"
    }

    struct Transaction: SQLTransaction {
        let connection: PostgresConnection
        let logger: Logger
        /// Seconds after which a statement's reply is no longer awaited: the connection is closed
        /// (a silently dropped link would otherwise hang until TCP gives up), and the caller's
        /// retry or error path takes over.
        let deadline: TimeInterval
        let announced = Flag()

        func execute(_ sql: String, _ arguments: SQLArguments) throws {
            _ = try run(sql, arguments)
        }

        func rows(_ sql: String, _ arguments: SQLArguments, table: String) throws -> [SQLRow] {
            try run(sql, arguments).rows.map { row in
                var values: [String: SQLValue] = [:]
                for cell in row { values[cell.columnName] = try Self.value(cell) }
                return SQLRow(values: values, table: table)
            }
        }

        func announceChange() throws {
            // Delivered to the listeners when (and only if) the transaction commits; one per transaction.
            try execute("NOTIFY \(PostgresBackend.channel)", [])
            announced.value = true
        }

        func run(_ sql: String, _ arguments: SQLArguments) throws -> PostgresQueryResult {
            var binds = PostgresBindings(capacity: arguments.count)
            for a in arguments {
                switch a?.sqlValue ?? .null {
                case .null: binds.appendNull()
                case .integer(let i): binds.append(i)
                case .real(let d): binds.append(d)
                case .text(let s): binds.append(s)
                }
            }
            let conn = connection
            if conn.isClosed { throw ReplyLost(reason: "the connection was closed") }
            // The reply, or a failure: PostgresNIO can leave a query sent as the server ends the
            // connection (a restart) unanswered for ever. Every second the connection is looked
            // at; a closed one, or no reply by the deadline, fails the wait (and closes it), and
            // the transaction's retry or error path takes over.
            let reply = conn.eventLoop.makePromise(of: PostgresQueryResult.self)
            let settled = Flag()  // touched on the connection's event loop only
            func settle(_ r: Result<PostgresQueryResult, Error>) {
                guard !settled.value else { return }
                settled.value = true
                reply.completeWith(r)
            }
            let started = Date(), limit = deadline
            let watch = conn.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { task in
                if conn.isClosed {
                    settle(.failure(ReplyLost(reason: "the connection was closed")))
                } else if Date().timeIntervalSince(started) > limit {
                    settle(.failure(ReplyLost(reason: "no reply within \(Int(limit)) s")))
                    closeNow(conn)
                }
            }
            conn.query(PostgresQuery(unsafeSQL: Self.numbered(sql), binds: binds), logger: logger).whenComplete { settle($0) }
            defer { watch.cancel() }
            return try reply.futureResult.wait()
        }

        /// `?` placeholders (the store's one SQL spelling) to `$1, $2, ...`, outside quotes.
        static func numbered(_ sql: String) -> String {
            var out = "", n = 0, quote: Character?
            for ch in sql {
                if let q = quote { out.append(ch); if ch == q { quote = nil }; continue }
                if ch == "'" || ch == "\"" { quote = ch; out.append(ch); continue }
                if ch == "?" { n += 1; out += "$\(n)" } else { out.append(ch) }
            }
            return out
        }

        static func value(_ cell: PostgresCell) throws -> SQLValue {
            guard cell.bytes != nil else { return .null }
            switch cell.dataType {
            case .int2: return .integer(Int64(try cell.decode(Int16.self)))
            case .int4: return .integer(Int64(try cell.decode(Int32.self)))
            case .int8: return .integer(try cell.decode(Int64.self))
            case .float4: return .real(Double(try cell.decode(Float.self)))
            case .float8: return .real(try cell.decode(Double.self))
            case .bool: return .integer(try cell.decode(Bool.self) ? 1 : 0)
            default: return .text(try cell.decode(String.self))
            }
        }
    }

    // MARK: Schema

    func schemaVersion() throws -> Int {
        try read { tx in
            guard try tx.exists("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'tumorboard_schema'") else { return 0 }
            return try tx.value("SELECT max(version) AS v FROM tumorboard_schema", as: Int.self) ?? 0
        }
    }

    func migrate(to steps: [(version: Int, name: String, sql: String)]) throws {
        let latest = steps.last?.version ?? 0
        // A current store needs no write (a role with only read and write rights opens it).
        if try schemaVersion() == latest { return }
        try write { tx in
            // One migrating process at a time, across every server: a transaction-scoped advisory lock.
            try tx.execute("SELECT pg_advisory_xact_lock(727001)", [])
            try tx.execute("CREATE TABLE IF NOT EXISTS tumorboard_schema (version INTEGER NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL)", [])
            let version = try tx.value("SELECT max(version) AS v FROM tumorboard_schema", as: Int.self) ?? 0
            guard version <= latest else {
                throw CaseError.store(file: location, problem: "schema version \(version) was written by a newer TumorBoard (this one knows up to \(latest)); update TumorBoard")
            }
            for step in steps where step.version > version {
                // One statement per message: the extended protocol takes one at a time.
                for statement in Self.statements(step.sql) { try tx.execute(statement, []) }
                try tx.execute("INSERT INTO tumorboard_schema (version, name, applied_at) VALUES (?, ?, ?)", [step.version, step.name, timestampNow()])
            }
        }
    }

    /// A migration's SQL as single statements: split at `;` outside quotes, comment lines dropped.
    static func statements(_ sql: String) -> [String] {
        let text = sql.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("--") }.joined(separator: "\n")
        var out: [String] = [], cur = "", quote: Character?
        for ch in text {
            if let q = quote { cur.append(ch); if ch == q { quote = nil }; continue }
            if ch == "'" || ch == "\"" { quote = ch; cur.append(ch); continue }
            if ch == ";" {
                let t = cur.trimmingCharacters(in: .whitespacesAndNewlines)
                if !t.isEmpty { out.append(t) }
                cur = ""
            } else { cur.append(ch) }
        }
        let t = cur.trimmingCharacters(in: .whitespacesAndNewlines)
        if !t.isEmpty { out.append(t) }
        return out
    }

    /// PostgreSQL keeps its own pages consistent; what is checked here is what the schema
    /// promises: no row of a case without its case (the foreign keys), no audit row without a user.
    func integrityCheck() throws -> String {
        try read { tx in
            var problems: [String] = []
            for table in ["radiographs", "slides", "labs", "findings"] {
                let n = try tx.value("SELECT count(*) AS n FROM \(table) t WHERE NOT EXISTS (SELECT 1 FROM cases c WHERE c.id = t.case_id)", as: Int.self) ?? 0
                if n > 0 { problems.append("\(n) row(s) of \(table) without their case") }
            }
            return problems.isEmpty ? "ok" : problems.joined(separator: "; ")
        }
    }

    // MARK: Live refresh (LISTEN/NOTIFY)

    private let listenLock = NSLock()
    private var listener: PostgresConnection?
    private let notifications = NotificationCounter()
    private var generation: Int64 = 0

    /// A token that changes with every committed change announced by any process: the number of
    /// notifications received since the listener (re)connected, in the listener's generation.
    /// No query runs while the listener is up, so a workstation can ask every half second.
    func changeToken(fallback: (any SQLTransaction) throws -> Int64) throws -> Int64 {
        listenLock.lock(); defer { listenLock.unlock() }
        if let l = listener, !l.isClosed {
            // A firewall may drop an idle connection without a word: every 30 s the listener is
            // asked something, with a deadline; a listener that does not answer is replaced.
            if Date().timeIntervalSince(lastHeartbeat) < 30 { return (generation << 40) | notifications.count }
            lastHeartbeat = Date()
            if (try? Transaction(connection: l, logger: logger, deadline: 5).run("SELECT 1", [])) != nil {
                return (generation << 40) | notifications.count
            }
            closeNow(l)
        }
        listener = nil
        nextListenerID += 1
        do {
            let l = try PostgresConnection.connect(on: PostgresConnection.defaultEventLoopGroup.any(), configuration: configuration,
                                                   id: 1_000_000 + nextListenerID, logger: logger).wait()
            let counter = notifications
            l.addListener(channel: Self.channel) { _, _ in counter.increment() }
            _ = try l.query(PostgresQuery(unsafeSQL: "LISTEN \(Self.channel)"), logger: logger).wait()
            listener = l
            lastHeartbeat = Date()
        } catch {
            throw StoreBackendError.unavailable("cannot listen for changes on the PostgreSQL server at \(url.host):\(url.port) (\(Self.describe(error)))")
        }
        // A new listener may have missed changes while there was none: a new generation makes
        // every reader re-read once.
        generation += 1
        return (generation << 40) | notifications.count
    }
    private var nextListenerID = 0
    private var lastHeartbeat = Date.distantPast
}

/// Closes a connection without waiting (the future-returning close, not the async one).
func closeNow(_ c: PostgresConnection) {
    let _: EventLoopFuture<Void> = c.close()
}

/// A statement's reply that will not come: the connection closed under it, or the deadline passed.
struct ReplyLost: Error, CustomStringConvertible {
    var reason: String
    var description: String { reason }
}

/// A flag set inside a transaction and read after it (one thread at a time: under the store's lock).
final class Flag: @unchecked Sendable {
    var value = false
}

/// Notifications received, counted on the event loop and read by any thread.
final class NotificationCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var n: Int64 = 0
    func increment() { lock.lock(); n += 1; lock.unlock() }
    var count: Int64 { lock.lock(); defer { lock.unlock() }; return n }
}
#endif
