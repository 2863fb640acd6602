import Foundation
import XCTest
@testable import Cases
@testable import PACS
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The repository root (Tests/PACSTests/ is two levels down).
let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The pydicom test files (scripts/fetch-dicom-samples).
let dicomSamples = URL(fileURLWithPath: ProcessInfo.processInfo.environment["TUMORBOARD_DICOM_SAMPLES"]
                       ?? repoRoot.appendingPathComponent(".build/dicom-samples").path)

/// A fresh temporary folder, removed when the test ends.
func temporaryFolder(_ test: XCTestCase, _ name: String = "pacs") throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("tumorboard-\(name)-\(getpid())-\(UInt32.random(in: 0 ... .max))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// A fresh DICOM UID (2.25 + a random 96-bit number).
func freshUID() -> String {
    "2.25.\(UInt64.random(in: 1 ... UInt64.max))\(UInt32.random(in: 0 ... 999_999))"
}

/// A file owned by this user holding `text`, with `mode`.
func writeFile(_ url: URL, _ text: String, mode: mode_t) throws {
    try Data(text.utf8).write(to: url)
    XCTAssertEqual(chmod(url.path, mode), 0)
}

/// Runs `body`, which must throw a PACSError; returns it.
func expectPACSError<T>(_ body: () throws -> T, file: StaticString = #filePath, line: UInt = #line) -> PACSError? {
    do {
        let value = try body()
        XCTFail("expected a PACSError, got \(value)", file: file, line: line)
        return nil
    } catch let e as PACSError {
        return e
    } catch {
        XCTFail("expected a PACSError, got \(type(of: error)): \(error)", file: file, line: line)
        return nil
    }
}

func assertMessage(_ error: PACSError?, contains parts: [String], lacks absent: [String] = [], file: StaticString = #filePath, line: UInt = #line) {
    guard let error else { return }
    let message = "\(error)"
    for p in parts where !message.contains(p) { XCTFail("message \"\(message)\" lacks \"\(p)\"", file: file, line: line) }
    for a in absent where message.contains(a) { XCTFail("message \"\(message)\" holds \"\(a)\"", file: file, line: line) }
}

/// Nothing under `storeFolder` but what was there before: no store file created, no pacs files.
func assertStoreUntouched(_ storeFolder: URL, file: StaticString = #filePath, line: UInt = #line) {
    let left = (try? FileManager.default.subpathsOfDirectory(atPath: storeFolder.path)) ?? []
    XCTAssertEqual(left, [], "left in the store's folder: \(left)", file: file, line: line)
}

// MARK: - DICOM files made here

/// A small but complete uncompressed DICOM radiograph (Explicit VR Little Endian, MONOCHROME2,
/// 16 bits allocated, 12 stored), for the studies the tests load into Orthanc themselves.
struct TestDICOM {
    var patientID = "PT-0001"
    var patientName = "SECRET^NAME"
    var sex = "F"
    var age = "042Y"
    var studyDate = "20230405"
    var modality = "DX"
    var bodyPart = "FEMUR"
    var studyUID = freshUID()
    var seriesUID = freshUID()
    var sopUID = freshUID()
    var rows = 64
    var columns = 48
    var seed = 1
    /// Anything but Explicit VR Little Endian writes encapsulated (fake compressed) pixel data.
    var transferSyntax = DICOMFile.explicitVRLittleEndian

    func pixels() -> Data {
        // A row pattern repeated: fast for large images, different per seed.
        var row = Data(capacity: columns * 2)
        for x in 0..<columns {
            let v = UInt16((x * 37 + seed * 101) % 4096)
            row.append(UInt8(v & 0xFF)); row.append(UInt8(v >> 8))
        }
        var out = Data(capacity: rows * columns * 2)
        for y in 0..<rows {
            if y % 7 == 0 { var r = row; r[0] = UInt8(y & 0xFF); out.append(r) } else { out.append(row) }
        }
        return out
    }

    func data() -> Data {
        func el(_ group: UInt16, _ element: UInt16, _ vr: String, _ value: Data) -> Data {
            var v = value
            if v.count % 2 == 1 { v.append(vr == "UI" || vr == "OB" ? 0 : 0x20) }
            var d = Data()
            func u16(_ x: UInt16) { d.append(UInt8(x & 0xFF)); d.append(UInt8(x >> 8)) }
            func u32(_ x: UInt32) { for i in 0..<4 { d.append(UInt8((x >> (8 * UInt32(i))) & 0xFF)) } }
            u16(group); u16(element); d.append(contentsOf: Array(vr.utf8))
            if ["OB", "OW", "SQ", "UN", "UT"].contains(vr) { u16(0); u32(UInt32(v.count)) } else { u16(UInt16(v.count)) }
            d.append(v)
            return d
        }
        func s(_ t: String) -> Data { Data(t.utf8) }
        func us(_ x: UInt16) -> Data { Data([UInt8(x & 0xFF), UInt8(x >> 8)]) }
        let sopClass = "1.2.840.10008.5.1.4.1.1.1.1"
        // Appended one by one: a long chain of `Data + Data` costs the type checker minutes.
        var metaBody = Data()
        metaBody.append(el(2, 1, "OB", Data([0, 1])))
        metaBody.append(el(2, 2, "UI", s(sopClass)))
        metaBody.append(el(2, 3, "UI", s(sopUID)))
        metaBody.append(el(2, 0x10, "UI", s(transferSyntax)))
        metaBody.append(el(2, 0x12, "UI", s("2.25.1234")))
        var metaLength = Data()
        for i in 0..<4 { metaLength.append(UInt8((UInt32(metaBody.count) >> (8 * UInt32(i))) & 0xFF)) }
        var out = Data(count: 128)
        out.append(Data("DICM".utf8))
        out.append(el(2, 0, "UL", metaLength))
        out.append(metaBody)
        let elements: [Data] = [
            el(8, 0x16, "UI", s(sopClass)), el(8, 0x18, "UI", s(sopUID)), el(8, 0x20, "DA", s(studyDate)),
            el(8, 0x60, "CS", s(modality)), el(0x10, 0x10, "PN", s(patientName)), el(0x10, 0x20, "LO", s(patientID)),
            el(0x10, 0x40, "CS", s(sex)), el(0x10, 0x1010, "AS", s(age)), el(0x18, 0x15, "CS", s(bodyPart)),
            el(0x18, 0x5101, "CS", s("AP")), el(0x20, 0xD, "UI", s(studyUID)), el(0x20, 0xE, "UI", s(seriesUID)),
            el(0x20, 0x13, "IS", s("1")),
            el(0x28, 2, "US", us(1)), el(0x28, 4, "CS", s("MONOCHROME2")),
            el(0x28, 0x10, "US", us(UInt16(rows))), el(0x28, 0x11, "US", us(UInt16(columns))),
            el(0x28, 0x100, "US", us(16)), el(0x28, 0x101, "US", us(12)), el(0x28, 0x102, "US", us(11)),
            el(0x28, 0x103, "US", us(0)),
        ]
        for e in elements { out.append(e) }
        if transferSyntax == DICOMFile.explicitVRLittleEndian {
            out.append(el(0x7FE0, 0x10, "OW", pixels()))
        } else {
            // Encapsulated: undefined length, an empty offset table, one fragment, the delimiter.
            let tail: [[UInt8]] = [[0xE0, 0x7F, 0x10, 0x00], Array("OB".utf8), [0, 0, 0xFF, 0xFF, 0xFF, 0xFF],
                                   [0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0],
                                   [0xFE, 0xFF, 0x00, 0xE0, 16, 0, 0, 0], [UInt8](repeating: 0xAB, count: 16),
                                   [0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]]
            for t in tail { out.append(contentsOf: t) }
        }
        return out
    }
}

// MARK: - The test Orthanc (scripts/orthanc-test-server)

/// The Orthanc that scripts/orthanc-test-server started: where it is and its REST API, for
/// loading and deleting studies. `running()` skips the test when there is none.
struct OrthancTestServer {
    let rest: URL
    let dicomWeb: URL
    let credentialsFile: String
    let pid: pid_t
    let folder: URL

    static var defaultFolder: URL {
        URL(fileURLWithPath: ProcessInfo.processInfo.environment["TUMORBOARD_ORTHANC_DIR"]
            ?? repoRoot.appendingPathComponent(".build/orthanc-test").path)
    }

    static let skipMessage = "no test Orthanc is running: scripts/orthanc-test-server start (needs the Debian packages orthanc and orthanc-dicomweb; .ci/run starts it)"

    /// The server described by `folder`/server.env, when it answers; else the test is skipped.
    static func running(folder: URL = defaultFolder) throws -> OrthancTestServer {
        guard let text = try? String(contentsOf: folder.appendingPathComponent("server.env"), encoding: .utf8) else {
            throw XCTSkip(skipMessage)
        }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let kv = line.split(separator: "=", maxSplits: 1).map(String.init)
            if kv.count == 2 { values[kv[0]] = kv[1] }
        }
        guard let rest = values["REST"].flatMap(URL.init(string:)), let web = values["DICOMWEB"].flatMap(URL.init(string:)),
              let cred = values["CREDENTIALS"], let pid = values["PID"].flatMap({ pid_t($0) }) else {
            throw XCTSkip(skipMessage + " (\(folder.path)/server.env is incomplete)")
        }
        let server = OrthancTestServer(rest: rest, dicomWeb: web, credentialsFile: cred, pid: pid, folder: folder)
        guard kill(pid, 0) == 0, (try? server.call("GET", "system")) != nil else {
            throw XCTSkip(skipMessage + " (the one in \(folder.path) does not answer)")
        }
        return server
    }

    /// Starts a private Orthanc in `folder` through the script (its own port and storage).
    static func startPrivate(in folder: URL) throws -> OrthancTestServer {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/Orthanc") else {
            throw XCTSkip("Orthanc is not installed (apt-get install orthanc orthanc-dicomweb; scripts/setup --test does it)")
        }
        let status = runScript("start", folder: folder)
        guard status == 0 else {
            throw XCTSkip("scripts/orthanc-test-server start failed (exit \(status)); see \(folder.path)/orthanc.log")
        }
        return try running(folder: folder)
    }

    func stopPrivate() { _ = Self.runScript("stop", folder: folder) }

    /// Runs scripts/orthanc-test-server with TUMORBOARD_ORTHANC_DIR=folder, its output to
    /// /dev/null. posix_spawn and waitpid: Foundation's Process.waitUntilExit on Linux can wait
    /// forever for a script that leaves a daemon behind (the Orthanc it starts).
    static func runScript(_ command: String, folder: URL) -> Int32 {
        let script = repoRoot.appendingPathComponent("scripts/orthanc-test-server").path
        var env = ProcessInfo.processInfo.environment
        env["TUMORBOARD_ORTHANC_DIR"] = folder.path
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(script), strdup(command), nil]
        var envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") }
        envp.append(nil)
        defer { for p in argv + envp { free(p) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var pid = pid_t()
        guard posix_spawn(&pid, script, &actions, nil, argv, envp) == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }

    func pacsServer(name: String = "orthanc-test", credentials: String? = nil, timeout: Double = 10, retries: Int = 2) -> PACSServer {
        PACSServer(name: name, baseURL: dicomWeb, credentialsFile: credentials ?? credentialsFile, timeout: timeout,
                   retries: retries, retryDelay: 0.2)
    }

    func client(timeout: Double = 10, retries: Int = 2) throws -> DICOMwebClient {
        try DICOMwebClient(server: pacsServer(timeout: timeout, retries: retries))
    }

    struct RESTError: Error, CustomStringConvertible { let description: String }

    /// A REST call with the test user's password.
    @discardableResult
    func call(_ method: String, _ path: String, body: Data? = nil, type: String = "application/dicom") throws -> Data {
        var request = URLRequest(url: rest.appendingPathComponent(path))
        request.httpMethod = method
        request.httpBody = body
        if body != nil { request.setValue(type, forHTTPHeaderField: "Content-Type") }
        let credentials = try PACSCredentials.read(credentialsFile, server: "test Orthanc")
        request.setValue(credentials.basicAuthorization, forHTTPHeaderField: "Authorization")
        switch HTTPTransfer.run(request, timeout: 60, maxBytes: 64 << 20, isCancelled: { false }) {
        case .success(let a) where (200..<300).contains(a.status): return a.body
        case .success(let a): throw RESTError(description: "\(method) \(path): HTTP \(a.status)")
        case .failure(let f): throw RESTError(description: "\(method) \(path): \(f)")
        }
    }

    /// Loads DICOM files (POST /instances).
    func upload(_ files: [Data]) throws {
        for f in files { try call("POST", "instances", body: f) }
    }

    /// Deletes a study by its StudyInstanceUID (DELETE /studies/{orthanc id}).
    func deleteStudy(_ uid: String) throws {
        let found = try call("POST", "tools/lookup", body: Data(uid.utf8), type: "text/plain")
        guard let list = try JSONSerialization.jsonObject(with: found) as? [[String: Any]],
              let id = list.first(where: { ($0["Type"] as? String) == "Study" })?["ID"] as? String else {
            throw RESTError(description: "study \(uid) not found on the test Orthanc")
        }
        try call("DELETE", "studies/\(id)")
    }
}

