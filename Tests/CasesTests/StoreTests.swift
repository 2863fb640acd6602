import Foundation
import XCTest
@testable import Cases

/// Runs on SQLite; `StoreTestsOnPostgreSQL` runs the same tests on PostgreSQL.
class StoreTests: XCTestCase {
    class var backend: TestBackend { .sqlite }
    var backend: TestBackend { Self.backend }

    func store(_ dir: URL, user: String = "tester") throws -> CaseStore {
        try CaseStore(path: try backend.location(dir, "store/cases.sqlite"), user: user)
    }

    func testDefaultPathFollowsEnvironment() throws {
        try backend.sqliteOnly("no store involved, so it runs once")
        XCTAssertEqual(CaseStore.defaultPath(environment: ["TUMORBOARD_STORE": "/x/y.sqlite", "HOME": "/h"]), "/x/y.sqlite")
        XCTAssertEqual(CaseStore.defaultPath(environment: ["XDG_DATA_HOME": "/d", "HOME": "/h"]), "/d/tumorboard/cases.sqlite")
        XCTAssertEqual(CaseStore.defaultPath(environment: ["HOME": "/h"]), "/h/.local/share/tumorboard/cases.sqlite")
        XCTAssertEqual(currentUserName(environment: ["LOGNAME": "ana"], lookUp: false), "ana")
        XCTAssertEqual(currentUserName(environment: ["USER": "bo", "LOGNAME": "ana"], lookUp: false), "bo")
        // The login comes from the password database, not from a USER anyone can set.
        let login = String(cString: getpwuid(getuid()).pointee.pw_name)
        XCTAssertEqual(currentUserName(environment: ["USER": "someone-else"]), login)
    }

    func testCreatesWALStoreAtCurrentSchemaAndRefusesNewerSchema() throws {
        let dir = try temporaryFolder(self)
        let s = try store(dir)
        XCTAssertEqual(try s.journalMode(), backend == .sqlite ? "wal" : "postgresql")
        XCTAssertEqual(try s.fileSchemaVersion(), CaseStore.schemaVersion)
        XCTAssertEqual(try s.integrityCheck(), "ok")
        // Reopening migrates nothing and keeps data.
        try s.add(CaseRecord(id: "A1", age: 10, sex: .female))
        let again = try store(dir)
        XCTAssertEqual(try again.caseIDs(), ["A1"])
        // A store from a newer TumorBoard is refused, not silently used.
        let newer = try backend.location(dir, "newer.sqlite")
        let named = try CaseStore(path: newer).path
        try backend.runSQL(newer, backend == .sqlite ? "PRAGMA user_version = 99"
                                                    : "INSERT INTO tumorboard_schema (version, name, applied_at) VALUES (99, 'future', 'x')")
        assertThrowsMessage({ _ = try CaseStore(path: newer) }, contains: [named, "schema version 99", "newer TumorBoard"])
    }

    /// A version-1 store (as an older TumorBoard left it) is migrated to the current schema.
    func testMigratesAnOlderStore() throws {
        try backend.sqliteOnly("SQLite's version-1 schema; a PostgreSQL store starts at version 4")
        let dir = try temporaryFolder(self)
        let path = dir.appendingPathComponent("v1.sqlite").path
        try runSQLite(path, CaseStore.migrations[0].sql + "\nPRAGMA user_version = 1;\nINSERT INTO cases (id, created_at, updated_at) VALUES ('OLD', 'x', 'x');")
        let s = try CaseStore(path: path, user: "t")
        XCTAssertEqual(try s.fileSchemaVersion(), CaseStore.schemaVersion)
        XCTAssertEqual(try s.caseIDs(), ["OLD"])
        try s.add(CaseRecord(id: "NEW"), source: "/somewhere")
        XCTAssertEqual(try s.count(), 2)
    }

