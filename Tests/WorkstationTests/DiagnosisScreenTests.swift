import Cases
import Diagnosis
import Foundation
import Imaging
import XCTest
@testable import Workstation

/// The diagnosis panels through the screen model: bars, percentages, absent modality, no lesion,
/// heatmap legend, truth marks, and results that must not land on the wrong case.
final class DiagnosisScreenTests: XCTestCase {
    func browser(_ graphics: GraphicsChoice = Fixtures.blocks) throws -> Browser {
        Browser(source: try RecordSource.dataset(at: try Fixtures.dataset().path), graphics: graphics)
    }

    func press(_ b: Browser, _ keys: Key...) { for k in keys { b.handle(k) } }

    /// Opens IMG000002 (benign, one reference box) and delivers `f` as its diagnosis.
    func opened(_ f: Findings, graphics: GraphicsChoice = Fixtures.blocks) throws -> Browser {
        let b = try browser(graphics)
        press(b, .down, .enter)
        b.loadPendingSynchronously()
        XCTAssertEqual(b.diagnosisRequests.map(\.id), ["BTXRD-IMG000002"], "opening a case asks for its diagnosis")
        b.modelsChanged(.ready(digests: ["detector.safetensors": "ab12cd34ef56"], missing: []))
        b.diagnosed(id: "BTXRD-IMG000002", .success(DiagnosisFixtures.result("BTXRD-IMG000002", f)))
        return b
    }

    /// The first row holding `needle`: of the side panel when a case is open (the title bar
    /// repeats the truth), else of the whole screen.
    func row(_ s: Screen, containing needle: String, side: Bool = true) -> String? {
        sideRows(s, side: side).first { $0.contains(needle) }
    }

    func sideRows(_ s: Screen, side: Bool = true) -> [String] {
        let (_, rect) = CaseViewScreen.layout(width: s.width, height: s.height)
        return (0..<s.height).map { y in
            let r = Array(s.row(y))
            return side && s.row(1).contains("┐┌") ? String(r[(rect.x + 1)..<(rect.x + rect.width - 1)]) : String(r)
        }
    }

    func testBarPrimitives() {
        var s = Screen(width: 10, height: 4)
        s.bar(x: 0, y: 0, width: 4, fraction: 0.5, style: .plain, track: .plain)
        XCTAssertEqual(s.row(0).prefix(4), "██··")
        s.bar(x: 0, y: 1, width: 4, fraction: 0.3, style: .plain, track: .plain)  // 9.6 eighths -> 10
        XCTAssertEqual(s.row(1).prefix(4), "█▎··")
        s.divergingBar(x: 0, y: 2, width: 7, value: 1, scale: 1, gain: .plain, loss: .plain, axis: .plain)
        XCTAssertEqual(s.row(2).prefix(7), "   │███")
        s.divergingBar(x: 0, y: 3, width: 7, value: -0.5, scale: 1, gain: .plain, loss: .plain, axis: .plain)
        XCTAssertEqual(s.row(3).prefix(7), " ▐█│   ")
        // Out of range and NaN stay inside the bar.
        var t = Screen(width: 6, height: 2)
        t.bar(x: 0, y: 0, width: 3, fraction: 7, style: .plain, track: .plain)
        XCTAssertEqual(t.row(0).prefix(3), "███")
        t.bar(x: 0, y: 1, width: 3, fraction: .nan, style: .plain, track: .plain)
        XCTAssertEqual(t.row(1).prefix(3), "···")
    }

