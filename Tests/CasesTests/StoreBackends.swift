import Foundation
import XCTest
@testable import Cases

/// The back end a store suite runs against. The store suites are written once (StoreTests,
/// WorkflowStoreTests) and run twice: as themselves on SQLite, and as their `...OnPostgreSQL`
/// subclasses on the throwaway cluster of scripts/postgres-test-server, each test in a database
/// of its own. Without that cluster the PostgreSQL runs skip, saying so; with
/// TUMORBOARD_REQUIRE_POSTGRES=1 (.ci/run) they fail instead.
enum TestBackend: String {
    case sqlite, postgresql

    /// Where a test's store lives: the file `name` in `dir`, or the test's own database.
    func location(_ dir: URL, _ name: String = "cases.sqlite") throws -> String {
        switch self {
        case .sqlite: return dir.appendingPathComponent(name).path
        case .postgresql: return try TestPostgres.database(for: dir.appendingPathComponent(name))
        }
    }

    /// Runs SQL on the store behind `location` outside TumorBoard (to damage it on purpose).
    func runSQL(_ location: String, _ sql: String) throws {
        switch self {
        case .sqlite: try runSQLite(location, sql)
        case .postgresql: try TestPostgres.psql(location, sql)
        }
    }

    /// Throws XCTSkip on PostgreSQL for a test of SQLite's file behaviour, or of no store at all.
    func sqliteOnly(_ what: String) throws {
        if self == .postgresql { throw XCTSkip("runs on SQLite only: \(what)") }
    }
}

/// The cluster of scripts/postgres-test-server ($TUMORBOARD_PG_DIR/server.env).
enum TestPostgres {
    struct Server {
        var url: String
        var passFile: String
        var bin: String
        var port: String
        /// The throwaway CA that signed the server's certificate (IP 127.0.0.1 only).
        var ca: String?
    }

    static var serverEnvFile: String {
        (ProcessInfo.processInfo.environment["TUMORBOARD_PG_DIR"] ?? "/tmp/tumorboard-pg-test") + "/server.env"
    }

    /// The running server, or a skip (a failure when TUMORBOARD_REQUIRE_POSTGRES=1).
    static func server() throws -> Server {
        func unavailable(_ why: String) -> Error {
            let message = "PostgreSQL test server \(why): start it with scripts/postgres-test-server start (PostgreSQL leg not tested)"
            if ProcessInfo.processInfo.environment["TUMORBOARD_REQUIRE_POSTGRES"] == "1" {
                return StoreBackendError.unavailable(message + "; TUMORBOARD_REQUIRE_POSTGRES=1 requires it")
            }
            return XCTSkip(message)
        }
        guard let text = try? String(contentsOfFile: serverEnvFile, encoding: .utf8) else { throw unavailable("absent (\(serverEnvFile))") }
        var env: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { env[parts[0]] = parts[1] }
        }
        guard let url = env["URL"], let pass = env["PGPASSFILE"], let bin = env["BIN"], let port = env["PORT"] else {
            throw unavailable("file \(serverEnvFile) is incomplete")
        }
        let s = Server(url: url, passFile: pass, bin: bin, port: port, ca: env["CA"])
        guard (try? tool(s, "pg_isready", ["-q", "-h", "127.0.0.1", "-p", port]))?.status == 0 else { throw unavailable("does not answer on port \(port)") }
        return s
    }

    private static let created = Locked<Set<String>>([])

    /// A store URL on a database of its own for this path (created on first use), with the
    /// password file named in the URL.
    static func database(for path: URL) throws -> String {
        let s = try server()
        let name = "tb_" + String(SHA256Digest.hex(Data(path.path.utf8)).prefix(20))
        let isNew = created.withLock { $0.insert(name).inserted }
        if isNew {
            let r = try tool(s, "createdb", ["-h", "127.0.0.1", "-p", s.port, "-U", "tumorboard", name])
            guard r.status == 0 || r.output.contains("already exists") else {
                throw StoreBackendError.unavailable("createdb \(name): \(r.output)")
            }
        }
        return "\(s.url)/\(name)?passfile=\(s.passFile)"
    }

    /// SQL through psql on the database behind a store URL.
    static func psql(_ url: String, _ sql: String) throws {
        let s = try server()
        let u = try PostgresURL(url)
        let r = try tool(s, "psql", ["-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", s.port, "-U", u.user, "-d", u.database, "-c", sql])
        guard r.status == 0 else { throw StoreBackendError.refused("psql: \(r.output)") }
    }

    /// Runs one of the server's programs with the test password file.
    static func tool(_ s: Server, _ name: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: s.bin + "/" + name)
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["PGPASSFILE"] = s.passFile
        p.environment = env
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

/// A value behind a lock (test support).
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock(); defer { lock.unlock() }
        return try body(&value)
    }
}
