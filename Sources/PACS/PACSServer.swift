import Cases
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One DICOMweb server: a hospital's Orthanc, dcm4chee, or any PACS with QIDO-RS and WADO-RS.
/// Credentials are never held here, only the file they are read from at request time.
public struct PACSServer: Sendable, Equatable {
    /// What messages call it ("hospital"); the URL itself for a server given by URL.
    public var name: String
    /// The DICOMweb root: QIDO-RS is `<baseURL>/studies`, WADO-RS `<baseURL>/studies/<uid>`.
    public var baseURL: URL
    /// A file holding `user:password` for HTTP basic authentication: a regular file of the
    /// user's own, readable by nobody else (mode 0600 or 0400).
    public var credentialsFile: String?
    /// Seconds without a byte (connecting, or between two chunks of an answer) before a request
    /// is abandoned.
    public var timeout: Double
    /// Further attempts after a connection error, a timeout or an HTTP 5xx (never after a 4xx).
    public var retries: Int
    /// The wait before the first retry; it doubles for each next one.
    public var retryDelay: Double

    public static let defaultTimeout = 10.0
    public static let defaultRetries = 2

    public init(name: String, baseURL: URL, credentialsFile: String? = nil, timeout: Double = PACSServer.defaultTimeout,
                retries: Int = PACSServer.defaultRetries, retryDelay: Double = 0.5) {
        self.name = name; self.baseURL = baseURL; self.credentialsFile = credentialsFile
        self.timeout = timeout; self.retries = retries; self.retryDelay = retryDelay
    }

    /// How messages name the server: "PACS 'hospital' (https://pacs.example.org/dicom-web)".
    public var label: String {
        name == baseURL.absoluteString ? "PACS \(name)" : "PACS '\(name)' (\(baseURL.absoluteString))"
    }

    /// A DICOMweb root URL as given on the command line or in the servers file: http or https,
    /// a host, no user name or password in it (those go in a credentials file), no query.
    public static func checkedURL(_ text: String) throws(PACSError) -> URL {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard let c = URLComponents(string: t), let scheme = c.scheme?.lowercased(), ["http", "https"].contains(scheme) else {
            throw .usage("'\(t)' is not a DICOMweb URL: expected http://host:port/path or https://host/path (e.g. http://localhost:8042/dicom-web)")
        }
        guard let host = c.host, !host.isEmpty else { throw .usage("'\(t)': the URL has no host") }
        if c.user != nil || c.password != nil {
            // Never echo the URL back: it holds a password.
            throw .usage("a server URL must not hold a user name or password; put them in a credentials file (docs/pacs.md)")
        }
        guard c.query == nil, c.fragment == nil else { throw .usage("'\(t)': the DICOMweb root URL takes no query (?...) or fragment (#...)") }
        var path = c.path
        while path.hasSuffix("/") { path.removeLast() }
        var out = URLComponents()
        out.scheme = scheme; out.host = host; out.port = c.port; out.path = path
        guard let url = out.url else { throw .usage("'\(t)' is not a URL") }
        return url
    }

    /// True for a host on this machine (plain HTTP does not leave it).
    public var isLoopback: Bool {
        Loopback.isLoopback(host: baseURL.host ?? "")
    }
}

