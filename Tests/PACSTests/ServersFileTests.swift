import Foundation
import XCTest
@testable import PACS
#if canImport(Glibc)
import Glibc
#endif

/// The servers file and credentials files.
final class ServersFileTests: XCTestCase {
    func testServersFileAndResolve() throws {
        let dir = try temporaryFolder(self)
        let config = dir.appendingPathComponent("pacs.json")
        try writeFile(config, """
        {"servers": [
          {"name": "hospital", "url": "https://pacs.example.org/dicom-web/", "credentials": "hospital.credentials",
           "timeout_seconds": 20, "retries": 1},
          {"name": "local", "url": "http://localhost:8042/dicom-web"}
        ]}
        """, mode: 0o644)
        let env = ["HOME": "/home/ana"]
        let servers = try PACSServersFile.load(config.path, environment: env)
        XCTAssertEqual(servers.map(\.name), ["hospital", "local"])
        XCTAssertEqual(servers[0].baseURL.absoluteString, "https://pacs.example.org/dicom-web", "the trailing / is dropped")
        XCTAssertEqual(servers[0].credentialsFile, dir.appendingPathComponent("hospital.credentials").standardizedFileURL.path)
        XCTAssertEqual(servers[0].timeout, 20)
        XCTAssertEqual(servers[0].retries, 1)
        XCTAssertEqual(servers[1].timeout, PACSServer.defaultTimeout)
        XCTAssertEqual(servers[1].retries, PACSServer.defaultRetries)
        XCTAssertNil(servers[1].credentialsFile)
        XCTAssertTrue(servers[1].isLoopback)
        XCTAssertFalse(servers[0].isLoopback)

        XCTAssertEqual(try PACSServersFile.resolve("hospital", configPath: config.path, environment: env).name, "hospital")
        // A URL of a configured server is that server (with its credentials).
        XCTAssertEqual(try PACSServersFile.resolve("https://pacs.example.org/dicom-web", configPath: config.path, environment: env).name, "hospital")
        let adHoc = try PACSServersFile.resolve("http://10.0.0.5:8042/dicom-web", configPath: config.path, environment: env)
        XCTAssertNil(adHoc.credentialsFile)
        XCTAssertEqual(adHoc.label, "PACS http://10.0.0.5:8042/dicom-web")
        XCTAssertFalse(adHoc.isLoopback)
        // A name that only looks like a loopback address is another machine (plain HTTP would leave it).
        XCTAssertFalse(try PACSServersFile.resolve("http://127.example.org:8042/dicom-web", configPath: config.path, environment: env).isLoopback)
        XCTAssertTrue(try PACSServersFile.resolve("http://127.0.0.2:8042/dicom-web", configPath: config.path, environment: env).isLoopback)
        let unknown = expectPACSError { try PACSServersFile.resolve("radiology", configPath: config.path, environment: env) }
        assertMessage(unknown, contains: ["no PACS server named 'radiology'", config.path, "hospital, local"])
        // No servers file: a URL still works; a name does not.
        XCTAssertNoThrow(try PACSServersFile.resolve("http://localhost:8042/dicom-web", configPath: dir.appendingPathComponent("none.json").path))
        assertMessage(expectPACSError { try PACSServersFile.resolve("hospital", configPath: dir.appendingPathComponent("none.json").path) },
                      contains: ["it lists no server"])
    }

    /// Retrieved studies go beside a store file; a PostgreSQL store has no folder, so they go to
    /// the user's data folder (never to a folder named after the URL); TUMORBOARD_PACS_FOLDER
    /// (a shared mount, for a PostgreSQL store that several servers use) overrides both, and must
    /// be absolute.
    func testWhereRetrievedStudiesGo() throws {
        XCTAssertEqual(try PACSStudyImport.pacsFolder(storePath: "postgresql://ana@db/tb", environment: ["TUMORBOARD_PACS_FOLDER": "/mnt/shared/tb/../pacs", "HOME": "/h"]).path,
                       "/mnt/shared/pacs")
        XCTAssertEqual(try PACSStudyImport.pacsFolder(storePath: "/srv/tb/cases.sqlite", environment: ["TUMORBOARD_PACS_FOLDER": "/mnt/pacs"]).path, "/mnt/pacs")
        XCTAssertEqual(try PACSStudyImport.pacsFolder(storePath: "/srv/tb/cases.sqlite", environment: ["TUMORBOARD_PACS_FOLDER": ""]).path, "/srv/tb/pacs")
        XCTAssertThrowsError(try PACSStudyImport.pacsFolder(storePath: "postgresql://ana@db/tb", environment: ["TUMORBOARD_PACS_FOLDER": "shared/pacs"])) { e in
            XCTAssertTrue("\(e)".contains("TUMORBOARD_PACS_FOLDER must be an absolute path"), "\(e)")
        }
        XCTAssertEqual(try PACSStudyImport.pacsFolder(storePath: "/srv/tb/cases.sqlite", environment: [:]).path, "/srv/tb/pacs")
        XCTAssertEqual(try PACSStudyImport.pacsFolder(storePath: "postgresql://ana@db:5432/tb?sslmode=verify-full",
                                                  environment: ["HOME": "/home/ana", "TUMORBOARD_STORE": "postgresql://ana@db/tb"]).path,
                       "/home/ana/.local/share/tumorboard/pacs")
        XCTAssertEqual(try PACSStudyImport.pacsFolder(storePath: "postgresql://ana@db/tb", environment: ["XDG_DATA_HOME": "/d", "HOME": "/h"]).path,
                       "/d/tumorboard/pacs")
    }