    func testEveryChangeIsAuditedWithUserAndTime() throws {
        let dir = try temporaryFolder(self)
        let s = try store(dir, user: "dr-ana")
        try s.add(CaseRecord(id: "C1", age: 15, sex: .male, site: "femur"))
        try writePNG(dir.appendingPathComponent("slide.png"))
        try s.addSlide("C1", SlideReference(slideID: "S-1", block: "A2", stain: "H&E", file: dir.appendingPathComponent("slide.png").path))
        try s.setClinicalNote("C1", "pain at night for 3 months")
        try s.addLab("C1", LabResult(marker: "alp", value: 612, unit: "U/L", date: "2026-01-04"))
        try s.addFinding("C1", Finding(createdAt: "2026-01-05T10:00:00Z", models: ["detector": "ab12"], probabilities: ["malignant": 0.8, "benign": 0.15, "intermediate": 0.05]))
        try s.setReviewNote("C1", "agree: osteosarcoma")
        try s.signOff("C1")
        let trail = try s.auditTrail("C1")
        XCTAssertEqual(trail.map(\.action), ["created", "slide added", "clinical note edited", "lab added", "finding added", "review note edited", "signed off"])
        XCTAssertTrue(trail.allSatisfy { $0.user == "dr-ana" && $0.at.hasSuffix("Z") && $0.at.count >= 20 })
        let c = try s.load("C1")
        XCTAssertEqual(c.clinicalNote, "pain at night for 3 months")
        XCTAssertEqual(c.slides.first?.enteredBy, "dr-ana")
        XCTAssertEqual(c.slides.first?.sha256, try SHA256Digest.hex(ofFile: dir.appendingPathComponent("slide.png")))
        XCTAssertEqual(c.review?.signedOffBy, "dr-ana")
        XCTAssertEqual(c.findings.first?.models, ["detector": "ab12"])
        XCTAssertEqual(c.labs, [LabResult(marker: "alp", value: 612, unit: "U/L", date: "2026-01-04")])
    }

    func testRefusedChangesWriteNothing() throws {
        let dir = try temporaryFolder(self)
        let s = try store(dir)
        try s.add(CaseRecord(id: "C1"))
        assertThrowsMessage({ try s.addLab("C1", LabResult(marker: "calcium", value: 2, unit: "mEq/L")) }, contains: ["Calcium", "mEq/L"])
        assertThrowsMessage({ try s.addLabs("C1", [LabResult(marker: "alp", value: 100, unit: "U/L"), LabResult(marker: "tsh", value: 1, unit: "mU/L")]) },
                            contains: ["'tsh'"])
        assertThrowsMessage({ try s.addLab("NOPE", LabResult(marker: "alp", value: 100, unit: "U/L")) }, contains: ["NOPE"])
        assertThrowsMessage({ try s.add(CaseRecord(id: "C1")) }, contains: ["C1", "already"])
        assertThrowsMessage({ try s.addSlide("C1", SlideReference(slideID: "S", file: "../x.png")) }, contains: ["../x.png"])
        XCTAssertEqual(try s.load("C1").labs, [])
        XCTAssertEqual(try s.auditTrail().count, 1)
    }

    func testImportsAFolderOfCaseFoldersReportingRefusedOnes() throws {
        let dir = try temporaryFolder(self)
        let cases = dir.appendingPathComponent("cases")
        _ = try makeCase(in: cases, id: "GOOD-1")
        _ = try makeCase(in: cases, id: "GOOD-2")
        _ = try makeCase(in: cases, id: "BAD-1", slidePath: "../GOOD-1/slide.png")
        let s = try store(dir)
        let report = try s.importCaseFolders(in: cases)
        XCTAssertEqual(report.imported, ["GOOD-1", "GOOD-2"])
        XCTAssertEqual(report.refused.count, 1)
        XCTAssertTrue(report.refused[0].message.contains("BAD-1/case.json: field 'slides[0].file'"), report.refused[0].message)
        XCTAssertEqual(try s.caseIDs(), ["GOOD-1", "GOOD-2"])
        let again = try s.importCaseFolders(in: cases)
        XCTAssertEqual(again.alreadyStored, ["GOOD-1", "GOOD-2"])
        // Replacing keeps the trail of the old case and says so.
        XCTAssertTrue(try s.importCaseFolder(cases.appendingPathComponent("GOOD-2"), ifExists: .replace))
        XCTAssertEqual(try s.auditTrail("GOOD-2").map(\.action), ["created", "replaced", "created"])
        XCTAssertEqual(try s.load("GOOD-1").labs.count, 2)
        XCTAssertEqual(try s.auditTrail("GOOD-1").first?.detail, "imported from \(cases.appendingPathComponent("GOOD-1").path)")

        // A slide added later, relative to the case folder: inside is fine, '../' is refused.
        try writePNG(cases.appendingPathComponent("GOOD-1/slide-B2.png"))
        try s.addSlide("GOOD-1", SlideReference(slideID: "S-2", block: "B2", stain: "H&E", file: "slide-B2.png"))
        XCTAssertEqual(try s.load("GOOD-1").slides.last?.file, cases.appendingPathComponent("GOOD-1/slide-B2.png").path)
        assertThrowsMessage({ try s.addSlide("GOOD-1", SlideReference(slideID: "S-3", file: "../GOOD-2/slide.png")) },
                            contains: ["slide.file", "../GOOD-2/slide.png", "outside the case folder"])
        XCTAssertEqual(try s.load("GOOD-1").slides.count, 2)
        // Export a stored case and read it back.
        let out = dir.appendingPathComponent("export")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let exported = try CaseFolder.read(try s.export("GOOD-1", into: out))
        XCTAssertEqual(exported.slides.count, 2)
        XCTAssertEqual(exported.labs, try s.load("GOOD-1").labs)
    }

