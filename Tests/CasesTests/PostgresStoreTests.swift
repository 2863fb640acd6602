import Foundation
import XCTest
@testable import Cases

/// What only the PostgreSQL back end has: its URL and password file, a server that is down or
/// restarts, LISTEN/NOTIFY, the version check between two connections (two servers), and
/// `store copy`. The shared behaviour runs in StoreTestsOnPostgreSQL / WorkflowStoreTestsOnPostgreSQL.
final class PostgresStoreTests: XCTestCase {
    // MARK: Without a server

    func testURLOptionsAndRefusals() throws {
        let u = try PostgresURL("postgresql://ana@db.example:6543/cases?sslmode=verify-full&sslrootcert=/etc/ca.pem", environment: [:])
        XCTAssertEqual(u.user, "ana"); XCTAssertEqual(u.host, "db.example"); XCTAssertEqual(u.port, 6543)
        XCTAssertEqual(u.database, "cases"); XCTAssertEqual(u.sslMode, "verify-full"); XCTAssertEqual(u.sslRootCert, "/etc/ca.pem")
        XCTAssertEqual(u.display, "postgresql://ana@db.example:6543/cases")
        let d = try PostgresURL("postgres://bo@localhost", environment: [:])
        XCTAssertEqual(d.port, 5432); XCTAssertEqual(d.database, "bo"); XCTAssertEqual(d.sslMode, "disable")
        // A password in the URL would show in `ps`, shell history and logs: refused, and never echoed.
        do { _ = try PostgresURL("postgresql://ana:s3cret@db/cases", environment: [:]); XCTFail("a password in the URL must be refused") } catch {
            XCTAssertTrue("\(error)".contains("~/.pgpass"), "\(error)")
            XCTAssertFalse("\(error)".contains("s3cret"), "\(error)")
        }
        XCTAssertEqual(PostgresURL.redacted("postgresql://ana:s3cret@db/cases"), "postgresql://ana:****@db/cases")
        // TLS is verified or not used.
        assertThrowsMessage({ _ = try PostgresURL("postgresql://ana@db/c?sslmode=require", environment: [:]) }, contains: ["sslmode=require", "verify-full"])
        assertThrowsMessage({ _ = try PostgresURL("postgresql://ana@db/c?sslpassword=x", environment: [:]) }, contains: ["sslpassword"])
        // Off this machine, plain text must be asked for; verify-ca needs the CA it verifies against.
        assertThrowsMessage({ _ = try PostgresURL("postgresql://ana@db.example/c", environment: [:]) }, contains: ["db.example", "sslmode=verify-full"])
        XCTAssertEqual(try PostgresURL("postgresql://ana@db.example/c?sslmode=disable", environment: [:]).sslMode, "disable")
        assertThrowsMessage({ _ = try PostgresURL("postgresql://ana@db.example/c?sslmode=verify-ca", environment: [:]) }, contains: ["sslrootcert"])
        // An unparseable URL is still never printed with what may be its password.
        for odd in ["postgresql://u:se cret@h/db", "postgresql://u:secret%zz@h/db", "postgresql://u:sec@ret@h/db", "postgresql://u:secret[@h/db"] {
            XCTAssertFalse(PostgresURL.redacted(odd).contains("cret"), PostgresURL.redacted(odd))
        }
        XCTAssertTrue(StoreLocation.isURL("postgresql://a@b/c"))
        XCTAssertFalse(StoreLocation.isURL("/data/postgresql/cases.sqlite"))
    }

