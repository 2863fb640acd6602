import Cases
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A QIDO-RS study search.
public struct StudyQuery: Sendable, Equatable {
    /// PatientID, exact or with the wildcards * and ?.
    public var patientID: String?
    /// One modality of the study, e.g. CR or DX (ModalitiesInStudy).
    public var modality: String?
    /// Studies on or after this day: YYYY-MM-DD or YYYYMMDD.
    public var since: String?
    /// One study by its StudyInstanceUID.
    public var studyInstanceUID: String?
    /// At most this many studies (the server may cap it lower).
    public var limit: Int

    public init(patientID: String? = nil, modality: String? = nil, since: String? = nil, studyInstanceUID: String? = nil,
                limit: Int = 200) {
        self.patientID = patientID; self.modality = modality; self.since = since
        self.studyInstanceUID = studyInstanceUID; self.limit = limit
    }

    /// `since` as DICOM's YYYYMMDD, checked to be a calendar day.
    public static func dicomDate(_ text: String) throws(PACSError) -> String {
        let t = text.trimmingCharacters(in: .whitespaces)
        var iso = t
        if t.count == 8, t.allSatisfy({ $0.isASCII && $0.isNumber }) {
            iso = "\(t.prefix(4))-\(t.dropFirst(4).prefix(2))-\(t.suffix(2))"
        }
        guard ISODate.isValidDay(iso) else { throw .usage("--since '\(t)' is not a day: expected YYYY-MM-DD (or YYYYMMDD)") }
        return iso.replacingOccurrences(of: "-", with: "")
    }

    /// The query's parameters, checked.
    func queryItems() throws(PACSError) -> [URLQueryItem] {
        var items: [URLQueryItem] = []
        if let p = patientID?.trimmingCharacters(in: .whitespaces), !p.isEmpty {
            guard p.count <= 64, !p.contains("\\"), p.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
                throw .usage("--patient must be a patient ID of at most 64 characters (wildcards * and ? allowed), without '\\' or control characters")
            }
            items.append(URLQueryItem(name: "PatientID", value: p))
        }
        if let m = modality?.trimmingCharacters(in: .whitespaces), !m.isEmpty {
            let up = m.uppercased()
            guard up.count <= 16, up.allSatisfy({ ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "_" }) else {
                throw .usage("--modality must be one DICOM modality code such as CR or DX, got '\(m)'")
            }
            items.append(URLQueryItem(name: "ModalitiesInStudy", value: up))
        }
        if let s = since { items.append(URLQueryItem(name: "StudyDate", value: try Self.dicomDate(s) + "-")) }
        if let uid = studyInstanceUID {
            try DICOMwebClient.checkUID(uid, "study")
            items.append(URLQueryItem(name: "StudyInstanceUID", value: uid))
        }
        for tag in [DICOMJSON.Tag.studyDate, DICOMJSON.Tag.accessionNumber, DICOMJSON.Tag.modalitiesInStudy,
                    DICOMJSON.Tag.studyDescription, DICOMJSON.Tag.patientID, DICOMJSON.Tag.studyInstanceUID,
                    DICOMJSON.Tag.numberOfStudyRelatedSeries, DICOMJSON.Tag.numberOfStudyRelatedInstances] {
            items.append(URLQueryItem(name: "includefield", value: tag))
        }
        guard (1...10_000).contains(limit) else { throw .usage("the search limit must be 1 to 10000") }
        items.append(URLQueryItem(name: "limit", value: "\(limit)"))
        return items
    }
}

/// Bytes received so far of one retrieve (one series' answer).
public struct TransferProgress: Sendable, Equatable {
    public var received: Int64
    /// From Content-Length, when the server sends one.
    public var expected: Int64?
}

