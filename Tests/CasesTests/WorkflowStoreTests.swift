import Foundation
import XCTest
import Imaging
@testable import Cases

/// The store under the workflows: the per-case version check, sign-off and reopening, lab
/// entry and correction, slide entry with its field checks, file modes, damaged rows.
/// Runs on SQLite; `WorkflowStoreTestsOnPostgreSQL` runs the same tests on PostgreSQL.
class WorkflowStoreTests: XCTestCase {
    class var backend: TestBackend { .sqlite }
    var backend: TestBackend { Self.backend }

    func store(_ dir: URL, user: String = "tester") throws -> CaseStore {
        try CaseStore(path: try backend.location(dir), user: user)
    }

    func testVersionGoesUpWithEachEditAndAStaleSaveIsRefusedNamingWhoAndWhen() throws {
        let dir = try temporaryFolder(self)
        let ana = try store(dir, user: "ana"), bo = try store(dir, user: "bo")
        try ana.add(CaseRecord(id: "C1", age: 15, sex: .male))
        let v0 = try ana.version(of: "C1")
        // Both opened the case at v0; bo saves first.
        try bo.setReviewNote("C1", "bo's note", expectedVersion: v0)
        XCTAssertEqual(try ana.version(of: "C1"), v0 + 1)
        do {
            try ana.setReviewNote("C1", "ana's note", expectedVersion: v0)
            XCTFail("a save over a newer version must be refused")
        } catch let CaseError.conflict(id, by, at, action) {
            XCTAssertEqual(id, "C1"); XCTAssertEqual(by, "bo"); XCTAssertEqual(action, "review note edited")
            XCTAssertEqual(at, try ana.auditTrail("C1").last?.at)
        }
        // Nothing of ana's was saved, and no audit row claims it was.
        XCTAssertEqual(try ana.load("C1").review?.note, "bo's note")
        XCTAssertFalse(try ana.auditTrail("C1").contains { $0.user == "ana" && $0.action != "created" })
        // With the version she now reads, her save goes through.
        try ana.setReviewNote("C1", "ana's note", expectedVersion: try ana.version(of: "C1"))
        XCTAssertEqual(try bo.load("C1").review?.note, "ana's note")
        // Kept model results are not edits: they leave the version alone.
        let v = try ana.version(of: "C1"), token = try bo.changeToken()
        try ana.addFinding("C1", Finding(createdAt: "2026-01-05T10:00:00Z", models: ["d": "1"], probabilities: ["benign": 1]))
        XCTAssertEqual(try ana.version(of: "C1"), v)
        // ... nor the token another workstation polls; an edit does (on PostgreSQL when the
        // notification arrives, so both are read over a moment; a token is only compared with
        // the same store's earlier ones).
        if backend == .postgresql { Thread.sleep(forTimeInterval: 0.3) }
        XCTAssertEqual(try bo.changeToken(), token)
        try ana.setReviewNote("C1", "again")
        let deadline = Date().addingTimeInterval(1)
        var moved = try bo.changeToken() != token
        while !moved && Date() < deadline { Thread.sleep(forTimeInterval: 0.01); moved = try bo.changeToken() != token }
        XCTAssertTrue(moved, "bo's token did not move within a second of ana's edit")
        XCTAssertEqual(try ana.versions()["C1"], v + 1)
    }

    func testASignedCaseIsReadOnlyUntilReopenedWithAReason() throws {
        let dir = try temporaryFolder(self)
        let s = try store(dir, user: "dr-ana")
        try s.add(CaseRecord(id: "C1", age: 15, sex: .male))
        try writePNG(dir.appendingPathComponent("slide.png"))
        try s.setReviewNote("C1", "agree: osteosarcoma")
        try s.signOff("C1")
        let signed = try s.load("C1").review
        XCTAssertEqual(signed?.signedOffBy, "dr-ana")
        let refusals: [() throws -> Void] = [
            { try s.setReviewNote("C1", "changed my mind") },
            { try s.signOff("C1") },
            { try s.setLab("C1", LabResult(marker: "alp", value: 100, unit: "U/L")) },
            { try s.addLab("C1", LabResult(marker: "alp", value: 100, unit: "U/L")) },
            { try s.addSlide("C1", entry: SlideEntry(slideID: "S1", file: dir.appendingPathComponent("slide.png").path), roots: [dir.path]) },
            { try s.setClinicalNote("C1", "x") },
        ]
        for change in refusals { assertThrowsMessage(change, contains: ["C1", "signed off by dr-ana", "reopen"]) }
        XCTAssertEqual(try s.load("C1").review, signed)
        XCTAssertEqual(try s.load("C1").labs, [])
        // A model result is still kept on a signed case.
        try s.addFinding("C1", Finding(createdAt: "2026-01-05T10:00:00Z", models: ["d": "1"], probabilities: ["benign": 1]))
        // Reopening needs a reason, and only a signed case can be reopened.
        assertThrowsMessage({ try s.reopen("C1", reason: "  ") }, contains: ["reason"])
        try s.reopen("C1", reason: "new slide from the second biopsy")
        XCTAssertNil(try s.load("C1").review?.signedOffBy)
        XCTAssertEqual(try s.load("C1").review?.note, "agree: osteosarcoma")
        assertThrowsMessage({ try s.reopen("C1", reason: "again") }, contains: ["not signed off"])
        try s.setLab("C1", LabResult(marker: "alp", value: 100, unit: "U/L"))
        let trail = try s.auditTrail("C1")
        let reopened = try XCTUnwrap(trail.first { $0.action == "reopened" })
        XCTAssertEqual(reopened.user, "dr-ana")
        XCTAssertTrue(reopened.detail.contains("signed off by dr-ana"), reopened.detail)
        XCTAssertTrue(reopened.detail.contains("reason: new slide from the second biopsy"), reopened.detail)
        XCTAssertEqual(trail.map(\.action), ["created", "review note edited", "signed off", "finding added", "reopened", "lab added"])
    }