    func testPasswordFileLikeLibpq() throws {
        let dir = try temporaryFolder(self)
        let file = dir.appendingPathComponent("pgpass")
        try """
        # comment
        other:5432:*:ana:wrong
        db.example:6543:cases:ana:right\\:with\\\\colon
        *:*:*:bo:bos
        *:*:*:cy:first:ignored
        """.write(to: file, atomically: true, encoding: .utf8)
        chmod(file.path, 0o600)
        let env = ["PGPASSFILE": file.path]
        XCTAssertEqual(try PostgresURL("postgresql://ana@db.example:6543/cases?sslmode=disable", environment: env).password(environment: env), "right:with\\colon")
        XCTAssertEqual(try PostgresURL("postgresql://bo@anywhere/x?sslmode=disable", environment: env).password(environment: env), "bos")
        // As libpq: the password ends at an unescaped ':'.
        XCTAssertEqual(try PostgresURL("postgresql://cy@db.example:6543/cases?sslmode=disable", environment: env).password(environment: env), "first")
        XCTAssertNil(try PostgresURL("postgresql://dee@db.example:6543/cases?sslmode=disable", environment: env).password(environment: env))
        // passfile= in the URL wins over PGPASSFILE.
        XCTAssertEqual(try PostgresURL("postgresql://bo@x/y?sslmode=disable&passfile=\(file.path)", environment: [:]).password(environment: [:]), "bos")
        // A password file others can read is refused, naming it and the fix.
        chmod(file.path, 0o644)
        assertThrowsMessage({ _ = try PostgresURL("postgresql://bo@x/y?sslmode=disable", environment: env).password(environment: env) }, contains: [file.path, "chmod 600"])
        assertThrowsMessage({ _ = try PostgresURL("postgresql://bo@x/y?sslmode=disable&passfile=/nope", environment: [:]).password(environment: [:]) }, contains: ["/nope"])
    }