/// QIDO-RS search and WADO-RS retrieve against one DICOMweb server. Blocking calls, safe from
/// any thread (the workstation runs them on a background queue); each takes `isCancelled`,
/// polled every 50 ms while a request runs, and ends with `PACSError.cancelled` soon after it
/// turns true. Bounded: `server.timeout` seconds without a byte abandons an attempt; connection
/// errors, timeouts and HTTP 5xx are tried again up to `server.retries` times with a doubling
/// pause; 4xx never.
public struct DICOMwebClient: Sendable {
    public let server: PACSServer
    let credentials: PACSCredentials?

    /// The uncompressed transfer syntax asked for: Explicit VR Little Endian, which
    /// `DICOMFile` reads (as it does Implicit VR Little Endian).
    public static let transferSyntax = DICOMFile.explicitVRLittleEndian
    public static let maxSearchBytes = 64 << 20
    /// The most one series' answer may hold (a few hundred radiographs).
    public static let maxSeriesBytes = 4 << 30

    /// Reads the server's credentials file now (refused when others can read it). Refuses to
    /// send credentials over plain HTTP to another machine: they would travel readable.
    public init(server: PACSServer) throws(PACSError) {
        self.server = server
        if let file = server.credentialsFile {
            if server.baseURL.scheme == "http" && !server.isLoopback {
                throw .usage("\(server.label): a password would travel unencrypted over http:// to another machine; use the server's https:// URL")
            }
            credentials = try PACSCredentials.read(file, server: server.label)
        } else {
            credentials = nil
        }
    }

    // MARK: Search

    /// The studies matching `query` (QIDO-RS `/studies`), in the server's order.
    public func searchStudies(_ query: StudyQuery, isCancelled: @Sendable () -> Bool = { false }) throws(PACSError) -> [StudySummary] {
        let what = "the study search"
        let answer = try get(path: ["studies"], query: try query.queryItems(), accept: "application/dicom+json",
                             what: what, maxBytes: Self.maxSearchBytes, isCancelled: isCancelled)
        try Self.checkJSON(answer, server: server, what: what)
        do { return try DICOMJSON.studies(answer.body) } catch {
            throw .badAnswer(server: server.label, what: what, problem: error.problem)
        }
    }

    /// The series of study `uid` (QIDO-RS `/studies/{uid}/series`); `studyNotFound` when the
    /// server has no such study (404, or no series).
    public func series(ofStudy uid: String, isCancelled: @Sendable () -> Bool = { false }) throws(PACSError) -> [SeriesSummary] {
        try Self.checkUID(uid, "study")
        let what = "the series list of study \(uid)"
        let items = [DICOMJSON.Tag.seriesInstanceUID, DICOMJSON.Tag.modality, DICOMJSON.Tag.seriesDescription,
                     DICOMJSON.Tag.numberOfSeriesRelatedInstances].map { URLQueryItem(name: "includefield", value: $0) }
        let answer: HTTPAnswer
        do {
            answer = try get(path: ["studies", uid, "series"], query: items, accept: "application/dicom+json",
                             what: what, maxBytes: Self.maxSearchBytes, isCancelled: isCancelled)
        } catch .http(_, _, 404, _, _) { throw .studyNotFound(server: server.label, study: uid) }
        try Self.checkJSON(answer, server: server, what: what)
        let list: [SeriesSummary]
        do { list = try DICOMJSON.series(answer.body) } catch {
            throw .badAnswer(server: server.label, what: what, problem: error.problem)
        }
        guard !list.isEmpty else { throw .studyNotFound(server: server.label, study: uid) }
        return list
    }

    // MARK: Retrieve

