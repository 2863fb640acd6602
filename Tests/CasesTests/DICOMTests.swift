import Foundation
import XCTest
import Imaging
@testable import Cases

/// DICOM decoding checked against pydicom (DICOMFixtures.swift, made by training/fixtures_dicom.py)
/// on the files of the PyPI packages pydicom and pydicom-data (scripts/fetch-dicom-samples).
final class DICOMTests: XCTestCase {
    func samples() throws -> URL { try dicomSamples() }
}

func dicomSamples() throws -> URL {
        let env = ProcessInfo.processInfo.environment["TUMORBOARD_DICOM_SAMPLES"]
        let dir = env.map { URL(fileURLWithPath: $0) } ?? repoRoot.appendingPathComponent(".build/dicom-samples")
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("RG3_UNCR.dcm").path) else {
            throw XCTSkip("DICOM samples absent in \(dir.path): run scripts/fetch-dicom-samples (pip download of pydicom, pydicom-data)")
        }
        return dir
}

/// Where an expected file lies: the shipped sample in samples/, the others in the fetched folder.
func dicomURL(_ e: DICOMExpected, fetched: URL?) -> URL? {
    e.file == "radiograph.dcm" ? repoRoot.appendingPathComponent("samples/SAMPLE-07-DICOM-OSTEOFIBROMA/radiograph.dcm")
        : fetched?.appendingPathComponent(e.file)
}

extension DICOMTests {

    /// What the models and the workstation get from a DICOM file (`CaseFolder.decodeImage`) is
    /// pydicom's default rendering: apply_modality_lut, apply_voi_lut, MONOCHROME1 inverted.
    /// The shipped sample always; the fetched files when present.
    func testWhatTheModelsSeeIsPydicomsRendering() throws {
        let fetched = try? samples()
        var checked = 0
        for e in dicomExpected {
            guard let url = dicomURL(e, fetched: fetched), FileManager.default.fileExists(atPath: url.path) else { continue }
            let img = try CaseFolder.decodeImage(url)
            XCTAssertEqual(img.bitDepth, 8, "\(e.file): 8-bit display grey levels")
            XCTAssertEqual([img.width, img.height], [e.columns, e.rows])
            for (k, p) in e.positions.enumerated() {
                XCTAssertEqual(img.sample(x: p[0], y: p[1]), e.pydicomDisplay[k], "\(e.file) at \(p)")
            }
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 1, "the shipped sample at least")
    }

    func testPixelsTagsAndDisplayMatchPydicom() throws {
        let dir = try samples()
        for e in dicomExpected {
            let d = try DICOMFile(contentsOf: dicomURL(e, fetched: dir)!)  // every entry resolves when the fetched folder is there
            XCTAssertEqual(d.transferSyntaxUID, e.transferSyntax, e.file)
            XCTAssertEqual([d.rows, d.columns, d.bitsAllocated, d.bitsStored, d.pixelRepresentation],
                           [e.rows, e.columns, e.bitsAllocated, e.bitsStored, e.pixelRepresentation], e.file)
            XCTAssertEqual(d.photometricInterpretation, e.photometric)
            XCTAssertEqual(d.image.bitDepth, e.bitsAllocated, "\(e.file): depth kept")
            XCTAssertEqual(d.rescale.slope, e.slope)
            XCTAssertEqual(d.rescale.intercept, e.intercept)
            XCTAssertEqual(d.window.center, e.windowCenter, e.file)
            XCTAssertEqual(d.window.width, e.windowWidth, e.file)
            XCTAssertEqual(d.pixelSpacing.map { [$0.row, $0.column] }, e.spacing, e.file)
            XCTAssertEqual(d.patient.sex?.rawValue, e.sex, e.file)
            // Stored values as pydicom's pixel_array gives them (signed where PixelRepresentation is 1).
            func stored(_ x: Int, _ y: Int) -> Int {
                let raw = d.image.sample(x: x, y: y)!
                return e.pixelRepresentation == 1 && raw >= 32768 ? raw - 65536 : raw
            }
            var sum = 0, lo = Int.max, hi = Int.min
            for y in 0..<d.rows { for x in 0..<d.columns { let v = stored(x, y); sum += v; lo = min(lo, v); hi = max(hi, v) } }
            XCTAssertEqual([sum, lo, hi], [e.storedSum, e.storedMin, e.storedMax], e.file)
            let display = try d.displayImage()
            for (k, p) in e.positions.enumerated() {
                XCTAssertEqual(stored(p[0], p[1]), e.stored[k], "\(e.file) at \(p)")
                XCTAssertEqual(Double(stored(p[0], p[1])) * d.rescale.slope + d.rescale.intercept, e.modality[k], accuracy: 1e-9)
                XCTAssertEqual(display.sample(x: p[0], y: p[1]), e.display[k], "\(e.file) display at \(p)")
            }
        }
    }

