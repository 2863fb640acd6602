import Cases
import Diagnosis
import Foundation
import XCTest
@testable import Workstation

/// The PACS screen against the real test Orthanc (scripts/orthanc-test-server start; .ci/run
/// starts it): search by patient ID, import the chosen study with progress, and the case opens
/// with its diagnosis. Skips with a message when no test server is running.
final class PACSScreenTests: XCTestCase {
    /// A servers file naming the running test Orthanc, with its credentials file.
    static func serversFile(in folder: URL) throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let dir = ProcessInfo.processInfo.environment["TUMORBOARD_ORTHANC_DIR"].map { URL(fileURLWithPath: $0) }
            ?? root.appendingPathComponent(".build/orthanc-test")
        guard let env = try? String(contentsOf: dir.appendingPathComponent("server.env"), encoding: .utf8) else {
            throw XCTSkip("no test Orthanc is running: scripts/orthanc-test-server start (.ci/run starts it)")
        }
        var values: [String: String] = [:]
        for line in env.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { values[parts[0]] = parts[1] }
        }
        guard let url = values["DICOMWEB"], let credentials = values["CREDENTIALS"], let pid = values["PID"].flatMap(Int32.init),
              kill(pid, 0) == 0 else {
            throw XCTSkip("the test Orthanc in \(dir.path) is not running: scripts/orthanc-test-server start")
        }
        let file = folder.appendingPathComponent("pacs.json")
        let json = "{\"servers\": [{\"name\": \"test-orthanc\", \"url\": \"\(url)\", \"credentials\": \"\(credentials)\"}]}"
        try json.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    func testSearchImportAndOpenAStudy() throws {
        let root = Fixtures.tempFolder("pacs-screen")
        addTeardownBlock { try? FileManager.default.removeItem(at: root) }
        let config = try Self.serversFile(in: root)
        let store = try CaseStore(path: root.appendingPathComponent("cases.sqlite").path, user: "dr-ana")
        try Fixtures.gradient(width: 40, height: 32).writePNG(to: root.appendingPathComponent("r.png"))
        try store.add(CaseRecord(id: "LOCAL-1", radiographs: [Radiograph(file: root.appendingPathComponent("r.png").path)]))
        let b = Browser(source: try StoreSource(store: store), graphics: Fixtures.blocks)
        b.pacsEnvironment = ["TUMORBOARD_PACS_CONFIG": config, "HOME": root.path]
        let s = WorkstationSession(browser: b, archive: MemoryFindingsArchive())
        s.loadModels { _ in (ModalityEngine(), []) }
        func loop(timeout: Double = 30, until done: () -> Bool) -> Bool {
            let end = Date().addingTimeInterval(timeout)
            while Date() < end {
                s.submit(); s.tick()
                if done() { return true }
                var fd = pollfd(fd: s.wake.readFD, events: Int16(POLLIN), revents: 0)
                _ = poll(&fd, 1, 20)
                for m in s.wake.drain() { _ = s.apply(m) }
            }
            return done()
        }
        b.handle(.char("P"))
        XCTAssertNotNil(b.pacs)
        XCTAssertEqual(b.form?.kind, .pacsSearch)
        XCTAssertEqual(b.form?.fields[0].value, "test-orthanc")
        b.handle(.tab)
        for c in "PB-0002" { b.handle(.char(c)) }
        b.handle(.tab)
        for c in "2026-99-01" { b.handle(.char(c)) }
        b.handle(.enter)
        XCTAssertNotNil(b.form?.fields[2].problem, "an impossible date is refused beside its field")
        for _ in 0..<10 { b.handle(.backspace) }
        b.handle(.enter)
        XCTAssertTrue(loop { b.pacs?.searching == false && !(b.pacs?.results.isEmpty ?? true) }, b.pacs?.status ?? "")
        XCTAssertEqual(b.pacs?.results.map { $0.patientID }, ["PB-0002"])
        // The screen draws the study (no patient name anywhere: the search never asks for it).
        let screen = b.draw(width: 100, height: 30).text
        XCTAssertTrue(screen.contains("PB-0002"), screen)
        b.handle(.enter)
        XCTAssertEqual(b.pacs?.importRunning, true)
        XCTAssertTrue(loop { b.caseView?.detail.summary.id == "PB-0002" && b.caseView?.diagnosis.result != nil },
                      "\(b.pacs?.status ?? "") \(b.message?.text ?? "")")
        XCTAssertNil(b.pacs)
        let record = try store.load("PB-0002")
        XCTAssertEqual(record.radiographs.count, 1)
        XCTAssertNotNil(record.sex)
        XCTAssertTrue(b.all.contains { $0.id == "PB-0002" })
    }

    func testWithoutServersTheScreenSaysWhereToPutThem() throws {
        let root = Fixtures.tempFolder("pacs-none")
        addTeardownBlock { try? FileManager.default.removeItem(at: root) }
        let store = try CaseStore(path: root.appendingPathComponent("cases.sqlite").path)
        try store.add(CaseRecord(id: "LOCAL-1"))
        let b = Browser(source: try StoreSource(store: store), graphics: Fixtures.blocks)
        b.pacsEnvironment = ["TUMORBOARD_PACS_CONFIG": root.appendingPathComponent("absent.json").path]
        b.handle(.char("P"))
        XCTAssertNil(b.form)
        let screen = b.draw(width: 100, height: 30).text
        XCTAssertTrue(screen.contains("No PACS server configured"), screen)
        XCTAssertTrue(screen.contains("absent.json"), screen)
        b.handle(.escape)
        XCTAssertNil(b.pacs)
    }
}