    /// The instances of one series (WADO-RS `/studies/{study}/series/{series}`), asked for as
    /// `multipart/related; type="application/dicom"` in Explicit VR Little Endian. Returns the
    /// parts' bytes, each checked to be a DICOM file (the transfer syntax is checked by the caller).
    public func retrieveSeries(study: String, series: String,
                               progress: @escaping @Sendable (TransferProgress) -> Void = { _ in },
                               isCancelled: @Sendable () -> Bool = { false }) throws(PACSError) -> [Data] {
        try Self.checkUID(study, "study")
        try Self.checkUID(series, "series")
        let what = "the retrieve of study \(study) (series \(series))"
        let accept = "multipart/related; type=\"application/dicom\"; transfer-syntax=\(Self.transferSyntax)"
        let answer: HTTPAnswer
        do {
            answer = try get(path: ["studies", study, "series", series], query: [], accept: accept, what: what,
                             maxBytes: Self.maxSeriesBytes, onBytes: { progress(TransferProgress(received: $0, expected: $1)) },
                             incomplete: Self.cutMultipart, isCancelled: isCancelled)
        } catch .http(_, _, 404, _, _) { throw .studyNotFound(server: server.label, study: study) }
        if answer.status == 204 { throw .studyNotFound(server: server.label, study: study) }
        let parts: [MultipartRelated.Part]
        do {
            let boundary = try MultipartRelated.boundary(contentType: answer.headers["content-type"])
            parts = try MultipartRelated.parse(answer.body, boundary: boundary)
        } catch {
            throw .badAnswer(server: server.label, what: what, problem: error.problem)
        }
        guard !parts.isEmpty else { throw .studyNotFound(server: server.label, study: study) }
        var files: [Data] = []
        for (i, part) in parts.enumerated() {
            if let t = part.contentType {
                let (type, _) = MultipartRelated.mediaType(t)
                guard type == "application/dicom" else {
                    throw .badAnswer(server: server.label, what: what, problem: "part \(i + 1) is \(type), expected application/dicom")
                }
            }
            let b = part.body
            guard b.count >= 132, b[b.startIndex + 128 ..< b.startIndex + 132].elementsEqual("DICM".utf8) else {
                throw .badAnswer(server: server.label, what: what, problem: "part \(i + 1) is not a DICOM file (no 'DICM' at byte 128)")
            }
            files.append(b)
        }
        return files
    }

    /// Why a multipart answer is cut short: no closing boundary at its end. Nil when whole, or
    /// when it is not multipart at all (the parser names that).
    static func cutMultipart(_ a: HTTPAnswer) -> String? {
        guard let boundary = try? MultipartRelated.boundary(contentType: a.headers["content-type"]) else { return nil }
        let close = Data("--\(boundary)--".utf8)
        // The closing delimiter, then at most a short epilogue.
        let tail = a.body.suffix(close.count + 1024)
        guard tail.range(of: close) == nil else { return nil }
        return "the connection closed mid-answer (after \(a.body.count) bytes, before the end of the multipart body)"
    }

    /// The transfer syntax the server holds an instance of the series in, read from the first
    /// bytes of an as-stored retrieve (`transfer-syntax=*`), which is stopped there: used to name
    /// the syntax when the server will not send it uncompressed. Nil when it cannot be told.
    public func storedTransferSyntax(study: String, series: String, isCancelled: @Sendable () -> Bool = { false }) -> String? {
        guard let url = try? url(path: ["studies", study, "series", series], query: []) else { return nil }
        var request = URLRequest(url: url)
        request.setValue("multipart/related; type=\"application/dicom\"; transfer-syntax=*", forHTTPHeaderField: "Accept")
        if let credentials { request.setValue(credentials.basicAuthorization, forHTTPHeaderField: "Authorization") }
        // 64 KiB hold the part's headers and the file's meta information many times over.
        let head = HTTPTransfer.run(request, timeout: server.timeout, maxBytes: 64 << 10, keepFirst: true, isCancelled: isCancelled)
        guard case .success(let a) = head, a.status == 200 else { return nil }
        return Self.transferSyntaxOfFirstPart(a.body)
    }

