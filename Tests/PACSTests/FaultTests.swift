import Foundation
import XCTest
@testable import Cases
@testable import PACS

/// Servers that misbehave, played by a local TCP listener: garbage, silence, errors, a server that
/// ignores the transfer syntax asked for, a closed port. Each: its message, bounded time, and
/// nothing in the store.
final class FaultTests: XCTestCase {
    func server(_ fake: FakeServer, timeout: Double = 1, retries: Int = 2) -> PACSServer {
        PACSServer(name: "fake", baseURL: fake.url, timeout: timeout, retries: retries, retryDelay: 0.1)
    }

    func testGarbageThatIsNotHTTP() throws {
        let fake = try FakeServer { _, _ in .raw(Data("SSH-2.0-OpenSSH_9.2\r\nProtocol mismatch.\r\n\r\n".utf8)) }
        defer { fake.stop() }
        let client = try DICOMwebClient(server: server(fake))
        let e = expectPACSError { try client.searchStudies(StudyQuery()) }
        assertMessage(e, contains: ["PACS 'fake' (http://127.0.0.1:\(fake.port)/dicom-web)", "the study search"])
        guard case .badAnswer? = e else { return XCTFail("\(String(describing: e))") }
        XCTAssertEqual(fake.requests.count, 1, "garbage is not retried")
    }

    func testGarbageHTTPBodies() throws {
        let answers: [(FakeServer.Reply, String)] = [
            (.http(status: 200, headers: ["Content-Type": "text/html"], body: Data("<html>Welcome</html>".utf8)),
             "Content-Type text/html, expected application/dicom+json"),
            (.http(status: 200, headers: ["Content-Type": "application/dicom+json"], body: Data("{\"oops\": ".utf8)), "not JSON"),
            (.http(status: 200, headers: ["Content-Type": "application/dicom+json"], body: Data([0xFF, 0xFE, 0x00, 0x01])), "not JSON"),
        ]
        for (answer, expected) in answers {
            let fake = try FakeServer { _, _ in answer }
            defer { fake.stop() }
            let e = expectPACSError { try DICOMwebClient(server: server(fake)).searchStudies(StudyQuery()) }
            assertMessage(e, contains: ["PACS 'fake'", "the study search", expected])
        }
    }

    func testGarbageInsteadOfAMultipartRetrieve() throws {
        let study = "1.2.3", series = "1.2.3.4"
        let fake = try FakeServer { path, _ in
            if path.contains("/series/") { return .http(status: 200, headers: ["Content-Type": "multipart/related; type=\"application/dicom\"; boundary=zz"], body: Data("--zz\r\n\r\nnot dicom at all\r\n--zz--\r\n".utf8)) }
            if path.contains("/series") { return .http(status: 200, headers: ["Content-Type": "application/dicom+json"], body: seriesJSON(series, modality: "CR")) }
            return .http(status: 200, headers: ["Content-Type": "application/dicom+json"], body: Data("[]".utf8))
        }
        defer { fake.stop() }
        let store = try temporaryFolder(self)
        let job = PACSStudyImport(client: try DICOMwebClient(server: server(fake)), storePath: store.appendingPathComponent("cases.sqlite").path)
        let e = expectPACSError { try job.run(study: study) }
        assertMessage(e, contains: ["PACS 'fake'", "the retrieve of study 1.2.3 (series 1.2.3.4)", "part 1 is not a DICOM file"])
        assertStoreUntouched(store)
    }

    func testSlowServerTimesOutWithinItsBound() throws {
        let fake = try FakeServer { _, _ in .silence(seconds: 4) }
        defer { fake.stop() }
        let client = try DICOMwebClient(server: server(fake, timeout: 0.5, retries: 1))
        let start = Date()
        let e = expectPACSError { try client.searchStudies(StudyQuery()) }
        let elapsed = Date().timeIntervalSince(start)
        assertMessage(e, contains: ["PACS 'fake'", "the study search failed: no answer within 0.5 s (2 attempts)"])
        XCTAssertEqual(fake.requests.count, 2, "one retry after a timeout")
        XCTAssertLessThan(elapsed, 3.0, "2 x 0.5 s and a 0.1 s pause, not the server's 4 s")
        XCTAssertGreaterThanOrEqual(elapsed, 1.0)
    }

