import Foundation
import XCTest
import Imaging
@testable import Cases

/// `Importer` (what `tumorboard import` runs): real DICOM files, a batch mixing good and broken
/// inputs, importing twice, a store that fails its integrity check, datasets, the samples.
final class ImportTests: XCTestCase {
    func storePath(_ dir: URL) -> String { dir.appendingPathComponent("store/cases.sqlite").path }

    func importer(_ dir: URL) -> Importer { Importer(storePath: storePath(dir), user: "tester") }

    func refusal(_ report: ImportReport, _ path: String, file: StaticString = #filePath, line: UInt = #line) -> String? {
        let found = report.refused.first { $0.path == path }?.message
        if found == nil { XCTFail("\(path) not refused; refused: \(report.refused.map(\.path))", file: file, line: line) }
        return found
    }

    // MARK: - Real DICOM files

    func testRealDICOMFilesCaseDataFromTheirTags() throws {
        let dicom = try dicomSamples()
        let dir = try temporaryFolder(self)
        let names = ["RG3_UNCR.dcm", "CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm"]
        let report = try importer(dir).run(ImportRequest(paths: names.map { dicom.appendingPathComponent($0).path }))
        // pydicom's test files: PatientIDs 11RG3, 1CT1, 4MR1 (all valid case IDs).
        XCTAssertEqual(report.imported, ["11RG3", "1CT1", "4MR1"], report.summary)
        XCTAssertEqual(report.refused.count, 1)
        let jpeg2000 = try XCTUnwrap(refusal(report, dicom.appendingPathComponent("JPEG2000.dcm").path))
        for part in ["JPEG2000.dcm", "1.2.840.10008.1.2.4.91", "JPEG 2000", "not supported"] {
            XCTAssertTrue(jpeg2000.contains(part), jpeg2000)
        }
        let store = try CaseStore(path: storePath(dir))
        // RG3_UNCR: a computed radiograph, born 1979-04-08, studied 2004-08-26 (so 25), female.
        let rg3 = try store.load("11RG3")
        XCTAssertEqual(rg3.age, 25)
        XCTAssertEqual(rg3.sex, .female)
        XCTAssertEqual(rg3.radiographs.count, 1)
        XCTAssertEqual(rg3.radiographs[0].acquired, "2004-08-26")
        let url = dicom.appendingPathComponent("RG3_UNCR.dcm")
        let d = try DICOMFile(contentsOf: url)
        XCTAssertEqual(rg3.site, d.bodyPart?.lowercased())
        XCTAssertEqual(rg3.radiographs[0].view, d.viewPosition)
        XCTAssertEqual(rg3.radiographs[0].file, url.standardizedFileURL.path)
        XCTAssertEqual(rg3.radiographs[0].sha256, try SHA256Digest.hex(ofFile: url))
        // The name is never copied.
        XCTAssertFalse("\(rg3)".contains(try XCTUnwrap(d.patient.name)))
        // Sex as pydicom reads it (DICOMFixtures.swift); the CT has none.
        XCTAssertEqual(try store.load("4MR1").sex?.rawValue, dicomExpected.first { $0.file == "MR_small.dcm" }?.sex)
        XCTAssertNil(try store.load("1CT1").sex)
        XCTAssertEqual(try store.integrityCheck(), "ok")
    }