    func testClassBarsWithPercentagesAndThePredictedClassMarked() throws {
        let b = try opened(DiagnosisFixtures.findings(probabilities: [0.1, 0.2, 0.7], imageOnly: [0.3, 0.25, 0.45]))
        let s = b.draw(width: 100, height: 30)
        let malignant = try XCTUnwrap(row(s, containing: "▶malignant"), s.text)
        XCTAssertTrue(malignant.contains(" 70.0%") && malignant.contains(" 45.0%"), malignant)
        let benign = try XCTUnwrap(sideRows(s).first { $0.hasPrefix("  benign") }, s.text)
        XCTAssertTrue(benign.contains(" 10.0%") && benign.contains(" 30.0%"), benign)
        XCTAssertFalse(benign.contains("▶"))
        XCTAssertTrue(try XCTUnwrap(row(s, containing: " intermediate")).contains(" 20.0%"))
        XCTAssertNotNil(row(s, containing: "▶ MALIGNANT 70.0%"))
        XCTAssertNotNil(row(s, containing: "fused"), "the fused column is named")
        XCTAssertNotNil(row(s, containing: "image only"), "the image-only answer is beside it")
        // The malignant bar: 70 % of its cells in the malignant role's colour.
        let (_, side) = CaseViewScreen.layout(width: 100, height: 30)
        let y = try XCTUnwrap((0..<30).first { s.row($0).contains("▶malignant") })
        let barCells = (side.x..<(side.x + side.width)).filter { "▏▎▍▌▋▊▉█".contains(s[$0, y].char) }
        XCTAssertTrue(barCells.allSatisfy { s[$0, y].style.fg == b.theme[.malignant].fg })
    }

    func testContributionsAreSignedBarsAndAnAbsentModalityIsMarkedAbsent() throws {
        let b = try opened(DiagnosisFixtures.findings(contributions: [0.2, -0.1, nil]))
        let s = b.draw(width: 100, height: 30)
        XCTAssertNotNil(row(s, containing: "Contributions to p(malignant)"), s.text)
        let image = try XCTUnwrap(row(s, containing: "image     "))
        XCTAssertTrue(image.contains("│█") && image.contains("+0.200"), image)
        let path = try XCTUnwrap(row(s, containing: "pathology "))
        XCTAssertTrue(path.contains("█│") && path.contains("-0.100"), path)
        let labs = try XCTUnwrap(row(s, containing: "text      "))
        XCTAssertTrue(labs.contains("absent"), "an absent modality is marked absent: \(labs)")
        XCTAssertFalse(labs.contains("│"), "and not drawn as a zero bar: \(labs)")
        XCTAssertNotNil(row(s, containing: "sum +0.100"))
    }

    func testNoLesionIsSaidFirstAndTheProbabilitiesAreConditional() throws {
        let b = try opened(DiagnosisFixtures.findings(detections: []))
        let s = b.draw(width: 100, height: 30)
        let lines = sideRows(s)
        let first = try XCTUnwrap(lines.firstIndex { $0.contains("─ Diagnosis") })
        XCTAssertTrue(lines[first + 1].contains("no lesion found"), lines[first + 1])
        XCTAssertNotNil(row(s, containing: "if lesion"), "the probabilities are labelled as conditional")
        XCTAssertNotNil(row(s, containing: "model: none above the threshold"))
        // Truth benign, no lesion found: wrong.
        XCTAssertTrue(try XCTUnwrap(row(s, containing: "truth benign")).contains("✗"))
        XCTAssertEqual(b.predictions["BTXRD-IMG000002"]?.lesionFound, false)
    }

    func testTruthMarks() throws {
        // IMG000002 is benign: a benign answer with a lesion is right, a malignant one wrong.
        var s = try opened(DiagnosisFixtures.findings(probabilities: [0.8, 0.1, 0.1])).draw(width: 100, height: 30)
        XCTAssertTrue(try XCTUnwrap(row(s, containing: "truth benign")).contains("✓"), s.text)
        s = try opened(DiagnosisFixtures.findings(probabilities: [0.1, 0.1, 0.8])).draw(width: 100, height: 30)
        XCTAssertTrue(try XCTUnwrap(row(s, containing: "truth benign")).contains("✗"))
        // IMG000001 is normal: no lesion found is right.
        let b = try browser()
        press(b, .enter); b.loadPendingSynchronously()
        b.diagnosed(id: "BTXRD-IMG000001", .success(DiagnosisFixtures.result("BTXRD-IMG000001", DiagnosisFixtures.findings(detections: []))))
        s = b.draw(width: 100, height: 30)
        XCTAssertTrue(try XCTUnwrap(row(s, containing: "truth normal")).contains("✓"), s.text)
    }