    func testDefaultPath() {
        XCTAssertEqual(PACSServersFile.defaultPath(environment: ["TUMORBOARD_PACS_CONFIG": "/etc/tb/pacs.json", "HOME": "/h"]), "/etc/tb/pacs.json")
        XCTAssertEqual(PACSServersFile.defaultPath(environment: ["XDG_CONFIG_HOME": "/x", "HOME": "/h"]), "/x/tumorboard/pacs.json")
        XCTAssertEqual(PACSServersFile.defaultPath(environment: ["HOME": "/h"]), "/h/.config/tumorboard/pacs.json")
    }

    func testBadServersFilesAreRefusedNamingTheProblem() throws {
        let dir = try temporaryFolder(self)
        let config = dir.appendingPathComponent("pacs.json")
        let cases: [(String, String)] = [
            ("not json", "not a JSON object"),
            ("{\"server\": []}", "unknown key 'server'"),
            ("{\"servers\": [{\"name\": \"a\", \"url\": \"http://h/dw\", \"password\": \"hunter2\"}]}", "go in a credentials file"),
            ("{\"servers\": [{\"name\": \"a b\", \"url\": \"http://h/dw\"}]}", "\"name\" must be"),
            ("{\"servers\": [{\"name\": \"a\", \"url\": \"ftp://h/dw\"}]}", "not a DICOMweb URL"),
            ("{\"servers\": [{\"name\": \"a\", \"url\": \"https://u:hunter2@h/dw\"}]}", "must not hold a user name or password"),
            ("{\"servers\": [{\"name\": \"a\", \"url\": \"http://h/dw\"}, {\"name\": \"a\", \"url\": \"http://g/dw\"}]}", "used twice"),
            ("{\"servers\": [{\"name\": \"a\", \"url\": \"http://h/dw\", \"timeout_seconds\": 0}]}", "timeout_seconds"),
            ("{\"servers\": [{\"name\": \"a\", \"url\": \"http://h/dw\", \"retries\": true}]}", "retries"),
            ("{\"servers\": [{\"name\": \"a\", \"url\": \"http://h/dw?x=1\"}]}", "takes no query"),
        ]
        for (text, expected) in cases {
            try writeFile(config, text, mode: 0o644)
            let e = expectPACSError { try PACSServersFile.load(config.path) }
            assertMessage(e, contains: [expected, config.path], lacks: ["hunter2"])
        }
    }

    func testCredentialsFile() throws {
        let dir = try temporaryFolder(self)
        let file = dir.appendingPathComponent("c")
        try writeFile(file, "radiology:pa:ss word\n", mode: 0o600)
        let c = try PACSCredentials.read(file.path, server: "PACS x")
        XCTAssertEqual(c.user, "radiology")
        XCTAssertEqual(c.password, "pa:ss word", "the password may hold ':' and spaces")
        XCTAssertEqual(c.basicAuthorization, "Basic " + Data("radiology:pa:ss word".utf8).base64EncodedString())
        XCTAssertFalse("\(c)".contains("pa:ss"), "\(c)")
        var dumped = ""
        dump(c, to: &dumped)
        for shown in [String(reflecting: c), dumped, "\([c])"] { XCTAssertFalse(shown.contains("ss word"), shown) }
        try writeFile(file, "radiology:secret", mode: 0o400)
        XCTAssertEqual(try PACSCredentials.read(file.path, server: "PACS x").password, "secret", "read-only for the owner is fine")
    }

    func testCredentialsFilesOthersCanReadAreRefused() throws {
        let dir = try temporaryFolder(self)
        let file = dir.appendingPathComponent("c")
        for mode: mode_t in [0o644, 0o640, 0o604, 0o660, 0o606] {
            try writeFile(file, "radiology:hunter2\n", mode: mode)
            let e = expectPACSError { try PACSCredentials.read(file.path, server: "PACS 'h' (https://h/dw)") }
            assertMessage(e, contains: ["PACS 'h' (https://h/dw)", file.path, "can be read by others (mode 0\(String(mode, radix: 8)))", "chmod 600"],
                          lacks: ["hunter2", "radiology"])
        }
        let cases: [(String, String)] = [("radiology", "no ':'"), (":hunter2", "user name (before ':') is empty"),
                                         ("radiology:", "password (after ':') is empty"), ("a:b\nc:hunter2", "more than one line")]
        for (text, expected) in cases {
            try writeFile(file, text, mode: 0o600)
            assertMessage(expectPACSError { try PACSCredentials.read(file.path, server: "PACS x") }, contains: [expected], lacks: ["hunter2"])
        }
        assertMessage(expectPACSError { try PACSCredentials.read(dir.appendingPathComponent("none").path, server: "PACS x") }, contains: ["no such file"])
        assertMessage(expectPACSError { try PACSCredentials.read(dir.path, server: "PACS x") }, contains: ["not a regular file"])
    }

    func testNoPasswordOverPlainHTTPToAnotherMachine() throws {
        let dir = try temporaryFolder(self)
        let file = dir.appendingPathComponent("c")
        try writeFile(file, "u:hunter2", mode: 0o600)
        let remote = PACSServer(name: "h", baseURL: URL(string: "http://pacs.example.org/dicom-web")!, credentialsFile: file.path)
        assertMessage(expectPACSError { try DICOMwebClient(server: remote) }, contains: ["unencrypted", "https://"], lacks: ["hunter2"])
        var local = remote
        local.baseURL = URL(string: "http://127.0.0.1:8042/dicom-web")!
        XCTAssertNoThrow(try DICOMwebClient(server: local))
        var tls = remote
        tls.baseURL = URL(string: "https://pacs.example.org/dicom-web")!
        XCTAssertNoThrow(try DICOMwebClient(server: tls))
    }
}