    func testDICOMCaseIDOptionAndConflictsWithTheTags() throws {
        let dicom = try dicomSamples()
        let dir = try temporaryFolder(self)
        let rg3 = dicom.appendingPathComponent("RG3_UNCR.dcm").path
        let given = try importer(dir).run(ImportRequest(paths: [rg3], caseID: "NOF-TIBIA", site: "tibia", view: "lateral"))
        XCTAssertEqual(given.imported, ["NOF-TIBIA"])
        let c = try CaseStore(path: storePath(dir)).load("NOF-TIBIA")
        XCTAssertEqual(c.site, "tibia")
        XCTAssertEqual(c.radiographs[0].view, "lateral")
        XCTAssertEqual(c.age, 25)
        // An age or sex that contradicts the tags is refused, naming both.
        let other = try temporaryFolder(self)
        let wrongAge = try importer(other).run(ImportRequest(paths: [rg3], caseID: "NOF-2", age: 40))
        XCTAssertEqual(wrongAge.imported, [])
        let m = try XCTUnwrap(refusal(wrongAge, URL(fileURLWithPath: rg3).standardizedFileURL.path))
        XCTAssertTrue(m.contains("--age 40") && m.contains("25"), m)
        let wrongSex = try importer(other).run(ImportRequest(paths: [rg3], caseID: "NOF-2", sex: .male))
        XCTAssertTrue(wrongSex.refused.first?.message.contains("PatientSex is F") == true, wrongSex.summary)
    }

    /// A DICOM whose PatientID is not a case ID (here "4 R1", a space inside) asks for --case-id
    /// and does not repeat the tag's value.
    func testDICOMWithoutUsableIDAsksForCaseID() throws {
        let dicom = try dicomSamples()
        let dir = try temporaryFolder(self)
        var bytes = [UInt8](try Data(contentsOf: dicom.appendingPathComponent("MR_small.dcm")))
        // (0010,0020) PatientID, VR LO, in Explicit VR Little Endian: tag, "LO", 2-byte length, value.
        let tag: [UInt8] = [0x10, 0x00, 0x20, 0x00, 0x4C, 0x4F]
        let at = (0..<(bytes.count - 12)).filter { bytes[$0 ..< $0 + 6].elementsEqual(tag) }.map { $0 + 8 }
        guard at.count == 1, bytes[at[0] ..< at[0] + 4].elementsEqual("4MR1".utf8) else {
            throw XCTSkip("MR_small.dcm: PatientID element not found where expected; cannot patch it")
        }
        bytes[at[0] + 1] = 0x20
        let file = dir.appendingPathComponent("no-id.dcm")
        try Data(bytes).write(to: file)
        XCTAssertNotNil(try DICOMFile(contentsOf: file).patient.patientID, "the patched file still reads")
        let report = try importer(dir).run(ImportRequest(paths: [file.path]))
        XCTAssertEqual(report.imported, [])
        let m = try XCTUnwrap(refusal(report, file.path))
        XCTAssertTrue(m.contains("no-id.dcm") && m.contains("--case-id") && m.contains("PatientID"), m)
        XCTAssertFalse(m.contains("4 R1"), "a patient tag's value in a message: \(m)")
        XCTAssertEqual(try importer(dir).run(ImportRequest(paths: [file.path], caseID: "MR-ANON")).imported, ["MR-ANON"])
    }

    // MARK: - Good and broken files in one batch

