import Foundation
import XCTest
@testable import Cases

/// Concurrency and crash tests with real processes.
///
/// How: the test re-runs its own test binary (/proc/self/exe, the .xctest executable) with
/// the argument `CasesTests.ProcessTests/testChildProcess`, which XCTest runs as the only
/// test, and with TUMORBOARD_TEST_CHILD set; that test method then acts as a writer (or a
/// writer to be killed) on the store named in the environment. Without the variable the
/// method does nothing. No helper target and no fork() (unsafe after threads started).
final class ProcessTests: XCTestCase {
    static let labsPerCase = 12

    /// The child's work, driven by the environment.
    func testChildProcess() throws {
        let env = ProcessInfo.processInfo.environment
        guard let mode = env["TUMORBOARD_TEST_CHILD"], let path = env["TUMORBOARD_TEST_STORE"] else { return }
        let prefix = env["TUMORBOARD_TEST_PREFIX"] ?? "X"
        let count = Int(env["TUMORBOARD_TEST_COUNT"] ?? "") ?? 100
        if mode == "writer" {
            // Start together (opening, and so creating and migrating, a new store at the same
            // moment): say ready, wait for the parent's go.
            FileManager.default.createFile(atPath: path + ".ready-" + prefix, contents: Data())
            let deadline = Date().addingTimeInterval(60)
            while !FileManager.default.fileExists(atPath: path + ".go"), Date() < deadline { usleep(1_000) }
        }
        let store = try CaseStore(path: path, user: prefix)
        let labs = (0..<Self.labsPerCase).map { LabResult(marker: "alp", value: Double($0 + 100), unit: "U/L") }
        switch mode {
        case "writer":
            try store.add(CaseRecord(id: "SHARED"), ifExists: .skip)
            for i in 0..<count {
                try store.add(CaseRecord(id: "\(prefix)-\(i)", age: i % 90, sex: .female, labs: labs))
                try store.addLab("SHARED", LabResult(marker: "ldh", value: Double(i), unit: "U/L"))
                usleep(300) // a pause between changes, as people make them, lets the other writer in
            }
        case "crash":
            // Write until killed; a file tells the parent that commits are happening.
            var i = 0
            while true {
                try store.add(CaseRecord(id: "\(prefix)-\(i)", age: 40, sex: .male, labs: labs))
                try store.addLabs("SHARED", labs)
                if i == 5 { FileManager.default.createFile(atPath: path + ".writing", contents: Data()) }
                i += 1
            }
        default:
            XCTFail("unknown child mode \(mode)")
        }
    }

    func spawn(mode: String, store: String, prefix: String, count: Int = 0) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        p.arguments = ["CasesTests.ProcessTests/testChildProcess"]
        var env = ProcessInfo.processInfo.environment
        env["TUMORBOARD_TEST_CHILD"] = mode
        env["TUMORBOARD_TEST_STORE"] = store
        env["TUMORBOARD_TEST_PREFIX"] = prefix
        env["TUMORBOARD_TEST_COUNT"] = String(count)
        p.environment = env
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("tumorboard-child-\(prefix)-\(getpid()).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        p.standardOutput = handle
        p.standardError = handle
        addTeardownBlock { try? FileManager.default.removeItem(at: log) }
        try p.run()
        return p
    }

    func childLog(_ prefix: String) -> String {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("tumorboard-child-\(prefix)-\(getpid()).log")
        return (try? String(contentsOf: log, encoding: .utf8)) ?? ""
    }