    func testSlowRetrieveLeavesTheStoreUntouched() throws {
        let fake = try FakeServer { path, _ in
            if path.contains("/series/") { return .silence(seconds: 3) }
            return .http(status: 200, headers: ["Content-Type": "application/dicom+json"], body: path.contains("/series") ? seriesJSON("1.2.3.4", modality: "DX") : Data("[]".utf8))
        }
        defer { fake.stop() }
        let store = try temporaryFolder(self)
        let job = PACSStudyImport(client: try DICOMwebClient(server: server(fake, timeout: 0.4, retries: 0)), storePath: store.appendingPathComponent("cases.sqlite").path)
        assertMessage(expectPACSError { try job.run(study: "1.2.3") }, contains: ["the retrieve of study 1.2.3", "no answer within 0.4 s"])
        assertStoreUntouched(store)
    }

    func testCancelStopsARequestInFlight() throws {
        let fake = try FakeServer { _, _ in .silence(seconds: 5) }
        defer { fake.stop() }
        let client = try DICOMwebClient(server: server(fake, timeout: 30, retries: 2))
        let start = Date()
        let e = expectPACSError { try client.searchStudies(StudyQuery(), isCancelled: { Date().timeIntervalSince(start) > 0.3 }) }
        guard case .cancelled? = e else { return XCTFail("\(String(describing: e))") }
        XCTAssertLessThan(Date().timeIntervalSince(start), 2.0)
        assertMessage(e, contains: ["the study search cancelled"])
    }

    func testServerErrorsAreRetriedClientErrorsAreNot() throws {
        // 503 twice, then an answer: three requests, a result.
        let flaky = try FakeServer { _, i in
            i < 2 ? .http(status: 503, headers: [:], body: Data())
                  : .http(status: 200, headers: ["Content-Type": "application/dicom+json"], body: Data("[]".utf8))
        }
        defer { flaky.stop() }
        XCTAssertEqual(try DICOMwebClient(server: server(flaky)).searchStudies(StudyQuery()), [])
        XCTAssertEqual(flaky.requests.count, 3)

        // Always 500: three attempts, then the status and the server's own message.
        let broken = try FakeServer { _, _ in .http(status: 500, headers: ["Content-Type": "application/json"], body: Data("{\"Message\": \"database locked\"}".utf8)) }
        defer { broken.stop() }
        assertMessage(expectPACSError { try DICOMwebClient(server: server(broken)).searchStudies(StudyQuery()) },
                      contains: ["HTTP 500 Internal Server Error (database locked) (3 attempts)"])
        XCTAssertEqual(broken.requests.count, 3)

        // 400: once.
        let picky = try FakeServer { _, _ in .http(status: 400, headers: [:], body: Data("bad query\n".utf8)) }
        defer { picky.stop() }
        assertMessage(expectPACSError { try DICOMwebClient(server: server(picky)).searchStudies(StudyQuery()) },
                      contains: ["HTTP 400 Bad Request (bad query)"], lacks: ["attempts"])
        XCTAssertEqual(picky.requests.count, 1)
    }

    func testRedirectsAreNotFollowed() throws {
        let fake = try FakeServer { _, _ in .http(status: 302, headers: ["Location": "http://elsewhere.example/steal"], body: Data()) }
        defer { fake.stop() }
        assertMessage(expectPACSError { try DICOMwebClient(server: server(fake)).searchStudies(StudyQuery()) },
                      contains: ["HTTP 302", "redirected to http://elsewhere.example/steal", "does not follow redirects"])
        XCTAssertEqual(fake.requests.count, 1)
    }