    /// Two good case folders, a truncated PNG, a bad field, a DICOM that is not one, a text file,
    /// and two cases sharing an ID: the good ones go in, each bad one is named, nothing is partial.
    func testMixedBatchImportsTheGoodAndNamesEachBadOne() throws {
        let dir = try temporaryFolder(self)
        let batch = dir.appendingPathComponent("batch")
        try FileManager.default.createDirectory(at: batch, withIntermediateDirectories: true)
        _ = try makeCase(in: batch, id: "GOOD-1")
        _ = try makeCase(in: batch, id: "GOOD-2")
        let truncated = try makeCase(in: batch, id: "BAD-PNG")
        let png = try Data(contentsOf: truncated.appendingPathComponent("radiograph.png"))
        try png.prefix(png.count / 2).write(to: truncated.appendingPathComponent("radiograph.png"))
        let badField = try makeCase(in: batch, id: "BAD-FIELD", extra: ["age": "fifteen"])
        let dupA = try makeCase(in: batch, id: "DUP-A", extra: ["id": "TB-DUP"])
        let dupB = try makeCase(in: batch, id: "DUP-B", extra: ["id": "TB-DUP"])
        let notDICOM = dir.appendingPathComponent("scan.dcm")
        try Data("this is not a DICOM file\n".utf8).write(to: notDICOM)
        let text = dir.appendingPathComponent("notes.txt")
        try Data("notes".utf8).write(to: text)
        let missing = dir.appendingPathComponent("absent").path

        var seen: [ImportProgress] = []
        let report = try importer(dir).run(ImportRequest(paths: [batch.path, notDICOM.path, text.path, missing])) { seen.append($0) }

        // Folders in name order: BAD-FIELD, BAD-PNG, DUP-A, DUP-B, GOOD-1, GOOD-2.
        XCTAssertEqual(report.imported, ["TB-DUP", "GOOD-1", "GOOD-2"], report.summary)
        XCTAssertEqual(report.alreadyStored, [])
        XCTAssertEqual(Set(report.refused.map(\.path)), [truncated.path, badField.path, dupB.path, notDICOM.path, text.path, missing])
        let png2 = try XCTUnwrap(refusal(report, truncated.path))
        XCTAssertTrue(png2.contains("radiograph.png") && png2.contains("radiographs[0].file"), png2)
        let field = try XCTUnwrap(refusal(report, badField.path))
        XCTAssertTrue(field.contains("BAD-FIELD/case.json") && field.contains("'age'"), field)
        XCTAssertEqual(refusal(report, dupB.path), "case TB-DUP already came from \(dupA.path) in this import; this one is not imported")
        XCTAssertTrue(refusal(report, notDICOM.path)?.contains("not a DICOM file") == true)
        XCTAssertTrue(refusal(report, text.path)?.contains("not a case folder, a dataset folder, a DICOM file or a PNG/JPEG") == true)
        XCTAssertTrue(refusal(report, missing)?.contains("no such file") == true)
        // The summary: counts, then one line per refusal naming its file.
        let lines = report.summaryLines
        XCTAssertTrue(lines.contains("imported 3: TB-DUP, GOOD-1, GOOD-2"), "\(lines)")
        XCTAssertTrue(lines.contains("refused 6:"), "\(lines)")
        XCTAssertTrue(lines.contains { $0.hasPrefix("  ") && $0.contains(notDICOM.path) })
        // Progress: once per case of the folder (6) and the DICOM file; the text file and the
        // missing path are refused before the first case.
        XCTAssertEqual(seen.map(\.done), Array(1...7))
        XCTAssertTrue(seen.allSatisfy { $0.total == 7 })

        // The store: whole, exactly the good cases, each with its radiograph, slide and labs.
        let store = try CaseStore(path: storePath(dir))
        XCTAssertEqual(try store.integrityCheck(), "ok")
        XCTAssertEqual(try store.caseIDs(), ["GOOD-1", "GOOD-2", "TB-DUP"])
        for r in try store.allRecords() {
            XCTAssertEqual(r.radiographs.count, 1, r.id)
            XCTAssertEqual(r.slides.count, 1, r.id)
            XCTAssertEqual(r.labs.count, 2, r.id)
        }
        XCTAssertEqual(try store.load("TB-DUP").radiographs[0].file, dupA.appendingPathComponent("radiograph.png").path)
        XCTAssertEqual(try store.auditTrail().map(\.action), ["created", "created", "created"])
    }

