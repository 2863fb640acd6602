import Foundation

/// A store location `postgresql://user@host:port/database?sslmode=...`, parsed. The password is
/// never part of it: it comes from a password file (`passfile=` in the URL, else PGPASSFILE, else
/// ~/.pgpass, in libpq's format), so it never appears on a command line, in `ps`, or in a message.
public struct PostgresURL: Sendable, Equatable {
    public var user: String
    public var host: String
    public var port: Int
    public var database: String
    /// disable (the default), verify-ca or verify-full.
    public var sslMode: String
    public var sslRootCert: String?
    public var passFile: String?

    public static let tlsModes = ["disable", "verify-ca", "verify-full"]

    public init(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(StoreBackendError) {
        guard let c = URLComponents(string: text), let scheme = c.scheme?.lowercased(), scheme == "postgresql" || scheme == "postgres" else {
            throw .location("'\(Self.redacted(text))' is not a postgresql://user@host:port/database URL")
        }
        if c.password != nil {
            throw .location("the URL holds a password; remove it and put it in ~/.pgpass (host:port:database:user:password, mode 0600) or the file named by passfile= or PGPASSFILE, so it never shows on a command line or in a log")
        }
        user = c.user.flatMap { $0.removingPercentEncoding } ?? environment["PGUSER"] ?? currentUserName()
        host = c.host.flatMap { $0.isEmpty ? nil : $0 } ?? "localhost"
        port = c.port ?? 5432
        let db = c.path.hasPrefix("/") ? String(c.path.dropFirst()) : c.path
        database = db.isEmpty ? user : (db.removingPercentEncoding ?? db)
        var mode: String?, root: String?, pass: String?
        for item in c.queryItems ?? [] {
            switch item.name {
            case "sslmode": mode = item.value ?? ""
            case "sslrootcert": root = item.value
            case "passfile": pass = item.value
            case "application_name", "connect_timeout": continue
            default: throw .location("URL option '\(item.name)' is not one TumorBoard understands (sslmode, sslrootcert, passfile)")
            }
        }
        if let mode, !Self.tlsModes.contains(mode) {
            throw .location("sslmode=\(mode): TumorBoard either verifies the server's certificate (verify-full, or verify-ca) or does not use TLS (disable); patient data never goes over TLS it has not verified")
        }
        // Off this machine, plain text must be asked for: patient data crosses the network.
        let loopback = Loopback.isLoopback(host: host)
        guard mode != nil || loopback else {
            throw .location("\(host) is another machine: add ?sslmode=verify-full (with sslrootcert=FILE for a private CA), or ?sslmode=disable on a network you trust")
        }
        if mode == "verify-ca" && root == nil {
            throw .location("sslmode=verify-ca needs sslrootcert=FILE (the CA that signed the server's certificate): against the system's public CAs, a certificate for any name would pass; use verify-full there")
        }
        sslMode = mode ?? "disable"
        sslRootCert = root
        passFile = pass
    }

    /// What messages show: the URL without any password or query.
    public var display: String { "postgresql://\(user)@\(host):\(port)/\(database)" }

    /// Any text that may be a store URL, with a password (if one was given) blanked out.
    public static func redacted(_ text: String) -> String {
        guard var c = URLComponents(string: text) else {
            // Unparseable: whatever stands between "//" and the last "@" may hold a password.
            guard let start = text.range(of: "//"), let at = text.range(of: "@", options: .backwards), at.lowerBound > start.upperBound else { return text }
            return String(text[..<start.upperBound]) + "****" + String(text[at.lowerBound...])
        }
        guard c.password != nil else { return text }
        c.password = "****"
        return c.string ?? "postgresql://(unreadable URL)"
    }

    /// The password for this URL from the password file, or nil (trust, peer or certificate
    /// authentication). A password file that others can read is refused, as libpq ignores it.
    public func password(environment: [String: String] = ProcessInfo.processInfo.environment) throws(StoreBackendError) -> String? {
        let explicit = passFile ?? environment["PGPASSFILE"]
        let file = explicit ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.pgpass")
        guard FileManager.default.fileExists(atPath: file) else {
            if let explicit { throw .location("password file \(explicit) does not exist") }
            return nil
        }
        var st = stat()
        guard stat(file, &st) == 0 else { throw .location("password file \(file) cannot be read") }
        if st.st_mode & 0o077 != 0 {
            throw .location("password file \(file) can be read by others (mode \(String(st.st_mode & 0o777, radix: 8))); chmod 600 it")
        }
        if st.st_uid != getuid() { throw .location("password file \(file) belongs to another user") }
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw .location("password file \(file) cannot be read as text")
        }
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            let f = Self.pgpassFields(String(line))
            guard f.count == 5 else { continue }
            func matches(_ pattern: String, _ value: String) -> Bool { pattern == "*" || pattern == value }
            if matches(f[0], host), matches(f[1], String(port)), matches(f[2], database), matches(f[3], user) { return f[4] }
        }
        return nil
    }

    /// host:port:database:user:password, with \: and \\ escaped; as libpq, the password ends at
    /// an unescaped ':' (anything after it is ignored).
    static func pgpassFields(_ line: String) -> [String] {
        var fields: [String] = [], cur = "", escaped = false
        for ch in line {
            if escaped { cur.append(ch); escaped = false }
            else if ch == "\\" { escaped = true }
            else if ch == ":" { fields.append(cur); cur = ""; if fields.count == 5 { return fields } }
            else { cur.append(ch) }
        }
        fields.append(cur)
        return fields
    }
}
