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
        XCTAssertGreaterThanOrEqual(report.imported.count, 7)
        let all = try store.caseIDs().map { try store.load($0) }
        XCTAssertTrue(all.allSatisfy { $0.provenance?.hasPrefix("synthetic, not a patient") == true })
        XCTAssertTrue(all.allSatisfy { $0.provenance?.contains("not a patient") == true })
        for label in DiagnosisLabel.allCases { XCTAssertTrue(all.contains { $0.label == label }, "no \(label) sample") }
        XCTAssertTrue(all.contains { $0.label == .normal && $0.radiographs[0].boxes.isEmpty })
        XCTAssertTrue(all.contains { $0.slides.isEmpty && $0.label != .normal }, "no case without a slide")
        XCTAssertTrue(all.contains { $0.labs.isEmpty }, "no case without labs")
        XCTAssertTrue(all.contains { try! CaseFolder.decodeImage(URL(fileURLWithPath: $0.radiographs[0].file)).bitDepth == 16 })
        // The DICOM sample: age and sex from its patient tags, MONOCHROME1 shown inverted.
        let dicom = try XCTUnwrap(all.first { $0.radiographs[0].file.hasSuffix(".dcm") })
        XCTAssertEqual(dicom.age, 16)
        XCTAssertEqual(dicom.sex, .male)
        let d = try DICOMFile(contentsOf: URL(fileURLWithPath: dicom.radiographs[0].file))
        XCTAssertTrue(d.isMonochrome1)
        XCTAssertEqual(d.image.bitDepth, 16)
        XCTAssertEqual(d.pixelSpacing?.row, 0.2)
        let shown = try d.displayImage()
        // Bone (low stored values in MONOCHROME1) is bright on screen; air is dark.
        let bone = shown.sample(x: 160, y: 20)!, tissue = shown.sample(x: 80, y: 20)!, air = shown.sample(x: 2, y: 2)!
        XCTAssertGreaterThan(bone, tissue + 40)
        XCTAssertGreaterThan(tissue, air + 40)
        let catalog = try BiomarkerCatalog.bundled
        for c in all {
            let sentence = try ClinicalSentence.text(panel: c.labs.panelForDiagnosis(), age: c.age!, sex: c.sex!, catalog: catalog)
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