    func testSetLabAddsCorrectsAndRefusesWithAReason() throws {
        let dir = try temporaryFolder(self)
        let s = try store(dir, user: "lab")
        try s.add(CaseRecord(id: "C1", age: 15, sex: .male, labs: [LabResult(marker: "alp", value: 612, unit: "U/L", date: "2026-01-04")]))
        // Same marker, same date: a correction, not a second result.
        XCTAssertEqual(try s.setLab("C1", LabResult(marker: "alp", value: 216, unit: "U/L", date: "2026-01-04")),
                       "corrected alp 612.0 U/L -> 216.0 U/L on 2026-01-04")
        XCTAssertEqual(try s.load("C1").labs, [LabResult(marker: "alp", value: 216, unit: "U/L", date: "2026-01-04")])
        // Another date: a new result (the newest date is what the models read).
        XCTAssertEqual(try s.setLab("C1", LabResult(marker: "alp", value: 300, unit: "U/L", date: "2026-02-01")), "added alp 300.0 U/L on 2026-02-01")
        XCTAssertEqual(try s.load("C1").labs.panelForDiagnosis().first?.value, 300)
        // An undated result beside dated ones could not be ordered: refused, naming the marker.
        assertThrowsMessage({ try s.setLab("C1", LabResult(marker: "alp", value: 5, unit: "U/L")) }, contains: ["C1", "alp", "results"])
        assertThrowsMessage({ try s.setLab("C1", LabResult(marker: "tsh", value: 1, unit: "mU/L")) }, contains: ["tsh"])
        assertThrowsMessage({ try s.setLab("C1", LabResult(marker: "calcium", value: 2, unit: "mEq/L")) }, contains: ["mEq/L"])
        assertThrowsMessage({ try s.setLab("C1", LabResult(marker: "calcium", value: -2, unit: "mmol/L")) }, contains: ["Calcium"])
        assertThrowsMessage({ try s.setLab("C1", LabResult(marker: "calcium", value: .nan, unit: "mmol/L")) }, contains: ["Calcium"])
        assertThrowsMessage({ try s.setLab("C1", LabResult(marker: "calcium", value: 2, unit: "mmol/L", date: "2026-13-45")) }, contains: ["2026-13-45"])
        XCTAssertEqual(try s.load("C1").labs.count, 2)
        XCTAssertEqual(try s.auditTrail("C1").map(\.action), ["created", "lab corrected", "lab added"])
        XCTAssertEqual(try s.auditTrail("C1")[1].detail, "alp 612.0 U/L -> 216.0 U/L on 2026-01-04")
    }

