import Cases
import Foundation
import Imaging
import XCTest
@testable import Workstation

/// The browsing UI through its screen model: keys in, cells out, no terminal.
final class BrowserTests: XCTestCase {
    func browser(_ graphics: GraphicsChoice = Fixtures.blocks) throws -> Browser {
        Browser(source: try RecordSource.dataset(at: try Fixtures.dataset().path), graphics: graphics)
    }

    func press(_ b: Browser, _ keys: Key...) { for k in keys { b.handle(k) } }
    func type(_ b: Browser, _ text: String) { for c in text { b.handle(.char(c)) } }

    func testListShowsCountsRowsAndSelection() throws {
        let b = try browser()
        let s = b.draw(width: 100, height: 20)
        XCTAssertTrue(s.row(0).contains("TumorBoard · tb-ws-dataset"))
        XCTAssertTrue(s.row(1).hasPrefix(" 5 cases · normal 1 · benign 2 · intermediate 1 · malignant 1 │ showing 5 │ sort ID ↑"), s.row(1))
        XCTAssertTrue(s.row(2).contains("ID") && s.row(2).contains("Site"))
        XCTAssertTrue(s.row(3).contains("BTXRD-IMG000001") && s.row(3).contains("10F") && s.row(3).contains("normal"))
        XCTAssertEqual(s[1, 3].style, Theme.dark[.selection])
        XCTAssertEqual(s[1, 4].style, Theme.dark[.text])
        // The label column carries the label's colour on unselected rows.
        let p = try XCTUnwrap(s.find("malignant  "))
        XCTAssertEqual(s[p.x, p.y].style, Theme.dark[.malignant])
        XCTAssertTrue(s.row(19).contains("blocks"), "status bar names the mode")
        press(b, .down, .down)
        XCTAssertEqual(b.selectedSummary?.id, "BTXRD-IMG000003")
        press(b, .end); XCTAssertEqual(b.selectedSummary?.id, "BTXRD-IMG000005")
        press(b, .down); XCTAssertEqual(b.selectedSummary?.id, "BTXRD-IMG000005", "stops at the end")
        press(b, .home); XCTAssertEqual(b.selectedSummary?.id, "BTXRD-IMG000001")
    }

    func testSearchAndSort() throws {
        let b = try browser()
        press(b, .char("/")); type(b, "benign osteo"); press(b, .enter)
        XCTAssertEqual(b.visible.map { b.all[$0].id }, ["BTXRD-IMG000002", "BTXRD-IMG000005"])
        let s = b.draw(width: 100, height: 20)
        XCTAssertTrue(s.row(1).contains("showing 2"))
        XCTAssertTrue(s.row(18).contains("/ benign osteo"))
        press(b, .escape)
        XCTAssertEqual(b.visible.count, 5)
        press(b, .char("/")); type(b, "zzz"); press(b, .enter)
        XCTAssertTrue(b.draw(width: 100, height: 20).text.contains("No case matches \"zzz\""))
        press(b, .escape)
        press(b, .char("s"))  // age
        XCTAssertEqual(b.sortKey, .age)
        press(b, .char("s"))  // label: by severity
        XCTAssertEqual(b.visible.map { b.all[$0].label ?? "" }, ["normal", "benign", "benign", "intermediate", "malignant"])
        press(b, .char("r"))
        XCTAssertEqual(b.all[b.visible[0]].label, "malignant")
        XCTAssertTrue(b.draw(width: 100, height: 20).row(1).contains("sort label ↓"))
    }

    func testCaseViewZoomWindowAndBoxes() throws {
        let b = try browser()
        press(b, .down, .enter)  // IMG000002, benign, one box
        b.loadPendingSynchronously()
        var s = b.draw(width: 100, height: 30)
        XCTAssertTrue(s.row(0).contains("BTXRD-IMG000002") && s.row(0).contains("benign"))
        XCTAssertTrue(s.row(1).contains("C 124 W 248 full range · zoom 1.00x"), s.row(1))  // the gradient spans 0...247
        XCTAssertTrue(s.text.contains("─ Boxes"))
        XCTAssertTrue(s.text.contains("truth 1 9,10 22x18"), s.text)
        // The image pane is half blocks.
        let (pane, _) = CaseViewScreen.layout(width: 100, height: 30)
        XCTAssertEqual(s[pane.x + 1, pane.y + 5].char, "▀")
        press(b, .char("+"))
        s = b.draw(width: 100, height: 30)
        XCTAssertTrue(s.row(1).contains("zoom 1.25x"))
        press(b, .char("3"))
        XCTAssertTrue(b.draw(width: 100, height: 30).row(1).contains("bone"))
        press(b, .char("w"))
        let w = try XCTUnwrap(b.caseView?.view.window)
        XCTAssertTrue(b.draw(width: 100, height: 30).row(1).contains("manual"))
        press(b, .char("c"))
        XCTAssertLessThan(b.caseView!.view.window.center, w.center)
        press(b, .tab)
        XCTAssertEqual(b.caseView?.selectedBox, 0)
        XCTAssertEqual(b.caseView?.view.centre?.x, 20)
        press(b, .char("0"))
        XCTAssertEqual(b.caseView?.view.zoom, 1)
        press(b, .char("n"))
        XCTAssertEqual(b.caseView?.detail.summary.id, "BTXRD-IMG000003")
        press(b, .escape)
        XCTAssertNil(b.caseView)
        XCTAssertEqual(b.selectedSummary?.id, "BTXRD-IMG000003")
    }

