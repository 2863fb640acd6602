import Cases
import Foundation

/// A study as a QIDO-RS search lists it. No patient name: the search does not ask for it, and
/// the parser never reads it when a server sends it anyway.
public struct StudySummary: Sendable, Equatable, Codable {
    public var studyInstanceUID: String
    public var patientID: String?
    /// YYYYMMDD as DICOM writes it.
    public var studyDate: String?
    public var modalities: [String]
    public var description: String?
    public var accessionNumber: String?
    public var numberOfInstances: Int?
    public var numberOfSeries: Int?

    public init(studyInstanceUID: String, patientID: String? = nil, studyDate: String? = nil, modalities: [String] = [],
                description: String? = nil, accessionNumber: String? = nil, numberOfInstances: Int? = nil,
                numberOfSeries: Int? = nil) {
        self.studyInstanceUID = studyInstanceUID; self.patientID = patientID; self.studyDate = studyDate
        self.modalities = modalities; self.description = description; self.accessionNumber = accessionNumber
        self.numberOfInstances = numberOfInstances; self.numberOfSeries = numberOfSeries
    }

    /// The study date as YYYY-MM-DD when it is one.
    public var isoDate: String? { ISODate.fromDICOM(studyDate) }
}

/// A series of a study (QIDO-RS `/studies/{uid}/series`).
public struct SeriesSummary: Sendable, Equatable, Codable {
    public var seriesInstanceUID: String
    public var modality: String?
    public var description: String?
    public var numberOfInstances: Int?

    public init(seriesInstanceUID: String, modality: String? = nil, description: String? = nil, numberOfInstances: Int? = nil) {
        self.seriesInstanceUID = seriesInstanceUID; self.modality = modality
        self.description = description; self.numberOfInstances = numberOfInstances
    }

    /// CR (computed radiography), DX (digital radiography), RG (radiographic imaging, e.g. a
    /// scanned film): what the models read. Anything else is skipped.
    public static let radiographModalities: Set<String> = ["CR", "DX", "RG"]
    public var isRadiograph: Bool { modality.map { Self.radiographModalities.contains($0.uppercased()) } ?? false }
}

/// The DICOM JSON model (PS3.18 F.2): a list of objects keyed by 8-hex-digit tags, each value
/// {"vr": ..., "Value": [...]}. Only the tags asked for are read.
public enum DICOMJSON {
    public enum Tag {
        public static let studyDate = "00080020"
        public static let accessionNumber = "00080050"
        public static let modality = "00080060"
        public static let modalitiesInStudy = "00080061"
        public static let studyDescription = "00081030"
        public static let seriesDescription = "0008103E"
        public static let patientID = "00100020"
        public static let studyInstanceUID = "0020000D"
        public static let seriesInstanceUID = "0020000E"
        public static let numberOfStudyRelatedSeries = "00201206"
        public static let numberOfStudyRelatedInstances = "00201208"
        public static let numberOfSeriesRelatedInstances = "00201209"
    }

