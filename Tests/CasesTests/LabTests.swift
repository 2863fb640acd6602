import Foundation
import XCTest
@testable import Cases

final class LabTests: XCTestCase {
    func catalog() throws -> BiomarkerCatalog { try BiomarkerCatalog.bundled }

    func testCatalogReadsTheOneDefinition() throws {
        let c = try catalog()
        XCTAssertEqual(c.markers.map(\.id), ["alp", "ldh", "calcium", "phosphate", "crp", "esr", "wbc", "haemoglobin"])
        XCTAssertEqual(try c.marker("calcium").unit, "mg/dL")
    }

    func testCalciumConversionBothWays() throws {
        let c = try catalog()
        XCTAssertEqual(try c.convert(10.0, marker: "calcium", from: "mg/dL", to: "mmol/L"), 2.495, accuracy: 1e-12)
        XCTAssertEqual(try c.convert(2.495, marker: "calcium", from: "mmol/L", to: "mg/dL"), 10.0, accuracy: 1e-12)
        XCTAssertEqual(try c.convert(5000, marker: "wbc", from: "/uL", to: "10^9/L"), 5.0, accuracy: 1e-12)
        XCTAssertEqual(try c.convert(130, marker: "haemoglobin", from: "g/L", to: "g/dL"), 13.0, accuracy: 1e-12)
    }

    func testRangesByAgeAndSex() throws {
        let c = try catalog()
        let boy10 = try c.referenceBand(marker: "alp", age: 10, sex: .male)
        XCTAssertEqual([boy10.low, boy10.high], [191, 435])
        let girl15 = try c.referenceBand(marker: "alp", age: 15, sex: .female)
        XCTAssertEqual([girl15.low, girl15.high], [75, 274])
        let adult = try c.referenceBand(marker: "alp", age: 40, sex: .female)
        XCTAssertEqual([adult.low, adult.high], [44, 147])
        XCTAssertEqual(try c.referenceBand(marker: "haemoglobin", age: 30, sex: .male).low, 14)
        XCTAssertEqual(try c.referenceBand(marker: "haemoglobin", age: 30, sex: .female).low, 12)
    }

    func testFlagsLowNormalHighAndInclusiveLimits() throws {
        let c = try catalog()
        // ALP 400 U/L is normal at 10 y (191-435) and high in an adult (44-147): age matters.
        XCTAssertEqual(try c.interpret(LabResult(marker: "alp", value: 400, unit: "U/L"), age: 10, sex: .male).flag, .normal)
        let adult = try c.interpret(LabResult(marker: "alp", value: 400, unit: "U/L"), age: 40, sex: .male)
        XCTAssertEqual(adult.flag, .high)
        XCTAssertEqual(adult.severity, .moderate) // 400/147 = 2.72: >= 1.5, < 3
        XCTAssertEqual(try c.interpret(LabResult(marker: "alp", value: 147, unit: "U/L"), age: 40, sex: .male).flag, .normal)
        XCTAssertEqual(try c.interpret(LabResult(marker: "alp", value: 148, unit: "U/L"), age: 40, sex: .male).flag, .high)
        let lowCa = try c.interpret(LabResult(marker: "calcium", value: 1.9, unit: "mmol/L"), age: 40, sex: .female)
        XCTAssertEqual(lowCa.flag, .low) // 1.9 < 8.5 * 0.2495 = 2.12
        XCTAssertEqual(lowCa.lowText, "2.12")
        XCTAssertEqual(lowCa.canonicalValue, 1.9 / 0.2495, accuracy: 1e-12)
        XCTAssertEqual(try c.interpret(LabResult(marker: "calcium", value: 2.3, unit: "mmol/L"), age: 40, sex: .female).flag, .normal)
    }

