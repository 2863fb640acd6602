import Foundation
import XCTest

/// The workflows in the real program, in tmux: the slide form (an invalid ID, then a valid
/// entry and the case running again with pathology present), sign-off and read-only, tutor
/// mode switching a modality off, and two workstations on one store seeing each other's sign-off.
final class WorkflowEndToEndTests: XCTestCase {
    typealias Tmux = EndToEndTests.Tmux

    var samples: URL { Fixtures.repositoryRoot.appendingPathComponent("samples") }

    func prerequisites() throws -> String {
        guard EndToEndTests.tmuxPath != nil else { throw XCTSkip("tmux is not installed: end-to-end UI tests skipped (scripts/setup --test installs it)") }
        guard let bin = EndToEndTests.binary else { throw XCTSkip("the tumorboard executable is not built next to the tests: run swift build first") }
        guard FileManager.default.fileExists(atPath: samples.appendingPathComponent("SAMPLE-05-BONE-CYST-NO-SLIDE/case.json").path) else {
            throw XCTSkip("samples/ is missing")
        }
        return bin
    }

    /// A fresh store in a temporary folder with the bundled samples imported (as `tumorboard`
    /// with no arguments does), removed at the end.
    func sampleStore(_ bin: String, store given: String? = nil, env: [String: String] = [:]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-e2e-wf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let store = given ?? dir.appendingPathComponent("cases.sqlite").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin)
        p.arguments = ["import", samples.path, "--store", store]
        p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "tumorboard import samples/")
        return store
    }

    func line(_ screen: String, containing needle: String) -> String {
        screen.split(separator: "\n").first { $0.contains(needle) }.map(String.init) ?? ""
    }

    /// Waits until `condition` holds for the screen; fails with the screen when it does not.
    @discardableResult
    func wait(_ t: Tmux, timeout: Double = 30, _ what: String, file: StaticString = #filePath, line: UInt = #line,
              until condition: (String) -> Bool) -> String {
        let end = Date().addingTimeInterval(timeout)
        var s = t.screen()
        while !condition(s) && Date() < end { usleep(50_000); s = t.screen() }
        XCTAssertTrue(condition(s), "\(what); the screen shows:\n\(s)", file: file, line: line)
        return s
    }

    func testSlideFormSignOffAndTutorMode() throws {
        let bin = try prerequisites()
        let store = try sampleStore(bin)
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("tb-e2e-workflow.log").path
        let slide = samples.appendingPathComponent("SAMPLE-03-OSTEOSARCOMA/slide-A1.jpg").path
        let t = try Tmux(command: EndToEndTests.wrapped(bin, "open \(store) --case SAMPLE-05-BONE-CYST-NO-SLIDE",
                                                          env: "TUMORBOARD_SLIDE_ROOTS=\(samples.path)", log: log),
                         width: 120, height: 44, timingLog: log)
        var s = t.wait(for: "p(all) − p(none)", timeout: 120)
        XCTAssertTrue(s.contains("absent (no slide)"), s)

        // The slide form: an invalid ID is refused beside the field.
        t.keys("P")
        t.wait(for: "Add a slide reference to SAMPLE-05")
        t.text("bad id!")
        t.keys("Enter")
        s = t.wait(for: "✗ 1-40 letters")
        // Then a valid entry: ID, block, the stain list, the file.
        for _ in 0..<7 { t.keys("BSpace") }
        t.text("S26-0001")
        t.keys("Tab"); t.text("A1")
        t.keys("Tab", "Tab"); t.text(slide)
        t.keys("Enter")
        t.wait(for: "slide S26-0001 saved")
        // The case runs again, now with the pathology slide present.
        s = wait(t, timeout: 120, "pathology contribution after the slide was saved") { screen in
            self.line(screen, containing: "│ pathology ").range(of: #"[+-]0\.\d{3}"#, options: .regularExpression) != nil
                && screen.contains("p(all) − p(none)")
        }
        XCTAssertFalse(s.contains("absent (no slide)"), s)
        XCTAssertTrue(s.contains("Slides") || s.contains("slide"), s)

        // Sign off; the case is then read-only.
        t.keys("S")
        t.wait(for: "Sign off SAMPLE-05-BONE-CYST-NO-SLIDE as")
        t.keys("Enter")
        t.wait(for: "SIGNED OFF")
        t.keys("L")
        t.wait(for: "read-only; S reopens it")

        // Tutor mode: switching the pathology off changes the answer's source at once.
        // Each wait is for the whole panel: capture-pane can catch a frame ncurses is still writing.
        t.keys("u")
        wait(t, "tutor mode with every modality on") { $0.contains("Tutor · 1 2 3") && $0.contains("from: image+pathology+text") }
        t.keys("2")
        s = wait(t, "pathology switched off") { screen in
            screen.contains("from: image+text") && screen.contains("□ pathology")
                && self.line(screen, containing: "│ pathology ").contains("switched off")
        }
        t.keys("2")
        t.wait(for: "from: image+pathology+text")
        t.keys("q")
        s = t.wait(for: "STTY-DONE")
        XCTAssertTrue(s.contains("EXITED 0"), s)
    }

    func testTwoWorkstationsOnOneStoreSeeEachOthersSignOff() throws {
        let bin = try prerequisites()
        try twoWorkstationsSeeEachOthersSignOff(bin, store: try sampleStore(bin), env: "", within: 2.0)
    }

    /// The same on a PostgreSQL store (the throwaway cluster of scripts/postgres-test-server),
    /// where the news travels by LISTEN/NOTIFY: within a second of the sign-off, plus the time
    /// tmux takes to show it (the screen is read every 50 ms).
    func testTwoWorkstationsOnOnePostgreSQLStoreSeeEachOthersSignOff() throws {
        let bin = try prerequisites()
        let pg = try PostgresTestDatabase.make()
        let store = try sampleStore(bin, store: pg.url, env: ["PGPASSFILE": pg.passFile])
        try twoWorkstationsSeeEachOthersSignOff(bin, store: store, env: "PGPASSFILE=\(pg.passFile)", within: 1.2)
    }

    /// `report` and `eval` on a PostgreSQL store, as on a file: the real program, the samples
    /// imported into a fresh database, the password from PGPASSFILE.
    func testReportAndEvalOnAPostgreSQLStore() throws {
        let bin = try prerequisites()
        let pg = try PostgresTestDatabase.make()
        let env = ["PGPASSFILE": pg.passFile]
        let store = try sampleStore(bin, store: pg.url, env: env)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("tb-e2e-pg-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: out) }
        func run(_ args: [String]) throws -> Int32 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: bin)
            p.arguments = args
            p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            return p.terminationStatus
        }
        let report = out.appendingPathComponent("report")
        XCTAssertEqual(try run(["report", "SAMPLE-03-OSTEOSARCOMA", "--store", store, "--out", report.path]), 0)
        let md = try String(contentsOf: report.appendingPathComponent("report.md"), encoding: .utf8)
        XCTAssertTrue(md.contains("SAMPLE-03-OSTEOSARCOMA"), md)
        XCTAssertTrue(FileManager.default.fileExists(atPath: report.appendingPathComponent("radiograph.png").path))
        let eval = out.appendingPathComponent("eval")
        XCTAssertEqual(try run(["eval", "--data", store, "--out", eval.path]), 0)
        let summary = try String(contentsOf: eval.appendingPathComponent("report.md"), encoding: .utf8)
        XCTAssertTrue(summary.contains("case store postgresql://"), String(summary.prefix(300)))
        XCTAssertTrue(summary.contains("cases scored: 7"), String(summary.prefix(400)))
    }

    func twoWorkstationsSeeEachOthersSignOff(_ bin: String, store: String, env: String, within limit: TimeInterval) throws {
        let logA = FileManager.default.temporaryDirectory.appendingPathComponent("tb-e2e-wf-a.log").path
        let logB = FileManager.default.temporaryDirectory.appendingPathComponent("tb-e2e-wf-b.log").path
        let a = try Tmux(command: EndToEndTests.wrapped(bin, "open \(store) --case SAMPLE-01-OSTEOCHONDROMA", env: env, log: logA),
                         width: 120, height: 40, timingLog: logA)
        let b = try Tmux(command: EndToEndTests.wrapped(bin, "open \(store)", env: env, log: logB), width: 120, height: 40, timingLog: logB)
        a.wait(for: "p(all) − p(none)", timeout: 120)
        // The list's ID column is cut to its width.
        var s = b.wait(for: "SAMPLE-01-OSTEOC")
        XCTAssertFalse(line(s, containing: "SAMPLE-01-OSTEOC").contains("signed"), s)
        a.keys("S")
        a.wait(for: "Sign off SAMPLE-01")
        a.keys("Enter")
        a.wait(for: "SIGNED OFF")
        // B pressed nothing: its list shows the sign-off within the limit.
        let t0 = Date()
        s = wait(b, timeout: 10, "the other workstation's list shows the sign-off") { screen in
            self.line(screen, containing: "SAMPLE-01-OSTEOC").contains("signed")
        }
        let seen = Date().timeIntervalSince(t0)
        print("two workstations on \(store.hasPrefix("postgresql") ? "PostgreSQL" : "SQLite"): sign-off seen after \(String(format: "%.2f", seen)) s")
        XCTAssertLessThan(seen, limit, "seen within \(limit) s")
        for t in [a, b] {
            t.keys("q")
            XCTAssertTrue(t.wait(for: "STTY-DONE").contains("EXITED 0"))
        }
    }

    /// The PACS screen in the real program against the test Orthanc: search by patient ID,
    /// import the study, see its diagnosis (skips when no test server runs).
    func testPACSScreenFindsImportsAndDiagnosesAStudy() throws {
        let bin = try prerequisites()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-e2e-pacs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let config = try PACSScreenTests.serversFile(in: dir)
        let store = try sampleStore(bin)
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("tb-e2e-pacs.log").path
        let t = try Tmux(command: EndToEndTests.wrapped(bin, "open \(store)", env: "TUMORBOARD_PACS_CONFIG=\(config)", log: log),
                         width: 120, height: 40, timingLog: log)
        t.wait(for: "SAMPLE-01-OSTEOC")
        t.keys("P")
        t.wait(for: "Search the PACS")
        t.keys("Tab"); t.text("PB-0003")
        t.keys("Enter")
        var s = t.wait(for: "1 study; Enter imports")
        XCTAssertTrue(line(s, containing: "PB-0003").contains("DX") || line(s, containing: "PB-0003").contains("CR"), s)
        t.keys("Enter")
        // The case opens with its diagnosis once imported.
        s = t.wait(for: "p(all) − p(none)", timeout: 120)
        XCTAssertTrue(s.contains(" PB-0003"), s)
        t.keys("Escape")
        // Back in the list: the imported case is the eighth.
        s = t.wait(for: "8 cases")
        XCTAssertTrue(s.contains("PB-0003"), s)
        t.keys("q")
        XCTAssertTrue(t.wait(for: "STTY-DONE").contains("EXITED 0"))
    }
}