    /// Two processes create the same new store at once, then write it at once (new cases, and
    /// labs on one shared case): nothing is lost, every change has its audit row, the file is
    /// consistent.
    func testTwoWriterProcessesLoseNothing() throws {
        guard ProcessInfo.processInfo.environment["TUMORBOARD_TEST_CHILD"] == nil else { return }
        let dir = try temporaryFolder(self)
        let path = dir.appendingPathComponent("cases.sqlite").path
        let n = 150
        let a = try spawn(mode: "writer", store: path, prefix: "A", count: n)
        let b = try spawn(mode: "writer", store: path, prefix: "B", count: n)
        let deadline = Date().addingTimeInterval(60)
        while !(FileManager.default.fileExists(atPath: path + ".ready-A") && FileManager.default.fileExists(atPath: path + ".ready-B")),
              a.isRunning || b.isRunning, Date() < deadline { usleep(2_000) }
        let start = Date()
        _ = FileManager.default.createFile(atPath: path + ".go", contents: Data())
        a.waitUntilExit()
        b.waitUntilExit()
        let seconds = Date().timeIntervalSince(start)
        XCTAssertEqual(a.terminationStatus, 0, childLog("A"))
        XCTAssertEqual(b.terminationStatus, 0, childLog("B"))
        XCTAssertFalse(childLog("A").contains("error"), childLog("A"))
        let s = try CaseStore(path: path, user: "parent")
        XCTAssertEqual(try s.count(), 2 * n + 1)
        XCTAssertEqual(try s.load("SHARED").labs.count, 2 * n)
        XCTAssertEqual(try s.load("A-\(n - 1)").labs.count, Self.labsPerCase)
        let trail = try s.auditTrail()
        for user in ["A", "B"] {
            XCTAssertEqual(trail.filter { $0.user == user && $0.action == "lab added" }.count, n)
            XCTAssertEqual(trail.filter { $0.user == user && $0.action == "created" && $0.caseID != "SHARED" }.count, n)
        }
        XCTAssertEqual(trail.filter { $0.caseID == "SHARED" && $0.action == "created" }.count, 1)
        XCTAssertEqual(try s.fileSchemaVersion(), CaseStore.schemaVersion)
        // The two writers really interleaved on the shared case.
        let sharedUsers = try s.auditTrail("SHARED").map(\.user).dropFirst()
        let switches = zip(sharedUsers, sharedUsers.dropFirst()).filter { $0 != $1 }.count
        // Not asserted: SQLite's busy handler is not fair, so one writer may hold the lock
        // for a while; the point is that neither loses a write while the other writes.
        XCTAssertEqual(try s.integrityCheck(), "ok")
        print("two writer processes: \(4 * n) transactions in \(String(format: "%.2f", seconds)) s, \(switches) writer switches on the shared case")
    }

    /// kill -9 in the middle of writing: the store opens, passes integrity_check, and every
    /// case holds all of its labs or is absent (no half-written transaction).
    func testKill9WhileWritingLeavesTheStoreConsistent() throws {
        guard ProcessInfo.processInfo.environment["TUMORBOARD_TEST_CHILD"] == nil else { return }
        let dir = try temporaryFolder(self)
        let path = dir.appendingPathComponent("cases.sqlite").path
        try CaseStore(path: path, user: "parent").add(CaseRecord(id: "SHARED"))
        let p = try spawn(mode: "crash", store: path, prefix: "K")
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: path + ".writing") {
            guard p.isRunning, Date() < deadline else {
                XCTFail("the writer never started: \(childLog("K"))")
                return
            }
            usleep(10_000)
        }
        usleep(UInt32.random(in: 50_000...250_000))
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal)
        XCTAssertEqual(p.terminationStatus, SIGKILL)
        let s = try CaseStore(path: path, user: "parent")
        XCTAssertEqual(try s.integrityCheck(), "ok")
        let ids = try s.caseIDs().filter { $0.hasPrefix("K-") }
        XCTAssertGreaterThan(ids.count, 5)
        for id in ids { XCTAssertEqual(try s.load(id).labs.count, Self.labsPerCase, id) }
        // Each committed batch of shared labs has exactly one audit row.
        let shared = try s.load("SHARED").labs.count
        XCTAssertEqual(shared % Self.labsPerCase, 0)
        XCTAssertEqual(try s.auditTrail("SHARED").filter { $0.action == "labs added" }.count, shared / Self.labsPerCase)
        XCTAssertEqual(try s.auditTrail().filter { $0.action == "created" && $0.caseID.hasPrefix("K-") }.count, ids.count)
        // And the store takes writes again.
        try s.add(CaseRecord(id: "AFTER"))
        print("kill -9 after \(ids.count) committed cases: store consistent")
    }
}