/// A user name and password for HTTP basic authentication. `description` never shows the password.
public struct PACSCredentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public let user: String
    let password: String

    public var description: String { "user '\(user)' (password not shown)" }
    public var debugDescription: String { description }
    /// `dump` and debuggers see the user only.
    public var customMirror: Mirror { Mirror(self, children: ["user": user], displayStyle: .struct) }

    /// The Authorization header's value.
    var basicAuthorization: String { "Basic " + Data("\(user):\(password)".utf8).base64EncodedString() }

    public static let maxFileBytes = 4096

    /// Reads `user:password` (one line; the password may hold ':') from `file`, which must be a
    /// regular file owned by this user and readable by nobody else. Refused otherwise, with a
    /// message that never repeats the file's contents.
    public static func read(_ file: String, server: String) throws(PACSError) -> PACSCredentials {
        func refuse(_ problem: String) -> PACSError { .credentials(server: server, file: file, problem: problem) }
        var st = stat()
        guard stat(file, &st) == 0 else {
            throw refuse(errno == ENOENT ? "no such file" : "cannot be read (\(String(cString: strerror(errno))))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw refuse("not a regular file") }
        guard st.st_uid == geteuid() else {
            throw refuse("belongs to another user (uid \(st.st_uid)); it must be your own file")
        }
        let mode = Int(st.st_mode & 0o777)
        guard mode & 0o077 == 0 else {
            throw refuse("can be read by others (mode \(String(mode, radix: 8, uppercase: false).leftPadded(to: 4))); it holds a password, so it must be readable by you alone: chmod 600 \(file)")
        }
        guard st.st_size <= maxFileBytes else { throw refuse("\(st.st_size) bytes; a credentials file is one line user:password") }
        guard let data = FileManager.default.contents(atPath: file) else { throw refuse("cannot be read") }
        guard var text = String(data: data, encoding: .utf8) else { throw refuse("not UTF-8 text") }
        while let last = text.last, last == "\n" || last == "\r" { text.removeLast() }
        guard !text.contains("\n"), !text.contains("\r") else { throw refuse("more than one line; expected one line user:password") }
        guard let colon = text.firstIndex(of: ":") else { throw refuse("no ':' in it; expected one line user:password") }
        let user = String(text[..<colon]), password = String(text[text.index(after: colon)...])
        guard !user.isEmpty else { throw refuse("the user name (before ':') is empty") }
        guard !password.isEmpty else { throw refuse("the password (after ':') is empty") }
        return PACSCredentials(user: user, password: password)
    }
}

extension String {
    func leftPadded(to n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}

/// The servers file: `$TUMORBOARD_PACS_CONFIG`, else `$XDG_CONFIG_HOME/tumorboard/pacs.json`,
/// else `~/.config/tumorboard/pacs.json`:
///
///     {"servers": [{"name": "hospital", "url": "https://pacs.example.org/dicom-web",
///                   "credentials": "hospital.credentials", "timeout_seconds": 10, "retries": 2}]}
///
/// A relative credentials path is relative to the servers file's folder; `~/` is the home folder.
public enum PACSServersFile {
    public static let maxBytes = 1 << 20

    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let p = environment["TUMORBOARD_PACS_CONFIG"], !p.isEmpty { return p }
        let base: String
        if let x = environment["XDG_CONFIG_HOME"], x.hasPrefix("/") { base = x }
        else { base = (environment["HOME"] ?? NSHomeDirectory()) + "/.config" }
        return base + "/tumorboard/pacs.json"
    }

    /// The servers of `path`, checked (names unique, URLs usable, known keys only). A missing
    /// file is no servers.
    public static func load(_ path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(PACSError) -> [PACSServer] {
        let fm = FileManager.default
        guard fm.fileExists(atPath: path) else { return [] }
        func bad(_ problem: String) -> PACSError { .config(file: path, problem: problem) }
        guard let attributes = try? fm.attributesOfItem(atPath: path), attributes[.type] as? FileAttributeType == .typeRegular else {
            throw bad("not a regular file")
        }
        guard ((attributes[.size] as? NSNumber)?.intValue ?? 0) <= maxBytes else { throw bad("larger than \(maxBytes) bytes") }
        guard let data = fm.contents(atPath: path) else { throw bad("cannot be read") }
        guard let root = try? JSONSerialization.jsonObject(with: data), let object = root as? [String: Any] else {
            throw bad("not a JSON object; expected {\"servers\": [{\"name\": ..., \"url\": ...}]}")
        }
        for key in object.keys where key != "servers" { throw bad("unknown key '\(key)'; expected \"servers\"") }
        guard let list = object["servers"] as? [Any] else { throw bad("\"servers\" must be a list of {\"name\", \"url\"[, \"credentials\"]}") }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        let home = environment["HOME"] ?? NSHomeDirectory()
        var servers: [PACSServer] = []
        let known: Set<String> = ["name", "url", "credentials", "timeout_seconds", "retries"]
        for (i, item) in list.enumerated() {
            guard let o = item as? [String: Any] else { throw bad("servers[\(i)]: expected an object {\"name\", \"url\"}") }
            for key in o.keys.sorted() where !known.contains(key) {
                if ["password", "user", "username", "auth"].contains(key.lowercased()) {
                    throw bad("servers[\(i)]: '\(key)' does not belong here; user name and password go in a credentials file named by \"credentials\" (docs/pacs.md)")
                }
                throw bad("servers[\(i)]: unknown key '\(key)'; expected \(known.sorted().joined(separator: ", "))")
            }
            guard let name = o["name"] as? String, Self.isValidName(name) else {
                throw bad("servers[\(i)]: \"name\" must be 1-64 of A-Z a-z 0-9 . _ - (e.g. \"hospital\")")
            }
            guard !servers.contains(where: { $0.name == name }) else { throw bad("servers[\(i)]: the name '\(name)' is used twice") }
            guard let urlText = o["url"] as? String else { throw bad("servers[\(i)] (\(name)): \"url\" must be the DICOMweb root URL, as a text") }
            let url: URL
            do throws(PACSError) { url = try PACSServer.checkedURL(urlText) } catch { throw bad("servers[\(i)] (\(name)): \(error)") }
            var server = PACSServer(name: name, baseURL: url)
            if let c = o["credentials"] {
                guard let file = c as? String, !file.isEmpty else { throw bad("servers[\(i)] (\(name)): \"credentials\" must be a file path, as a text") }
                if file.hasPrefix("/") { server.credentialsFile = file }
                else if file.hasPrefix("~/") { server.credentialsFile = home + "/" + file.dropFirst(2) }
                else { server.credentialsFile = folder.appendingPathComponent(file).standardizedFileURL.path }
            }
            if let t = o["timeout_seconds"] {
                guard let seconds = jsonNumber(t), (1...600).contains(seconds) else {
                    throw bad("servers[\(i)] (\(name)): \"timeout_seconds\" must be a number from 1 to 600")
                }
                server.timeout = seconds
            }
            if let r = o["retries"] {
                guard let count = jsonNumber(r), count == count.rounded(), (0...5).contains(count) else {
                    throw bad("servers[\(i)] (\(name)): \"retries\" must be a whole number from 0 to 5")
                }
                server.retries = Int(count)
            }
            servers.append(server)
        }
        return servers
    }

    static func isValidName(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 64 && s.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "." || $0 == "_" || $0 == "-"
        }
    }

    /// `--server NAME|URL`: a name of the servers file, or a DICOMweb URL. A URL that a server of
    /// the file has is that server (with its credentials); any other URL is used without any.
    public static func resolve(_ nameOrURL: String, configPath: String? = nil,
                               environment: [String: String] = ProcessInfo.processInfo.environment) throws(PACSError) -> PACSServer {
        let path = configPath ?? defaultPath(environment: environment)
        let trimmed = nameOrURL.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw .usage("--server needs a server name from \(path) or a DICOMweb URL") }
        if trimmed.contains("://") {
            let url = try PACSServer.checkedURL(trimmed)
            let servers = try load(path, environment: environment)
            if let s = servers.first(where: { $0.baseURL == url }) { return s }
            return PACSServer(name: url.absoluteString, baseURL: url)
        }
        let servers = try load(path, environment: environment)
        guard let s = servers.first(where: { $0.name == trimmed }) else {
            throw .unknownServer(name: trimmed, configFile: path, known: servers.map(\.name))
        }
        return s
    }
}