    func testModelBoxesComeFirstColouredByThePredictedClassAndTruthBoxesAreDashed() throws {
        let b = try opened(DiagnosisFixtures.findings(probabilities: [0.1, 0.2, 0.7], detections: [[8, 10, 30, 28], [40, 5, 50, 15]]))
        let cv = try XCTUnwrap(b.caseView)
        let boxes = Browser.boxes(for: cv, showTruth: true)
        XCTAssertEqual(boxes.count, 3)
        XCTAssertEqual(boxes[0].role, .malignant); XCTAssertEqual(boxes[0].label, "malignant 0.81"); XCTAssertFalse(boxes[0].dashed)
        XCTAssertEqual(boxes[1].role, .prediction, "only the top lesion is classified")
        XCTAssertTrue(boxes[2].dashed); XCTAssertEqual(boxes[2].role, .box)
        press(b, .char("T"))
        XCTAssertEqual(Browser.boxes(for: b.caseView!, showTruth: b.showTruth).count, 2, "T hides the truth boxes")
        // Boxes arriving after the image are drawn (the pane's cache key holds them).
        let s = b.draw(width: 100, height: 30)
        XCTAssertTrue(s.text.contains("malignant 0.81"), "the box label in the half-block pane")
    }

    func testHeatmapOverlayAndLegendInEveryMode() throws {
        let f = DiagnosisFixtures.findings(heat: [0, 0, 0, 1])
        for mode in [GraphicsMode.blocks, .ascii, .sixel] {
            let b = try opened(f, graphics: GraphicsChoice(mode: mode, reason: "test", cellSize: CellSize(width: 10, height: 20)))
            XCTAssertTrue(b.showHeatmap, "on by default")
            let s = b.draw(width: 100, height: 30)
            let (pane, _) = CaseViewScreen.layout(width: 100, height: 30)
            let bottom = s.row(pane.y + pane.height - 1)
            XCTAssertTrue(bottom.contains(mode == .ascii ? "coloured cells" : "Grad-CAM low"), "\(mode): \(bottom)")
            XCTAssertTrue(s.row(pane.y).contains("heatmap"))
            if mode == .ascii {
                // Cells over the hot corner carry the heatmap colour.
                XCTAssertTrue(s.cells.contains { $0.style.fg == b.theme[.heatmap].fg && $0.style.bold }, "hot cells marked")
            }
            press(b, .char("m"))
            let off = b.draw(width: 100, height: 30)
            XCTAssertFalse(off.row(pane.y + pane.height - 1).contains("Grad-CAM") || off.row(pane.y + pane.height - 1).contains("coloured"))
            if mode == .sixel { XCTAssertNotEqual(off.graphics.first?.key, s.graphics.first?.key, "the image is sent again without the overlay") }
        }
        // The overlay changes the hot corner's pixels and leaves the cold ones.
        let img = try Fixtures.gradient()
        let view = ImageViewState(window: Window(center: 128, width: 256))
        let plain = try PaneRasterizer.rasterize(img, boxes: [], view: view, width: 64, height: 48, theme: .dark, drawBoxes: false)
        let heat = HeatOverlay(x0: 0, y0: 0, x1: 64, y1: 48, width: 2, height: 2, values: [0, 0, 0, 1])
        let hot = try PaneRasterizer.rasterize(img, boxes: [], view: view, width: 64, height: 48, theme: .dark, drawBoxes: false, heat: heat)
        XCTAssertEqual(hot.pixel(2, 2).r, plain.pixel(2, 2).r)
        XCTAssertNotEqual(hot.rgb[(46 * 64 + 62) * 3..<(46 * 64 + 63) * 3], plain.rgb[(46 * 64 + 62) * 3..<(46 * 64 + 63) * 3])
    }

    func testAResultForAnotherCaseNeverLandsOnTheShownOne() throws {
        let b = try browser()
        press(b, .down, .enter)                       // IMG000002
        press(b, .char("n"))                          // IMG000003 before 2's result came
        XCTAssertEqual(b.diagnosisRequests.map(\.id), ["BTXRD-IMG000002", "BTXRD-IMG000003"])
        b.diagnosed(id: "BTXRD-IMG000002", .success(DiagnosisFixtures.result("BTXRD-IMG000002", DiagnosisFixtures.findings())))
        XCTAssertNil(b.caseView?.diagnosis.result, "2's result does not show on 3")
        XCTAssertNotNil(b.predictions["BTXRD-IMG000002"], "but the list learns it")
        b.diagnosed(id: "BTXRD-IMG000003", .failure(CaseSourceError("boom")))
        XCTAssertTrue(b.draw(width: 100, height: 30).text.contains("boom"))
    }

