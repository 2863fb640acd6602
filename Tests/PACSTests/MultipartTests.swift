import Foundation
import XCTest
@testable import PACS

/// The multipart/related parser against hand-written answers.
final class MultipartTests: XCTestCase {
    func testBoundaryFromContentType() throws {
        XCTAssertEqual(try MultipartRelated.boundary(contentType: "multipart/related; type=\"application/dicom\"; boundary=abc-123"), "abc-123")
        // Quoted, with ';' inside the quotes, parameters in another order and case.
        XCTAssertEqual(try MultipartRelated.boundary(contentType: "Multipart/Related; BOUNDARY=\"a;b c\"; Type=application/dicom"), "a;b c")
        XCTAssertEqual(try MultipartRelated.boundary(contentType: "multipart/related; boundary=x; type=\"application/dicom\"; transfer-syntax=1.2.840.10008.1.2.1"), "x")
    }

    func testBoundaryRefusals() {
        for (header, expected) in [(nil, "no Content-Type"), ("application/dicom+json", "expected multipart/related"),
                                   ("multipart/related; type=\"application/dicom\"", "without a boundary"),
                                   ("multipart/related; type=\"application/octet-stream\"; boundary=b", "of application/octet-stream")] as [(String?, String)] {
            do {
                _ = try MultipartRelated.boundary(contentType: header)
                XCTFail("\(String(describing: header)) accepted")
            } catch {
                XCTAssertTrue(error.problem.contains(expected), "\(error.problem)")
            }
        }
    }

    func testTwoPartsWithPreambleAndEpilogue() throws {
        let body = Data("""
        This is a preamble.\r
        --XyZ\r
        Content-Type: application/dicom\r
        Content-Length: 5\r
        \r
        first\r
        --XyZ\r
        Content-Type: application/dicom\r
        \r
        sec\r
        ond\r
        --XyZ--\r
        epilogue
        """.utf8)
        let parts = try MultipartRelated.parse(body, boundary: "XyZ")
        XCTAssertEqual(parts.count, 2)
        XCTAssertEqual(parts[0].body, Data("first".utf8))
        XCTAssertEqual(parts[0].contentType, "application/dicom")
        XCTAssertEqual(parts[0].headers["content-length"], "5")
        XCTAssertEqual(parts[1].body, Data("sec\r\nond".utf8), "a CRLF inside a part is data")
    }

    func testBinaryPartsWithBoundaryLookalikes() throws {
        // Binary bodies holding CR, LF, "--" and the boundary without its leading CRLF.
        var a = Data((0...255).map { UInt8($0) })
        a += Data("--b0undary--\r\n-b0undary\r\n".utf8)
        let b = Data([0x0D, 0x0A, 0x2D, 0x2D, 0x00])
        let body = multipart([a, b], boundary: "b0undary")
        let parts = try MultipartRelated.parse(body, boundary: "b0undary")
        XCTAssertEqual(parts.map(\.body), [a, b])
    }

    func testEmptyMultipartHasNoParts() throws {
        XCTAssertEqual(try MultipartRelated.parse(Data("--b--\r\n".utf8), boundary: "b"), [])
    }

    func testTruncatedAndBrokenBodiesAreRefused() {
        let whole = multipart([Data(repeating: 7, count: 100), Data(repeating: 9, count: 50)], boundary: "bnd")
        let cases: [(Data, String)] = [
            (whole.prefix(whole.count - 12), "truncated"),                     // cut inside the closing boundary
            (whole.prefix(60), "truncated"),                                   // cut in the first part
            (Data("--bnd\r\nContent-Type: application/dicom".utf8), "headers do not end"),
            (Data("<html>Service unavailable</html>".utf8), "does not contain the boundary"),
            (Data("--bnd\r\nContent-Length: 10\r\n\r\nabc\r\n--bnd--".utf8), "Content-Length 10 but holds 3"),
            (Data("--bndX\r\n\r\nabc\r\n--bnd--".utf8), "does not end in CRLF"),
        ]
        for (body, expected) in cases {
            do {
                let parts = try MultipartRelated.parse(body, boundary: "bnd")
                XCTFail("accepted \(parts.count) parts of a broken body (expected '\(expected)')")
            } catch {
                XCTAssertTrue(error.problem.contains(expected), "'\(error.problem)' lacks '\(expected)'")
            }
        }
    }

    func testMetaElementsOfADICOMFile() {
        var d = TestDICOM()
        d.sopUID = "1.2.3.4.5"
        d.transferSyntax = "1.2.840.10008.1.2.4.91"
        let bytes = [UInt8](d.data())
        XCTAssertEqual(DICOMwebClient.metaElement(Array(bytes[132...]), 0x0010), "1.2.840.10008.1.2.4.91")
        XCTAssertEqual(DICOMwebClient.metaElement(Array(bytes[132...]), 0x0003), "1.2.3.4.5")
        // The syntax of the first part of a multipart answer's first bytes (as a stopped retrieve has them).
        let answer = multipart([d.data()], boundary: "q")
        XCTAssertEqual(DICOMwebClient.transferSyntaxOfFirstPart(answer.prefix(400)), "1.2.840.10008.1.2.4.91")
        XCTAssertNil(DICOMwebClient.transferSyntaxOfFirstPart(Data("no dicom here".utf8)))
        XCTAssertNil(DICOMwebClient.metaElement(Array(bytes[132..<140]), 0x0010), "a cut meta group is nil, not a crash")
    }
}
