import Foundation
import XCTest
@testable import Evaluation

/// Issue 14: the metric functions trapped (precondition, index out of range, Int(NaN)) on
/// inputs that do not fit; `eval` feeds them what files say. Each is now a named MetricsError.
final class MetricsInputTests: XCTestCase {
    func expect(_ kind: MetricsError.Kind, _ parts: [String] = [], _ body: () throws -> Void, line: UInt = #line) {
        do {
            try body()
            XCTFail("expected a MetricsError .\(kind)", line: line)
        } catch let e as MetricsError {
            XCTAssertEqual(e.kind, kind, "\(e)", line: line)
            for p in parts { XCTAssert(e.description.contains(p), "\"\(e)\" lacks \"\(p)\"", line: line) }
        } catch {
            XCTFail("not a MetricsError: \(error)", line: line)
        }
    }

    func testClassificationReportRefusesWhatDoesNotFit() {
        let p = [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]]
        expect(.lengthMismatch, ["classification report", "3 labels but 2 rows"]) { _ = try ClassificationReport(labels: [0, 1, 2], probabilities: p, classes: 3) }
        expect(.labelOutOfRange, ["label 3 of item 1"]) { _ = try ClassificationReport(labels: [0, 3], probabilities: p, classes: 3) }
        expect(.labelOutOfRange, ["label -1 of item 0"]) { _ = try ClassificationReport(labels: [-1, 0], probabilities: p, classes: 3) }
        expect(.rowLength, ["row 1 has 2 values, expected 3"]) { _ = try ClassificationReport(labels: [0, 1], probabilities: [[0.7, 0.2, 0.1], [0.5, 0.5]], classes: 3) }
        expect(.notFinite, ["row 0, class 1 is nan"]) { _ = try ClassificationReport(labels: [0, 1], probabilities: [[0.7, .nan, 0.1], [0.1, 0.8, 0.1]], classes: 3) }
        expect(.invalidArgument, ["0 classes"]) { _ = try ClassificationReport(labels: [], probabilities: [], classes: 0) }
        XCTAssertNoThrow(try ClassificationReport(labels: [], probabilities: [], classes: 3), "no cases: an empty report")
    }

    func testAUCAndCalibrationRefuseWhatDoesNotFit() {
        expect(.lengthMismatch, ["ROC AUC", "2 labels but 3 scores"]) { _ = try ClassificationReport.binaryAUC(positive: [true, false], scores: [0.1, 0.2, 0.3]) }
        expect(.notFinite, ["score 1 is inf"]) { _ = try ClassificationReport.binaryAUC(positive: [true, false], scores: [0.1, .infinity]) }
        // These trapped: `correct[$0]` past the end, `s[y]` past the row.
        expect(.lengthMismatch) { _ = try Calibration.expectedCalibrationError(labels: [0], probabilities: [[0.9, 0.1], [0.2, 0.8]]) }
        expect(.invalidArgument, ["0 bins"]) { _ = try Calibration.expectedCalibrationError(labels: [0], probabilities: [[0.9, 0.1]], bins: 0) }
        expect(.invalidArgument, ["1.5, not a probability"]) { _ = try Calibration.expectedCalibrationError(labels: [0], probabilities: [[1.5, -0.5]]) }
        expect(.labelOutOfRange, ["label 2 of item 0"]) { _ = try Calibration.negativeLogLikelihood(logits: [[1, 2]], labels: [2], temperature: 1) }
        expect(.invalidArgument, ["temperature 0.0"]) { _ = try Calibration.negativeLogLikelihood(logits: [[1, 2]], labels: [1], temperature: 0) }
        expect(.invalidArgument, ["temperature nan"]) { _ = try Calibration.negativeLogLikelihood(logits: [[1, 2]], labels: [1], temperature: .nan) }
        expect(.rowLength, ["row 0 has 0 values"]) { _ = try Calibration.fitTemperature(logits: [[]], labels: [0]) }
        expect(.notFinite) { _ = try Calibration.fitTemperature(logits: [[1, -.infinity]], labels: [0]) }
    }

    func testDetectionRefusesWhatDoesNotFit() {
        let box = EvalBox(0, 0, 10, 10)
        expect(.lengthMismatch, ["detection matching", "2 images with detections but 1"]) {
            _ = try DetectionMetrics.match(detections: [[], []], groundTruth: [[box]])
        }
        expect(.notFinite, ["image 0, detection 0: score nan"]) {
            _ = try DetectionMetrics.map50(detections: [[ScoredBox(box, score: .nan)]], groundTruth: [[box]])
        }
        expect(.invalidBox, ["image 0, reference box 0", "x1 < x0"]) {
            _ = try DetectionMetrics.map50(detections: [[]], groundTruth: [[EvalBox(10, 0, 0, 10)]])
        }
        expect(.notFinite, ["image 1, detection 0"]) {
            _ = try DetectionMetrics.map50(detections: [[], [ScoredBox(EvalBox(0, 0, .infinity, 5), score: 0.5)]], groundTruth: [[], []])
        }
        expect(.invalidArgument, ["IoU threshold 2.0"]) { _ = try DetectionMetrics.match(detections: [[]], groundTruth: [[]], iouThreshold: 2) }
        expect(.invalidArgument, ["threshold is NaN"]) { _ = try DetectionMetrics.at(threshold: .nan, detections: [[]], groundTruth: [[]]) }
        XCTAssertNoThrow(try DetectionMetrics.at(threshold: -.infinity, detections: [[ScoredBox(box, score: 0.2)]], groundTruth: [[box]]))
    }

    func testTheReportNamesTheCase() {
        // A box of three numbers (`$0[3]` trapped), an inverted one, 2 probabilities for 3 classes.
        let short = CaseOutcome(id: "BTXRD-IMG000042", label: .benign, boxes: [[1, 2, 3]], candidates: [], detections: [], present: [true, false, false])
        expect(.invalidBox, ["BTXRD-IMG000042: reference box 0 has 3 numbers"]) { _ = try EvalReport.detection([short], threshold: 0.5, inputs: "") }
        let inverted = CaseOutcome(id: "B", label: .benign, boxes: [[0, 0, 5, 5]], candidates: [EvalDetection(box: [9, 9, 1, 1], score: 0.9)],
                                   detections: [], present: [true, false, false])
        expect(.invalidBox, ["image 0, detection 0", "x1 < x0"]) { _ = try EvalReport.detection([inverted], threshold: 0.5, inputs: "") }
        var two = CaseOutcome(id: "C", label: .malignant, boxes: [], candidates: [], detections: [], present: [true, false, false])
        two.imageProbabilities = [0.5, 0.5]
        expect(.rowLength, ["most wrong cases", "C: 2 probabilities"]) { _ = try EvalReport.mostWrong([two], fusionTemperature: nil, lesionTemperature: nil) }
        // A confidence far outside 0-1 trapped in Int(...) in the reliability bins.
        expect(.invalidArgument, ["reliability", "not a probability"]) { _ = try EvalReport.reliability([0], [[1e300, 0, 0]]) }
        expect(.lengthMismatch, ["ROC curve"]) { _ = try EvalReport.roc(positive: [true], scores: [0.5, 0.2]) }
    }
}
