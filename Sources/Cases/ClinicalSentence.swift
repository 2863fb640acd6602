import Foundation

/// The clinical sentence for the abnormal values of a lab panel (the paper's LLM step), built
/// by the deterministic rules of training/labs.py `clinical_sentence` (its docstring is the
/// specification; training/vectors/lab_sentences.json the test vectors). Byte-for-byte equal
/// to the Python output.
public enum ClinicalSentence {
    static let severityWords: [LabFlag: [LabSeverity: String]] = [
        .high: [.mild: "slightly raised", .moderate: "raised", .marked: "markedly raised"],
        .low: [.mild: "slightly low", .moderate: "low", .marked: "markedly low"],
    ]
    static let countWords = [2: "Two", 3: "Three", 4: "Four", 5: "Five", 6: "Six", 7: "Seven",
                             8: "Eight", 9: "Nine", 10: "Ten"]

    /// `panel` holds at most one result per marker (`panelForDiagnosis` makes one from a history).
    public static func text(panel: [LabResult], age: Int, sex: Sex,
                            catalog: BiomarkerCatalog) throws(LabError) -> String {
        guard age >= 0 else { throw .invalidAge(age) }
        if panel.isEmpty { return "No blood biomarkers available." }
        for r in panel { _ = try catalog.marker(r.marker) }
        var findings: [LabInterpretation] = []
        for m in catalog.markers {
            guard let r = panel.first(where: { $0.marker == m.id }) else { continue }
            let f = try catalog.interpret(r, age: age, sex: sex)
            if f.isAbnormal { findings.append(f) }
        }
        if findings.isEmpty { return "No abnormal blood biomarkers." }
        var phrases = findings.map { phrase($0, age: age, sex: sex) }
        if findings.count >= 2 {
            phrases.insert("\(countWords[findings.count] ?? String(findings.count)) abnormal blood biomarkers.", at: 0)
        }
        return phrases.joined(separator: " ")
    }

    /// The phrase for one abnormal result.
    public static func phrase(_ f: LabInterpretation, age: Int, sex: Sex) -> String {
        let severity = severityWords[f.flag]?[f.severity ?? .mild] ?? ""
        let limits = f.lowIsZero ? "up to \(f.highText)" : "\(f.lowText)-\(f.highText)"
        let who: String
        if f.band.sex == "any" { who = "for age \(age)" }
        else { who = "for a \(sex == .male ? "male" : "female") aged \(age)" }
        let reference = "\(limits) \(who)"
        let key = Int(f.valueText.replacingOccurrences(of: ".", with: "")) ?? 0
        let m = f.marker, v = f.valueText, unit = f.result.unit
        switch (key + f.markerIndex) % 3 {
        case 0: return "\(m.name) \(severity) at \(v) \(unit) (reference \(reference))."
        case 1: return "\(m.abbreviation) \(v) \(unit), \(severity) (reference \(reference))."
        default: return "\(m.name) of \(v) \(unit) is \(severity) (reference \(reference))."
        }
    }
}

extension Array where Element == LabResult {
    /// The panel the models read: one result per marker. Where a marker has several results,
    /// the one with the newest date wins; when the newest date is shared by two results, or one
    /// of them has no date, the panel is refused naming the marker (which value to believe is
    /// the user's call, never the program's). Order: first appearance of each marker.
    public func panelForDiagnosis() throws(LabError) -> [LabResult] {
        var order: [String] = []
        var byMarker: [String: [LabResult]] = [:]
        for r in self {
            if byMarker[r.marker] == nil { order.append(r.marker) }
            byMarker[r.marker, default: []].append(r)
        }
        var out: [LabResult] = []
        for m in order {
            let rs = byMarker[m]!  // every marker in `order` was added to byMarker just above
            if rs.count == 1 { out.append(rs[0]); continue }
            let dates = rs.compactMap { $0.date.flatMap(Self.day) }
            guard dates.count == rs.count, let newest = dates.max(), dates.filter({ $0 == newest }).count == 1 else {
                throw .ambiguousResults(marker: m, count: rs.count)
            }
            out.append(rs[dates.firstIndex(of: newest)!])  // newest is one of dates
        }
        return out
    }

    /// "2026-01-14" (or a longer ISO 8601 date-time) as a sortable key; nil when not a date.
    static func day(_ s: String) -> String? { ISODate.isValidDay(s) ? s : nil }
}
