import Cases
import Diagnosis
import Foundation
import XCTest
@testable import Workstation

/// The inference service through `WorkstationSession`, driven the way `Workstation.run` drives
/// it (poll the wake-up pipe, apply, submit), with a stand-in engine slower than the keys.
/// These tests also run under the thread sanitizer (docs/terminal.md).
final class DiagnosisServiceTests: XCTestCase {
    func session(cases: Int = 6, engine: SlowEngine, archive: any FindingsArchive = MemoryFindingsArchive(),
                 fail: Bool = false) throws -> WorkstationSession {
        let browser = Browser(source: try DiagnosisFixtures.source(count: cases), graphics: Fixtures.blocks)
        let s = WorkstationSession(browser: browser, archive: archive)
        s.loadModels { progress in
            for (k, part) in ModelSet.parts.enumerated() { progress(k, part) }
            if fail { throw DiagnosisError.models("/m/detector.safetensors: missing (train with training/run_all.sh)") }
            return (engine, [])
        }
        return s
    }

    /// Runs the loop until `done` holds or `timeout` passes; returns whether `done` held.
    @discardableResult
    func loop(_ s: WorkstationSession, timeout: Double = 10, until done: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            s.submit()
            if done() { return true }
            var fd = pollfd(fd: s.wake.readFD, events: Int16(POLLIN), revents: 0)
            _ = poll(&fd, 1, 20)
            for m in s.wake.drain() { _ = s.apply(m) }
        }
        return done()
    }

    func testModelsLoadWithProgressThenTheOpenCaseIsDiagnosed() throws {
        let engine = SlowEngine(delayMs: 20)
        let s = try session(engine: engine)
        let b = s.browser
        b.handle(.enter)
        XCTAssertTrue(loop(s) { b.caseView?.diagnosis.result != nil })
        guard case .ready(let digests, _) = b.models else { return XCTFail("models: \(b.models)") }
        XCTAssertEqual(digests, engine.modelHashes)
        XCTAssertEqual(b.caseView?.diagnosis.result?.findings.width, 40, "C00's radiograph is 40 wide")
        XCTAssertEqual(b.caseView?.diagnosis.result?.kept, false)
    }

    func testSwitchingCasesFasterThanInferenceShowsOnlyTheShownCasesResult() throws {
        let engine = SlowEngine(delayMs: 150)
        let s = try session(cases: 8, engine: engine)
        let b = s.browser
        b.handle(.enter)
        s.submit()
        // n five times, each before the case before it could finish.
        for _ in 0..<5 {
            loop(s, timeout: 0.03) { false }
            b.handle(.char("n"))
        }
        let shown = try XCTUnwrap(b.caseView?.detail.summary.id)
        XCTAssertEqual(shown, "C05")
        XCTAssertTrue(loop(s) { b.caseView?.diagnosis.result != nil })
        XCTAssertEqual(b.caseView?.detail.summary.id, "C05")
        XCTAssertEqual(b.caseView?.diagnosis.result?.findings.width, 45, "the result on screen is C05's (width 45)")
        XCTAssertEqual(b.caseView?.diagnosis.result?.caseID, "C05")
        // Stale requests were dropped unrun: at most the one already running when n came, and C05.
        XCTAssertLessThan(engine.widthsRun.count, 6, "ran: \(engine.widthsRun)")
        XCTAssertEqual(engine.widthsRun.last, 45)
    }

    func testKeptResultsAreReadBackAndANewModelRunsAgain() throws {
        let archive = MemoryFindingsArchive()
        let first = SlowEngine(delayMs: 5)
        var s = try session(cases: 2, engine: first, archive: archive)
        s.browser.handle(.enter)
        XCTAssertTrue(loop(s) { s.browser.caseView?.diagnosis.result != nil })
        XCTAssertEqual(first.widthsRun, [40])

        // A new session with the same models: read back, not run; the list knows C00 at start.
        let again = SlowEngine(delayMs: 5)
        s = try session(cases: 2, engine: again, archive: archive)
        XCTAssertTrue(loop(s) { s.browser.predictions["C00"] != nil }, "the start-up scan finds the kept result")
        s.browser.handle(.enter)
        XCTAssertTrue(loop(s) { s.browser.caseView?.diagnosis.result != nil })
        XCTAssertEqual(s.browser.caseView?.diagnosis.result?.kept, true)
        XCTAssertEqual(again.widthsRun, [])

        // Other model weights: a new key, so the case runs again.
        let retrained = SlowEngine(delayMs: 5, hashes: ["detector.safetensors": "v2"])
        s = try session(cases: 2, engine: retrained, archive: archive)
        s.browser.handle(.enter)
        XCTAssertTrue(loop(s) { s.browser.caseView?.diagnosis.result != nil })
        XCTAssertEqual(s.browser.caseView?.diagnosis.result?.kept, false)
        XCTAssertEqual(retrained.widthsRun, [40])
        // r runs it again on demand.
        s.browser.handle(.char("r"))
        XCTAssertTrue(loop(s) { retrained.widthsRun.count == 2 && s.browser.caseView?.diagnosis.result != nil })
    }

    func testRunAllWithProgressAndCancel() throws {
        let engine = SlowEngine(delayMs: 40)
        let s = try session(cases: 6, engine: engine)
        let b = s.browser
        b.handle(.char("R"))
        XCTAssertTrue(loop(s) { b.batch?.finished == true })
        XCTAssertEqual(b.batch?.done, 6); XCTAssertEqual(b.batch?.cancelled, false)
        XCTAssertEqual(Set(b.predictions.keys), Set((0..<6).map { String(format: "C%02d", $0) }))
        XCTAssertEqual(b.predictions["C01"]?.predicted, .malignant, "odd widths are malignant in the stand-in")

        // Again, cancelled after two cases; a case opened meanwhile is served between items.
        let slow = SlowEngine(delayMs: 60)
        let t = try session(cases: 6, engine: slow)
        t.browser.handle(.char("R"))
        XCTAssertTrue(loop(t) { (t.browser.batch?.done ?? 0) >= 1 })
        XCTAssertTrue(t.browser.draw(width: 100, height: 30).row(29).contains("run all"), "progress in the status bar")
        t.browser.handle(.down); t.browser.handle(.down); t.browser.handle(.down); t.browser.handle(.down); t.browser.handle(.enter)
        XCTAssertTrue(loop(t) { t.browser.caseView?.diagnosis.result != nil })
        t.browser.handle(.escape); t.browser.handle(.char("R"))   // cancel
        XCTAssertTrue(loop(t) { t.browser.batch?.finished == true })
        XCTAssertEqual(t.browser.batch?.cancelled, true)
        XCTAssertLessThan(t.browser.batch?.done ?? 6, 6)
    }

    func testBrokenModelsLeaveBrowsingWorking() throws {
        let s = try session(engine: SlowEngine(delayMs: 1), fail: true)
        let b = s.browser
        b.handle(.enter)
        XCTAssertTrue(loop(s) { if case .failed = b.models { return b.caseView?.diagnosis.result == nil && b.caseView?.loaded != nil } else { return false } })
        XCTAssertTrue(loop(s, timeout: 2) { if case .failed = b.caseView?.diagnosis { return true } else { return false } })
        let text = b.draw(width: 100, height: 30).text
        XCTAssertTrue(text.contains("training/run_all.sh"), text)
        b.handle(.char("n"))
        XCTAssertEqual(b.caseView?.detail.summary.id, "C01", "browsing goes on")
    }

    /// The shipped models folder of this checkout.
    var modelsFolder: URL { Fixtures.repositoryRoot.appendingPathComponent("models") }

    func testATruncatedWeightFileIsNamedWithTheCommandThatRebuildsIt() throws {
        let dir = Fixtures.tempFolder("models-broken")
        let whole = try Data(contentsOf: modelsFolder.appendingPathComponent("detector.safetensors"))
        try whole.prefix(4096).write(to: dir.appendingPathComponent("detector.safetensors"))
        let browser = Browser(source: try DiagnosisFixtures.source(count: 2), graphics: Fixtures.blocks)
        let s = WorkstationSession(browser: browser, archive: MemoryFindingsArchive())
        s.loadModels(DiagnosisService.loader(directory: dir))
        browser.handle(.enter)
        XCTAssertTrue(loop(s) { if case .failed = browser.models { return true } else { return false } })
        guard case .failed(let why) = browser.models else { return XCTFail() }
        XCTAssertTrue(why.contains("detector.safetensors"), why)
        XCTAssertTrue(why.contains("training/run_all.sh") && why.contains("git checkout -- models/"), why)
        XCTAssertTrue(loop(s) { browser.caseView?.loaded != nil }, "the radiograph still shows")
    }

    /// The real engine with the fusion head and pathology encoder missing: the models load, the
    /// case view names what is missing and how to rebuild it, and the case is refused by name
    /// (no image-only answer passed off as the fused one); nothing is written anywhere.
    func testTheRealEngineWithAnOptionalPartMissing() throws {
        let dir = Fixtures.tempFolder("models-partial")
        for name in ["detector.safetensors", "lesion_encoder.safetensors"] {
            try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent(name),
                                                       withDestinationURL: modelsFolder.appendingPathComponent(name))
        }
        let root = try Fixtures.caseFolders()
        let before = try FileManager.default.subpathsOfDirectory(atPath: root.path).sorted()
        let browser = Browser(source: RecordSource.caseFolders(in: root.path), graphics: Fixtures.blocks)
        let cache = Fixtures.tempFolder("findings-cache")
        let s = WorkstationSession(browser: browser, archive: FolderFindingsArchive(folder: cache))
        s.loadModels(DiagnosisService.loader(directory: dir))
        browser.handle(.enter)
        XCTAssertTrue(loop(s, timeout: 120) { if case .failed = browser.caseView?.diagnosis { return true } else { return false } },
                      "\(String(describing: browser.caseView?.diagnosis))")
        guard case .ready(let digests, let missing) = browser.models else { return XCTFail("\(browser.models)") }
        XCTAssertEqual(Set(digests.keys), ["detector.safetensors", "lesion_encoder.safetensors"])
        XCTAssertTrue(missing.contains { $0.hasPrefix("fusion_head.safetensors") })
        let text = browser.draw(width: 100, height: 40).text
        XCTAssertTrue(text.contains("cannot diagnose this case"), text)
        guard case .failed(let why) = browser.caseView?.diagnosis else { return XCTFail() }
        XCTAssertTrue(why.contains("fusion_head.safetensors: missing (train with training/run_all.sh)"), why)
        XCTAssertEqual(try FileManager.default.subpathsOfDirectory(atPath: root.path).sorted(), before,
                       "nothing is written into the user's case folders")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cache.path).count, 0, "no result to keep")
    }
}