    func testImportsADatasetLayoutAndRefusesBadRows() throws {
        let dir = try temporaryFolder(self)
        let ds = dir.appendingPathComponent("ds")
        try FileManager.default.createDirectory(at: ds.appendingPathComponent("images"), withIntermediateDirectories: true)
        try writePNG(ds.appendingPathComponent("images/IMG000001.png"))
        try writePNG(ds.appendingPathComponent("images/IMG000002.png"))
        try "image_id,label,subtype,age,sex,center,site,region,view\nIMG000001,malignant,osteosarcoma,14,M,1,femur,lower limb,frontal\nIMG000002,normal,,30,F,2,,upper limb,lateral\n"
            .write(to: ds.appendingPathComponent("cases.csv"), atomically: true, encoding: .utf8)
        try "image_id,x0,y0,x1,y1,area\nIMG000001,1,2,5,6,12\nIMG000001,0,0,2,2,4\n"
            .write(to: ds.appendingPathComponent("boxes.csv"), atomically: true, encoding: .utf8)
        let s = try store(dir)
        let report = try s.importDataset(ds)
        XCTAssertEqual(report.imported, ["BTXRD-IMG000001", "BTXRD-IMG000002"])
        let c = try s.load("BTXRD-IMG000001")
        XCTAssertEqual(c.label, .malignant)
        XCTAssertEqual(c.subtype, "osteosarcoma")
        XCTAssertEqual(c.radiographs[0].boxes, [LesionBox(x0: 1, y0: 2, x1: 5, y1: 6), LesionBox(x0: 0, y0: 0, x1: 2, y1: 2)])
        XCTAssertEqual(c.radiographs[0].view, "frontal")
        XCTAssertNil(try s.load("BTXRD-IMG000002").subtype)

        // A bad row is reported (file and line) and left out; the other rows go in, each case in its own transaction.
        try "image_id,label,subtype,age,sex,center,site,region,view\nIMG000003,malignant,osteosarcoma,14,M,1,femur,lower limb,frontal\nIMG000004,benign,,ten,F,2,,upper limb,lateral\n"
            .write(to: ds.appendingPathComponent("cases.csv"), atomically: true, encoding: .utf8)
        try writePNG(ds.appendingPathComponent("images/IMG000003.png"))
        try writePNG(ds.appendingPathComponent("images/IMG000004.png"))
        let partial = try s.importDataset(ds)
        XCTAssertEqual(partial.imported, ["BTXRD-IMG000003"])
        XCTAssertTrue(partial.refused.first?.message.contains("line 3: age 'ten'") == true, partial.summary)
        XCTAssertEqual(try s.count(), 3)
        try Data([0x69, 0x6d, 0xff, 0x0a]).write(to: ds.appendingPathComponent("cases.csv"))
        assertThrowsMessage({ _ = try s.importDataset(ds) }, contains: ["cases.csv", "not UTF-8", "offset 2"])
    }

    /// The real BTXRD radiographs (../shared/data/btxrd), when present.
    func testImportsRealBTXRDRadiographs() throws {
        try backend.sqliteOnly("the real-data import runs once; the PostgreSQL leg imports the same kinds of cases above")
        let btxrd = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/data/btxrd")
        guard FileManager.default.fileExists(atPath: btxrd.appendingPathComponent("cases.csv").path) else {
            throw XCTSkip("../shared/data/btxrd is absent: real-radiograph import not tested")
        }
        let dir = try temporaryFolder(self)
        let s = try store(dir)
        let report = try s.importDataset(btxrd, limit: 200)
        XCTAssertEqual(report.imported.count, 200)
        let summaries = try s.summaries()
        XCTAssertTrue(summaries.contains { $0.label == .malignant || $0.label == .benign })
        // Every stored radiograph decodes and its hash matches the file.
        for id in try s.caseIDs().prefix(20) {
            let r = try s.load(id).radiographs[0]
            let image = try CaseFolder.decodeImage(URL(fileURLWithPath: r.file))
            XCTAssertEqual(image.width, 256)
            XCTAssertEqual(r.sha256, try SHA256Digest.hex(ofFile: URL(fileURLWithPath: r.file)))
        }
        let withBoxes = try s.caseIDs().compactMap { try s.load($0).radiographs[0].boxes.isEmpty ? nil : $0 }
        XCTAssertFalse(withBoxes.isEmpty)
    }
}