    func testMissingModelsLeaveBrowsingWorkingAndSayWhatToRun() throws {
        let b = try browser()
        b.modelsChanged(.failed("/x/models/detector.safetensors: missing (train with training/run_all.sh, or check TUMORBOARD_MODELS)"))
        press(b, .down, .enter); b.loadPendingSynchronously()
        let s = b.draw(width: 100, height: 30)
        XCTAssertTrue(s.text.contains("models not loaded; browsing works"), s.text)
        XCTAssertTrue(s.text.contains("training/run_all.sh"))
        XCTAssertTrue(s.text.contains("▀"), "the radiograph still shows")
        press(b, .char("+"))
        XCTAssertEqual(b.caseView?.view.zoom, 1.25)
        // Loading progress in the status bar.
        b.modelsChanged(.loading(done: 3, total: 5, part: "fusion head"))
        XCTAssertTrue(b.draw(width: 100, height: 30).row(29).contains("loading models 3/5"))
    }

    func testListStatusColumnsTriageAndFilter() throws {
        let b = try browser()
        b.known([KnownPrediction(caseID: "BTXRD-IMG000003", summary: PredictionSummary(DiagnosisFixtures.findings(probabilities: [0.1, 0.1, 0.8]))),
                 KnownPrediction(caseID: "BTXRD-IMG000004", summary: PredictionSummary(DiagnosisFixtures.findings(probabilities: [0.6, 0.3, 0.1]))),
                 KnownPrediction(caseID: "BTXRD-IMG000005", summary: PredictionSummary(DiagnosisFixtures.findings(detections: [])))])
        var s = b.draw(width: 100, height: 30)
        func row(_ s: Screen, containing n: String) -> String? { self.row(s, containing: n, side: false) }
        XCTAssertNotNil(row(s, containing: "Status"))
        let r3 = try XCTUnwrap(row(s, containing: "BTXRD-IMG000003"))
        XCTAssertTrue(r3.contains("predicted") && r3.contains("malignant") && r3.contains("80%") && r3.contains("0.80"), r3)
        XCTAssertTrue(try XCTUnwrap(row(s, containing: "BTXRD-IMG000001")).contains("not run"))
        XCTAssertTrue(try XCTUnwrap(row(s, containing: "BTXRD-IMG000005")).contains("no lesion"))
        press(b, .char("M"))
        XCTAssertEqual(b.selectedSummary?.id, "BTXRD-IMG000003", "triage puts the highest p(malignant) first")
        s = b.draw(width: 100, height: 30)
        XCTAssertTrue(s.row(3).contains("BTXRD-IMG000003"))
        press(b, .char("F"), .char("F"))              // benign, intermediate -> intermediate shows none
        XCTAssertEqual(b.filter, .predicted(.intermediate))
        XCTAssertTrue(b.visible.isEmpty)
        press(b, .char("F"))                          // malignant
        XCTAssertEqual(b.visible.map { b.all[$0].id }, ["BTXRD-IMG000003"])
        press(b, .char("F"))                          // no lesion
        XCTAssertEqual(b.visible.map { b.all[$0].id }, ["BTXRD-IMG000005"])
        press(b, .char("F"))                          // not run
        XCTAssertEqual(Set(b.visible.map { b.all[$0].id }), ["BTXRD-IMG000001", "BTXRD-IMG000002"])
    }

