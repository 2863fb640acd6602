import Foundation

/// The clinical sentence for the abnormal values of a lab panel (the paper's LLM step), built
/// by the deterministic rules of training/labs.py `clinical_sentence` (its docstring is the
/// specification; training/vectors/lab_sentences.json the test vectors), and the clinical
/// context sentence (age, sex, site; `context_sentence`) that precedes it in the text the
/// models read (`clinical_text`). Byte-for-byte equal to the Python output.
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

    /// The anatomical site(s) as the context sentence names them (training/labs.py `site_parts`):
    /// split on ";", each part trimmed of ASCII space, tab, CR and LF, ASCII letters lowercased
    /// (other characters verbatim), "-" -> " ", empty parts and repeats dropped, first order kept.
    public static func siteParts(_ site: String?) -> [String] {
        guard let site else { return [] }
        let space: Set<Unicode.Scalar> = [" ", "\t", "\n", "\r"]
        var out: [String] = []
        for raw in site.unicodeScalars.split(separator: ";", omittingEmptySubsequences: false) {
            var scalars = Array(raw)
            while let f = scalars.first, space.contains(f) { scalars.removeFirst() }
            while let l = scalars.last, space.contains(l) { scalars.removeLast() }
            var view = String.UnicodeScalarView()
            for c in scalars {
                if c.value >= 0x41 && c.value <= 0x5A { view.append(Unicode.Scalar(c.value + 32)!) }
                else if c == "-" { view.append(" ") }
                else { view.append(c) }
            }
            // Repeats compared scalar by scalar (as Python compares), not by Swift's canonical equivalence.
            let part = String(view)
            if !part.isEmpty && !out.contains(where: { $0.unicodeScalars.elementsEqual(part.unicodeScalars) }) { out.append(part) }
        }
        return out
    }

    /// The patient's clinical context (age, sex, site) as one sentence, "" when none is known
    /// (training/labs.py `context_sentence`, byte for byte; vectors: "context_vectors" of
    /// training/vectors/lab_sentences.json). "A 15-year-old male with a lesion of the femur."
    public static func context(age: Int?, sex: Sex?, site: String?) throws(LabError) -> String {
        if let age, age < 0 { throw .invalidAge(age) }
        let parts = siteParts(site)
        if age == nil && sex == nil && parts.isEmpty { return "" }
        let word = sex.map { $0 == .male ? "male" : "female" }
        let who: String
        if let age {
            // "An" before eight, eleven, eighteen, eighty...: the decimal age starts with 8, or is 11 or 18.
            let article = String(age).hasPrefix("8") || age == 11 || age == 18 ? "An" : "A"
            who = "\(article) \(age)-year-old \(word ?? "patient")"
        }
        else { who = word.map { "A \($0) patient" } ?? "A patient" }
        var names = ""
        if parts.count == 1 { names = parts[0] }
        else if parts.count >= 2 { names = parts.dropLast().joined(separator: ", ") + " and " + parts[parts.count - 1] }
        return who + (parts.isEmpty ? "" : " with a lesion of the \(names)") + "."
    }

    /// What the text encoder reads (training/labs.py `clinical_text`): the context sentence, then
    /// the lab sentence (`text(panel:...)` of a non-empty panel, which needs age and sex), joined by
    /// one space; nil when neither exists (the text modality is then absent).
    public static func clinicalText(context: String, labs: String?) -> String? {
        let parts = [context, labs ?? ""].filter { !$0.isEmpty }
        return parts.isEmpty ? nil : parts.joined(separator: " ")
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