    func testImportingTwiceChangesNothingAndSaysSo() throws {
        let dir = try temporaryFolder(self)
        let batch = dir.appendingPathComponent("batch")
        _ = try makeCase(in: batch, id: "TB-1")
        _ = try makeCase(in: batch, id: "TB-2")
        let labs = dir.appendingPathComponent("labs.json")
        try Data(#"[{"marker": "ldh", "value": 410, "unit": "U/L", "date": "2026-02-01"}]"#.utf8).write(to: labs)
        let first = try importer(dir).run(ImportRequest(paths: [batch.path]))
        XCTAssertEqual(first.imported, ["TB-1", "TB-2"])
        let addLabs = ImportRequest(caseID: "TB-1", labs: labs.path)
        XCTAssertEqual(try importer(dir).run(addLabs).labsAdded.map(\.count), [1])
        let store = try CaseStore(path: storePath(dir))
        let trail = try store.auditTrail()
        let records = try store.allRecords()

        let again = try importer(dir).run(ImportRequest(paths: [batch.path]))
        XCTAssertEqual(again.imported, [])
        XCTAssertEqual(again.alreadyStored, ["TB-1", "TB-2"])
        XCTAssertTrue(again.summaryLines.contains("already present 2 (already in the store, unchanged): TB-1, TB-2"), again.summary)
        let labsAgain = try importer(dir).run(addLabs)
        XCTAssertEqual(labsAgain.labsAdded.count, 0)
        XCTAssertEqual(labsAgain.alreadyStored, ["TB-1"])
        XCTAssertEqual(try store.auditTrail(), trail, "the second import wrote to the audit trail")
        XCTAssertEqual(try store.allRecords(), records)
    }

    // MARK: - The store

    /// A copy of a store with one page overwritten: refused before anything is written, naming
    /// the store file and the problem; the file's bytes are unchanged.
    func testStoreFailingItsIntegrityCheckIsRefusedAndUnchanged() throws {
        let dir = try temporaryFolder(self)
        let original = dir.appendingPathComponent("original.sqlite")
        do {
            let s = try CaseStore(path: original.path, user: "tester")
            for i in 0..<60 {
                try s.add(CaseRecord(id: "C-\(i)", age: 30, sex: .female, site: String(repeating: "femur ", count: 40),
                                     radiographs: [Radiograph(file: "/x/\(i).png")]))
            }
        }
        // Closed: the WAL is checkpointed into the file and removed.
        XCTAssertFalse(FileManager.default.fileExists(atPath: original.path + "-wal"))
        let data = try Data(contentsOf: original)
        let pageSize = Int(data[16]) << 8 | Int(data[17])
        let pages = data.count / pageSize
        XCTAssertGreaterThan(pages, 4)
        let bad = dir.appendingPathComponent("bad.sqlite")
        var corrupted: Data?
        // Overwrite one page with noise, from the last one down, until SQLite's own check says so.
        for page in stride(from: pages - 1, through: 2, by: -1) {
            var bytes = [UInt8](data)
            var s: UInt64 = 0x9E37_79B9_7F4A_7C15 &+ UInt64(page)
            for i in (page * pageSize) ..< ((page + 1) * pageSize) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; bytes[i] = UInt8(truncatingIfNeeded: s) }
            let probe = dir.appendingPathComponent("probe-\(page).sqlite")
            try Data(bytes).write(to: probe)
            let check = (try? CaseStore(path: probe.path, user: "probe").integrityCheck()) ?? "cannot be opened"
            if check != "ok" { corrupted = Data(bytes); break }
        }
        let damaged = try XCTUnwrap(corrupted, "no page overwrite made integrity_check fail")
        try damaged.write(to: bad)
        let before = try SHA256Digest.hex(ofFile: bad)

        let cases = dir.appendingPathComponent("cases")
        _ = try makeCase(in: cases, id: "NEW-1")
        XCTAssertThrowsError(try Importer(storePath: bad.path, user: "tester").run(ImportRequest(paths: [cases.path]))) { error in
            guard case ImportError.store(let file, let problem) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(file, bad.path)
            XCTAssertTrue(problem.contains("integrity check failed"), problem)
            XCTAssertTrue("\(error)".contains("nothing was imported"), "\(error)")
        }
        XCTAssertEqual(try SHA256Digest.hex(ofFile: bad), before, "the refused store was changed")
    }