    func testServerDownAtStartIsAClearMessage() throws {
        // A port nothing listens on (bound, then closed).
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in(); addr.sin_family = sa_family_t(AF_INET); addr.sin_addr.s_addr = inet_addr("127.0.0.1"); addr.sin_port = 0
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) } }
        let port = Int(UInt16(bigEndian: addr.sin_port))
        close(s)
        let started = Date()
        assertThrowsMessage({ _ = try CaseStore(path: "postgresql://ana@127.0.0.1:\(port)/cases", user: "ana", busyTimeout: 3) },
                            contains: ["postgresql://ana@127.0.0.1:\(port)/cases", "cannot connect", "127.0.0.1:\(port)"])
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
    }

    // MARK: Against the test server

    func testASignOffReachesAnotherWorkstationWithinASecond() throws {
        let dir = try temporaryFolder(self)
        let url = try TestBackend.postgresql.location(dir)
        let ana = try CaseStore(path: url, user: "ana"), bo = try CaseStore(path: url, user: "bo")
        try ana.add(CaseRecord(id: "C1", age: 15, sex: .male))
        let token = try bo.changeToken()
        // A kept model result is not announced ...
        try ana.addFinding("C1", Finding(createdAt: "2026-01-05T10:00:00Z", models: ["d": "1"], probabilities: ["benign": 1]))
        Thread.sleep(forTimeInterval: 0.3)
        XCTAssertEqual(try bo.changeToken(), token)
        // ... a sign-off is, within a second, with no query of bo's in between.
        try ana.signOff("C1")
        let signed = Date()
        var seen: TimeInterval?
        while Date().timeIntervalSince(signed) < 2 {
            if try bo.changeToken() != token { seen = Date().timeIntervalSince(signed); break }
            Thread.sleep(forTimeInterval: 0.01)
        }
        let latency = try XCTUnwrap(seen, "bo never heard of ana's sign-off")
        XCTAssertLessThan(latency, 1.0)
        XCTAssertEqual(try bo.load("C1").review?.signedOffBy, "ana")
        // A rolled-back change announces nothing.
        let t2 = try bo.changeToken()
        XCTAssertThrowsError(try ana.setReviewNote("C1", "after sign-off"))
        Thread.sleep(forTimeInterval: 0.3)
        XCTAssertEqual(try bo.changeToken(), t2)
    }

    /// A busy timeout longer than the server's settings take (Int32.max milliseconds, about 24
    /// days) is clamped: the store connects and saves, rather than failing every connection on
    /// its `SET lock_timeout`.
    func testABusyTimeoutBeyondTheServersLimitStillConnects() throws {
        let url = try TestBackend.postgresql.location(try temporaryFolder(self))
        let store = try CaseStore(path: url, user: "ana", busyTimeout: 1e7)
        try store.add(CaseRecord(id: "C1", age: 20, sex: .female))
        XCTAssertEqual(try store.load("C1").id, "C1")
    }

    #if TUMORBOARD_POSTGRESQL   // the back end is absent from a build made with TUMORBOARD_POSTGRESQL=0
    /// Every connection sets its session's limits (one round trip): the server reports them back.
    func testEachConnectionCarriesItsSessionLimits() throws {
        let url = try TestBackend.postgresql.location(try temporaryFolder(self))
        let store = try CaseStore(path: url, user: "ana", busyTimeout: 7.5)
        let backend = try XCTUnwrap(store.backend as? PostgresBackend)
        let shown = try backend.read { tx in
            try ["lock_timeout", "statement_timeout", "idle_in_transaction_session_timeout"].map { name in
                try tx.rows("SELECT current_setting(?) AS v", [name], table: "settings").first?.values["v"]
            }
        }
        XCTAssertEqual(shown, [.text("7500ms"), .text("2min"), .text("1min")])
        XCTAssertEqual(PostgresBackend.sessionLimits(timeout: 1e7).map(\.milliseconds), [Int(Int32.max), Int(Int32.max), 60_000])
    }
    #endif

    /// Two connections (two servers) save over the same version at the same moment: exactly one wins.
    func testTheVersionCheckHoldsBetweenConnections() throws {
        let dir = try temporaryFolder(self)
        let url = try TestBackend.postgresql.location(dir)
        let setup = try CaseStore(path: url, user: "setup")
        for i in 0..<10 { try setup.add(CaseRecord(id: "C\(i)", age: 20, sex: .female)) }
        let stores = try (0..<4).map { try CaseStore(path: url, user: "reader\($0)") }
        let outcomes = Locked<[String: [String]]>([:])
        for i in 0..<10 {
            let id = "C\(i)", v = try setup.version(of: id)
            DispatchQueue.concurrentPerform(iterations: stores.count) { k in
                let result: String
                do { try stores[k].setReviewNote(id, "note by \(k)", expectedVersion: v); result = "saved" }
                catch CaseError.conflict { result = "conflict" }
                catch { result = "error: \(error)" }
                outcomes.withLock { $0[id, default: []].append(result) }
            }
        }
        for i in 0..<10 {
            let o = outcomes.withLock { $0["C\(i)"] ?? [] }
            XCTAssertEqual(o.filter { $0 == "saved" }.count, 1, "C\(i): \(o)")
            XCTAssertEqual(o.filter { $0 == "conflict" }.count, stores.count - 1, "C\(i): \(o)")
            XCTAssertEqual(try setup.version(of: "C\(i)"), 2)
            XCTAssertEqual(try setup.auditTrail("C\(i)").filter { $0.action == "review note edited" }.count, 1)
        }
    }

    /// The server restarts under an open store: the next change reconnects and goes through,
    /// and live refresh resumes.
    func testAServerRestartMidSessionReconnects() throws {
        let dir = try temporaryFolder(self)
        let url = try TestBackend.postgresql.location(dir)
        let s = try CaseStore(path: url, user: "ana"), other = try CaseStore(path: url, user: "bo")
        try s.add(CaseRecord(id: "C1", age: 15, sex: .male))
        let token = try other.changeToken()
        // posix_spawn + waitpid, not Foundation's Process: the restarted server inherits the
        // descriptor Process watches for the child's exit, and it would wait for the server.
        XCTAssertEqual(try spawnAndWait(repoRoot.appendingPathComponent("scripts/postgres-test-server").path, ["restart"]), 0,
                       "scripts/postgres-test-server restart failed")
        try s.setReviewNote("C1", "after the restart")
        XCTAssertEqual(try other.load("C1").review?.note, "after the restart")
        XCTAssertNotEqual(try other.changeToken(), token, "the listener must come back after the restart")
        XCTAssertEqual(try s.auditTrail("C1").map(\.action), ["created", "review note edited"])
    }

    /// The server's disk fills up (a 3 MB tmpfs tablespace; needs root to mount it): the change
    /// that does not fit is refused in plain words, nothing of it is saved, and what was saved
    /// before reads back whole.
    func testAFullDiskIsNamedAndLosesNothing() throws {
        let s = try TestPostgres.server()
        guard getuid() == 0 else { throw XCTSkip("mounting a small tmpfs for the full-disk test needs root") }
        let mountPoint = try temporaryFolder(self, "tiny")
        guard try spawnAndWait("/bin/mount", ["-t", "tmpfs", "-o", "size=3M", "tmpfs", mountPoint.path]) == 0 else {
            throw XCTSkip("tmpfs cannot be mounted here")
        }
        let name = "tb_full_\(getpid())_\(Int(Date().timeIntervalSince1970) % 100000)", space = "tb_tiny_\(getpid())"
        func admin(_ sql: String) throws {
            let r = try TestPostgres.tool(s, "psql", ["-q", "-h", "127.0.0.1", "-p", s.port, "-U", "tb_admin", "-d", "postgres", "-c", sql])
            guard r.status == 0 else { throw StoreBackendError.refused("psql: \(r.output)") }
        }
        defer {
            try? admin("DROP DATABASE IF EXISTS \(name)")
            try? admin("DROP TABLESPACE IF EXISTS \(space)")
            _ = try? spawnAndWait("/bin/umount", [mountPoint.path])
        }
        _ = try spawnAndWait("/bin/chown", ["postgres", mountPoint.path])
        try admin("CREATE TABLESPACE \(space) LOCATION '\(mountPoint.path)'")
        try admin("CREATE DATABASE \(name) OWNER tumorboard TABLESPACE \(space)")
        let store = try CaseStore(path: "\(s.url)/\(name)?passfile=\(s.passFile)", user: "ana")
        try store.add(CaseRecord(id: "C1", age: 15, sex: .male))
        var saved: [String] = [], refusal: String?
        for _ in 0..<60 {
            // Incompressible text (TOAST would shrink a repeated one).
            var g = SystemRandomNumberGenerator()
            let note = String((0..<120_000).map { _ in Character(UnicodeScalar(UInt8(65 + Int(g.next() % 26)))) })
            do { try store.setClinicalNote("C1", note); saved.append(note) } catch { refusal = "\(error)"; break }
        }
        let message = try XCTUnwrap(refusal, "3 MB never filled up")
        XCTAssertTrue(message.contains("disk is full") && message.contains("nothing was saved"), message)
        XCTAssertTrue(message.contains(name), message)
        XCTAssertFalse(saved.isEmpty)
        // What was saved before is whole: the last saved note, one audit row per saved note.
        XCTAssertEqual(try store.load("C1").clinicalNote, saved.last)
        XCTAssertEqual(try store.auditTrail("C1").filter { $0.action == "clinical note edited" }.count, saved.count)
        XCTAssertEqual(try store.version(of: "C1"), 1 + saved.count)
    }

    /// TLS is verified: with the server's CA and its name the connection is encrypted; without
    /// the CA, or under an address the certificate does not carry, it is refused, saying why.
    func testTLSIsVerified() throws {
        let s = try TestPostgres.server()
        guard let ca = s.ca else { throw XCTSkip("the test server has no TLS (an older scripts/postgres-test-server)") }
        let dir = try temporaryFolder(self)
        let plain = try TestBackend.postgresql.location(dir)  // creates the database
        let db = try PostgresURL(plain).database
        func url(_ host: String, _ query: String) -> String {
            "postgresql://tumorboard@\(host):\(s.port)/\(db)?passfile=\(s.passFile)&\(query)"
        }
        func encrypted(_ store: CaseStore) throws -> Bool {
            try store.read { tx in try tx.value("SELECT ssl::int AS s FROM pg_stat_ssl WHERE pid = pg_backend_pid()", as: Int.self) } == 1
        }
        // The certificate names "localhost" (no IP address).
        let verified = try CaseStore(path: url("localhost", "sslmode=verify-full&sslrootcert=\(ca)"), user: "ana")
        try verified.add(CaseRecord(id: "C1"))
        XCTAssertTrue(try encrypted(verified))
        // Messages name it without its options; reopening it (import form, PACS, findings) keeps them.
        XCTAssertEqual(verified.path, "postgresql://tumorboard@localhost:\(s.port)/\(db)")
        XCTAssertEqual(verified.location, url("localhost", "sslmode=verify-full&sslrootcert=\(ca)"))
        XCTAssertTrue(try encrypted(try CaseStore(path: verified.location, user: "bo")))
        XCTAssertEqual(StoreLocation.shortName(verified.location), "\(db)@localhost")
        XCTAssertFalse(try encrypted(try CaseStore(path: plain, user: "ana")), "sslmode=disable is plain")
        // verify-ca checks the chain, not the name: 127.0.0.1 is not in the certificate, and passes.
        XCTAssertTrue(try encrypted(try CaseStore(path: url("127.0.0.1", "sslmode=verify-ca&sslrootcert=\(ca)"), user: "ana")))
        // verify-full under an address the certificate does not name: refused.
        assertThrowsMessage({ _ = try CaseStore(path: url("127.0.0.1", "sslmode=verify-full&sslrootcert=\(ca)"), user: "ana") },
                            contains: ["cannot connect", "127.0.0.1:\(s.port)"])
        // The system's CAs do not know the test CA: refused.
        assertThrowsMessage({ _ = try CaseStore(path: url("localhost", "sslmode=verify-full"), user: "ana") },
                            contains: ["cannot connect", "localhost:\(s.port)"])
        assertThrowsMessage({ _ = try CaseStore(path: url("127.0.0.1", "sslmode=verify-full&sslrootcert=/nope.pem"), user: "ana") },
                            contains: ["/nope.pem"])
    }

    func testStoreCopyFromSQLiteIsVerifiedAndIdempotent() throws {
        let dir = try temporaryFolder(self)
        let sqlite = try CaseStore(path: dir.appendingPathComponent("dept.sqlite").path, user: "dr-ana")
        try writePNG(dir.appendingPathComponent("slide.png"))
        for i in 0..<12 {
            let id = "TB-\(i)"
            try sqlite.add(CaseRecord(id: id, age: 10 + i, sex: i % 2 == 0 ? .female : .male, site: "femur",
                                      label: i % 3 == 0 ? .malignant : .benign,
                                      radiographs: [Radiograph(file: "/data/\(id).png", sha256: String(repeating: "a", count: 64),
                                                               boxes: [LesionBox(x0: 1, y0: 2, x1: 30, y1: 40)])],
                                      labs: [LabResult(marker: "alp", value: 100.25 + Double(i), unit: "U/L", date: "2026-01-0\(1 + i % 9)")]))
            try sqlite.addSlide(id, SlideReference(slideID: "S-\(i)", stain: "H&E", file: dir.appendingPathComponent("slide.png").path))
            try sqlite.addFinding(id, Finding(createdAt: "2026-01-05T10:00:00Z", models: ["detector": "ab12"],
                                              probabilities: ["benign": 0.7, "intermediate": 0.1, "malignant": 0.2]),
                                  inputKey: "k\(i)", result: "{\"p\": \(i)}")
            if i % 4 == 0 { try sqlite.setReviewNote(id, "agree"); try sqlite.signOff(id) }
        }
        // A case replaced away: its first trail stays, and moves too.
        try sqlite.add(CaseRecord(id: "TB-0", age: 10, sex: .female), source: "/re-import", ifExists: .replace)
        let url = try TestBackend.postgresql.location(dir)
        let pg = try CaseStore(path: url, user: "admin")
        let report = try sqlite.copy(to: pg)
        XCTAssertTrue(report.verified, report.summary)
        XCTAssertEqual(report.copied.count, 12)
        XCTAssertEqual(report.source.audit, try sqlite.auditTrail().count)
        for id in try sqlite.caseIDs() {
            XCTAssertEqual(try pg.load(id), try sqlite.load(id))
            XCTAssertEqual(try pg.version(of: id), try sqlite.version(of: id))
            XCTAssertEqual(try pg.auditTrail(id), try sqlite.auditTrail(id))
        }
        XCTAssertEqual(try pg.storedResult("TB-5", inputKey: "k5"), "{\"p\": 5}")
        // Again: nothing is copied twice.
        let again = try sqlite.copy(to: pg)
        XCTAssertTrue(again.verified, again.summary)
        XCTAssertEqual(again.copied, [])
        XCTAssertEqual(again.alreadyThere.count, 12)
        XCTAssertEqual(try pg.auditTrail().count, try sqlite.auditTrail().count)
        // A case that was changed in the destination since is left alone and named.
        try pg.setClinicalNote("TB-1", "changed on the new server")
        let third = try sqlite.copy(to: pg)
        XCTAssertEqual(third.differing, ["TB-1"])
        XCTAssertFalse(third.verified)
        XCTAssertTrue(third.summary.contains("DIFFERS: TB-1"), third.summary)
        XCTAssertEqual(try pg.load("TB-1").clinicalNote, "changed on the new server")
    }
}

/// Runs a program and waits for it alone (not for daemons it leaves behind); its exit status.
func spawnAndWait(_ path: String, _ arguments: [String]) throws -> Int32 {
    var pid = pid_t()
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    defer { for a in argv { free(a) } }
    let rc = posix_spawn(&pid, path, nil, nil, argv, environ)
    guard rc == 0 else { throw StoreBackendError.unavailable("cannot start \(path): \(String(cString: strerror(rc)))") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
}
