import Foundation
import TestSupport
import XCTest

/// `tumorboard eval` as a process: Ctrl-C stops it with no report, a bad --data is named.
final class EvalCommandLineTests: XCTestCase {
    var executable: URL? { builtTumorboard() }

    static var repository: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }

    func testCtrlCStopsCleanlyWithNoReport() throws {
        guard let exe = executable else { throw XCTSkip("tumorboard executable not found next to the test bundle") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-evalcli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("report")
        let p = Process()
        p.executableURL = exe
        p.arguments = ["eval", "--data", Self.repository.appendingPathComponent("samples").path, "--out", out.path]
        // Standard error into a file, read while it runs.
        let log = dir.appendingPathComponent("stderr.txt")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        p.standardError = handle
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(60)
        func text() -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
        while !text().contains("Ctrl-C stops"), Date() < deadline, p.isRunning { usleep(20_000) }
        XCTAssertTrue(text().contains("Ctrl-C stops"), text())
        p.interrupt()
        p.waitUntilExit()
        try handle.close()
        let stderr = text()
        try FileManager.default.removeItem(at: log)
        XCTAssertEqual(p.terminationStatus, 130, stderr)
        XCTAssertTrue(stderr.contains("stopped after") && stderr.contains("of 7 cases; no report written"), stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "no report")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [], "no staging folder either")
    }

    func testABadDataPathIsNamed() throws {
        guard let exe = executable else { throw XCTSkip("tumorboard executable not found next to the test bundle") }
        let p = Process()
        p.executableURL = exe
        p.arguments = ["eval", "--data", "/nonexistent/cases", "--out", "/tmp/never-written-\(UUID().uuidString)"]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 1)
        XCTAssertTrue(stderr.contains("/nonexistent/cases: no such file or folder"), stderr)
    }
}
