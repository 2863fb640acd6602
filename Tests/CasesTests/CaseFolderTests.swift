import Foundation
import XCTest
import Imaging
@testable import Cases

final class CaseFolderTests: XCTestCase {
    func testReadsAValidCaseFolder() throws {
        let dir = try temporaryFolder(self)
        let folder = try makeCase(in: dir)
        let record = try CaseFolder.read(folder)
        XCTAssertEqual(record.id, "TB-0001")
        XCTAssertEqual(record.age, 15)
        XCTAssertEqual(record.sex, .male)
        XCTAssertEqual(record.label, .malignant)
        XCTAssertEqual(record.provenance, "synthetic, not a patient: test case")
        XCTAssertEqual(record.radiographs.count, 1)
        XCTAssertEqual(record.radiographs[0].boxes, [LesionBox(x0: 1, y0: 1, x1: 4, y1: 5)])
        XCTAssertEqual(record.radiographs[0].sha256, try SHA256Digest.hex(ofFile: folder.appendingPathComponent("radiograph.png")))
        XCTAssertTrue(record.radiographs[0].file.hasPrefix("/"))
        XCTAssertEqual(record.slides.first?.stain, "H&E")
        XCTAssertEqual(record.labs.count, 2)
        XCTAssertEqual(try ClinicalSentence.text(panel: record.labs.panelForDiagnosis(), age: 15, sex: .male,
                                                 catalog: .bundled),
                       "Alkaline phosphatase slightly raised at 612 U/L (reference 138-511 for a male aged 15).")
    }

    func testExportThenReadRoundTrips() throws {
        let dir = try temporaryFolder(self)
        let original = try CaseFolder.read(try makeCase(in: dir))
        let out = dir.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let exported = try CaseFolder.export(original, into: out)
        var again = try CaseFolder.read(exported)
        XCTAssertEqual(again.radiographs[0].sha256, original.radiographs[0].sha256)
        again.radiographs = original.radiographs
        again.slides = original.slides
        XCTAssertEqual(again, original)
        assertThrowsMessage({ try CaseFolder.export(original, into: out) }, contains: ["exists already"])
    }

    /// Every double a case file holds (a finding's probabilities, lab values) reads back exactly as
    /// written. JSONSerialization's own `doubleValue` did not: about half of random doubles came
    /// back a unit or two in the last place off (`jsonNumber`; found by the casejson fuzz target).
    func testEveryDoubleRoundTripsThroughTheManifest() throws {
        let dir = try temporaryFolder(self)
        var record = try CaseFolder.read(try makeCase(in: dir))
        var rng = SystemRandomNumberGenerator()
        for round in 0..<200 {
            let p = Double.random(in: 0...1, using: &rng), q = Double.random(in: 0...1e-6, using: &rng)
            record.findings = [Finding(createdAt: "2024-03-01T10:00:00Z", models: [:],
                                       probabilities: ["benign": p, "intermediate": q, "malignant": 1 - p - q], modalities: ["image"])]
            record.labs[0].value = Double.random(in: 100...900, using: &rng)
            let text = String(decoding: CaseFolder.manifestJSON(record), as: UTF8.self)
            let again = try CaseFolder.parseManifest(text, file: "case.json")
            XCTAssertEqual(again.findings, record.findings, "round \(round)")
            XCTAssertEqual(again.labs, record.labs, "round \(round)")
        }
    }

    func testBadManifestFieldsNameTheFileAndField() throws {
        let dir = try temporaryFolder(self)
        let cases: [([String: Any], [String])] = [
            (["age": "fifteen"], ["case.json", "'age'", "expected a number", "fifteen"]),
            (["age": true], ["'age'", "expected a number"]),
            (["age": 15.5], ["'age'", "whole number"]),
            (["sex": "X"], ["'sex'", "'X' is not F or M"]),
            (["label": "cancer"], ["'label'", "cancer"]),
            (["format_version": 9], ["'format_version'", "9"]),
            (["colour": "red"], ["'colour'", "unknown field"]),
            (["id": "../evil"], ["'id'", "not a case ID"]),
            (["radiographs": [["view": "frontal"]]], ["'radiographs[0].file'", "missing"]),
            (["radiographs": "x.png"], ["'radiographs'", "expected a list"]),
            (["labs": [["marker": "alp", "value": 1, "unit": "mmol/L"]]], ["'labs[0]'", "Alkaline phosphatase", "'mmol/L'"]),
            (["labs": [["marker": "psa", "value": 1, "unit": "ng/mL"]]], ["'labs[0]'", "'psa'"]),
            (["labs": [["marker": "alp", "value": "high", "unit": "U/L"]]], ["'labs[0].value'", "expected a number"]),
            (["radiographs": [["file": "radiograph.png", "acquired": "yesterday"]]], ["'radiographs[0].acquired'", "ISO 8601"]),
            (["radiographs": [["file": "radiograph.png", "sha256": String(repeating: "0", count: 64)]]],
             ["'radiographs[0].sha256'", "the file changed"]),
            (["synthetic": "yes"], ["'synthetic'", "true or false"]),
            // JSON true is an NSNumber too: not a probability
            (["findings": [["created_at": "2024-03-01T10:00:00Z", "probabilities": ["benign": true], "modalities": ["image"]]]],
             ["probabilities", "expected an object of numbers", "\"benign\""]),
        ]
        for (i, (extra, parts)) in cases.enumerated() {
            let folder = try makeCase(in: dir, id: "C\(i)", extra: extra)
            assertThrowsMessage({ _ = try CaseFolder.read(folder) }, contains: [folder.path + "/case.json"] + parts)
        }
        let missing = try makeCase(in: dir, id: "M1")
        var m = try JSONSerialization.jsonObject(with: Data(contentsOf: missing.appendingPathComponent("case.json"))) as! [String: Any]
        m.removeValue(forKey: "id")
        try JSONSerialization.data(withJSONObject: m).write(to: missing.appendingPathComponent("case.json"))
        assertThrowsMessage({ _ = try CaseFolder.read(missing) }, contains: ["'id'", "missing"])
    }