    func testStoreThatIsNotAStoreIsRefused() throws {
        let dir = try temporaryFolder(self)
        let cases = dir.appendingPathComponent("cases")
        _ = try makeCase(in: cases, id: "NEW-1")
        let text = dir.appendingPathComponent("notes.sqlite")
        try Data("not a database at all, just some notes\n".utf8).write(to: text)
        XCTAssertThrowsError(try Importer(storePath: text.path).run(ImportRequest(paths: [cases.path]))) { error in
            XCTAssertTrue("\(error)".contains(text.path) && "\(error)".contains("not an SQLite database"), "\(error)")
        }
        XCTAssertEqual(try String(contentsOf: text, encoding: .utf8), "not a database at all, just some notes\n")
        // A 0-byte file left behind (older than a store being created right now) gets no schema.
        let empty = dir.appendingPathComponent("empty.sqlite")
        try Data().write(to: empty)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: empty.path)
        XCTAssertThrowsError(try Importer(storePath: empty.path).run(ImportRequest(paths: [cases.path]))) { error in
            XCTAssertTrue("\(error)".contains(empty.path) && "\(error)".contains("0-byte"), "\(error)")
        }
        XCTAssertEqual(try Data(contentsOf: empty).count, 0)
        XCTAssertThrowsError(try Importer(storePath: dir.path).run(ImportRequest(paths: [cases.path]))) { error in
            XCTAssertTrue("\(error)".contains("is a folder"), "\(error)")
        }
    }

    // MARK: - Datasets, radiographs, labs, usage

    /// A BTXRD-like dataset: one transaction per case; bad rows and a broken image are named
    /// (file and line, or the image) and left out, the rest go in.
    func testDatasetBadRowsAndImagesAreSkippedOneByOne() throws {
        let dir = try temporaryFolder(self)
        let ds = dir.appendingPathComponent("ds")
        try FileManager.default.createDirectory(at: ds.appendingPathComponent("images"), withIntermediateDirectories: true)
        for n in 1...4 { try writePNG(ds.appendingPathComponent("images/IMG00000\(n).png"), seed: UInt8(n)) }
        let broken = ds.appendingPathComponent("images/IMG000004.png")
        try Data(try Data(contentsOf: broken).prefix(30)).write(to: broken)
        try """
            image_id,label,subtype,age,sex,site,view
            IMG000001,malignant,osteosarcoma,14,M,femur,frontal
            IMG000002,benign,,ten,F,tibia,lateral
            IMG000003,normal,,30,F,,frontal
            IMG000004,benign,,22,M,femur,frontal
            IMG000005,benign,,40,F,femur,frontal

            """.write(to: ds.appendingPathComponent("cases.csv"), atomically: true, encoding: .utf8)
        try "image_id,x0,y0,x1,y1\nIMG000001,1,2,5,6\n".write(to: ds.appendingPathComponent("boxes.csv"), atomically: true, encoding: .utf8)
        let report = try importer(dir).run(ImportRequest(paths: [ds.path]))
        XCTAssertEqual(report.imported, ["BTXRD-IMG000001", "BTXRD-IMG000003"], report.summary)
        let csv = ds.appendingPathComponent("cases.csv").path
        XCTAssertTrue(refusal(report, csv + ":3")?.contains("age 'ten'") == true)
        XCTAssertTrue(refusal(report, csv + ":6")?.contains("no image images/IMG000005.png") == true)
        XCTAssertTrue(refusal(report, broken.path)?.contains("IMG000004.png") == true)
        XCTAssertEqual(report.refused.count, 3)
        let store = try CaseStore(path: storePath(dir))
        XCTAssertEqual(try store.load("BTXRD-IMG000001").radiographs[0].boxes, [LesionBox(x0: 1, y0: 2, x1: 5, y1: 6)])
        XCTAssertEqual(try store.load("BTXRD-IMG000003").radiographs[0].sha256,
                       try SHA256Digest.hex(ofFile: ds.appendingPathComponent("images/IMG000003.png")))
        // Again: already present, no image read (nothing to refuse twice but the bad rows).
        let again = try importer(dir).run(ImportRequest(paths: [ds.path]))
        XCTAssertEqual(again.alreadyStored, ["BTXRD-IMG000001", "BTXRD-IMG000003"])
        XCTAssertEqual(again.imported, [])
    }

    func testPNGRadiographWithCaseOptionsAndLabs() throws {
        let dir = try temporaryFolder(self)
        let png = dir.appendingPathComponent("knee.png")
        try writePNG(png, width: 40, height: 30)
        let labs = dir.appendingPathComponent("labs.json")
        try Data(#"{"labs": [{"marker": "alp", "value": 812, "unit": "U/L", "date": "2026-01-14"}]}"#.utf8).write(to: labs)
        let report = try importer(dir).run(ImportRequest(paths: [png.path], caseID: "KNEE-1", age: 15, sex: .male,
                                                          site: "femur", view: "frontal", labs: labs.path))
        XCTAssertEqual(report.imported, ["KNEE-1"], report.summary)
        let c = try CaseStore(path: storePath(dir)).load("KNEE-1")
        XCTAssertEqual(c.age, 15)
        XCTAssertEqual(c.sex, .male)
        XCTAssertEqual(c.site, "femur")
        XCTAssertEqual(c.radiographs[0].view, "frontal")
        XCTAssertEqual(c.labs, [LabResult(marker: "alp", value: 812, unit: "U/L", date: "2026-01-14")])
        XCTAssertEqual(c.radiographs[0].sha256, try SHA256Digest.hex(ofFile: png))

        // Without the options it carries nothing: refused, naming the options.
        let bare = try importer(dir).run(ImportRequest(paths: [png.path]))
        XCTAssertTrue(bare.refused.first?.message.contains("--case-id, --age, --sex, --site") == true, bare.summary)
        // A truncated radiograph, or a bad lab file: the case is refused whole.
        let cut = dir.appendingPathComponent("cut.png")
        try Data(try Data(contentsOf: png).prefix(40)).write(to: cut)
        let truncated = try importer(dir).run(ImportRequest(paths: [cut.path], caseID: "CUT-1", age: 15, sex: .male, site: "femur"))
        XCTAssertEqual(truncated.imported, [])
        XCTAssertTrue(truncated.refused.first?.message.contains("cut.png") == true, truncated.summary)
        let badLabs = dir.appendingPathComponent("bad-labs.json")
        try Data(#"[{"marker": "alp", "value": "812", "unit": "U/L"}]"#.utf8).write(to: badLabs)
        let refusedLabs = try importer(dir).run(ImportRequest(paths: [png.path], caseID: "KNEE-2", age: 15, sex: .male,
                                                              site: "femur", labs: badLabs.path))
        XCTAssertEqual(refusedLabs.imported, [])
        let m = refusedLabs.refused.first?.message ?? ""
        XCTAssertTrue(m.contains(badLabs.path) && m.contains("entry 0, value: expected a number"), m)
        XCTAssertEqual(try CaseStore(path: storePath(dir)).caseIDs(), ["KNEE-1"])
    }

    func testUsageErrorsWriteNothing() throws {
        let dir = try temporaryFolder(self)
        let a = try makeCase(in: dir, id: "A-1"), b = try makeCase(in: dir, id: "B-1")
        let requests: [(ImportRequest, String)] = [
            (ImportRequest(), "nothing to import"),
            (ImportRequest(paths: [a.path, b.path], caseID: "X-1"), "--case-id describes one case"),
            (ImportRequest(paths: [a.path], caseID: "X-1"), "case folder's case.json says"),
            (ImportRequest(paths: [dir.path], labs: "/x.json"), "holds several"),
            (ImportRequest(labs: "/x.json"), "give its --case-id"),
            (ImportRequest(paths: ["/x.png"], caseID: "Jane Doe"), "not a case ID"),
            (ImportRequest(paths: ["/x.png"], caseID: "X-1", age: 200), "--age"),
        ]
        for (request, expected) in requests {
            XCTAssertThrowsError(try importer(dir).run(request)) { error in
                guard case ImportError.usage(let m) = error else { return XCTFail("\(error)") }
                XCTAssertTrue(m.contains(expected), "'\(m)' lacks '\(expected)'")
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: storePath(dir)), "a usage error created the store")
    }

    func testBundledSamplesImport() throws {
        let dir = try temporaryFolder(self)
        let report = try importer(dir).run(ImportRequest(paths: [repoRoot.appendingPathComponent("samples").path]))
        XCTAssertEqual(report.refused.count, 0, report.summary)
        XCTAssertEqual(report.imported.count, 7)
        XCTAssertTrue(report.imported.contains("SAMPLE-07-DICOM-OSTEOFIBROMA"))
        XCTAssertEqual(try CaseStore(path: storePath(dir)).integrityCheck(), "ok")
    }

    /// Real BTXRD radiographs (../shared/data/btxrd), when present: the first 60 rows, read
    /// through a temporary dataset folder holding copies of their images (outside the repository).
    func testRealBTXRDRows() throws {
        let btxrd = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/data/btxrd")
        guard FileManager.default.fileExists(atPath: btxrd.appendingPathComponent("cases.csv").path) else {
            throw XCTSkip("../shared/data/btxrd is absent: real-radiograph import not tested")
        }
        let dir = try temporaryFolder(self)
        let ds = dir.appendingPathComponent("btxrd-60")
        try FileManager.default.createDirectory(at: ds.appendingPathComponent("images"), withIntermediateDirectories: true)
        let lines = try String(contentsOf: btxrd.appendingPathComponent("cases.csv"), encoding: .utf8)
            .split(whereSeparator: \.isNewline).prefix(61).map(String.init)
        try (lines.joined(separator: "\n") + "\n").write(to: ds.appendingPathComponent("cases.csv"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(at: btxrd.appendingPathComponent("boxes.csv"), to: ds.appendingPathComponent("boxes.csv"))
        let header = DatasetLayout.splitCSV(lines[0])
        let idColumn = try XCTUnwrap(header.firstIndex(of: "image_id"))
        for line in lines.dropFirst() {
            let id = DatasetLayout.splitCSV(line)[idColumn]
            for ext in ["png", "jpg", "jpeg"] where FileManager.default.fileExists(atPath: btxrd.path + "/images/\(id).\(ext)") {
                try FileManager.default.copyItem(atPath: btxrd.path + "/images/\(id).\(ext)", toPath: ds.path + "/images/\(id).\(ext)")
            }
        }
        let report = try importer(dir).run(ImportRequest(paths: [ds.path]))
        XCTAssertEqual(report.imported.count, 60, report.summary)
        XCTAssertEqual(report.refused.count, 0, report.summary)
        let store = try CaseStore(path: storePath(dir))
        let first = DatasetLayout.splitCSV(lines[1])[idColumn]
        let r = try store.load("BTXRD-\(first)").radiographs[0]
        XCTAssertEqual(r.sha256, try SHA256Digest.hex(ofFile: URL(fileURLWithPath: r.file)))
        // Boxes as boxes.csv lists them for the cases that have some.
        let boxRows = try String(contentsOf: btxrd.appendingPathComponent("boxes.csv"), encoding: .utf8)
            .split(whereSeparator: \.isNewline).dropFirst().map { DatasetLayout.splitCSV(String($0)) }
        let stored = try store.allRecords().reduce(0) { $0 + $1.radiographs[0].boxes.count }
        let ids = Set(report.imported.map { String($0.dropFirst("BTXRD-".count)) })
        XCTAssertEqual(stored, boxRows.filter { ids.contains($0[0]) }.count)
    }
}
