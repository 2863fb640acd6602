import Cases
import Diagnosis
import Foundation
import XCTest
@testable import Workstation

/// The workflows on screen, driven the way `Workstation.run` drives them (keys into the
/// browser, the session's submit / apply / tick loop), on a real case store in a temporary
/// folder: the slide form, sign-off and read-only, the version check between two
/// workstations, live refresh, tutor mode.
final class WorkflowTests: XCTestCase {
    /// A store with `count` cases (radiograph widths 40, 41, ...), and a slide image under `root`.
    func makeStore(count: Int = 3, user: String = "ana") throws -> (path: String, root: URL) {
        let root = Fixtures.tempFolder("workflow")
        addTeardownBlock { try? FileManager.default.removeItem(at: root) }
        let store = try CaseStore(path: root.appendingPathComponent("cases.sqlite").path, user: user)
        for i in 0..<count {
            let file = root.appendingPathComponent("r\(i).png")
            try Fixtures.gradient(width: 40 + i, height: 32).writePNG(to: file)
            try store.add(CaseRecord(id: String(format: "C%02d", i), age: 30, sex: .female,
                                     radiographs: [Radiograph(file: file.path, sha256: try SHA256Digest.hex(ofFile: file))]))
        }
        try Fixtures.gradient(width: 24, height: 24).writePNG(to: root.appendingPathComponent("slide.png"))
        return (store.path, root)
    }

    func session(_ path: String, user: String, engine: any CaseEngine = ModalityEngine()) throws -> WorkstationSession {
        let source = try StoreSource(store: CaseStore(path: path, user: user))
        let b = Browser(source: source, graphics: Fixtures.blocks)
        let s = WorkstationSession(browser: b, archive: MemoryFindingsArchive())
        s.loadModels { _ in (engine, []) }
        return s
    }

    /// A store source keeps its findings in the store it already has open (no second
    /// connection, so no silent fall-back to a local archive when a second open would fail).
    func testAStoreSourcesFindingsGoToItsOwnStore() throws {
        let (path, _) = try makeStore(count: 1)
        let source = try StoreSource(store: CaseStore(path: path, user: "ana"))
        let archive = try XCTUnwrap(findingsArchive(for: source, environment: [:]) as? StoreFindingsArchive)
        XCTAssertTrue(archive.store === source.store)
    }