    func testLabEntryNamesTheFieldAndTheReason() throws {
        try backend.sqliteOnly("no store involved, so it runs once")
        let c = try BiomarkerCatalog.bundled
        func problems(_ e: LabEntry) -> [LabEntry.Field: String] {
            if case .failure(let p) = e.result(catalog: c) { return p.fields }
            return [:]
        }
        XCTAssertEqual(try LabEntry(marker: "ALP", value: "612", unit: "U/L").result(catalog: c).get(),
                       LabResult(marker: "alp", value: 612, unit: "U/L"))
        XCTAssertEqual(try LabEntry(marker: "Lactate dehydrogenase", value: "-0", unit: "U/L", date: "2026-01-02").result(catalog: c).get(),
                       LabResult(marker: "ldh", value: 0, unit: "U/L", date: "2026-01-02"))
        XCTAssertEqual(problems(LabEntry(marker: "", value: "", unit: "")).keys.sorted { $0.rawValue < $1.rawValue }, [.marker, .unit, .value])
        XCTAssertTrue(problems(LabEntry(marker: "tsh", value: "1", unit: "mU/L"))[.marker]?.contains("unknown blood biomarker 'tsh'") == true)
        XCTAssertTrue(problems(LabEntry(marker: "alp", value: "-3", unit: "U/L"))[.value]?.contains("from 0 to under 1000000") == true)
        for bad in ["nan", "NaN", "inf", "-inf", "1e400", "12abc", "twelve"] {
            XCTAssertNotNil(problems(LabEntry(marker: "alp", value: bad, unit: "U/L"))[.value], bad)
        }
        XCTAssertTrue(problems(LabEntry(marker: "alp", value: "1,5", unit: "U/L"))[.value]?.contains("'.'") == true)
        XCTAssertTrue(problems(LabEntry(marker: "calcium", value: "2", unit: "mEq/L"))[.unit]?.contains("mmol/L") == true)
        XCTAssertNotNil(problems(LabEntry(marker: "alp", value: "2", unit: "U/L", date: "2026-02-30"))[.date])
    }

    func testSlideEntryIsCheckedFieldByField() throws {
        let dir = try temporaryFolder(self)
        let root = dir.appendingPathComponent("scans"), outside = dir.appendingPathComponent("elsewhere")
        for f in [root, outside] { try FileManager.default.createDirectory(at: f, withIntermediateDirectories: true) }
        try writePNG(root.appendingPathComponent("s1.png"))
        try writePNG(outside.appendingPathComponent("s2.png"))
        try Data("not an image".utf8).write(to: root.appendingPathComponent("notes.png"))
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("escape.png").path,
                                                   withDestinationPath: outside.appendingPathComponent("s2.png").path)
        let roots = [realPath(root.path)!]
        let existing = [SlideReference(slideID: "S26-1", file: "/x.png")]
        func problems(_ e: SlideEntry) -> [SlideEntry.Field: String] { e.problems(existing: existing, roots: roots, directory: root.path) }

        XCTAssertEqual(problems(SlideEntry(slideID: "S26-2", block: "A1", stain: "H&E", file: "s1.png")), [:])
        XCTAssertEqual(problems(SlideEntry(slideID: "", file: "s1.png"))[.slideID], "required")
        XCTAssertNotNil(problems(SlideEntry(slideID: "bad id!", file: "s1.png"))[.slideID])
        XCTAssertNotNil(problems(SlideEntry(slideID: "-lead", file: "s1.png"))[.slideID])
        XCTAssertTrue(problems(SlideEntry(slideID: "S26-1", file: "s1.png"))[.slideID]?.contains("already") == true)
        XCTAssertNotNil(problems(SlideEntry(slideID: "S2", block: "A 1", file: "s1.png"))[.block])
        XCTAssertNotNil(problems(SlideEntry(slideID: "S2", stain: "Glitter", file: "s1.png"))[.stain])
        XCTAssertEqual(problems(SlideEntry(slideID: "S2", file: ""))[.file], "required")
        XCTAssertTrue(problems(SlideEntry(slideID: "S2", file: "nope.png"))[.file]?.contains("no such file") == true)
        XCTAssertTrue(problems(SlideEntry(slideID: "S2", file: outside.appendingPathComponent("s2.png").path))[.file]?.contains("outside the allowed folders") == true)
        // A link inside the root that leads out of it is judged by where it leads.
        XCTAssertTrue(problems(SlideEntry(slideID: "S2", file: "escape.png"))[.file]?.contains("outside the allowed folders") == true)
        XCTAssertTrue(problems(SlideEntry(slideID: "S2", file: "notes.png"))[.file]?.contains("notes.png") == true)
        XCTAssertTrue(problems(SlideEntry(slideID: "S2", file: "../scans/../elsewhere/s2.png"))[.file]?.contains("outside") == true)
        // ~ is the home folder, and home is an allowed root by default.
        XCTAssertEqual(SlideEntry(file: "~/a.png").absoluteFile(directory: "/tmp", home: "/home/ana"), "/home/ana/a.png")
        XCTAssertTrue(SlideEntry.allowedRoots(environment: ["HOME": root.path, "TUMORBOARD_SLIDE_ROOTS": "\(outside.path):relative:/does/not/exist"])
            == [realPath(root.path)!, realPath(outside.path)!])

