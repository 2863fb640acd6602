import Foundation
import XCTest
@testable import Cases

/// The bundled samples (samples/, made by training/make_samples.py) open through the store.
final class SamplesTests: XCTestCase {
    func testBundledSamplesImportThroughTheStore() throws {
        let samples = repoRoot.appendingPathComponent("samples")
        let dir = try temporaryFolder(self)
        let store = try CaseStore(path: dir.appendingPathComponent("cases.sqlite").path, user: "tester")
        let report = try store.importAny(samples)
        XCTAssertEqual(report.refused.count, 0, report.summary)
        XCTAssertGreaterThanOrEqual(report.imported.count, 6)
        let all = try store.caseIDs().map { try store.load($0) }
        XCTAssertTrue(all.allSatisfy { $0.provenance?.hasPrefix("synthetic, not a patient") == true })
        XCTAssertTrue(all.allSatisfy { $0.provenance?.contains("not a patient") == true })
        for label in DiagnosisLabel.allCases { XCTAssertTrue(all.contains { $0.label == label }, "no \(label) sample") }
        XCTAssertTrue(all.contains { $0.label == .normal && $0.radiographs[0].boxes.isEmpty })
        XCTAssertTrue(all.contains { $0.slides.isEmpty && $0.label != .normal }, "no case without a slide")
        XCTAssertTrue(all.contains { $0.labs.isEmpty }, "no case without labs")
        XCTAssertTrue(all.contains { try! CaseFolder.decodeImage(URL(fileURLWithPath: $0.radiographs[0].file)).bitDepth == 16 })
        let catalog = try BiomarkerCatalog.bundled
        for c in all {
            let sentence = try ClinicalSentence.text(panel: c.labs.latestPerMarker(), age: c.age!, sex: c.sex!, catalog: catalog)
            XCTAssertFalse(sentence.isEmpty)
            if c.id == "SAMPLE-03-OSTEOSARCOMA" { XCTAssertTrue(sentence.contains("Alkaline phosphatase") || sentence.contains("ALP"), sentence) }
        }
        // Small enough to ship.
        let bytes = try FileManager.default.subpathsOfDirectory(atPath: samples.path).reduce(0) { sum, p in
            sum + (((try FileManager.default.attributesOfItem(atPath: samples.path + "/" + p))[.size] as? NSNumber)?.intValue ?? 0)
        }
        XCTAssertLessThan(bytes, 3_000_000)
        // Opening again imports nothing twice.
        XCTAssertEqual(try store.importAny(samples).imported, [])
    }
}