/// A fresh database on the throwaway cluster of scripts/postgres-test-server, or a skip (a
/// failure when TUMORBOARD_REQUIRE_POSTGRES=1, as in CI).
struct PostgresTestDatabase {
    var url: String
    var passFile: String

    static func make() throws -> PostgresTestDatabase {
        let envFile = (ProcessInfo.processInfo.environment["TUMORBOARD_PG_DIR"] ?? "/tmp/tumorboard-pg-test") + "/server.env"
        let required = ProcessInfo.processInfo.environment["TUMORBOARD_REQUIRE_POSTGRES"] == "1"
        guard let text = try? String(contentsOfFile: envFile, encoding: .utf8) else {
            let why = "no PostgreSQL test server (\(envFile)); start it with scripts/postgres-test-server start"
            if required { XCTFail(why + "; TUMORBOARD_REQUIRE_POSTGRES=1 requires it") }
            throw XCTSkip(why)
        }
        var env: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let kv = line.split(separator: "=", maxSplits: 1).map(String.init)
            if kv.count == 2 { env[kv[0]] = kv[1] }
        }
        guard let url = env["URL"], let pass = env["PGPASSFILE"], let bin = env["BIN"], let port = env["PORT"] else {
            throw XCTSkip("\(envFile) is incomplete")
        }
        let name = "tb_e2e_\(UUID().uuidString.prefix(8).lowercased())"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin + "/createdb")
        p.arguments = ["-h", "127.0.0.1", "-p", port, "-U", "tumorboard", name]
        p.environment = ProcessInfo.processInfo.environment.merging(["PGPASSFILE": pass]) { $1 }
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            if required { XCTFail("createdb \(name) failed") }
            throw XCTSkip("createdb \(name) failed: is the PostgreSQL test server running?")
        }
        return PostgresTestDatabase(url: "\(url)/\(name)", passFile: pass)
    }
}