    /// The TransferSyntaxUID (0002,0010) of the first DICOM file in the first bytes of a multipart
    /// answer, found after its 'DICM' marker.
    static func transferSyntaxOfFirstPart(_ data: Data) -> String? {
        let bytes = [UInt8](data)
        guard let dicm = MultipartRelated.find(Array("DICM".utf8), in: bytes, from: 0) else { return nil }
        return metaElement(Array(bytes[(dicm + 4)...]), 0x0010)
    }

    /// A text element of the file meta group (Explicit VR Little Endian, PS3.10 7.1) of a DICOM
    /// file's bytes after 'DICM': 0x0010 TransferSyntaxUID, 0x0003 MediaStorageSOPInstanceUID.
    public static func metaElement(_ b: [UInt8], _ wanted: UInt16) -> String? {
        var i = 0
        while i + 8 <= b.count {
            let group = UInt16(b[i]) | UInt16(b[i + 1]) << 8
            let element = UInt16(b[i + 2]) | UInt16(b[i + 3]) << 8
            guard group == 0x0002 else { return nil }
            let vr = String(decoding: b[i + 4 ..< i + 6], as: UTF8.self)
            let length: Int, start: Int
            if ["OB", "OW", "OF", "SQ", "UT", "UN"].contains(vr) {
                guard i + 12 <= b.count else { return nil }
                length = Int(UInt32(b[i + 8]) | UInt32(b[i + 9]) << 8 | UInt32(b[i + 10]) << 16 | UInt32(b[i + 11]) << 24)
                start = i + 12
            } else {
                length = Int(UInt16(b[i + 6]) | UInt16(b[i + 7]) << 8)
                start = i + 8
            }
            guard start + length <= b.count else { return nil }
            if element == wanted {
                return String(decoding: b[start ..< start + length], as: UTF8.self)
                    .trimmingCharacters(in: CharacterSet(charactersIn: "\0 "))
            }
            i = start + length
        }
        return nil
    }

    // MARK: HTTP

    func url(path: [String], query: [URLQueryItem]) throws(PACSError) -> URL {
        guard var c = URLComponents(url: server.baseURL, resolvingAgainstBaseURL: false) else {
            throw .usage("\(server.label): not a URL")
        }
        c.path = c.path + "/" + path.joined(separator: "/")
        if !query.isEmpty {
            // '+' is a space to many servers' query parsers; encode it, and '\' for good measure.
            c.percentEncodedQueryItems = query.map {
                URLQueryItem(name: $0.name, value: $0.value?.addingPercentEncoding(withAllowedCharacters: Self.queryAllowed))
            }
        }
        guard let url = c.url else { throw .usage("\(server.label): cannot make a URL for \(path.joined(separator: "/"))") }
        return url
    }

    static let queryAllowed: CharacterSet = {
        var s = CharacterSet.urlQueryAllowed
        s.remove(charactersIn: "+&=\\#")
        return s
    }()

