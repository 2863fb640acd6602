import Foundation
import XCTest
@testable import PACS
#if canImport(Glibc)
import Glibc
#endif

/// HTTPS is verified: a server whose certificate the system does not trust (a self-signed one,
/// served by `openssl s_server`) is refused before anything is sent, and not retried.
final class TLSTests: XCTestCase {
    func testSelfSignedCertificateIsRefused() throws {
        let openssl = "/usr/bin/openssl"
        guard FileManager.default.isExecutableFile(atPath: openssl) else { throw XCTSkip("no \(openssl) to play an HTTPS server") }
        let dir = try temporaryFolder(self, "tls")
        let make = Process()
        make.executableURL = URL(fileURLWithPath: openssl)
        make.arguments = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir.appendingPathComponent("key.pem").path,
                          "-out", dir.appendingPathComponent("cert.pem").path, "-subj", "/CN=localhost", "-days", "1",
                          "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]
        make.standardOutput = FileHandle.nullDevice
        make.standardError = FileHandle.nullDevice
        try make.run()
        make.waitUntilExit()
        XCTAssertEqual(make.terminationStatus, 0)

        // A port that was free a moment ago.
        let probe = try FakeServer { _, _ in .raw(Data()) }
        let port = probe.port
        probe.stop()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: openssl)
        server.arguments = ["s_server", "-accept", "127.0.0.1:\(port)", "-cert", dir.appendingPathComponent("cert.pem").path,
                            "-key", dir.appendingPathComponent("key.pem").path, "-www", "-quiet"]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { server.terminate(); server.waitUntilExit() }
        XCTAssertTrue(waitForListener(port: port, seconds: 10), "openssl s_server did not start")

        let client = try DICOMwebClient(server: PACSServer(name: "selfsigned", baseURL: URL(string: "https://127.0.0.1:\(port)/dicom-web")!,
                                                           timeout: 5, retries: 2, retryDelay: 0.1))
        let e = expectPACSError { try client.searchStudies(StudyQuery()) }
        guard case .unreachable(_, _, let detail, let attempts)? = e else { return XCTFail("\(String(describing: e))") }
        XCTAssertEqual(attempts, 1, "a certificate that cannot be verified is not tried again")
        XCTAssertTrue(detail.contains("could not be verified"), detail)
        assertMessage(e, contains: ["PACS 'selfsigned'", "trust store"])
    }

    func waitForListener(port: UInt16, seconds: Double) -> Bool {
        let until = Date().addingTimeInterval(seconds)
        while Date() < until {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = port.bigEndian
            let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } == 0
            close(fd)
            if ok { return true }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return false
    }
}