    @discardableResult
    func loop(_ sessions: [WorkstationSession], timeout: Double = 10, until done: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            for s in sessions { s.submit(); s.tick() }
            if done() { return true }
            for s in sessions {
                var fd = pollfd(fd: s.wake.readFD, events: Int16(POLLIN), revents: 0)
                _ = poll(&fd, 1, 10)
                for m in s.wake.drain() { _ = s.apply(m) }
            }
        }
        return done()
    }

    func type(_ text: String, into b: Browser) { for c in text { b.handle(.char(c)) } }

    func testTheSlideFormChecksFieldsThenSavesAndTheCaseRunsAgainWithPathology() throws {
        let (path, root) = try makeStore()
        setenv("TUMORBOARD_SLIDE_ROOTS", root.path, 1)
        defer { unsetenv("TUMORBOARD_SLIDE_ROOTS") }
        let s = try session(path, user: "dr-path")
        let b = s.browser
        b.handle(.enter)
        XCTAssertTrue(loop([s]) { b.caseView?.diagnosis.result != nil })
        XCTAssertEqual(b.caseView?.diagnosis.result?.findings.present.pathology, false)

        b.handle(.char("P"))
        XCTAssertEqual(b.form?.kind, .slide)
        type("bad id!", into: b)
        b.handle(.enter)
        // Refused beside the field, before anything reaches the store.
        XCTAssertNotNil(b.form?.fields[0].problem)
        XCTAssertFalse(b.form?.saving ?? true)
        XCTAssertTrue(b.editRequests.isEmpty)
        for _ in 0..<7 { b.handle(.backspace) }
        type("S26-0001", into: b)
        b.handle(.tab); type("A1", into: b)
        b.handle(.tab); b.handle(.right)          // stain: the next choice, IHC
        b.handle(.tab); type(root.appendingPathComponent("missing.png").path, into: b)
        b.handle(.enter)
        // The file is checked with the save, in the background; its message comes back beside it.
        XCTAssertTrue(loop([s]) { b.form?.fields[3].problem != nil })
        XCTAssertTrue(b.form?.fields[3].problem?.contains("no such file") == true, "\(b.form?.fields[3].problem ?? "")")
        for _ in 0..<"missing.png".count { b.handle(.backspace) }
        type("slide.png", into: b)
        b.handle(.enter)
        XCTAssertTrue(loop([s]) { b.form == nil && b.caseView?.diagnosis.result?.findings.present.pathology == true })
        let stored = try CaseStore(path: path).load("C00")
        XCTAssertEqual(stored.slides.map(\.slideID), ["S26-0001"])
        XCTAssertEqual(stored.slides.first?.stain, "IHC")
        XCTAssertEqual(stored.slides.first?.enteredBy, "dr-path")
        XCTAssertEqual(try CaseStore(path: path).auditTrail("C00").last?.action, "slide added")
        XCTAssertEqual(b.caseView?.detail.record?.slides.count, 1)
    }

    func testASignedCaseIsReadOnlyOnScreenAndReopensWithAReason() throws {
        let (path, _) = try makeStore()
        let s = try session(path, user: "dr-ana")
        let b = s.browser
        b.handle(.enter)
        b.handle(.char("S"))
        XCTAssertEqual(b.form?.kind, .signOff)
        b.handle(.enter)
        XCTAssertTrue(loop([s]) { b.form == nil && b.caseView?.detail.record?.review?.signedOffBy == "dr-ana" })
        XCTAssertEqual(b.all.first { $0.id == "C00" }?.review, "signed")
        for key in ["P", "L", "N"] {
            b.handle(.char(Character(key)))
            XCTAssertNil(b.form, key)
            XCTAssertTrue(b.message?.text.contains("read-only") == true, "\(key): \(b.message?.text ?? "")")
        }
        // S on a signed case asks for the reason to reopen it; an empty reason is refused.
        b.handle(.char("S"))
        XCTAssertEqual(b.form?.kind, .reopen)
        b.handle(.enter)
        XCTAssertEqual(b.form?.fields[0].problem, "required")
        type("second opinion requested", into: b)
        b.handle(.enter)
        XCTAssertTrue(loop([s]) { b.form == nil && b.caseView?.detail.record?.review?.signedOffBy == nil })
        let trail = try CaseStore(path: path).auditTrail("C00")
        XCTAssertEqual(trail.suffix(2).map(\.action), ["signed off", "reopened"])
        XCTAssertTrue(trail.last?.detail.contains("second opinion requested") == true)
    }

    func testTwoWorkstationsSeeEachOthersChangesAndTheSecondStaleSaveIsRefused() throws {
        let (path, _) = try makeStore()
        let a = try session(path, user: "ana"), z = try session(path, user: "bo")
        a.browser.handle(.enter)
        z.browser.handle(.enter)
        // Both open the note form on the same version of C00.
        a.browser.handle(.char("N")); z.browser.handle(.char("N"))
        type("ana: agree", into: a.browser)
        type("bo: disagree", into: z.browser)
        a.browser.handle(.enter)
        XCTAssertTrue(loop([a]) { a.browser.form == nil })
        z.browser.handle(.enter)
        XCTAssertTrue(loop([z]) { z.browser.form?.error != nil })
        let refusal = z.browser.form?.error ?? ""
        for part in ["C00", "changed by ana", "review note edited", "nothing was saved"] { XCTAssertTrue(refusal.contains(part), refusal) }
        XCTAssertEqual(try CaseStore(path: path).load("C00").review?.note, "ana: agree")
        z.browser.handle(.escape)
        // Bo's open case and list show Ana's note and, after her sign-off, the status, without a key.
        XCTAssertTrue(loop([a, z], timeout: 3) { z.browser.caseView?.detail.record?.review?.note == "ana: agree" })
        a.browser.handle(.char("S")); a.browser.handle(.enter)
        let t0 = Date()
        XCTAssertTrue(loop([a, z], timeout: 5) { z.browser.all.first { $0.id == "C00" }?.review == "signed" })
        XCTAssertLessThan(Date().timeIntervalSince(t0), 2)
        XCTAssertEqual(z.browser.caseView?.detail.record?.review?.signedOffBy, "ana")
    }

    func testTutorModeSwitchesModalitiesFromTheSubsetTableAndEditsLabsOnlyInAScratchCopy() throws {
        let (path, _) = try makeStore()
        let store = try CaseStore(path: path)
        try store.setLab("C00", LabResult(marker: "alp", value: 612, unit: "U/L"))
        let s = try session(path, user: "tutor")
        let b = s.browser
        b.handle(.enter)
        XCTAssertTrue(loop([s]) { b.caseView?.diagnosis.result != nil })
        b.handle(.char("u"))
        XCTAssertNotNil(b.caseView?.tutor)
        let f = try XCTUnwrap(b.caseView?.diagnosis.result?.findings)
        XCTAssertEqual(TutorView(findings: f, on: [true, true, true]).probabilities, f.probabilities)
        b.handle(.char("3"))   // labs off
        XCTAssertEqual(b.caseView?.tutor?.on, [true, true, false])
        XCTAssertEqual(TutorView(findings: f, on: b.caseView!.tutor!.on).probabilities, f.subsets?["image"])
        b.handle(.char("2"))   // pathology is absent: stays as it is, with a message
        XCTAssertEqual(b.caseView?.tutor?.on, [true, true, false])
        XCTAssertTrue(b.message?.text.contains("absent") == true)
        // The scratch copy: the engine sees the changed value; the store never does.
        b.handle(.char("e"))
        XCTAssertEqual(b.form?.kind, .scratchLab)
        for _ in 0..<5 { b.handle(.backspace) }
        type("95", into: b)
        b.handle(.enter)
        XCTAssertTrue(loop([s]) { b.caseView?.tutor?.scratch.result != nil })
        XCTAssertEqual(b.caseView?.tutor?.scratchLabs, [LabResult(marker: "alp", value: 95, unit: "U/L")])
        XCTAssertEqual(try CaseStore(path: path).load("C00").labs, [LabResult(marker: "alp", value: 612, unit: "U/L")])
        XCTAssertFalse(try CaseStore(path: path).auditTrail("C00").contains { $0.user == "tutor" })
        XCTAssertNotEqual(b.caseView?.tutor?.scratch.result?.findings.probabilities, f.probabilities)
        // The screen draws every tutor section without a crash at 80x24.
        let screen = b.draw(width: 80, height: 24)
        XCTAssertTrue(screen.text.contains("SCRATCH"), screen.text)
    }

    func testTheReportKeyWritesTheShownFindingsAndTheImportScreenBringsCasesIn() throws {
        let (path, root) = try makeStore(count: 1)
        let s = try session(path, user: "dr-ana")
        s.reportsFolder = root.appendingPathComponent("reports/nested")
        let b = s.browser
        b.handle(.enter)
        XCTAssertTrue(loop([s]) { b.caseView?.diagnosis.result != nil })
        b.handle(.char("x"))
        XCTAssertTrue(loop([s]) { b.message?.text.contains("report of C00 written") == true }, b.message?.text ?? "")
        let md = try String(contentsOf: root.appendingPathComponent("reports/nested/C00/report.md"), encoding: .utf8)
        XCTAssertTrue(md.contains("C00"))
        XCTAssertTrue(md.contains("NOT SIGNED OFF"), md)
        XCTAssertTrue(FileManager.default.fileExists(atPath: root.appendingPathComponent("reports/nested/C00/radiograph.png").path))

        // The import screen: a folder of two case folders, one of them broken.
        let incoming = root.appendingPathComponent("incoming")
        for (id, good) in [("NEW-1", true), ("NEW-2", false)] {
            let folder = incoming.appendingPathComponent(id)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try Fixtures.gradient(width: 30, height: 20).writePNG(to: folder.appendingPathComponent("r.png"))
            let manifest = "{\"format\": \"tumorboard-case\", \"format_version\": 1, \"id\": \"\(id)\", \"age\": \(good ? "12" : "\"twelve\""), \"sex\": \"F\", \"radiographs\": [{\"file\": \"r.png\"}]}"
            try manifest.write(to: folder.appendingPathComponent("case.json"), atomically: true, encoding: .utf8)
        }
        b.handle(.escape)
        b.handle(.char("I"))
        XCTAssertEqual(b.form?.kind, .importCases)
        b.handle(.enter)
        XCTAssertEqual(b.form?.fields[0].problem, "required")
        type(incoming.path, into: b)
        b.handle(.enter)
        XCTAssertNil(b.form)
        XCTAssertTrue(loop([s]) { b.importing == nil && b.all.contains { $0.id == "NEW-1" } })
        XCTAssertTrue(b.message?.text.contains("imported 1, already present 0, refused 1") == true, b.message?.text ?? "")
        XCTAssertTrue(b.message?.text.contains("NEW-2") == true, b.message?.text ?? "")
        XCTAssertEqual(b.message?.error, true)
        XCTAssertEqual(try CaseStore(path: path).caseIDs(), ["C00", "NEW-1"])
    }

    /// The tutor's table reproduces the real diagnosis: with every modality on, the fusion's own
    /// probabilities and Shapley values; with one off, the subset pass (real models, a sample).
    func testTutorViewAgreesWithTheRealFusionHead() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let models = repo.appendingPathComponent("models")
        guard FileManager.default.fileExists(atPath: models.appendingPathComponent("text").path) else {
            throw XCTSkip("models/text missing: run scripts/fetch-text-encoder")
        }
        let record = try CaseFolder.read(repo.appendingPathComponent("samples/SAMPLE-03-OSTEOSARCOMA"))
        let f = try Diagnosis(models: ModelSet(directory: models)).run(DiagnosisInput(record: record))
        let all = TutorView(findings: f, on: [true, true, true])
        XCTAssertEqual(all.probabilities, f.probabilities)
        XCTAssertEqual(all.predicted?.rawValue, f.predicted)
        XCTAssertEqual(all.contributions[0], f.contributions.image)
        XCTAssertEqual(all.contributions[1], f.contributions.pathology)
        XCTAssertEqual(all.contributions[2], f.contributions.labs)
        // The Shapley values of a two-player game: efficiency against the table.
        let two = TutorView(findings: f, on: [true, false, true])
        let k = DiagnosisLabel.tumourClasses.firstIndex(of: try XCTUnwrap(two.predicted))!
        let sum = (two.contributions[0] ?? 0) + (two.contributions[2] ?? 0)
        XCTAssertEqual(Double(sum), (f.subsets?["image+labs"]?.values[k] ?? .nan) - (f.subsets?["none"]?.values[k] ?? .nan), accuracy: 1e-5)
        XCTAssertNil(two.contributions[1])
        XCTAssertEqual(f.subsets?.count, 8)
    }
}