    /// Why an answer is not the DICOM JSON a QIDO-RS search returns.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public let problem: String
        public var description: String { problem }
    }

    /// The objects of a QIDO-RS answer. An empty body (HTTP 204) is no match.
    static func objects(_ data: Data) throws(ParseError) -> [[String: Any]] {
        if data.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return [] }
        guard let root = try? JSONSerialization.jsonObject(with: data) else {
            throw ParseError(problem: "not JSON (it starts with \(preview(data)))")
        }
        guard let list = root as? [Any] else { throw ParseError(problem: "JSON, but not a list of DICOM objects") }
        var out: [[String: Any]] = []
        for (i, item) in list.enumerated() {
            guard let o = item as? [String: Any] else { throw ParseError(problem: "entry \(i) is not an object of DICOM attributes") }
            out.append(o)
        }
        return out
    }

    /// The first value of `tag` as text (strings, and numbers for IS/DS/US ...). PN values
    /// (objects) are never read.
    static func string(_ o: [String: Any], _ tag: String) -> String? {
        guard let a = o[tag] as? [String: Any], let values = a["Value"] as? [Any], let first = values.first else { return nil }
        if let s = first as? String { return s.trimmingCharacters(in: .whitespaces) }
        if let n = first as? NSNumber { return n.stringValue }
        return nil
    }

    static func strings(_ o: [String: Any], _ tag: String) -> [String] {
        guard let a = o[tag] as? [String: Any], let values = a["Value"] as? [Any] else { return [] }
        return values.compactMap { ($0 as? String)?.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// IS values are JSON numbers per PS3.18, but some servers send text.
    static func int(_ o: [String: Any], _ tag: String) -> Int? {
        guard let a = o[tag] as? [String: Any], let values = a["Value"] as? [Any], let first = values.first else { return nil }
        if let n = first as? NSNumber { return n.intValue }
        if let s = first as? String { return Int(s.trimmingCharacters(in: .whitespaces)) }
        return nil
    }

    /// Studies of a QIDO-RS `/studies` answer. An entry without a StudyInstanceUID is refused
    /// (nothing could retrieve it).
    public static func studies(_ data: Data) throws(ParseError) -> [StudySummary] {
        var out: [StudySummary] = []
        for (i, o) in try objects(data).enumerated() {
            guard let uid = string(o, Tag.studyInstanceUID), isValidUID(uid) else {
                throw ParseError(problem: "study \(i) has no valid StudyInstanceUID (0020,000D)")
            }
            var modalities = strings(o, Tag.modalitiesInStudy)
            // Some servers send the list as one value "CR\DX".
            modalities = modalities.flatMap { $0.split(separator: "\\").map(String.init) }
            out.append(StudySummary(
                studyInstanceUID: uid, patientID: string(o, Tag.patientID), studyDate: string(o, Tag.studyDate),
                modalities: modalities, description: string(o, Tag.studyDescription),
                accessionNumber: string(o, Tag.accessionNumber),
                numberOfInstances: int(o, Tag.numberOfStudyRelatedInstances),
                numberOfSeries: int(o, Tag.numberOfStudyRelatedSeries)))
        }
        return out
    }

    /// Series of a QIDO-RS `/studies/{uid}/series` answer.
    public static func series(_ data: Data) throws(ParseError) -> [SeriesSummary] {
        var out: [SeriesSummary] = []
        for (i, o) in try objects(data).enumerated() {
            guard let uid = string(o, Tag.seriesInstanceUID), isValidUID(uid) else {
                throw ParseError(problem: "series \(i) has no valid SeriesInstanceUID (0020,000E)")
            }
            out.append(SeriesSummary(seriesInstanceUID: uid, modality: string(o, Tag.modality)?.uppercased(),
                                     description: string(o, Tag.seriesDescription),
                                     numberOfInstances: int(o, Tag.numberOfSeriesRelatedInstances)))
        }
        return out
    }

    /// A DICOM UID: 1-64 characters, digits separated by single dots (PS3.5 9.1).
    public static func isValidUID(_ s: String) -> Bool {
        guard !s.isEmpty, s.count <= 64, !s.hasPrefix("."), !s.hasSuffix("."), !s.contains("..") else { return false }
        return s.allSatisfy { $0 == "." || ($0.isASCII && $0.isNumber) }
    }

    /// Text a server sent, safe to print on a terminal: control characters (escape sequences a
    /// hostile or broken server could send) become spaces, runs of space one, at most `max` characters.
    public static func printable(_ s: String?, max: Int = 64) -> String {
        guard let s else { return "" }
        let cleaned = String(s.unicodeScalars.map { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) ? " " : Character($0) })
        let single = cleaned.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        return single.count > max ? String(single.prefix(max - 1)) + "…" : single
    }

    /// The first bytes of an answer, printable, for a message ("'<html><h' (60 bytes)").
    static func preview(_ data: Data, _ n: Int = 24) -> String {
        if data.isEmpty { return "nothing (0 bytes)" }
        let head = data.prefix(n).map { (0x20...0x7E).contains($0) ? Character(UnicodeScalar($0)) : "." }
        return "'\(String(head))\(data.count > n ? "..." : "")' (\(data.count) bytes)"
    }
}

// MARK: - Showing studies

extension StudySummary {

    /// The columns of a study list: date, patient ID, modalities, description, instances, UID.
    public var columns: [String] {
        [isoDate ?? (DICOMJSON.printable(studyDate).isEmpty ? "-" : DICOMJSON.printable(studyDate)),
         DICOMJSON.printable(patientID).isEmpty ? "-" : DICOMJSON.printable(patientID),
         modalities.isEmpty ? "-" : DICOMJSON.printable(modalities.joined(separator: ",")),
         DICOMJSON.printable(description, max: 40).isEmpty ? "-" : DICOMJSON.printable(description, max: 40),
         numberOfInstances.map { "\($0) instance\($0 == 1 ? "" : "s")" } ?? "? instances",
         studyInstanceUID]
    }

    /// One aligned line per study (`tumorboard pacs find`).
    public static func table(_ studies: [StudySummary]) -> [String] {
        let rows = studies.map(\.columns)
        guard let n = rows.first?.count else { return [] }
        let widths = (0..<n).map { c in rows.map { $0[c].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { c, v in c == n - 1 ? v : v.padding(toLength: widths[c], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }
    }

    /// The study as a JSON object (`tumorboard pacs find --json`): snake_case keys, the date as YYYY-MM-DD.
    public var jsonObject: [String: Any] {
        var o: [String: Any] = ["study_instance_uid": studyInstanceUID, "modalities": modalities]
        o["patient_id"] = patientID ?? NSNull()
        o["study_date"] = isoDate ?? studyDate ?? NSNull()
        o["description"] = description ?? NSNull()
        o["accession_number"] = accessionNumber ?? NSNull()
        o["instances"] = numberOfInstances ?? NSNull()
        o["series"] = numberOfSeries ?? NSNull()
        return o
    }
}