    func testSidePanelScrollsBySectionAt80x24() throws {
        let b = try opened(DiagnosisFixtures.findings(sentence: "Alkaline phosphatase markedly raised at 900 U/L (reference 40-129 for a male aged 30)."))
        var s = b.draw(width: 80, height: 24)
        XCTAssertTrue(s.text.contains("─ Diagnosis") && s.text.contains("Contributions"), "the answer fits at 80x24:\n\(s.text)")
        XCTAssertTrue(s.text.contains("] more"))
        for _ in 0..<4 { press(b, .char("]")) }
        s = b.draw(width: 80, height: 24)
        XCTAssertTrue(s.text.contains("Alkaline phosphatase") || s.text.contains("─ Sentence") || s.text.contains("─ Slide"), s.text)
        for _ in 0..<8 { press(b, .char("[")) }
        XCTAssertEqual(b.caseView?.sideTop, 0)
        // A taller window shows more at once.
        let tall = b.draw(width: 120, height: 60)
        XCTAssertTrue(tall.text.contains("─ Models and timings"), tall.text)
    }

    func testTheSlideShowsThroughTheGraphicsLadder() throws {
        let root = Fixtures.tempFolder("slide")
        let radiograph = root.appendingPathComponent("r.png"), slide = root.appendingPathComponent("s.png")
        try Fixtures.gradient().writePNG(to: radiograph)
        try Fixtures.gradient(width: 32, height: 32).writePNG(to: slide)
        let record = CaseRecord(id: "S1", age: 20, sex: .male, radiographs: [Radiograph(file: radiograph.path)],
                                slides: [SlideReference(slideID: "H-22-1", stain: "H&E", file: slide.path)])
        let b = Browser(source: RecordSource(title: "t", records: [record]), graphics: Fixtures.blocks)
        press(b, .enter); b.loadPendingSynchronously()
        XCTAssertTrue(b.draw(width: 100, height: 40).text.contains("H-22-1"))
        press(b, .char("s"))
        XCTAssertEqual(b.loadRequests.map(\.slide), [true], "the slide is decoded in the background")
        b.loadPendingSynchronously()
        let s = b.draw(width: 100, height: 40)
        let (pane, _) = CaseViewScreen.layout(width: 100, height: 40)
        XCTAssertTrue(s.row(pane.y).contains("slide · C"), s.row(pane.y))
        XCTAssertEqual(s[pane.x + 2, pane.y + 5].char, "▀")
        press(b, .char("+"))
        XCTAssertEqual(b.caseView?.slideView.zoom, 1.25, "the keys act on the slide shown")
        XCTAssertEqual(b.caseView?.view.zoom, 1)
        press(b, .char("s"))
        XCTAssertFalse(b.draw(width: 100, height: 40).row(pane.y).contains("slide ·"))
        // A case without a slide says so.
        let c = Browser(source: try RecordSource.dataset(at: try Fixtures.dataset().path), graphics: Fixtures.blocks)
        press(c, .enter, .char("s"))
        XCTAssertEqual(c.message?.text, "this case has no slide")
    }

    func testTheOpenCaseStaysInAFilteredListAndRTwiceNeverStartsARun() throws {
        let b = try browser()
        press(b, .char("F"), .char("F"), .char("F"), .char("F"), .char("F"))   // "not run"
        XCTAssertEqual(b.filter, .notRun)
        press(b, .down, .enter)
        let opened = try XCTUnwrap(b.caseView?.detail.summary.id)
        b.diagnosed(id: opened, .success(DiagnosisFixtures.result(opened, DiagnosisFixtures.findings())))
        XCTAssertEqual(b.selectedSummary?.id, opened, "the open case keeps its place though it is no longer 'not run'")
        press(b, .char("n"))
        XCTAssertEqual(b.caseView?.detail.summary.id, b.all[b.visible[b.selected]].id)
        XCTAssertNotEqual(b.caseView?.detail.summary.id, opened)
        // Opening by ID (from the report) clears the filter.
        b.open(id: opened)
        XCTAssertEqual(b.filter, .all); XCTAssertEqual(b.caseView?.detail.summary.id, opened)
        // R twice before the run is handed over: nothing starts, nothing is left waiting.
        press(b, .escape, .char("R"), .char("R"))
        XCTAssertNil(b.batchCommand); XCTAssertNil(b.batch)
        press(b, .char("R"))
        if case .start = b.batchCommand {} else { XCTFail("R starts a run again") }
    }
}
