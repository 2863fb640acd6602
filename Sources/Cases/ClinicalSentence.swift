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

    /// `panel` holds at most one result per marker (use `latestPerMarker` on a longer history).
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
    /// One result per marker: the latest by date (undated results count as oldest; among equal
    /// dates the last entered wins). Order: first appearance of each marker.
    public func latestPerMarker() -> [LabResult] {
        var order: [String] = []
        var best: [String: LabResult] = [:]
        for r in self {
            if let current = best[r.marker] {
                if (r.date ?? "") >= (current.date ?? "") { best[r.marker] = r }
            } else {
                order.append(r.marker)
                best[r.marker] = r
            }
        }
        return order.compactMap { best[$0] }
    }
}
