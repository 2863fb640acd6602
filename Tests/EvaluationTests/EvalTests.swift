import Cases
import Diagnosis
import Foundation
import Imaging
import XCTest
@testable import Evaluation

/// `tumorboard eval` below the command line: predictions scored against pycocotools, bad
/// entries named and left out, the report written whole or not at all, a stop without a report,
/// and the real engine over the bundled samples.
final class EvalTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    static var repository: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }

    func png(_ url: URL, value: UInt8 = 100, side: Int = 32) throws {
        var px = [UInt8](repeating: value, count: side * side)
        for i in 0..<side { px[i * side + i] = 255 }
        try Image(width: side, height: side, colour: .grey, pixels: px).writePNG(to: url)
    }

    /// A BTXRD-like folder: one row per entry of `rows` (id, label, boxes), images written for `withImage`.
    func dataset(_ rows: [(String, String, [[Int]])], missingImage: Set<String> = [], corrupt: Set<String> = []) throws -> URL {
        let root = dir.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("images"), withIntermediateDirectories: true)
        var cases = "image_id,label,subtype,age,sex,site\n", boxes = "image_id,x0,y0,x1,y1\n"
        for (id, label, bs) in rows {
            cases += "\(id),\(label),,30,F,femur\n"
            for b in bs { boxes += "\(id),\(b[0]),\(b[1]),\(b[2]),\(b[3])\n" }
            let img = root.appendingPathComponent("images/\(id).png")
            if corrupt.contains(id) { try Data([0x89, 0x50, 0x4E, 0x47, 0, 1, 2, 3]).write(to: img) }
            else if !missingImage.contains(id) { try png(img) }
        }
        try cases.write(to: root.appendingPathComponent("cases.csv"), atomically: true, encoding: .utf8)
        try boxes.write(to: root.appendingPathComponent("boxes.csv"), atomically: true, encoding: .utf8)
        return root
    }

    struct PredictionsCase: Decodable {
        struct At: Decodable { let recall: Double, precision: Double, tp: Int, fp: Int, n_gt: Int }
        let ground_truth: [[[Int]]], detections: [[[Double]]], ap50_pycocotools: Double, threshold: Double, at_threshold: At
        let image_level_auc_sklearn: Double
    }

    func testPredictionsFileAgainstPycocotools() throws {
        let url = Self.repository.appendingPathComponent("Tests/Fixtures/evaluation/predictions_case.json")
        let c = try JSONDecoder().decode(PredictionsCase.self, from: Data(contentsOf: url))
        let ids = c.ground_truth.indices.map { String(format: "IMG%06d", $0 + 1) }
        let data = try dataset(zip(ids, c.ground_truth).map { ($0, $1.isEmpty ? "normal" : "benign", $1) })
        var lines: [String] = []
        for (id, dets) in zip(ids, c.detections) {
            let d = dets.map { ["box": Array($0.prefix(4)), "score": $0[4]] as [String: Any] }
            let obj: [String: Any] = ["image": data.appendingPathComponent("images/\(id).png").path, "detections": d,
                                      "probabilities": NSNull(), "width": 32, "height": 32]
            lines.append(String(decoding: try JSONSerialization.data(withJSONObject: obj), as: UTF8.self))
        }
        lines.insert("{\"image\": \"IMG000003.png\", \"detections\": [{\"box\": [1, 2], \"score\": 0.5}]}", at: 3)   // a bad box
        lines.insert("this is not JSON", at: 5)
        let predictions = dir.appendingPathComponent("pred.jsonl")
        try lines.joined(separator: "\n").write(to: predictions, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("report")
        let cmd = EvalCommand(data: data.path, split: nil, cohort: nil, slides: nil, out: out, predictions: predictions,
                              threshold: c.threshold, modelsDirectory: dir, limit: nil)
        guard case .written(let report) = try cmd.run(log: { _ in }) else { return XCTFail("not written") }
        let d = try XCTUnwrap(report.detection)
        XCTAssertEqual(try XCTUnwrap(d.map50), c.ap50_pycocotools, accuracy: 1e-6, "mAP@0.5 against pycocotools")
        XCTAssertEqual(d.recall, c.at_threshold.recall, accuracy: 1e-12)
        XCTAssertEqual(d.precision, c.at_threshold.precision, accuracy: 1e-12)
        XCTAssertEqual(d.truePositives, c.at_threshold.tp); XCTAssertEqual(d.falsePositives, c.at_threshold.fp)
        XCTAssertEqual(try XCTUnwrap(d.imageLevelAUC), c.image_level_auc_sklearn, accuracy: 1e-12, "image-level AUC against scikit-learn")
        let normal = c.ground_truth.indices.filter { c.ground_truth[$0].isEmpty }
        let alarms = normal.filter { i in c.detections[i].contains { $0[4] >= c.threshold } }.count
        XCTAssertEqual(try XCTUnwrap(d.specificityAtOperating), 1 - Double(alarms) / Double(normal.count), accuracy: 1e-12)
        XCTAssertTrue(report.leftOut.contains { $0.hasPrefix("pred.jsonl:4:") && $0.contains("4-number box") }, "\(report.leftOut)")
        XCTAssertTrue(report.leftOut.contains { $0.hasPrefix("pred.jsonl:6:") && $0.contains("not a detect line") }, "\(report.leftOut)")
        XCTAssertEqual(report.cases, ids.count, "every image still scored (the good line for IMG000003 came first)")
        for f in ["report.md", "report.json", "pr_curve.png"] { XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent(f).path), f) }
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("report.json"))) as? [String: Any])
        XCTAssertNotNil((json["detection"] as? [String: Any])?["map50"], "snake-case keys as docs/cli.md lists them")
        XCTAssertTrue(try String(contentsOf: out.appendingPathComponent("report.md"), encoding: .utf8).contains("pred.jsonl:6"))
    }

    func testBadEntriesAreNamedAndTheRestIsEvaluated() throws {
        let data = try dataset([("IMG000001", "benign", [[2, 2, 20, 20]]), ("IMG000002", "sarcoma?", []),
                                ("IMG000003", "malignant", [[4, 4, 12, 12]]), ("IMG000004", "normal", []),
                                ("IMG000005", "benign", [])],
                               missingImage: ["IMG000004"], corrupt: ["IMG000005"])
        let set = try EvalSet.load(path: data.path)
        XCTAssertEqual(set.cases.map(\.record.id), ["BTXRD-IMG000001", "BTXRD-IMG000003", "BTXRD-IMG000005"])
        XCTAssertTrue(set.leftOut.contains { $0.contains("cases.csv") && $0.contains("line 3") && $0.contains("sarcoma?") }, "\(set.leftOut)")
        XCTAssertTrue(set.leftOut.contains { $0.contains("line 5") && $0.contains("images/IMG000004.png") }, "\(set.leftOut)")
        XCTAssertThrowsError(try EvalSet.load(path: data.path, split: "test")) { XCTAssertTrue("\($0)".contains("no split information")) }
        XCTAssertThrowsError(try EvalSet.load(path: dir.appendingPathComponent("nope").path)) { XCTAssertTrue("\($0)".contains("nope: no such")) }

        // The real engine: the corrupt image is named with its problem; the others are scored.
        let diagnosis = try Diagnosis(models: ModelSet(directory: Self.repository.appendingPathComponent("models")))
        let (outcomes, stopped) = EvalRunner.run(set, diagnosis: diagnosis)
        XCTAssertFalse(stopped)
        let bad = try XCTUnwrap(outcomes.first { $0.id == "BTXRD-IMG000005" }?.error)
        XCTAssertTrue(bad.contains("IMG000005.png") || bad.contains("PNG"), bad)
        let report = try EvalReport.make(title: "t", set: set, outcomes: outcomes, leftOut: [], models: diagnosis.models.hashes,
                                     operatingThreshold: 0.325, lesionTemperature: 1, fusionTemperature: 1, wallSeconds: 0, source: "test")
        XCTAssertEqual(report.cases, 2)
        XCTAssertTrue(report.casesWithErrors.first?.hasPrefix("BTXRD-IMG000005: ") == true)
        XCTAssertEqual(report.detection?.boxes, 2)
        XCTAssertTrue(report.markdown.contains("## Left out") && report.markdown.contains("sarcoma?"))
    }

    func testAStopLeavesNoReportAndAReportIsReplacedWhole() throws {
        let data = try dataset([("IMG000001", "benign", [[2, 2, 20, 20]]), ("IMG000002", "malignant", [[1, 1, 9, 9]])])
        let set = try EvalSet.load(path: data.path)
        var asked = 0
        let diagnosis = try Diagnosis(models: ModelSet(directory: Self.repository.appendingPathComponent("models")))
        let (outcomes, stopped) = EvalRunner.run(set, diagnosis: diagnosis, shouldStop: { asked += 1; return asked > 1 })
        XCTAssertTrue(stopped); XCTAssertEqual(outcomes.count, 1)

        let report = try EvalReport.make(title: "t", set: set, outcomes: EvalRunner.run(set, diagnosis: diagnosis).outcomes, leftOut: [],
                                     models: [:], operatingThreshold: 0.325, lesionTemperature: 1, fusionTemperature: 1, wallSeconds: 0, source: "test")
        let out = dir.appendingPathComponent("r")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try Data("old".utf8).write(to: out.appendingPathComponent("report.md"))   // an earlier report...
        try Data("old".utf8).write(to: out.appendingPathComponent("stale.txt"))   // ...with a file the new one lacks
        try report.write(to: out)
        let files = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
        XCTAssertFalse(files.contains("stale.txt"), "the old report is replaced whole: \(files)")
        XCTAssertTrue(files.contains("report.md") && files.contains("report.json"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".r.") }, [], "no staging folder left")
        // A report that cannot be written: a named error, and nothing left behind.
        let blocker = dir.appendingPathComponent("file")
        try Data().write(to: blocker)
        XCTAssertThrowsError(try report.write(to: blocker.appendingPathComponent("report")))
        XCTAssertFalse(FileManager.default.fileExists(atPath: blocker.appendingPathComponent("report").path))
    }

    func testTheSamplesEndToEnd() throws {
        let samples = Self.repository.appendingPathComponent("samples")
        let out = dir.appendingPathComponent("samples-report")
        let cmd = EvalCommand(data: samples.path, split: nil, cohort: nil, slides: nil, out: out, predictions: nil, threshold: nil,
                              modelsDirectory: Self.repository.appendingPathComponent("models"), limit: nil)
        var log: [String] = []
        guard case .written(let report) = try cmd.run(log: { log.append($0) }) else { return XCTFail("not written") }
        XCTAssertEqual(report.cases, 7, "\(report.casesWithErrors) \(report.leftOut)")
        XCTAssertTrue(report.inputs["image"]?.contains("GENERATED") == true, "the samples are said to be synthetic: \(report.inputs)")
        XCTAssertEqual(report.classification.first?.cases, 6, "six tumour samples, one normal")
        XCTAssertEqual(report.classification.filter { $0.name.hasPrefix("fusion:") }.count, 7, "the ablation has all seven subsets")
        XCTAssertNotNil(report.detection?.map50)
        for f in ["roc.png", "reliability.png", "confusion.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent(f).path), f)
        }
        XCTAssertTrue(log.contains { $0.contains("7/7 cases") }, "a progress line: \(log)")
    }

    func testOutNeverReplacesAFolderThatIsNotAReport() throws {
        let data = try dataset([("IMG000001", "benign", [[2, 2, 20, 20]])])
        let set = try EvalSet.load(path: data.path)
        let o = CaseOutcome(id: "BTXRD-IMG000001", label: .benign, boxes: [[2, 2, 20, 20]], candidates: [], detections: [], present: [true, false, false])
        let report = try EvalReport.make(title: "t", set: set, outcomes: [o], leftOut: [], models: [:], operatingThreshold: 0.5,
                                     lesionTemperature: nil, fusionTemperature: nil, wallSeconds: 0, source: "test")
        // The dataset itself given as --out: refused, untouched.
        XCTAssertThrowsError(try report.write(to: data)) { XCTAssertTrue("\($0)".contains("is not a TumorBoard report"), "\($0)") }
        XCTAssertTrue(FileManager.default.fileExists(atPath: data.appendingPathComponent("cases.csv").path))
        // An empty folder and an earlier report are fine.
        let empty = dir.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        XCTAssertNoThrow(try report.write(to: empty))
        XCTAssertNoThrow(try report.write(to: empty), "replacing its own report")
    }

    /// Recall by size matches once against all reference boxes: one detection covering a small
    /// box inside a large one is a hit for one of them only.
    func testRecallBySizeMatchesOnce() throws {
        let big = [0.0, 0.0, 100.0, 100.0], small = [0.0, 0.0, 80.0, 80.0], tiny = [200.0, 200.0, 210.0, 210.0]
        let o = CaseOutcome(id: "A", label: .benign, boxes: [big, small, tiny], candidates: [EvalDetection(box: [0, 0, 90, 90], score: 0.9)],
                            detections: [EvalDetection(box: [0, 0, 90, 90], score: 0.9)], present: [true, false, false])
        let d = try XCTUnwrap(try EvalReport.detection([o], threshold: 0.5, inputs: ""))
        let hits = d.recallBySize.map { ($0.recallAnyScore ?? 0) * Double($0.boxes) }.reduce(0, +)
        XCTAssertEqual(hits, 1, accuracy: 1e-9, "one detection, one box: \(d.recallBySize)")
        XCTAssertEqual(d.recall, 1.0 / 3.0, accuracy: 1e-12)
    }
}