    func testUnknownMarkerAndUnitAreRefusedNamingWhich() throws {
        let c = try catalog()
        assertThrowsMessage({ _ = try c.interpret(LabResult(marker: "psa", value: 1, unit: "ng/mL"), age: 40, sex: .male) },
                            contains: ["unknown blood biomarker 'psa'", "alp"])
        assertThrowsMessage({ _ = try c.interpret(LabResult(marker: "calcium", value: 1, unit: "mEq/L"), age: 40, sex: .male) },
                            contains: ["Calcium", "'mEq/L'", "mg/dL", "mmol/L"])
        assertThrowsMessage({ _ = try c.interpret(LabResult(marker: "crp", value: -1, unit: "mg/L"), age: 40, sex: .male) },
                            contains: ["C-reactive protein", "-1"])
        assertThrowsMessage({ _ = try c.interpret(LabResult(marker: "crp", value: .nan, unit: "mg/L"), age: 40, sex: .male) },
                            contains: ["C-reactive protein", "finite"])
    }

    /// Every vector of training/vectors/lab_sentences.json, byte for byte.
    func testClinicalSentenceMatchesEveryPythonVector() throws {
        let c = try catalog()
        let url = repoRoot.appendingPathComponent("training/vectors/lab_sentences.json")
        let root = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let vectors = root["vectors"] as! [[String: Any]]
        XCTAssertGreaterThan(vectors.count, 100)
        // The vectors were made from this very biomarkers.json.
        let jsonURL = BiomarkerCatalog.bundledURL()!
        XCTAssertEqual(SHA256Digest.hex(try Data(contentsOf: jsonURL)), root["biomarkers_json_sha256"] as? String,
                       "biomarkers.json changed since the vectors were written: regenerate them (python training/tests/test_labs.py --write)")
        var failures = 0
        for v in vectors {
            let panel = (v["panel"] as! [String: [String: Any]]).map { key, entry in
                LabResult(marker: key, value: (entry["value"] as! NSNumber).doubleValue, unit: entry["unit"] as! String)
            }
            let sex = Sex(rawValue: v["sex"] as! String)!
            let got = try ClinicalSentence.text(panel: panel, age: (v["age"] as! NSNumber).intValue, sex: sex, catalog: c)
            if got != v["sentence"] as! String {
                failures += 1
                XCTFail("\(v["id"]!): got\n  \(got)\nwant\n  \(v["sentence"]!)")
            }
        }
        XCTAssertEqual(failures, 0)
    }

    /// Every "context_vectors" entry (labs.context_sentence and labs.clinical_text), byte for byte.
    func testClinicalContextMatchesEveryPythonVector() throws {
        let c = try catalog()
        let url = repoRoot.appendingPathComponent("training/vectors/lab_sentences.json")
        let root = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let vectors = try XCTUnwrap(root["context_vectors"] as? [[String: Any]], "no context_vectors: python training/tests/test_labs.py --write")
        XCTAssertGreaterThan(vectors.count, 30)
        var failures = 0, withLabs = 0, withoutText = 0
        for v in vectors {
            let age = (v["age"] as? NSNumber)?.intValue
            let sex = (v["sex"] as? String).map { Sex(rawValue: $0)! }
            let site = v["site"] as? String
            let context = try ClinicalSentence.context(age: age, sex: sex, site: site)
            var labs: String?
            if let panel = v["panel"] as? [String: [String: Any]], !panel.isEmpty {
                let results = panel.map { key, entry in
                    LabResult(marker: key, value: (entry["value"] as! NSNumber).doubleValue, unit: entry["unit"] as! String)
                }
                labs = try ClinicalSentence.text(panel: results, age: try XCTUnwrap(age), sex: try XCTUnwrap(sex), catalog: c)
                withLabs += 1
            }
            let text = ClinicalSentence.clinicalText(context: context, labs: labs)
            if text == nil { withoutText += 1 }
            // Scalar by scalar (byte for byte in UTF-8), not by Swift's canonical equivalence.
            func same(_ a: String?, _ b: String?) -> Bool { a.map { Array($0.utf8) } == b.map { Array($0.utf8) } }
            if !same(context, v["context"] as? String) || !same(text, v["text"] as? String) {
                failures += 1
                XCTFail("\(v["id"]!): got\n  \(context)\n  \(text ?? "nil")\nwant\n  \(v["context"]!)\n  \(v["text"] ?? "nil")")
            }
        }
        XCTAssertEqual(failures, 0)
        XCTAssertGreaterThan(withLabs, 3); XCTAssertGreaterThan(withoutText, 0)
    }

