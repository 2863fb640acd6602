import Foundation
import XCTest
@testable import Cases

/// Figures quoted in docs/case-format.md. Opt-in (they take a while and need ../shared/data):
///   TUMORBOARD_MEASURE=1 swift test --filter CasesTests.MeasureTests
final class MeasureTests: XCTestCase {
    func testImportWholeBTXRD() throws {
        guard ProcessInfo.processInfo.environment["TUMORBOARD_MEASURE"] == "1" else {
            throw XCTSkip("set TUMORBOARD_MEASURE=1 to measure the BTXRD import")
        }
        let btxrd = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/data/btxrd")
        guard FileManager.default.fileExists(atPath: btxrd.appendingPathComponent("cases.csv").path) else {
            throw XCTSkip("../shared/data/btxrd is absent")
        }
        let dir = try temporaryFolder(self)
        func seconds(_ body: () throws -> Void) rethrows -> String {
            let t0 = Date()
            try body()
            return String(format: "%.2f s", Date().timeIntervalSince(t0))
        }
        let a = try CaseStore(path: dir.appendingPathComponent("a.sqlite").path, user: "m")
        var n = 0
        print("measure: BTXRD import without hashing: \(try seconds { n = try a.importDataset(btxrd, hashImages: false).imported.count }) for \(n) cases")
        let b = try CaseStore(path: dir.appendingPathComponent("b.sqlite").path, user: "m")
        print("measure: BTXRD import with SHA-256 of every image: \(try seconds { n = try b.importDataset(btxrd).imported.count }) for \(n) cases")
        var all: [CaseRecord] = []
        print("measure: allRecords(): \(try seconds { all = try b.allRecords() }) for \(all.count) cases")
        print("measure: summaries(): \(try seconds { _ = try b.summaries() })")
        XCTAssertEqual(all.count, n)
        // What a workstation on a shared store pays: the half-second poll, and the re-read after
        // a change (StoreSource.refresh reads allRecordsReportingProblems and the versions).
        for (i, id) in all.prefix(200).map(\.id).enumerated() {
            try b.addFinding(id, Finding(createdAt: "2026-11-30T00:00:00Z", models: ["m": "\(i)"], probabilities: ["benign": 1]))
        }
        let t0 = Date()
        for _ in 0..<1000 { _ = try b.changeToken() }
        print(String(format: "measure: changeToken() with 200 kept results on top: %.3f ms a poll", Date().timeIntervalSince(t0)))
        print("measure: allRecordsReportingProblems() + versions (the re-read after a change): \(try seconds { _ = try b.allRecordsReportingProblems() })")
    }
}