// MARK: - A tiny local server answering what a test wants

/// A TCP listener on 127.0.0.1 (a free port) that answers each connection as `reply` says:
/// a well-formed HTTP answer, bytes that are not HTTP, or nothing for a while.
final class FakeServer: @unchecked Sendable {
    // @unchecked: `requests` is only touched while `lock` is held; `fd` is set once in init.
    enum Reply: Sendable {
        case http(status: Int, headers: [String: String], body: Data)
        case raw(Data)
        /// Reads the request, then answers nothing for this long, then closes.
        case silence(seconds: Double)
    }

    let port: UInt16
    private let fd: Int32
    private let lock = NSLock()
    private var paths: [String] = []
    private let reply: @Sendable (_ path: String, _ index: Int) -> Reply

    var requests: [String] { lock.lock(); defer { lock.unlock() }; return paths }
    var url: URL { URL(string: "http://127.0.0.1:\(port)/dicom-web")! }  // a literal URL with a number: always valid

    init(_ reply: @escaping @Sendable (_ path: String, _ index: Int) -> Reply) throws {
        self.reply = reply
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw NSError(domain: "FakeServer", code: 1) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 16) == 0 else { close(fd); throw NSError(domain: "FakeServer", code: 2) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        port = UInt16(bigEndian: addr.sin_port)
        self.fd = fd
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    private func acceptLoop() {
        while true {
            let client = accept(fd, nil, nil)
            if client < 0 { return }
            Thread { [self] in serve(client) }.start()
        }
    }

    private func serve(_ client: Int32) {
        defer { close(client) }
        var request = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !request.contains(subsequence: Array("\r\n\r\n".utf8)) {
            let n = read(client, &buffer, buffer.count)
            if n <= 0 { return }
            request += buffer[0..<n]
        }
        let firstLine = String(decoding: request.prefix(while: { $0 != 0x0D }), as: UTF8.self)
        let path = firstLine.split(separator: " ").dropFirst().first.map(String.init) ?? ""
        lock.lock()
        let index = paths.count
        paths.append(path)
        lock.unlock()
        let out: Data
        switch reply(path, index) {
        case .silence(let seconds):
            Thread.sleep(forTimeInterval: seconds)
            return
        case .raw(let d): out = d
        case .http(let status, let headers, let body):
            var head = "HTTP/1.1 \(status) \(PACSError.reason(status))\r\nContent-Length: \(body.count)\r\nConnection: close\r\n"
            for (k, v) in headers { head += "\(k): \(v)\r\n" }
            var d = Data((head + "\r\n").utf8)
            d.append(body)
            out = d
        }
        out.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(client, raw.baseAddress!.advanced(by: offset), raw.count - offset)  // raw.count > 0 inside the loop
                if n <= 0 { return }
                offset += n
            }
        }
    }
}

extension Array where Element == UInt8 {
    func contains(subsequence s: [UInt8]) -> Bool {
        guard count >= s.count else { return false }
        for i in 0...(count - s.count) where self[i] == s[0] && Array(self[i..<(i + s.count)]) == s { return true }
        return false
    }
}

/// A multipart/related body of `parts` with `boundary`.
func multipart(_ parts: [Data], boundary: String, type: String = "application/dicom") -> Data {
    var d = Data()
    for p in parts {
        d.append(Data("--\(boundary)\r\nContent-Type: \(type)\r\nContent-Length: \(p.count)\r\n\r\n".utf8))
        d.append(p)
        d.append(Data("\r\n".utf8))
    }
    d.append(Data("--\(boundary)--\r\n".utf8))
    return d
}

/// A QIDO-RS JSON list of one series.
func seriesJSON(_ uid: String, modality: String, instances: Int = 1) -> Data {
    Data("""
    [{"0020000E": {"vr": "UI", "Value": ["\(uid)"]}, "00080060": {"vr": "CS", "Value": ["\(modality)"]},
      "00201209": {"vr": "IS", "Value": [\(instances)]}}]
    """.utf8)
}