    func testServerThatIsDown() throws {
        // A port that was just free: nothing listens there.
        let fake = try FakeServer { _, _ in .raw(Data()) }
        let url = fake.url
        fake.stop()
        let client = try DICOMwebClient(server: PACSServer(name: "down", baseURL: url, timeout: 2, retries: 2, retryDelay: 0.1))
        let start = Date()
        let e = expectPACSError { try client.searchStudies(StudyQuery()) }
        assertMessage(e, contains: ["PACS 'down'", "the study search failed: could not connect (connection refused) (3 attempts)", "is the server up"])
        XCTAssertLessThan(Date().timeIntervalSince(start), 3.0)
    }

    func testCompressedPartIsNamedAndRefused() throws {
        // A server that ignores the transfer syntax asked for and sends JPEG 2000 anyway.
        var dicom = TestDICOM()
        dicom.modality = "CR"
        dicom.transferSyntax = "1.2.840.10008.1.2.4.91"
        let file = dicom.data()
        let seriesUID = dicom.seriesUID
        let fake = try FakeServer { path, _ in
            if path.contains("/series/") {
                return .http(status: 200, headers: ["Content-Type": "multipart/related; type=\"application/dicom\"; boundary=\"b-1\""],
                             body: multipart([file], boundary: "b-1"))
            }
            if path.contains("/series") { return .http(status: 200, headers: ["Content-Type": "application/dicom+json"], body: seriesJSON(seriesUID, modality: "CR")) }
            return .http(status: 200, headers: ["Content-Type": "application/dicom+json"], body: Data("[]".utf8))
        }
        defer { fake.stop() }
        let store = try temporaryFolder(self)
        let job = PACSStudyImport(client: try DICOMwebClient(server: server(fake)), storePath: store.appendingPathComponent("cases.sqlite").path)
        let e = expectPACSError { try job.run(study: dicom.studyUID) }
        assertMessage(e, contains: ["PACS 'fake'", "study \(dicom.studyUID)", "1.2.840.10008.1.2.4.91 (JPEG 2000 Image Compression)",
                                    "though TumorBoard asked for uncompressed", "nothing was imported"])
        assertStoreUntouched(store)
        // The Accept header asked for Explicit VR Little Endian.
        XCTAssertTrue(fake.requests.contains { $0.contains("/series/\(dicom.seriesUID)") })
    }

    func testAnImportRefusedByTheImporterLeavesNoFiles() throws {
        // Two radiographs of one series with different PatientIDs: retrieved, written, then
        // refused by the import (a case is one patient); the files go again.
        var first = TestDICOM()
        first.patientID = "PT-A"
        var second = first
        second.patientID = "PT-B"
        second.sopUID = freshUID()
        let files = [first.data(), second.data()]
        let seriesUID = first.seriesUID
        let fake = try FakeServer { path, _ in
            if path.contains("/series/") {
                return .http(status: 200, headers: ["Content-Type": "multipart/related; type=\"application/dicom\"; boundary=q"], body: multipart(files, boundary: "q"))
            }
            return .http(status: 200, headers: ["Content-Type": "application/dicom+json"],
                         body: path.contains("/series") ? seriesJSON(seriesUID, modality: "DX", instances: 2) : Data("[]".utf8))
        }
        defer { fake.stop() }
        let store = try temporaryFolder(self)
        let storePath = store.appendingPathComponent("cases.sqlite").path
        let job = PACSStudyImport(client: try DICOMwebClient(server: server(fake)), storePath: storePath)
        let report = try job.run(study: first.studyUID)
        XCTAssertFalse(report.imported)
        XCTAssertEqual(report.retrieved, 2)
        XCTAssertEqual(report.importReport.refused.count, 1)
        let message = report.importReport.refused.first?.message ?? ""
        XCTAssertTrue(message.contains("different PatientIDs"), message)
        XCTAssertFalse(message.contains("PT-B") || message.contains("SECRET"), "no patient tag is repeated: \(message)")
        XCTAssertNil(report.folder)
        XCTAssertFalse(FileManager.default.fileExists(atPath: try PACSStudyImport.pacsFolder(storePath: storePath).appendingPathComponent("PT-A").path),
                       "the retrieved files are removed")
        XCTAssertEqual(try CaseStore(path: storePath).count(), 0)
    }
}