    /// A GET with the attempts and messages described above. Returns any 2xx answer.
    /// `incomplete` says why a 2xx answer was cut short (a body without its end, as a server
    /// that dies mid-answer without a Content-Length leaves it): that counts as a lost connection.
    func get(path: [String], query: [URLQueryItem], accept: String, what: String, maxBytes: Int,
             onBytes: @escaping @Sendable (Int64, Int64?) -> Void = { _, _ in },
             incomplete: (HTTPAnswer) -> String? = { _ in nil },
             isCancelled: @Sendable () -> Bool) throws(PACSError) -> HTTPAnswer {
        var request = URLRequest(url: try url(path: path, query: query))
        request.httpMethod = "GET"
        request.setValue(accept, forHTTPHeaderField: "Accept")
        if let credentials { request.setValue(credentials.basicAuthorization, forHTTPHeaderField: "Authorization") }
        let attempts = max(1, server.retries + 1)
        var attempt = 0
        while true {
            attempt += 1
            if isCancelled() { throw .cancelled(server: server.label, what: what) }
            let last = attempt >= attempts
            var outcome = HTTPTransfer.run(request, timeout: server.timeout, maxBytes: maxBytes, onBytes: onBytes, isCancelled: isCancelled)
            if case .success(let a) = outcome, (200..<300).contains(a.status), let cut = incomplete(a) { outcome = .failure(.connection(cut)) }
            switch outcome {
            case .success(let answer):
                switch answer.status {
                case 200..<300: return answer
                case 401, 403:
                    throw .unauthorized(server: server.label, what: what, status: answer.status, hadCredentials: credentials != nil)
                case 300..<400:
                    let to = answer.headers["location"].map { " to \($0)" } ?? ""
                    throw .http(server: server.label, what: what, status: answer.status,
                                detail: "redirected\(to); TumorBoard does not follow redirects: configure the URL it points to", attempts: attempt)
                case 500..<600 where !last:
                    break
                default:
                    throw .http(server: server.label, what: what, status: answer.status,
                                detail: Self.serverMessage(answer), attempts: attempt)
                }
            case .failure(let failure):
                switch failure {
                case .cancelled: throw .cancelled(server: server.label, what: what)
                case .tooLarge(let limit):
                    throw .badAnswer(server: server.label, what: what, problem: "more than \(limit) bytes")
                case .tls(let detail):
                    throw .unreachable(server: server.label, what: what,
                                       detail: "the HTTPS connection could not be verified (\(detail)); TumorBoard only talks to a server whose certificate the system trusts: add the hospital's CA certificate to the system's trust store (docs/pacs.md)",
                                       attempts: attempt)
                case .notHTTP(let detail):
                    throw .badAnswer(server: server.label, what: what, problem: "not an HTTP answer: \(detail)")
                case .timedOut where last:
                    throw .timedOut(server: server.label, what: what, seconds: server.timeout, attempts: attempt)
                case .connection(let detail) where last:
                    throw .unreachable(server: server.label, what: what, detail: detail, attempts: attempt)
                case .timedOut, .connection:
                    break
                }
            }
            // Another attempt, after a pause that doubles each time (0.5 s, 1 s, ...).
            let pause = server.retryDelay * Double(1 << (attempt - 1))
            let until = Date().addingTimeInterval(pause)
            while Date() < until {
                if isCancelled() { throw .cancelled(server: server.label, what: what) }
                Thread.sleep(forTimeInterval: min(0.05, max(0, until.timeIntervalSinceNow)))
            }
        }
    }

    /// A short reason from an error answer's body (Orthanc's JSON "Message", else the first
    /// printable line), at most 200 characters.
    static func serverMessage(_ answer: HTTPAnswer) -> String {
        if let o = (try? JSONSerialization.jsonObject(with: answer.body)) as? [String: Any] {
            let parts = [o["Message"], o["Details"]].compactMap { $0 as? String }.filter { !$0.isEmpty }
            if !parts.isEmpty { return String(parts.joined(separator: ": ").prefix(200)) }
        }
        let text = String(decoding: answer.body.prefix(400), as: UTF8.self)
        let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        let clean = String(line.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.map(Character.init))
        return String(clean.trimmingCharacters(in: .whitespaces).prefix(200))
    }

    static func checkJSON(_ a: HTTPAnswer, server: PACSServer, what: String) throws(PACSError) {
        if a.status == 204 { return }
        let type = MultipartRelated.mediaType(a.headers["content-type"] ?? "").type
        guard type.isEmpty || type == "application/dicom+json" || type == "application/json" else {
            throw .badAnswer(server: server.label, what: what, problem: "Content-Type \(type), expected application/dicom+json; it starts with \(DICOMJSON.preview(a.body))")
        }
    }

    static func checkUID(_ uid: String, _ kind: String) throws(PACSError) {
        guard DICOMJSON.isValidUID(uid) else {
            throw .usage("'\(uid)' is not a \(kind) instance UID (digits and dots, at most 64 characters, e.g. 1.2.840.113619.2.5.1)")
        }
    }
}
