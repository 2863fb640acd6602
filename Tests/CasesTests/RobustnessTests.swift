import Foundation
import Imaging
import XCTest
@testable import Cases

/// Inputs that used to pass silently or mislead (issue 14): impossible dates, absurd or negative-zero
/// lab values, a DICOM given as a slide, a JPEG cut after two bytes.
final class RobustnessTests: XCTestCase {
    func testCalendarDates() {
        for good in ["2026-01-14", "2024-02-29", "2026-12-31T23:59:59Z"] { XCTAssertTrue(ISODate.isValidDay(good), good) }
        for bad in ["2026-13-45", "2025-02-29", "2026-04-31", "2026-00-10", "26-01-14", "2026/01/14", ""] { XCTAssertFalse(ISODate.isValidDay(bad), bad) }
    }

    func testAnImpossibleLabDateInAManifestIsNamed() throws {
        let dir = try temporaryFolder(self)
        try writePNG(dir.appendingPathComponent("r.png"))
        let manifest = #"{"format": "tumorboard-case", "format_version": 1, "id": "D1", "age": 30, "sex": "F", "radiographs": [{"file": "r.png"}], "labs": [{"marker": "alp", "value": 300, "unit": "U/L", "date": "2026-13-45"}]}"#
        try Data(manifest.utf8).write(to: dir.appendingPathComponent("case.json"))
        XCTAssertThrowsError(try CaseFolder.read(dir)) { e in
            XCTAssertTrue("\(e)".contains("labs[0].date") && "\(e)".contains("2026-13-45") && "\(e)".contains("calendar date"), "\(e)")
        }
    }

    func testLabValuesThatCannotBeBloodTests() throws {
        let c = try BiomarkerCatalog.bundled
        XCTAssertThrowsError(try c.validate(LabResult(marker: "alp", value: 1e308, unit: "U/L"))) { XCTAssertTrue("\($0)".contains("under 1000000"), "\($0)") }
        XCTAssertThrowsError(try c.validate(LabResult(marker: "alp", value: -3, unit: "U/L")))
        XCTAssertNoThrow(try c.validate(LabResult(marker: "alp", value: -0.0, unit: "U/L")))
        let i = try c.interpret(LabResult(marker: "alp", value: -0.0, unit: "U/L"), age: 30, sex: .female)
        XCTAssertEqual(i.valueText, "0", "-0 reads 0")
        let s = try ClinicalSentence.text(panel: [LabResult(marker: "alp", value: -0.0, unit: "U/L")], age: 30, sex: .female, catalog: c)
        XCTAssertFalse(s.contains("-0"), s)
    }

    func testADICOMIsNotASlide() throws {
        let dcm = repoRoot.appendingPathComponent("samples/SAMPLE-07-DICOM-OSTEOFIBROMA/radiograph.dcm")
        XCTAssertThrowsError(try CaseFolder.decodeSlide(dcm, field: "slides[0].file")) { e in
            XCTAssertTrue("\(e)".contains("a slide is a PNG or JPEG") && "\(e)".contains("radiograph.dcm"), "\(e)")
        }
        XCTAssertNoThrow(try CaseFolder.decodeImage(dcm), "still a radiograph")
    }

    func testAJPEGCutInsideItsMarkerIsTruncatedNotForeign() {
        XCTAssertThrowsError(try ImageDecoder().decode(Data([0xFF, 0xD8]), name: "cut.jpg")) { e in
            XCTAssertTrue("\(e)".contains("cut.jpg: JPEG is truncated"), "\(e)")
        }
        XCTAssertThrowsError(try ImageDecoder().decode(Data([0x89, 0x50, 0x4E]), name: "cut.png")) { e in
            XCTAssertTrue("\(e)".contains("PNG is truncated"), "\(e)")
        }
    }

    func testALinkLoopIsNotCalledAMissingFile() throws {
        let dir = try temporaryFolder(self)
        let a = dir.appendingPathComponent("a.png").path, b = dir.appendingPathComponent("b.png").path
        XCTAssertEqual(symlink(b, a), 0); XCTAssertEqual(symlink(a, b), 0)
        XCTAssertThrowsError(try ImageDecoder().decode(contentsOf: URL(fileURLWithPath: a))) { XCTAssertTrue("\($0)".contains("symbolic link loop"), "\($0)") }
        let dangling = dir.appendingPathComponent("d.png").path
        XCTAssertEqual(symlink(dir.appendingPathComponent("gone.png").path, dangling), 0)
        XCTAssertThrowsError(try ImageDecoder().decode(contentsOf: URL(fileURLWithPath: dangling))) { XCTAssertTrue("\($0)".contains("a symbolic link to nothing"), "\($0)") }
        XCTAssertThrowsError(try ImageDecoder().decode(contentsOf: dir.appendingPathComponent("absent.png"))) { XCTAssertTrue("\($0)".contains("no such file"), "\($0)") }
    }

    /// A dataset whose images/ are links to the real files (a common way to lay one out) is read
    /// through its links; a link to a FIFO is still refused without blocking.
    func testALinkToAnImageIsFollowedAndALinkToAFIFOIsRefused() throws {
        let dir = try temporaryFolder(self)
        let real = dir.appendingPathComponent("real.png"), link = dir.appendingPathComponent("link.png")
        try writePNG(real, width: 9, height: 7)
        XCTAssertEqual(symlink(real.path, link.path), 0)
        XCTAssertEqual(try ImageDecoder().decode(contentsOf: link).width, 9)
        XCTAssertEqual(try CaseFolder.decodeImage(link).height, 7)
        let fifo = dir.appendingPathComponent("pipe").path, toFIFO = dir.appendingPathComponent("pipe.png").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        XCTAssertEqual(symlink(fifo, toFIFO), 0)
        XCTAssertThrowsError(try CaseFolder.decodeImage(URL(fileURLWithPath: toFIFO))) { XCTAssertTrue("\($0)".contains("not a regular file"), "\($0)") }
        XCTAssertThrowsError(try ImageDecoder().decode(contentsOf: URL(fileURLWithPath: toFIFO))) { XCTAssertTrue("\($0)".contains("not a regular file"), "\($0)") }
    }
}

/// One loopback rule for the store's URLs and the PACS servers: an address in 127.0.0.0/8,
/// localhost or ::1; never a host name that merely starts with "127.".
final class LoopbackTests: XCTestCase {
    func testOnlyThisMachineIsLoopback() throws {
        for h in ["localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "127.255.255.254", "::1", "[::1]"] {
            XCTAssertTrue(Loopback.isLoopback(host: h), h)
        }
        for h in ["127.example.org", "127.0.0.1.nip.io", "128.0.0.1", "10.0.0.1", "example.org", "", "127.0.0", "0127.0.0.1", "::2"] {
            XCTAssertFalse(Loopback.isLoopback(host: h), h)
        }
        // The store: a loopback address other than 127.0.0.1 needs no sslmode; a look-alike name does.
        XCTAssertNoThrow(try PostgresURL("postgresql://ana@127.0.0.2/cases", environment: [:]))
        XCTAssertThrowsError(try PostgresURL("postgresql://ana@127.example.org/cases", environment: [:])) {
            XCTAssertTrue("\($0)".contains("another machine"), "\($0)")
        }
    }
}
