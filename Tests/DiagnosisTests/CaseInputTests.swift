import Cases
import Engine
import Foundation
import Imaging
import XCTest
@testable import Diagnosis

/// The case -> input path shared by `predict` and the workstation, the key a kept result is
/// filed under, and the two places results are kept.
final class CaseInputTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-input-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func png(_ name: String, value: UInt8) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Image(width: 8, height: 6, colour: .grey, pixels: [UInt8](repeating: value, count: 48)).writePNG(to: url)
        return url.path
    }

    func record() throws -> CaseRecord {
        CaseRecord(id: "K1", age: 15, sex: .male, label: .malignant,
                   radiographs: [Radiograph(file: try png("r.png", value: 90))],
                   labs: [LabResult(marker: "alp", value: 300, unit: "U/L", date: "2026-01-01"),
                          LabResult(marker: "alp", value: 812, unit: "U/L", date: "2026-02-01")])
    }

    func testInputUsesTheLatestLabPerMarker() throws {
        let input = try DiagnosisInput(record: try record())
        XCTAssertEqual(input.labs?.map(\.value), [812])
        XCTAssertEqual(input.radiograph.width, 8)
        XCTAssertNil(input.slide)
        var none = try record(); none.labs = []
        XCTAssertNil(try DiagnosisInput(record: none).labs, "no labs is absent, not an empty panel")
        XCTAssertNil(input.site)
        var sited = try record(); sited.site = "tibia;fibula"
        XCTAssertEqual(try DiagnosisInput(record: sited).site, "tibia;fibula", "the site reaches the clinical context")
        var bare = try record(); bare.radiographs = []
        XCTAssertThrowsError(try DiagnosisInput(record: bare)) { XCTAssertTrue("\($0)".contains("K1: the case has no radiograph")) }
    }

    func testInputKeyFollowsWhatTheModelsReadAndNothingElse() throws {
        let models = ["detector.safetensors": "aa", "lesion_encoder.safetensors": "bb"]
        let r = try record()
        let key = try InputKey.of(r, modelHashes: models)
        XCTAssertEqual(key.count, 64)
        XCTAssertEqual(try InputKey.of(r, modelHashes: models), key, "stable")
        var relabelled = r; relabelled.label = .benign; relabelled.clinicalNote = "seen"
        XCTAssertEqual(try InputKey.of(relabelled, modelHashes: models), key, "the label and notes are not model input")
        var lab = r; lab.labs.append(LabResult(marker: "ldh", value: 690, unit: "U/L"))
        XCTAssertNotEqual(try InputKey.of(lab, modelHashes: models), key)
        var older = r; older.labs.insert(LabResult(marker: "alp", value: 1, unit: "U/L", date: "2025-01-01"), at: 0)
        XCTAssertEqual(try InputKey.of(older, modelHashes: models), key, "an older result the model does not read")
        var age = r; age.age = 16
        XCTAssertNotEqual(try InputKey.of(age, modelHashes: models), key)
        var site = r; site.site = "femur"
        let siteKey = try InputKey.of(site, modelHashes: models)
        XCTAssertNotEqual(siteKey, key, "the site is in the clinical context the text encoder reads")
        site.site = " Femur "
        XCTAssertEqual(try InputKey.of(site, modelHashes: models), siteKey, "the same context sentence, the same key")
        site.site = "tibia"
        XCTAssertNotEqual(try InputKey.of(site, modelHashes: models), siteKey)
        XCTAssertNotEqual(try InputKey.of(r, modelHashes: models.merging(["detector.safetensors": "cc"]) { $1 }), key)
        var slide = r; slide.slides = [SlideReference(slideID: "S1", file: try png("s.png", value: 10))]
        XCTAssertNotEqual(try InputKey.of(slide, modelHashes: models), key)
        // The same file name with other pixels: another key.
        _ = try png("r.png", value: 91)
        XCTAssertNotEqual(try InputKey.of(r, modelHashes: models), key)
        var recorded = r; recorded.radiographs[0].sha256 = String(repeating: "0", count: 64)
        XCTAssertThrowsError(try InputKey.of(recorded, modelHashes: models), "a kept result is never read back for a changed file") {
            XCTAssertTrue("\($0)".contains("the file changed"), "\($0)")
        }
        var missing = r; missing.radiographs = [Radiograph(file: dir.appendingPathComponent("gone.png").path)]
        XCTAssertThrowsError(try InputKey.of(missing, modelHashes: models)) { XCTAssertTrue("\($0)".contains("gone.png"), "\($0)") }
    }

    func findings() throws -> Findings {
        let json = """
        {"width": 8, "height": 6, "detections": [{"box": [1, 1, 4.5, 5], "score": 0.7}], "lesion": {"box": [1, 1, 4.5, 5], "score": 0.7},
         "probabilities": {"benign": 0.1, "intermediate": 0.2, "malignant": 0.7},
         "image_only_probabilities": {"benign": 0.2, "intermediate": 0.3, "malignant": 0.5}, "predicted": "malignant",
         "present": {"image": true, "pathology": false, "labs": true}, "contributions": {"image": 0.2, "pathology": null, "labs": 0.1},
         "sentence": "ALP raised.", "heatmap": {"box": [0, 0, 8, 6], "width": 1, "height": 1, "values": [1], "target": "malignant"},
         "models": {"detector.safetensors": "aa"}, "timings_ms": {"total": 3}}
        """
        return try JSONDecoder().decode(Findings.self, from: Data(json.utf8))
    }

    func testFolderArchiveKeepsByKeyAtomicallyAndToleratesGarbage() throws {
        let archive = FolderFindingsArchive(folder: dir.appendingPathComponent("cache"))
        XCTAssertNil(archive.lookup(caseID: "K1", key: "k"))
        let f = try findings()
        try archive.keep(f, caseID: "K1", key: "k")
        XCTAssertEqual(try archive.lookup(caseID: "K1", key: "k")?.jsonText(), try f.jsonText())
        try Data("{not json".utf8).write(to: dir.appendingPathComponent("cache/bad.json"))
        XCTAssertNil(archive.lookup(caseID: "K1", key: "bad"), "a corrupt entry only costs a re-run")
        XCTAssertEqual(FolderFindingsArchive.defaultFolder(environment: ["XDG_CACHE_HOME": "/c", "HOME": "/h"])?.path, "/c/tumorboard/findings")
        XCTAssertEqual(FolderFindingsArchive.defaultFolder(environment: ["TUMORBOARD_FINDINGS_CACHE": "/f"])?.path, "/f")
        // A folder that cannot be written: a named error, not a crash.
        let file = dir.appendingPathComponent("plain-file")
        try Data().write(to: file)
        XCTAssertThrowsError(try FolderFindingsArchive(folder: file).keep(f, caseID: "K1", key: "k")) {
            XCTAssertTrue("\($0)".contains("plain-file"), "\($0)")
        }
    }

    func testStoreArchiveKeepsTheWholeResultBesideTheFindingRow() throws {
        let store = try CaseStore(path: dir.appendingPathComponent("s.sqlite").path, user: "t")
        try store.add(try record())
        let archive = StoreFindingsArchive(store: store)
        let f = try findings()
        try archive.keep(f, caseID: "K1", key: "key1")
        XCTAssertEqual(try archive.lookup(caseID: "K1", key: "key1")?.jsonText(), try f.jsonText())
        XCTAssertNil(archive.lookup(caseID: "K1", key: "key2"))
        XCTAssertNil(archive.lookup(caseID: "K2", key: "key1"))
        let row = try XCTUnwrap(try store.load("K1").findings.first)
        XCTAssertEqual(row.probabilities["malignant"], 0.7)
        XCTAssertEqual(row.modalities, ["image", "labs"])
        XCTAssertEqual(row.boxes, [LesionBox(x0: 1, y0: 1, x1: 5, y1: 5)])
        XCTAssertEqual(try store.auditTrail("K1").last?.action, "finding added")
        // The newest result under a key wins.
        var g = f; g.predicted = "benign"
        try archive.keep(g, caseID: "K1", key: "key1")
        XCTAssertEqual(archive.lookup(caseID: "K1", key: "key1")?.predicted, "benign")
    }

    /// A missing fusion head is an error naming the file, not the image-only answer passed off
    /// as the fused one; a lesion encoder without its head is refused at load.
    func testMissingFusionHeadAndHeadlessLesionEncoderAreNamed() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let models = dir.appendingPathComponent("models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        for name in ["detector.safetensors", "lesion_encoder.safetensors"] {
            try FileManager.default.createSymbolicLink(at: models.appendingPathComponent(name),
                                                       withDestinationURL: repo.appendingPathComponent("models/\(name)"))
        }
        let diagnosis = try Diagnosis(models: ModelSet(directory: models))
        var noLabs = try record(); noLabs.labs = []
        let input = try DiagnosisInput(record: noLabs)
        XCTAssertThrowsError(try diagnosis.run(input)) { e in
            XCTAssertTrue("\(e)".contains("fusion_head.safetensors: missing (train with training/run_all.sh)"), "\(e)")
        }
        // With the fusion head but no text encoder: age and sex are clinical context the text encoder
        // reads, so the case is refused naming it (not diagnosed with the context silently dropped).
        try FileManager.default.createSymbolicLink(at: models.appendingPathComponent("fusion_head.safetensors"),
                                                   withDestinationURL: repo.appendingPathComponent("models/fusion_head.safetensors"))
        let withHead = try Diagnosis(models: ModelSet(directory: models))
        XCTAssertThrowsError(try withHead.run(input)) { e in
            XCTAssertTrue("\(e)".contains("the clinical context (age, sex, site) was given but the text encoder is missing"), "\(e)")
        }
        var anonymous = noLabs; anonymous.age = nil; anonymous.sex = nil
        let f = try withHead.run(try DiagnosisInput(record: anonymous))
        XCTAssertEqual(f.present.labs, false, "no context and no labs: no text, and no text encoder needed")
        XCTAssertNil(f.sentence)
        XCTAssertNoThrow(try diagnosis.detect(input.radiograph), "detect needs no fusion head")

        // The lesion encoder without fc.*: refused when the models load, by name.
        let full = try SafeTensors(path: repo.appendingPathComponent("models/lesion_encoder.safetensors").path)
        var tensors: [String: Tensor] = [:]
        for n in full.names where !n.hasPrefix("fc.") { tensors[n] = try full.tensor(n) }
        let headless = dir.appendingPathComponent("headless")
        try FileManager.default.createDirectory(at: headless, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: headless.appendingPathComponent("detector.safetensors"),
                                                   withDestinationURL: repo.appendingPathComponent("models/detector.safetensors"))
        try SafeTensorsWriter.write(tensors, to: headless.appendingPathComponent("lesion_encoder.safetensors").path)
        XCTAssertThrowsError(try ModelSet(directory: headless)) { e in
            XCTAssertTrue("\(e)".contains("lesion_encoder.safetensors: no classification head"), "\(e)")
        }
    }
}