    func testResizeRedrawsEverythingAtTheNewSize() throws {
        let b = try browser()
        press(b, .enter); b.loadPendingSynchronously()
        for (w, h) in [(100, 30), (60, 16), (140, 45), (20, 6), (10, 3)] {
            let s = b.draw(width: w, height: h)
            XCTAssertEqual(s.width, w); XCTAssertEqual(s.height, h)
            if w >= 20 && h >= 6 {
                XCTAssertTrue(s.row(h - 1).contains("blocks"), "status bar on the last row at \(w)x\(h)")
            }
        }
    }

    func testEveryWindowSizeDrawsWithoutATrap() throws {
        for graphics in [Fixtures.blocks, GraphicsChoice(mode: .ascii, reason: "test", cellSize: CellSize(width: 10, height: 20))] {
            let b = try browser(graphics)
            for (w, h) in (1...40).flatMap({ w in (1...15).map { (w * 4 + w % 3, $0 * 2 - w % 2) } }) { _ = b.draw(width: w, height: h) }
            press(b, .enter); b.loadPendingSynchronously(); press(b, .tab)
            for (w, h) in (1...40).flatMap({ w in (1...15).map { (w * 4 + w % 3, $0 * 2 - w % 2) } }) { _ = b.draw(width: w, height: h) }
            press(b, .char("?"))
            for (w, h) in (1...40).flatMap({ w in (1...15).map { (w * 4 + w % 3, $0 * 2 - w % 2) } }) { _ = b.draw(width: w, height: h) }
        }
        let s = try browser(Fixtures.sixel)
        press(s, .enter); s.loadPendingSynchronously()
        for (w, h) in [(20, 6), (21, 7), (30, 8), (45, 10), (64, 12)] { _ = s.draw(width: w, height: h) }
    }

    func testSixelModePlacesALayerOfThePanesPixelSize() throws {
        let b = try browser(Fixtures.sixel)
        press(b, .enter); b.loadPendingSynchronously()
        let s = b.draw(width: 100, height: 30)
        let layer = try XCTUnwrap(s.graphics.first)
        let (pane, _) = CaseViewScreen.layout(width: 100, height: 30)
        XCTAssertEqual(layer.rect, CellRect(x: pane.x + 1, y: pane.y + 1, width: pane.width - 2, height: pane.height - 2))
        let d = try XCTUnwrap(SixelEncoder.decode(layer.bytes))
        XCTAssertEqual(d.width, layer.rect.width * 10)
        XCTAssertEqual(d.height, layer.rect.height * 20)
        // Unchanged view: same key, so the terminal does not resend it.
        XCTAssertEqual(b.draw(width: 100, height: 30).graphics.first?.key, layer.key)
        press(b, .char("+"))
        XCTAssertNotEqual(b.draw(width: 100, height: 30).graphics.first?.key, layer.key)
        // A big pane: the sixel is capped (1024 px on its longest side) and centred in the pane.
        let big = b.draw(width: 240, height: 80)
        let capped = try XCTUnwrap(big.graphics.first)
        let (bigPane, _) = CaseViewScreen.layout(width: 240, height: 80)
        XCTAssertLessThanOrEqual(max(capped.pixelWidth, capped.pixelHeight), 1024)
        XCTAssertLessThan(capped.rect.width, bigPane.width - 2)
        XCTAssertEqual(capped.rect.x - (bigPane.x + 1), (bigPane.width - 2 - capped.rect.width) / 2)
        let cd = try XCTUnwrap(SixelEncoder.decode(capped.bytes))
        XCTAssertEqual(cd.width, capped.rect.width * 10)
        // Back to the list: no image layer.
        press(b, .escape)
        XCTAssertTrue(b.draw(width: 100, height: 30).graphics.isEmpty)
    }

