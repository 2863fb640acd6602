import Foundation
import XCTest
@testable import Evaluation

/// The Swift metrics against scikit-learn, pycocotools and scipy: reference values written by
/// training/make_evaluation_fixtures.py on random inputs (ties, duplicates and a class that is
/// never predicted included).
final class MetricsTests: XCTestCase {
    struct ClassificationCase: Decodable {
        let seed: Int, labels: [Int], logits: [[Double]], probabilities: [[Double]]
        let precision: [Double], recall: [Double], f1: [Double], auc: [Double], macro_auc: Double
        let confusion: [[Int]], accuracy: Double, ece15: Double, temperature: Double
    }
    struct AtThreshold: Decodable { let recall: Double, precision: Double, tp: Int, fp: Int, n_gt: Int }
    struct DetectionCase: Decodable {
        let seed: Int, ground_truth: [[[Double]]], detections: [[[Double]]], ap50_pycocotools: Double
        let threshold: Double, at_threshold: AtThreshold
    }
    struct File: Decodable { let classification: [ClassificationCase], detection: [DetectionCase] }

    static let file: File = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/evaluation/metrics_cases.json")
        return try! JSONDecoder().decode(File.self, from: Data(contentsOf: url))
    }()

    func close(_ a: [Double], _ b: [Double], _ tol: Double, _ what: String) {
        XCTAssertEqual(a.count, b.count, what)
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: tol, what) }
    }

    func testClassificationAgainstScikitLearn() throws {
        XCTAssertEqual(Self.file.classification.count, 4)
        for c in Self.file.classification {
            let r = try ClassificationReport(labels: c.labels, probabilities: c.probabilities, classes: 3)
            let what = "case seed \(c.seed)"
            close(r.precision, c.precision, 1e-12, what + " precision")
            close(r.recall, c.recall, 1e-12, what + " recall")
            close(r.f1, c.f1, 1e-12, what + " f1")
            close(r.auc.map { $0 ?? .nan }, c.auc, 1e-12, what + " auc")
            XCTAssertEqual(r.macroAUC ?? .nan, c.macro_auc, accuracy: 1e-12, what)
            XCTAssertEqual(r.macroF1, c.f1.reduce(0, +) / 3, accuracy: 1e-12, what)
            XCTAssertEqual(r.confusion, c.confusion, what)
            XCTAssertEqual(r.accuracy, c.accuracy, accuracy: 1e-12, what)
        }
    }

    func testCalibrationAgainstReference() throws {
        for c in Self.file.classification {
            XCTAssertEqual(try Calibration.expectedCalibrationError(labels: c.labels, probabilities: c.probabilities, bins: 15),
                           c.ece15, accuracy: 1e-12, "ECE, case seed \(c.seed)")
            // scipy's bounded Brent stops at about 1e-5 in log T; both minimise the same NLL.
            let t = try Calibration.fitTemperature(logits: c.logits, labels: c.labels)
            XCTAssertEqual(log(t), log(c.temperature), accuracy: 1e-4, "temperature, case seed \(c.seed)")
        }
    }

    func testDetectionAgainstPycocotools() throws {
        XCTAssertEqual(Self.file.detection.count, 2)
        for c in Self.file.detection {
            let gts = c.ground_truth.map { $0.map { EvalBox($0[0], $0[1], $0[2], $0[3]) } }
            let dets = c.detections.map { $0.map { ScoredBox(EvalBox($0[0], $0[1], $0[2], $0[3]), score: $0[4]) } }
            XCTAssertEqual(try DetectionMetrics.map50(detections: dets, groundTruth: gts) ?? .nan, c.ap50_pycocotools, accuracy: 1e-9, "seed \(c.seed)")
            let a = try DetectionMetrics.at(threshold: c.threshold, detections: dets, groundTruth: gts)
            XCTAssertEqual(a.truePositives, c.at_threshold.tp); XCTAssertEqual(a.falsePositives, c.at_threshold.fp)
            XCTAssertEqual(a.groundTruthCount, c.at_threshold.n_gt)
            XCTAssertEqual(a.recall, c.at_threshold.recall, accuracy: 1e-12); XCTAssertEqual(a.precision, c.at_threshold.precision, accuracy: 1e-12)
        }
    }

    func testHandComputedCases() throws {
        // rc [.5, .5, 1], precision envelope [1, 2/3, 2/3]: 51 recall points at 1, 50 at 2/3
        let gts = [[EvalBox(0, 0, 10, 10), EvalBox(20, 20, 30, 30)]]
        let dets = [[ScoredBox(EvalBox(0, 0, 10, 10), score: 0.9), ScoredBox(EvalBox(50, 50, 60, 60), score: 0.8),
                     ScoredBox(EvalBox(20, 20, 30, 31), score: 0.7)]]
        XCTAssertEqual(try DetectionMetrics.map50(detections: dets, groundTruth: gts)!, (51 + 50 * 2 / 3) / 101, accuracy: 1e-12)
        XCTAssertNil(try DetectionMetrics.map50(detections: [[]], groundTruth: [[]]), "no ground truth: AP undefined")
        // 12 positive-negative pairs: each 0.4 beats 0.1 and 0.2 and ties 0.4 (2.5 each), 0.9 beats three and ties one (3.5)
        XCTAssertEqual(try ClassificationReport.binaryAUC(positive: [false, true, true, false, true, false, false],
                                                      scores: [0.1, 0.4, 0.4, 0.4, 0.9, 0.2, 0.9])!, 8.5 / 12, accuracy: 1e-12)
        XCTAssertNil(try ClassificationReport.binaryAUC(positive: [true, true], scores: [0.1, 0.2]))
        // ECE by hand: bins (13/15, 14/15]: 2 at .9, all right; (8/15, 9/15]: .6 wrong; (10/15, 11/15]: .7 right
        XCTAssertEqual(try Calibration.expectedCalibrationError(labels: [0, 0, 1, 1], probabilities: [[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.3, 0.7]]),
                       0.05 + 0.15 + 0.075, accuracy: 1e-12)
    }
}