    func testImplicitAndExplicitGiveTheSamePixels() throws {
        let dir = try samples()
        let a = try DICOMFile(contentsOf: dir.appendingPathComponent("MR_small.dcm"))
        let b = try DICOMFile(contentsOf: dir.appendingPathComponent("MR_small_implicit.dcm"))
        XCTAssertEqual(b.transferSyntaxUID, DICOMFile.implicitVRLittleEndian)
        XCTAssertEqual(a.image, b.image)
        XCTAssertEqual(a.window, b.window)
    }

    /// RG3_UNCR.dcm: a computed radiograph of a non-ossifying fibroma of the distal tibia.
    func testRealRadiographMonochrome1AndPatientTagsKeptApart() throws {
        let dir = try samples()
        let url = dir.appendingPathComponent("RG3_UNCR.dcm")
        let d = try DICOMFile(contentsOf: url)
        XCTAssertTrue(d.isMonochrome1)
        XCTAssertEqual(d.image.description, "1760 x 1760 grey 16-bit")
        XCTAssertEqual(d.patient.sex, .female)
        XCTAssertEqual(d.patient.age, 25) // born 19790408, studied 20040826
        XCTAssertNotNil(d.patient.name)
        // The summary never shows the patient tags.
        XCTAssertFalse(d.description.contains(d.patient.name!), d.description)
        XCTAssertFalse(d.description.contains("1979"), d.description)
        // Imported as a case: age and sex mapped, the name not copied anywhere.
        let record = try CaseRecord.fromDICOM(url, caseID: "NOF-TIBIA")
        XCTAssertEqual(record.age, 25)
        XCTAssertEqual(record.sex, .female)
        XCTAssertEqual(record.radiographs[0].acquired, "2004-08-26")
        let store = try CaseStore(path: try temporaryFolder(self).appendingPathComponent("c.sqlite").path, user: "t")
        try store.add(record, source: url.path)
        let loaded = try store.load("NOF-TIBIA")
        XCTAssertEqual(loaded.radiographs[0].sha256, try SHA256Digest.hex(ofFile: url))
        XCTAssertFalse("\(loaded)".contains(d.patient.name!))
    }