    func testContextSentenceWrittenByHand() throws {
        XCTAssertEqual(try ClinicalSentence.context(age: 15, sex: .male, site: "femur"), "A 15-year-old male with a lesion of the femur.")
        XCTAssertEqual(try ClinicalSentence.context(age: 18, sex: .female, site: " Tibia ;fibula;knee-joint"),
                       "An 18-year-old female with a lesion of the tibia, fibula and knee joint.")
        XCTAssertEqual(try ClinicalSentence.context(age: nil, sex: nil, site: ";"), "")
        XCTAssertNil(ClinicalSentence.clinicalText(context: "", labs: nil))
        XCTAssertEqual(ClinicalSentence.clinicalText(context: "A male patient.", labs: "No abnormal blood biomarkers."),
                       "A male patient. No abnormal blood biomarkers.")
        XCTAssertThrowsError(try ClinicalSentence.context(age: -1, sex: .male, site: nil)) { XCTAssertEqual($0 as? LabError, .invalidAge(-1)) }
    }

    func testSentenceSpecialCases() throws {
        let c = try catalog()
        XCTAssertEqual(try ClinicalSentence.text(panel: [], age: 10, sex: .female, catalog: c), "No blood biomarkers available.")
        XCTAssertEqual(try ClinicalSentence.text(panel: [LabResult(marker: "alp", value: 612, unit: "U/L")], age: 15, sex: .male, catalog: c),
                       "Alkaline phosphatase slightly raised at 612 U/L (reference 138-511 for a male aged 15).")
    }

    /// One result per marker for the models: the newest dated one; a shared newest date or an
    /// undated duplicate is refused by marker (the first-wins rule of old dropped values silently).
    func testPanelForDiagnosisRule() throws {
        func r(_ m: String, _ v: Double, _ d: String?) -> LabResult { LabResult(marker: m, value: v, unit: "U/L", date: d) }
        XCTAssertEqual(try [r("alp", 1, "2026-01-02"), r("ldh", 2, nil), r("alp", 3, "2026-01-01")].panelForDiagnosis().map(\.value), [1, 2])
        XCTAssertEqual(try [r("alp", 1, "2026-01-01"), r("alp", 3, "2026-01-02T08:00:00Z")].panelForDiagnosis().map(\.value), [3], "the later one, entered later")
        XCTAssertThrowsError(try [r("alp", 1, "2026-01-02"), r("alp", 3, "2026-01-02")].panelForDiagnosis()) {
            XCTAssertEqual($0 as? LabError, .ambiguousResults(marker: "alp", count: 2))
        }
        XCTAssertThrowsError(try [r("ldh", 1, nil), r("ldh", 3, nil)].panelForDiagnosis()) { XCTAssertTrue("\($0)".hasPrefix("ldh: 2 results")) }
        XCTAssertThrowsError(try [r("ldh", 1, "2026-01-02"), r("ldh", 3, nil)].panelForDiagnosis(), "an undated result may be the newer one")
        XCTAssertThrowsError(try [r("ldh", 1, "2026-13-45x"), r("ldh", 3, "2026-01-01")].panelForDiagnosis(), "not a date")
    }
}

final class SHA256Tests: XCTestCase {
    /// FIPS 180-4 / NIST CSRC examples, plus block-boundary lengths.
    func testKnownVectors() {
        XCTAssertEqual(SHA256Digest.hex([UInt8]()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256Digest.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256Digest.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256Digest.hex(Array("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu".utf8)),
                       "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
        var million = SHA256Digest()
        let chunk = [UInt8](repeating: 0x61, count: 1000)
        for _ in 0..<1000 { million.update(chunk) }
        XCTAssertEqual(hexString(million.finalize()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testFileDigestMatchesSha256sum() throws {
        let dir = try temporaryFolder(self)
        let url = dir.appendingPathComponent("x.bin")
        let bytes = (0..<(3 << 20) + 17).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try Data(bytes).write(to: url)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        p.arguments = [url.path]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        p.waitUntilExit()
        let expected = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).prefix(64)
        let t0 = Date()
        XCTAssertEqual(try SHA256Digest.hex(ofFile: url), String(expected))
        let mbps = Double(bytes.count) / 1e6 / Date().timeIntervalSince(t0)
        print("SHA256Digest: \(String(format: "%.0f", mbps)) MB/s on \(bytes.count) bytes")
    }
}
