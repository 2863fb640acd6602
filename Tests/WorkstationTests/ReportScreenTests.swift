import Cases
import Evaluation
import Foundation
import XCTest
@testable import Workstation

/// The evaluation report as a workstation screen: text, plots through the ladder, and the
/// most-wrong cases opening in the case view.
final class ReportScreenTests: XCTestCase {
    func reportFolder(dataset: URL) throws -> URL {
        let set = try EvalSet.load(path: dataset.path)
        // Made-up outcomes: IMG000003 (malignant) answered benign with confidence.
        let outcomes = set.cases.map { c -> CaseOutcome in
            let wrong = c.record.id == "BTXRD-IMG000003"
            let logits: [Float] = wrong ? [4, 0, 0] : (c.label == .benign ? [3, 0, 0] : c.label == .malignant ? [0, 0, 3] : [0, 3, 0])
            let box = c.boxes.first.map { [Double($0.x0), Double($0.y0), Double($0.x1), Double($0.y1)] }
            let dets = box.map { [EvalDetection(box: $0, score: 0.8)] } ?? []
            return CaseOutcome(id: c.record.id, label: c.label, boxes: c.boxes.map { [Double($0.x0), Double($0.y0), Double($0.x1), Double($0.y1)] },
                               candidates: dets, detections: dets, imageLogits: logits, imageProbabilities: nil,
                               subsetLogits: ["1": logits], present: [true, false, false], error: nil)
        }
        let report = try EvalReport.make(title: "fixture", set: set, outcomes: outcomes, leftOut: [], models: [:], operatingThreshold: 0.5,
                                     lesionTemperature: 1, fusionTemperature: 1, wallSeconds: 0, source: "test")
        let out = Fixtures.tempFolder("report").appendingPathComponent("r")
        try report.write(to: out)
        return out
    }

    func testReportScreenTextPlotsAndMostWrongCases() throws {
        let data = try Fixtures.dataset()
        let folder = try reportFolder(dataset: data)
        let b = Browser(source: try RecordSource.dataset(at: data.path), graphics: Fixtures.sixel)
        b.setReport(try ReportDocument.load(folder), show: true)
        var s = b.draw(width: 120, height: 36)
        XCTAssertTrue(s.row(0).contains("Evaluation report"))
        XCTAssertTrue(s.text.contains("# TumorBoard evaluation: fixture"), s.text)
        XCTAssertTrue(s.text.contains("BTXRD-IMG000003 malignant→benign"), "the most-wrong case on top: \(s.text)")
        XCTAssertTrue(s.text.contains("pr_curve.png (1/4"))
        let layer = try XCTUnwrap(s.graphics.first, "the plot as a sixel layer")
        b.handle(.char("]"))
        s = b.draw(width: 120, height: 36)
        XCTAssertTrue(s.text.contains("roc.png (2/4"))
        XCTAssertNotEqual(s.graphics.first?.key, layer.key)
        b.handle(.pageDown)
        XCTAssertGreaterThan(b.report?.top ?? 0, 0)
        // Enter opens the case; Esc goes back to the report; Esc again to the list; E back to the report.
        b.handle(.enter)
        XCTAssertEqual(b.caseView?.detail.summary.id, "BTXRD-IMG000003")
        b.handle(.escape)
        XCTAssertNil(b.caseView); XCTAssertTrue(b.showingReport)
        b.handle(.escape)
        XCTAssertFalse(b.showingReport)
        XCTAssertTrue(b.draw(width: 120, height: 36).row(0).contains("TumorBoard ·"))
        b.handle(.char("E"))
        XCTAssertTrue(b.showingReport)
        // Blocks and ASCII draw it too.
        for mode in [GraphicsMode.blocks, .ascii] {
            let c = Browser(source: try RecordSource.dataset(at: data.path), graphics: GraphicsChoice(mode: mode, reason: "t", cellSize: CellSize(width: 10, height: 20)))
            c.setReport(try ReportDocument.load(folder), show: true)
            let t = c.draw(width: 100, height: 30)
            let (_, plot) = ReportScreen.layout(width: 100, height: 30)
            let cells = (plot.y + 1..<plot.y + plot.height - 1).flatMap { y in (plot.x + 1..<plot.x + plot.width - 1).map { t[$0, y].char } }
            XCTAssertGreaterThan(cells.filter { $0 != " " }.count, cells.count / 4, "\(mode): the plot is drawn in cells")
        }
    }

    func testNoReportSaysHowToMakeOne() throws {
        let b = Browser(source: try RecordSource.dataset(at: try Fixtures.dataset().path), graphics: Fixtures.blocks)
        b.handle(.char("E"))
        XCTAssertFalse(b.showingReport)
        XCTAssertTrue(b.message?.text.contains("tumorboard eval") == true)
        XCTAssertThrowsError(try ReportDocument.load(Fixtures.tempFolder("empty-report"))) { XCTAssertTrue("\($0)".contains("no report.md")) }
    }
}