/// The same tests on PostgreSQL (XCTest on Linux runs only the test methods a class declares itself).
final class StoreTestsOnPostgreSQL: StoreTests {
    override class var backend: TestBackend { .postgresql }
    override func testDefaultPathFollowsEnvironment() throws { try super.testDefaultPathFollowsEnvironment() }
    override func testCreatesWALStoreAtCurrentSchemaAndRefusesNewerSchema() throws { try super.testCreatesWALStoreAtCurrentSchemaAndRefusesNewerSchema() }
    override func testMigratesAnOlderStore() throws { try super.testMigratesAnOlderStore() }
    override func testEveryChangeIsAuditedWithUserAndTime() throws { try super.testEveryChangeIsAuditedWithUserAndTime() }
    override func testRefusedChangesWriteNothing() throws { try super.testRefusedChangesWriteNothing() }
    override func testImportsAFolderOfCaseFoldersReportingRefusedOnes() throws { try super.testImportsAFolderOfCaseFoldersReportingRefusedOnes() }
    override func testImportsADatasetLayoutAndRefusesBadRows() throws { try super.testImportsADatasetLayoutAndRefusesBadRows() }
    override func testImportsRealBTXRDRadiographs() throws { try super.testImportsRealBTXRDRadiographs() }
}

/// Runs the sqlite3-free SQL through a throwaway GRDB queue (tests only).
func runSQLite(_ path: String, _ sql: String) throws {
    let q = try GRDB.DatabaseQueue(path: path)
    try q.writeWithoutTransaction { db in try db.execute(sql: sql) }
    try q.close()
}

import GRDB

final class RealImageTests: XCTestCase {
    /// A case folder of real files (copied to a temporary folder, never into the repository):
    /// BTXRD 8-bit grey and RGB PNGs, a TCIA H&E JPEG (RGB), and a 16-bit PNG sample.
    func testCaseFolderWithRealPNGAndJPEGFiles() throws {
        let shared = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/data")
        let grey = shared.appendingPathComponent("btxrd/images/IMG000001.png")
        let rgb = shared.appendingPathComponent("btxrd/images/IMG001369.png")
        let tiles = shared.appendingPathComponent("osteosarcoma-ut-tiles/viable")
        guard FileManager.default.fileExists(atPath: grey.path), FileManager.default.fileExists(atPath: rgb.path),
              let tile = try? FileManager.default.contentsOfDirectory(atPath: tiles.path).sorted().first(where: { $0.hasSuffix(".jpg") }) else {
            throw XCTSkip("../shared/data is absent: real PNG/JPEG case folder not tested")
        }
        let dir = try temporaryFolder(self)
        let folder = dir.appendingPathComponent("REAL-1")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let fm = FileManager.default
        try fm.copyItem(at: grey, to: folder.appendingPathComponent("grey.png"))
        try fm.copyItem(at: rgb, to: folder.appendingPathComponent("rgb.png"))
        try fm.copyItem(at: tiles.appendingPathComponent(tile), to: folder.appendingPathComponent("slide.jpg"))
        try fm.copyItem(at: repoRoot.appendingPathComponent("samples/SAMPLE-03-OSTEOSARCOMA/radiograph.png"),
                        to: folder.appendingPathComponent("sixteen.png"))
        try #"""
        {"format": "tumorboard-case", "format_version": 1, "id": "REAL-1", "age": 12, "sex": "F",
         "radiographs": [{"file": "grey.png"}, {"file": "rgb.png"}, {"file": "sixteen.png"}],
         "slides": [{"slide_id": "T1", "stain": "H&E", "file": "slide.jpg"}]}
        """#.write(to: folder.appendingPathComponent("case.json"), atomically: true, encoding: .utf8)
        let store = try CaseStore(path: dir.appendingPathComponent("c.sqlite").path, user: "t")
        XCTAssertTrue(try store.importCaseFolder(folder))
        let r = try store.load("REAL-1")
        let images = try r.radiographs.map { try CaseFolder.decodeImage(URL(fileURLWithPath: $0.file)) }
        XCTAssertEqual(images.map(\.description), ["256 x 256 grey 8-bit", "256 x 256 RGB 8-bit", "320 x 320 grey 16-bit"])
        let slide = try CaseFolder.decodeImage(URL(fileURLWithPath: r.slides[0].file))
        XCTAssertEqual(slide.colour, .rgb)
        XCTAssertEqual(slide.width, 1024)
        XCTAssertEqual(try store.allRecords().map(\.id), ["REAL-1"])
    }
}