/// Answers from what the input holds: pathology and labs are present when given, and the
/// subset table follows, so tutor mode and the slide form can be checked without the networks.
struct ModalityEngine: CaseEngine {
    let modelHashes = ["stand-in": "1"]
    func run(_ input: DiagnosisInput) throws -> Findings {
        let slide = input.slide != nil, labs = !(input.labs ?? []).isEmpty
        let alp = input.labs?.first { $0.marker == "alp" }?.value ?? 0
        let m = min(0.9, 0.3 + alp / 1000)
        var f = DiagnosisFixtures.findings(width: input.radiograph.width, height: input.radiograph.height, probabilities: [0.9 - m, 0.1, m],
                                           contributions: [0.2, slide ? 0.1 : nil, labs ? 0.05 : nil])
        var table: [String: ClassProbabilities] = [:]
        for mask in 0..<8 {
            let sub = ModalitySubset(mask: mask)
            if sub.contains(1) && !slide || sub.contains(2) && !labs { continue }
            let p = sub.contains(2) ? m : 0.3
            let q = try JSONDecoder().decode(ClassProbabilities.self, from: Data("{\"benign\": \(0.9 - p), \"intermediate\": 0.1, \"malignant\": \(p)}".utf8))
            table[sub.name] = q
        }
        f.subsets = table
        f.probabilities = table[ModalitySubset([true, slide, labs]).name] ?? f.probabilities
        return f
    }
}