    func testHelpIsOneKeyAwayAndListsEveryBinding() throws {
        let b = try browser()
        press(b, .char("?"))
        let s = b.draw(width: 140, height: 50)
        for binding in KeyMap.bindings { XCTAssertTrue(s.text.contains(binding.help), "help lists: \(binding.help)") }
        // At 80x24 too, every key is on the one screen (help texts may be clipped).
        let small = b.draw(width: 80, height: 24)
        for binding in KeyMap.bindings { XCTAssertTrue(small.text.contains(binding.names), "80x24 help lists: \(binding.names)") }
        press(b, .char("x"))
        XCTAssertFalse(b.showingHelp)
        press(b, .enter, .char("?"))
        XCTAssertTrue(b.showingHelp, "also from the case view")
    }

    func testThemeCycleAndGraphicsCycleAndQuit() throws {
        let b = Browser(source: try RecordSource.dataset(at: try Fixtures.dataset().path),
                        themeFolder: Fixtures.repositoryRoot.appendingPathComponent("themes").path, graphics: Fixtures.sixel)
        press(b, .char("t")); XCTAssertEqual(b.theme.name, "high-contrast")
        press(b, .char("t")); XCTAssertEqual(b.theme.name, "light")
        press(b, .char("t")); XCTAssertEqual(b.theme.name, "dark")
        press(b, .char("g")); XCTAssertEqual(b.graphics.mode, .blocks)
        press(b, .char("g")); XCTAssertEqual(b.graphics.mode, .ascii)
        press(b, .char("g")); XCTAssertEqual(b.graphics.mode, .sixel)
        XCTAssertFalse(b.quit)
        press(b, .char("q")); XCTAssertTrue(b.quit)
    }

    func testCaseFoldersAndUnreadableImage() throws {
        let root = try Fixtures.caseFolders()
        let src = try openCaseSource(path: root.path)
        XCTAssertTrue(src is RecordSource)
        XCTAssertEqual(src.summaries().map(\.id), ["case-1", "case-2"])
        let d = try src.detail(id: "case-2")
        XCTAssertEqual(d.summary.label, "malignant")
        XCTAssertEqual(d.boxes.first?.rect, PixelRect(x0: 5, y0: 6, x1: 20, y1: 30))
        // A radiograph that is not an image: the pane says why, nothing crashes.
        try Data("not a png".utf8).write(to: root.appendingPathComponent("case-1/radiograph.png"))
        let b = Browser(source: src, graphics: Fixtures.blocks)
        press(b, .enter); b.loadPendingSynchronously()
        let error = try XCTUnwrap(b.caseView?.error)
        XCTAssertTrue(b.draw(width: 100, height: 30).text.contains(String(error.prefix(20))), error)
    }

    func testCaseStore() throws {
        let root = try Fixtures.caseFolders()
        let path = root.appendingPathComponent("cases.sqlite").path
        let store = try CaseStore(path: path, user: "test")
        for id in ["case-1", "case-2"] {
            try store.add(try CaseFolder.read(root.appendingPathComponent(id), verification: .existence))
        }
        let src = try openCaseSource(path: path)
        XCTAssertTrue(src.title.contains("store, 2 cases"))
        let d = try src.detail(id: "case-2")
        XCTAssertEqual(d.boxes.count, 1)
        let b = Browser(source: src, graphics: Fixtures.blocks)
        b.open(id: "case-2"); b.loadPendingSynchronously()
        XCTAssertNotNil(b.caseView?.loaded, "the stored case's radiograph decodes: \(b.caseView?.error ?? "")")
    }

    func testDatasetReaderOnTheSharedData() throws {
        guard let path = Fixtures.sharedDataset else {
            throw XCTSkip("BTXRD not found (../shared/data/btxrd or TUMORBOARD_DATA): dataset reader check skipped")
        }
        let src = try RecordSource.dataset(at: path)
        let all = src.summaries()
        XCTAssertEqual(all.count, 3164)
        XCTAssertEqual(all.filter { $0.label == "malignant" }.count, 290)
        XCTAssertEqual(all.reduce(0) { $0 + $1.boxCount }, 1913)
        let d = try src.detail(id: "BTXRD-IMG000001")
        XCTAssertEqual(d.boxes.first?.rect, PixelRect(x0: 161, y0: 67, x1: 234, y1: 133))
        XCTAssertNotNil(d.radiograph)
    }

    func testAPlainFileIsNotCalledAMissingFolder() throws {
        let file = Fixtures.tempFolder("plain").appendingPathComponent("notes.txt")
        try Data("x".utf8).write(to: file)
        XCTAssertThrowsError(try openCaseSource(path: file.path)) { XCTAssertTrue("\($0)".contains("a file, not a folder"), "\($0)") }
        XCTAssertThrowsError(try openCaseSource(path: file.path + "-absent")) { XCTAssertTrue("\($0)".contains("no such folder"), "\($0)") }
    }
}