    func testSlidePathsOutsideTheCaseAreRefused() throws {
        let dir = try temporaryFolder(self)
        try writePNG(dir.appendingPathComponent("outside.png"))
        for (i, path) in ["../outside.png", "/etc/passwd", "sub/../../outside.png", dir.appendingPathComponent("outside.png").path].enumerated() {
            let folder = try makeCase(in: dir, id: "P\(i)", slidePath: path)
            assertThrowsMessage({ _ = try CaseFolder.read(folder) },
                                contains: ["case.json", "'slides[0].file'", "outside the case folder", path])
        }
        // A symbolic link inside the case that points out of it.
        let folder = try makeCase(in: dir, id: "L1", slidePath: "link.png")
        try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent("link.png").path,
                                                   withDestinationPath: dir.appendingPathComponent("outside.png").path)
        assertThrowsMessage({ _ = try CaseFolder.read(folder) }, contains: ["'slides[0].file'", "outside the case folder"])
        let gone = try makeCase(in: dir, id: "G1", slidePath: "nothere.png")
        assertThrowsMessage({ _ = try CaseFolder.read(gone) }, contains: ["'slides[0].file'", "nothere.png", "does not exist"])
    }

    func testManifestThatIsNotUTF8OrNotJSON() throws {
        let dir = try temporaryFolder(self)
        let folder = try makeCase(in: dir)
        var bytes = Array(try Data(contentsOf: folder.appendingPathComponent("case.json")))
        let offset = bytes.count - 3
        bytes[offset] = 0xFF
        try Data(bytes).write(to: folder.appendingPathComponent("case.json"))
        assertThrowsMessage({ _ = try CaseFolder.read(folder) }, contains: ["case.json", "not UTF-8", "offset \(offset)"])
        try Data("{\"format\": ".utf8).write(to: folder.appendingPathComponent("case.json"))
        assertThrowsMessage({ _ = try CaseFolder.read(folder) }, contains: ["case.json", "not valid JSON"])
        try Data().write(to: folder.appendingPathComponent("case.json"))
        assertThrowsMessage({ _ = try CaseFolder.read(folder) }, contains: ["case.json", "empty"])
        try FileManager.default.removeItem(at: folder.appendingPathComponent("case.json"))
        assertThrowsMessage({ _ = try CaseFolder.read(folder) }, contains: [folder.path, "case.json", "does not exist"])
    }

    func testBadImagesAreRefusedNamingTheFileAndField() throws {
        let dir = try temporaryFolder(self)
        let folder = try makeCase(in: dir)
        let png = folder.appendingPathComponent("radiograph.png")
        let good = try Data(contentsOf: png)
        try good.prefix(good.count / 2).write(to: png)
        assertThrowsMessage({ _ = try CaseFolder.read(folder) }, contains: ["radiograph.png", "truncated", "radiographs[0].file"])
        try Data().write(to: png)
        assertThrowsMessage({ _ = try CaseFolder.read(folder) }, contains: ["radiograph.png", "empty", "radiographs[0].file"])
        try Data("hello, not an image".utf8).write(to: png)
        assertThrowsMessage({ _ = try CaseFolder.read(folder) }, contains: ["radiograph.png", "not a PNG or JPEG"])
        var corrupt = Array(good)
        for i in 40..<min(corrupt.count - 12, 60) { corrupt[i] ^= 0x5A }
        try Data(corrupt).write(to: png)
        assertThrowsMessage({ _ = try CaseFolder.read(folder) }, contains: ["radiograph.png"])
    }

    func testHugeImageIsRefusedBeforeDecoding() throws {
        // A PNG header that declares 100,000 x 100,000 pixels (10 gigapixels).
        let dir = try temporaryFolder(self)
        let folder = try makeCase(in: dir)
        var bytes = Array(try Data(contentsOf: folder.appendingPathComponent("radiograph.png")))
        func put(_ v: UInt32, at i: Int) { for k in 0..<4 { bytes[i + k] = UInt8(truncatingIfNeeded: v >> (24 - 8 * UInt32(k))) } }
        put(100_000, at: 16)
        put(100_000, at: 20)
        try Data(bytes).write(to: folder.appendingPathComponent("radiograph.png"))
        assertThrowsMessage({ _ = try CaseFolder.read(folder) }, contains: ["radiograph.png", "radiographs[0].file"])
    }

    func testHugeManifestAndNotAFolder() throws {
        let dir = try temporaryFolder(self)
        let folder = try makeCase(in: dir)
        try Data(repeating: 0x20, count: CaseFolder.maxManifestBytes + 1).write(to: folder.appendingPathComponent("case.json"))
        assertThrowsMessage({ _ = try CaseFolder.read(folder) }, contains: ["case.json", "more than"])
        assertThrowsMessage({ _ = try CaseFolder.read(folder.appendingPathComponent("radiograph.png")) }, contains: ["radiograph.png", "not a folder"])
    }

    func testCaseIDRules() {
        XCTAssertTrue(CaseFolder.isValidCaseID("BTXRD-IMG000001"))
        XCTAssertFalse(CaseFolder.isValidCaseID(""))
        XCTAssertFalse(CaseFolder.isValidCaseID(".hidden"))
        XCTAssertFalse(CaseFolder.isValidCaseID("a/b"))
        XCTAssertFalse(CaseFolder.isValidCaseID("Zoë"))
    }
}