    func testCaseFolderWithDICOMTakesAgeAndSexFromTags() throws {
        let dir = try samples()
        let parent = try temporaryFolder(self)
        let folder = parent.appendingPathComponent("MR-1")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: dir.appendingPathComponent("MR_small.dcm"), to: folder.appendingPathComponent("mr.dcm"))
        try #"{"format": "tumorboard-case", "format_version": 1, "id": "MR-1", "radiographs": [{"file": "mr.dcm"}]}"#
            .write(to: folder.appendingPathComponent("case.json"), atomically: true, encoding: .utf8)
        let r = try CaseFolder.read(folder)
        XCTAssertEqual(r.sex, .female)
    }

    func testOtherTransferSyntaxesAreRefusedNamingThem() throws {
        let dir = try samples()
        assertThrowsMessage({ _ = try DICOMFile(contentsOf: dir.appendingPathComponent("MR_small_bigendian.dcm")) },
                            contains: ["MR_small_bigendian.dcm", "1.2.840.10008.1.2.2", "Explicit VR Big Endian", "not supported"])
        assertThrowsMessage({ _ = try DICOMFile(contentsOf: dir.appendingPathComponent("JPEG2000.dcm")) },
                            contains: ["JPEG2000.dcm", "1.2.840.10008.1.2.4.91", "JPEG 2000"])
        // Through a case folder the field is named too.
        let parent = try temporaryFolder(self)
        let folder = parent.appendingPathComponent("J2K")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: dir.appendingPathComponent("JPEG2000.dcm"), to: folder.appendingPathComponent("x.dcm"))
        try #"{"format": "tumorboard-case", "format_version": 1, "id": "J2K", "radiographs": [{"file": "x.dcm"}]}"#
            .write(to: folder.appendingPathComponent("case.json"), atomically: true, encoding: .utf8)
        assertThrowsMessage({ _ = try CaseFolder.read(folder) }, contains: ["x.dcm", "JPEG 2000", "radiographs[0].file"])
    }

    func testTruncatedEmptyAndForeignFiles() throws {
        let dir = try samples()
        let tmp = try temporaryFolder(self)
        let full = try Data(contentsOf: dir.appendingPathComponent("CT_small.dcm"))
        let cut = tmp.appendingPathComponent("cut.dcm")
        try full.prefix(full.count - 5000).write(to: cut)
        assertThrowsMessage({ _ = try DICOMFile(contentsOf: cut) }, contains: ["cut.dcm", "truncated"])
        try full.prefix(300).write(to: cut)
        assertThrowsMessage({ _ = try DICOMFile(contentsOf: cut) }, contains: ["cut.dcm", "truncated"])
        let empty = tmp.appendingPathComponent("empty.dcm")
        try Data().write(to: empty)
        assertThrowsMessage({ _ = try DICOMFile(contentsOf: empty) }, contains: ["empty.dcm", "empty"])
        let text = tmp.appendingPathComponent("text.dcm")
        try Data(repeating: 0x41, count: 400).write(to: text)
        assertThrowsMessage({ _ = try DICOMFile(contentsOf: text) }, contains: ["text.dcm", "not a DICOM file"])
        // Rows x Columns over the pixel limit is refused before any allocation.
        assertThrowsMessage({ _ = try DICOMFile(contentsOf: dir.appendingPathComponent("RG3_UNCR.dcm"), maxPixels: 1_000_000) },
                            contains: ["RG3_UNCR.dcm", "1760 x 1760", "limit"])
    }

    func testPatientTagsFromTheHeaderAlone() throws {
        let dir = try samples()
        for name in ["RG3_UNCR.dcm", "MR_small.dcm", "MR_small_implicit.dcm", "CT_small.dcm"] {
            let url = dir.appendingPathComponent(name)
            XCTAssertEqual(try DICOMFile.patient(contentsOf: url), try DICOMFile(contentsOf: url).patient, name)
        }
        assertThrowsMessage({ _ = try DICOMFile.patient(contentsOf: dir.appendingPathComponent("JPEG2000.dcm")) },
                            contains: ["JPEG2000.dcm", "JPEG 2000"])
        // Read as a case folder with .existence (no pixel decoding), age and sex still come from the tags.
        let parent = try temporaryFolder(self)
        let folder = parent.appendingPathComponent("RG3")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent("x.dcm"), withDestinationURL: dir.appendingPathComponent("RG3_UNCR.dcm"))
        try #"{"format": "tumorboard-case", "format_version": 1, "id": "RG3", "radiographs": [{"file": "x.dcm"}]}"#
            .write(to: folder.appendingPathComponent("case.json"), atomically: true, encoding: .utf8)
        assertThrowsMessage({ _ = try CaseFolder.read(folder, verification: .existence) }, contains: ["outside the case folder"])
        try FileManager.default.removeItem(at: folder.appendingPathComponent("x.dcm"))
        try FileManager.default.copyItem(at: dir.appendingPathComponent("RG3_UNCR.dcm"), to: folder.appendingPathComponent("x.dcm"))
        let r = try CaseFolder.read(folder, verification: .existence)
        XCTAssertEqual(r.age, 25)
        XCTAssertEqual(r.sex, .female)
    }

    func testAgeRules() {
        XCTAssertEqual(DICOMFile.age(patientAge: "014Y", birthDate: nil, studyDate: nil), 14)
        XCTAssertEqual(DICOMFile.age(patientAge: "030M", birthDate: nil, studyDate: nil), 2)
        XCTAssertEqual(DICOMFile.age(patientAge: nil, birthDate: "20000610", studyDate: "20100609"), 9)
        XCTAssertEqual(DICOMFile.age(patientAge: nil, birthDate: "20000610", studyDate: "20100610"), 10)
        XCTAssertNil(DICOMFile.age(patientAge: nil, birthDate: nil, studyDate: "20100610"))
    }
}

/// Damaged DICOM never crashes the reader: every truncation and byte flip ends in a value or an
/// error with the file's name.
final class DICOMFuzzTests: XCTestCase {
    func testTruncationsAndFlipsNeverCrash() throws {
        let dir = try dicomSamples()
        var rng = SystemRandomNumberGenerator()
        for name in ["CT_small.dcm", "MR_small_implicit.dcm"] {
            let full = [UInt8](try Data(contentsOf: dir.appendingPathComponent(name)))
            var refused = 0, read = 0
            for cut in stride(from: 0, to: full.count, by: 97) {
                do { _ = try DICOMFile(data: Data(full[0..<cut]), name: name); read += 1 } catch {
                    XCTAssertTrue("\(error)".hasPrefix(name), "\(error)")
                    refused += 1
                }
            }
            for _ in 0..<400 {
                var bytes = full
                // Damage the header region, where lengths and tags live.
                for _ in 0..<Int.random(in: 1...6, using: &rng) {
                    bytes[Int.random(in: 128..<min(full.count, 1400), using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
                do { _ = try DICOMFile(data: Data(bytes), name: name); read += 1 } catch { refused += 1 }
            }
            XCTAssertGreaterThan(refused, 0)
        }
    }
}
