import Cases
import Foundation
import Imaging
import TestSupport
import XCTest

/// `tumorboard import` through the real executable: the summary, the exit status (0 nothing
/// refused, 1 something refused, 2 usage or store unusable), progress lines, output errors.
final class ImportCommandTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-import-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    struct Run { let status: Int32; let signalled: Bool; let stdout: String; let stderr: String }

    func run(_ args: [String], stdout: FileHandle? = nil) throws -> Run {
        guard let exe = builtTumorboard() else { throw XCTSkip("tumorboard executable not found next to the test bundle (swift build --product tumorboard)") }
        let p = Process()
        p.executableURL = exe
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = stdout ?? out
        p.standardError = err
        try p.run()
        let o = stdout == nil ? out.fileHandleForReading.readDataToEndOfFile() : Data()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, signalled: p.terminationReason == .uncaughtSignal,
                   stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    /// A case folder with one 16 x 12 PNG radiograph; `age` is written as given (a bad one too).
    func caseFolder(_ parent: URL, _ id: String, age: Any = 40) throws -> URL {
        let folder = parent.appendingPathComponent(id)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Image(width: 16, height: 12, colour: .grey, pixels: (0..<192).map { UInt8($0) }).writePNG(to: folder.appendingPathComponent("r.png"))
        let manifest: [String: Any] = ["format": "tumorboard-case", "format_version": 1, "id": id, "age": age, "sex": "F",
                                       "radiographs": [["file": "r.png"]]]
        try JSONSerialization.data(withJSONObject: manifest).write(to: folder.appendingPathComponent("case.json"))
        return folder
    }

    var store: String { dir.appendingPathComponent("store/cases.sqlite").path }

    func testBatchWithABadFileExits1AndASecondRunChangesNothing() throws {
        let batch = dir.appendingPathComponent("batch")
        let good = try caseFolder(batch, "GOOD-1")
        let bad = try caseFolder(batch, "BAD-1", age: "forty")
        let notDICOM = dir.appendingPathComponent("scan.dcm")
        try Data("not a DICOM file".utf8).write(to: notDICOM)

        let first = try run(["import", batch.path, notDICOM.path, "--store", store])
        XCTAssertFalse(first.signalled)
        XCTAssertEqual(first.status, 1, first.stdout + first.stderr)
        let lines = first.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "imported 1: GOOD-1")
        XCTAssertTrue(lines.contains("already present 0"), first.stdout)
        XCTAssertTrue(lines.contains("refused 2:"), first.stdout)
        XCTAssertTrue(lines.contains { $0.contains(bad.appendingPathComponent("case.json").path) && $0.contains("'age'") }, first.stdout)
        XCTAssertTrue(lines.contains { $0.contains(notDICOM.path) && $0.contains("not a DICOM file") }, first.stdout)
        XCTAssertTrue(lines.contains("store: \(store)"), first.stdout)
        XCTAssertFalse(first.stderr.contains("importing"), "progress for 2 cases on a pipe: \(first.stderr)")

        let s = try CaseStore(path: store)
        XCTAssertEqual(try s.caseIDs(), ["GOOD-1"])
        XCTAssertEqual(try s.integrityCheck(), "ok")
        let trail = try s.auditTrail()

        let again = try run(["import", good.path, "--store", store])
        XCTAssertEqual(again.status, 0, again.stdout + again.stderr)
        XCTAssertTrue(again.stdout.hasPrefix("imported 0\nalready present 1 (already in the store, unchanged): GOOD-1\nrefused 0\n"), again.stdout)
        XCTAssertEqual(try s.auditTrail(), trail)
    }

    func testUsageErrorsAndAnUnusableStoreExit2() throws {
        let a = try caseFolder(dir, "A-1"), b = try caseFolder(dir, "B-1")
        for (args, expect) in [
            (["import", "--store", store], "nothing to import"),
            (["import", a.path, b.path, "--case-id", "X-1", "--store", store], "--case-id describes one case"),
            (["import", a.path, "--age", "ten", "--store", store], "--age must be whole years"),
            (["import", a.path, "--sex", "x", "--store", store], "--sex must be F or M"),
        ] {
            let r = try run(args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(expect), "\(args): '\(r.stderr)' lacks '\(expect)'")
            XCTAssertEqual(r.stdout, "")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: store), "a usage error created the store")
        let notes = dir.appendingPathComponent("notes.sqlite")
        try Data("some notes, not a store\n".utf8).write(to: notes)
        let r = try run(["import", a.path, "--store", notes.path])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains(notes.path) && r.stderr.contains("not an SQLite database") && r.stderr.contains("nothing was imported"), r.stderr)
        XCTAssertEqual(try String(contentsOf: notes, encoding: .utf8), "some notes, not a store\n")
    }

    /// Standard error is a pipe here, not a terminal: a progress line every 500 cases, no more.
    func testProgressLinesEvery500CasesWhenNotATerminal() throws {
        let ds = dir.appendingPathComponent("ds")
        try FileManager.default.createDirectory(at: ds.appendingPathComponent("images"), withIntermediateDirectories: true)
        let png = dir.appendingPathComponent("tiny.png")
        try Image(width: 8, height: 8, colour: .grey, pixels: [UInt8](repeating: 7, count: 64)).writePNG(to: png)
        var csv = "image_id,label,age,sex\n"
        for i in 1...1000 {
            let id = String(format: "IMG%06d", i)
            try FileManager.default.copyItem(at: png, to: ds.appendingPathComponent("images/\(id).png"))
            csv += "\(id),normal,30,F\n"
        }
        try csv.write(to: ds.appendingPathComponent("cases.csv"), atomically: true, encoding: .utf8)
        let r = try run(["import", ds.path, "--store", store])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "importing 500/1000\nimporting 1000/1000\n")
        XCTAssertTrue(r.stdout.hasPrefix("imported 1000: BTXRD-IMG000001"), r.stdout)
        XCTAssertEqual(try CaseStore(path: store).count(), 1000)
    }

    func testFullStandardOutputIsAnErrorNotACrash() throws {
        guard let full = FileHandle(forWritingAtPath: "/dev/full") else { throw XCTSkip("no /dev/full") }
        let a = try caseFolder(dir, "A-1")
        let r = try run(["import", a.path, "--store", store], stdout: full)
        XCTAssertFalse(r.signalled)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("cannot write to standard output"), r.stderr)
    }
}
