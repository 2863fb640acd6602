import Foundation

/// A `multipart/related` body (RFC 2387, RFC 2046 5.1), as WADO-RS returns a series'
/// instances: `--boundary CRLF headers CRLF CRLF bytes CRLF --boundary ... --boundary--`.
public enum MultipartRelated {
    public struct Part: Sendable, Equatable {
        /// Header names in lower case.
        public var headers: [String: String]
        public var body: Data
        public var contentType: String? { headers["content-type"] }
    }

    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public let problem: String
        public var description: String { problem }
    }

    /// The media type and parameters of a Content-Type header: ("multipart/related",
    /// ["type": "application/dicom", "boundary": "..."]). Parameter names in lower case, quoted
    /// values unquoted.
    public static func mediaType(_ header: String) -> (type: String, parameters: [String: String]) {
        var fields: [String] = []
        var current = "", quoted = false, escaped = false
        for c in header {
            if escaped { current.append(c); escaped = false; continue }
            if quoted && c == "\\" { current.append(c); escaped = true; continue }
            if c == "\"" { quoted.toggle() }
            if c == ";" && !quoted { fields.append(current); current = ""; continue }
            current.append(c)
        }
        fields.append(current)
        let type = fields[0].trimmingCharacters(in: .whitespaces).lowercased()
        var parameters: [String: String] = [:]
        for f in fields.dropFirst() {
            guard let eq = f.firstIndex(of: "=") else { continue }
            let name = f[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            var value = f[f.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                value = String(value.dropFirst().dropLast())
                var unescaped = "", escape = false
                for c in value {
                    if escape { unescaped.append(c); escape = false } else if c == "\\" { escape = true } else { unescaped.append(c) }
                }
                value = unescaped
            }
            parameters[name] = value
        }
        return (type, parameters)
    }

    /// The boundary of a `multipart/related` Content-Type; refused when the answer is another
    /// media type, has no boundary, or says its parts are not `expectedType`.
    public static func boundary(contentType: String?, expectedType: String = "application/dicom") throws(ParseError) -> String {
        guard let contentType, !contentType.isEmpty else { throw ParseError(problem: "no Content-Type; expected multipart/related") }
        let (type, parameters) = mediaType(contentType)
        guard type == "multipart/related" else { throw ParseError(problem: "Content-Type is \(type), expected multipart/related") }
        if let t = parameters["type"], t.lowercased() != expectedType {
            throw ParseError(problem: "multipart/related of \(t), expected \(expectedType)")
        }
        guard let b = parameters["boundary"], !b.isEmpty, b.count <= 200 else {
            throw ParseError(problem: "multipart/related without a boundary parameter")
        }
        return b
    }

    /// The parts of `body`. Refused when the body does not start with the boundary, a part's
    /// headers do not end, or the closing boundary is missing (a truncated answer).
    public static func parse(_ body: Data, boundary: String) throws(ParseError) -> [Part] {
        let bytes = [UInt8](body)
        let dashBoundary = Array("--\(boundary)".utf8)
        let delimiter = Array("\r\n--\(boundary)".utf8)
        // The first boundary: at the very start, or after a preamble ending in CRLF.
        var position: Int
        if bytes.starts(with: dashBoundary) {
            position = dashBoundary.count
        } else if let at = find(delimiter, in: bytes, from: 0) {
            position = at + delimiter.count
        } else {
            throw ParseError(problem: "the body does not contain the boundary of its Content-Type (it starts with \(DICOMJSON.preview(body)))")
        }
        var parts: [Part] = []
        while true {
            // After a boundary: "--" closes the body; else optional white space, then CRLF.
            if bytes.count >= position + 2, bytes[position] == 0x2D, bytes[position + 1] == 0x2D { return parts }
            while position < bytes.count, bytes[position] == 0x20 || bytes[position] == 0x09 { position += 1 }
            guard bytes.count >= position + 2 else {
                throw ParseError(problem: "the body ends after part \(parts.count) without its closing boundary (truncated)")
            }
            guard bytes[position] == 0x0D, bytes[position + 1] == 0x0A else {
                throw ParseError(problem: "part \(parts.count + 1): the boundary line does not end in CRLF")
            }
            position += 2
            let headerEnd: Int
            if bytes.count >= position + 2, bytes[position] == 0x0D, bytes[position + 1] == 0x0A {
                headerEnd = position  // no headers
            } else {
                guard let e = find(Array("\r\n\r\n".utf8), in: bytes, from: position) else {
                    throw ParseError(problem: "part \(parts.count + 1): its headers do not end (truncated)")
                }
                headerEnd = e + 2
            }
            var headers: [String: String] = [:]
            let headerText = String(decoding: bytes[position..<headerEnd], as: UTF8.self)
            for line in headerText.components(separatedBy: "\r\n") where !line.isEmpty {
                guard let colon = line.firstIndex(of: ":") else {
                    throw ParseError(problem: "part \(parts.count + 1): header line without ':'")
                }
                headers[line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()] =
                    line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            let start = headerEnd + 2
            guard let end = find(delimiter, in: bytes, from: start) else {
                throw ParseError(problem: "part \(parts.count + 1) has no closing boundary (the answer is truncated)")
            }
            if let declared = headers["content-length"], let n = Int(declared), n != end - start {
                throw ParseError(problem: "part \(parts.count + 1) says Content-Length \(n) but holds \(end - start) bytes")
            }
            parts.append(Part(headers: headers, body: body.subdata(in: body.startIndex + start ..< body.startIndex + end)))
            position = end + delimiter.count
        }
    }

    /// The first index of `needle` in `haystack` at or after `from`.
    static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard let first = needle.first, haystack.count - from >= needle.count else { return nil }
        return haystack.withUnsafeBufferPointer { h -> Int? in
            needle.withUnsafeBufferPointer { n -> Int? in
                guard let hBase = h.baseAddress, let nBase = n.baseAddress else { return nil }
                var i = from
                let last = h.count - n.count
                while i <= last {
                    // memchr to the next candidate first byte, then compare the rest.
                    guard let p = memchr(hBase + i, Int32(first), last - i + 1) else { return nil }
                    let at = hBase.distance(to: p.assumingMemoryBound(to: UInt8.self))
                    if memcmp(hBase + at, nBase, n.count) == 0 { return at }
                    i = at + 1
                }
                return nil
            }
        }
    }
}