        // Saved through the store: resolved path, digest, who, audit.
        let s = try store(dir, user: "dr-path")
        try s.add(CaseRecord(id: "C1", age: 15, sex: .male))
        try s.addSlide("C1", entry: SlideEntry(slideID: "S26-2", block: "A1", stain: "IHC", file: "s1.png"), roots: roots, directory: root.path)
        let slide = try XCTUnwrap(try s.load("C1").slides.first)
        XCTAssertEqual(slide.file, realPath(root.appendingPathComponent("s1.png").path))
        XCTAssertEqual(slide.sha256, try SHA256Digest.hex(ofFile: root.appendingPathComponent("s1.png")))
        XCTAssertEqual(slide.enteredBy, "dr-path")
        XCTAssertEqual(slide.stain, "IHC")
        assertThrowsMessage({ try s.addSlide("C1", entry: SlideEntry(slideID: "S26-2", file: "s1.png"), roots: roots, directory: root.path) },
                            contains: ["Slide ID", "already"])
        XCTAssertEqual(try s.auditTrail("C1").map(\.action), ["created", "slide added"])
    }

    func testANewStoreAndItsWALAreForOwnerAndGroupOnly() throws {
        try backend.sqliteOnly("the store file's mode")
        let dir = try temporaryFolder(self)
        let old = umask(0o022)
        defer { umask(old) }
        let s = try store(dir)
        try s.add(CaseRecord(id: "C1"))
        for suffix in ["", "-wal", "-shm"] {
            let path = s.path + suffix
            guard FileManager.default.fileExists(atPath: path) else { continue }
            var st = stat()
            XCTAssertEqual(stat(path, &st), 0)
            XCTAssertEqual(st.st_mode & 0o777, 0o660, "\(path) mode \(String(st.st_mode & 0o777, radix: 8))")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: s.path + "-wal"))
    }

    func testAnOldEmptyFileIsNotTakenForAStore() throws {
        try backend.sqliteOnly("a 0-byte store file")
        let dir = try temporaryFolder(self)
        let path = dir.appendingPathComponent("empty.sqlite").path
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data()))
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-60)], ofItemAtPath: path)
        assertThrowsMessage({ _ = try CaseStore(path: path) }, contains: ["empty.sqlite", "0-byte"])
        XCTAssertEqual((try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue, 0)
    }

    func testAMalformedRowCostsItsCaseNotTheStore() throws {
        let dir = try temporaryFolder(self)
        let s = try store(dir)
        try s.add(CaseRecord(id: "GOOD", age: 3, sex: .female))
        try s.add(CaseRecord(id: "BAD", radiographs: [Radiograph(file: "/x.png")]))
        try backend.runSQL(try backend.location(dir), "UPDATE radiographs SET boxes = '{not json' WHERE case_id = 'BAD';")
        let found = try s.allRecordsReportingProblems()
        XCTAssertEqual(found.records.map(\.id), ["GOOD"])
        XCTAssertEqual(found.problems.count, 1)
        for part in ["case BAD", "table radiographs", "column boxes"] { XCTAssertTrue(found.problems[0].contains(part), found.problems[0]) }
        assertThrowsMessage({ _ = try s.load("BAD") }, contains: ["case BAD", "radiographs"])
        XCTAssertEqual(try s.load("GOOD").age, 3)
    }
}

/// The same tests on PostgreSQL (XCTest on Linux runs only the test methods a class declares itself).
final class WorkflowStoreTestsOnPostgreSQL: WorkflowStoreTests {
    override class var backend: TestBackend { .postgresql }
    override func testVersionGoesUpWithEachEditAndAStaleSaveIsRefusedNamingWhoAndWhen() throws { try super.testVersionGoesUpWithEachEditAndAStaleSaveIsRefusedNamingWhoAndWhen() }
    override func testASignedCaseIsReadOnlyUntilReopenedWithAReason() throws { try super.testASignedCaseIsReadOnlyUntilReopenedWithAReason() }
    override func testSetLabAddsCorrectsAndRefusesWithAReason() throws { try super.testSetLabAddsCorrectsAndRefusesWithAReason() }
    override func testLabEntryNamesTheFieldAndTheReason() throws { try super.testLabEntryNamesTheFieldAndTheReason() }
    override func testSlideEntryIsCheckedFieldByField() throws { try super.testSlideEntryIsCheckedFieldByField() }
    override func testANewStoreAndItsWALAreForOwnerAndGroupOnly() throws { try super.testANewStoreAndItsWALAreForOwnerAndGroupOnly() }
    override func testAnOldEmptyFileIsNotTakenForAStore() throws { try super.testAnOldEmptyFileIsNotTakenForAStore() }
    override func testAMalformedRowCostsItsCaseNotTheStore() throws { try super.testAMalformedRowCostsItsCaseNotTheStore() }
}
