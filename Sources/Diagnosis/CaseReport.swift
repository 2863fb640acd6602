import AtomicFiles
import Cases
import Foundation
import Imaging

/// A report that could not be made or written, with the folder or file and what to do.
public struct CaseReportError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One case's report (`tumorboard report CASE --out DIR`): report.md (the case, what the model
/// read and answered, the labs and the clinical sentence, the model digests, the review and
/// sign-off, the audit trail) and radiograph.png (`AnnotatedRadiograph`).
public struct CaseReport: Sendable {
    public var record: CaseRecord
    public var findings: Findings
    /// The case's history, oldest first; nil leaves the section out.
    public var audit: [AuditEntry]?
    /// True: the findings were read back (kept from an earlier run with the same inputs and
    /// models); false: run for this report; nil: not said.
    public var kept: Bool?
    public var writtenAt: String

    public static let markdownName = "report.md"
    public static let imageName = "radiograph.png"
    /// Decimal places of probabilities, contributions and attention.
    public static let decimals = 4

    public init(record: CaseRecord, findings: Findings, audit: [AuditEntry]? = nil, kept: Bool? = nil, writtenAt: String = timestampNow()) {
        self.record = record; self.findings = findings; self.audit = audit; self.kept = kept; self.writtenAt = writtenAt
    }

    /// The first line of report.md: how a later report knows an earlier one of the same case.
    public static func heading(caseID: String) -> String { "# TumorBoard case report: \(caseID)" }

    public var isSignedOff: Bool { record.review?.signedOffBy != nil || record.review?.signedOffAt != nil }

    // MARK: real or generated

    /// What each input is, from the case's provenance: a synthetic sample's are all generated;
    /// a BTXRD case's radiograph is real and its cohort slides and labs are generated
    /// (docs/cohort.md); anything else as the provenance says, never guessed to be real.
    public struct Origins: Sendable, Equatable {
        public var radiograph: String, slides: String, labs: String
        public var anyGenerated: Bool { [radiograph, slides, labs].contains { $0.hasPrefix("GENERATED") } }
    }

    public static func origins(of record: CaseRecord) -> Origins {
        let p = (record.provenance ?? "").lowercased()
        if p.contains("synthetic") || p.contains("generated") {
            let g = "GENERATED (synthetic case, not a patient)"
            return Origins(radiograph: g, slides: g, labs: g)
        }
        let slideGenerated = record.slides.contains { ($0.stain ?? "").lowercased().contains("generated") || $0.slideID.hasPrefix("GEN-") }
        if p.hasPrefix("btxrd") {
            let cohort = "GENERATED (the BTXRD cohort's slides and labs are generated from the literature, docs/cohort.md)"
            return Origins(radiograph: "REAL (BTXRD, Yao et al. 2025)", slides: cohort, labs: cohort)
        }
        let unstated = record.provenance == nil ? "not stated" : "as the source says: \(record.provenance ?? "")"
        return Origins(radiograph: unstated, slides: slideGenerated ? "GENERATED (the slide says so)" : unstated, labs: unstated)
    }

    // MARK: Markdown

    static func number(_ v: Double?, signed: Bool = false) -> String {
        guard let v, v.isFinite else { return "n/a" }
        return String(format: signed ? "%+.\(decimals)f" : "%.\(decimals)f", v)
    }

    /// Free text from a record in a table cell or a line: one line, no table breaks, no HTML.
    static func text(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "|", with: "\\|")
            .replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: "\r", with: " ")
            .replacingOccurrences(of: "\n", with: " ")
    }

    static func box(_ b: [Double]) -> String {
        "[" + b.map { v in v.isFinite && v == v.rounded() && abs(v) < 1e9 ? String(Int(v)) : String(format: "%.1f", v) }.joined(separator: ", ") + "]"
    }

    public var markdown: String {
        let r = record, f = findings, origins = Self.origins(of: r)
        var m = Self.heading(caseID: r.id) + "\n\n"
        m += "Research software, not a medical device: the findings below are a model's output for research and teaching, not a diagnosis, and must not guide a patient's care.\n\n"
        if isSignedOff {
            m += "Signed off by **\(Self.text(r.review?.signedOffBy ?? "(not recorded)"))** at \(Self.text(r.review?.signedOffAt ?? "(not recorded)")).\n\n"
        } else {
            m += "> **NOT SIGNED OFF.** No reviewer has signed this case off: the findings are unreviewed model output.\n\n"
        }
        if origins.anyGenerated {
            m += "> **Generated inputs.** Inputs marked GENERATED below were made by a program, not taken from a patient; the answer on them says nothing about a real patient.\n\n"
        }
        m += "Written by `tumorboard report` at \(writtenAt)"
        switch kept {
        case true?: m += "; the findings were read back from an earlier run on the same inputs with the same models (the digests below)"
        case false?: m += "; the findings were computed for this report by the models below"
        case nil: break
        }
        m += ".\n\n![The radiograph with the model's boxes and the Grad-CAM heatmap](\(Self.imageName))\n\n"

        m += "## Case\n\n| field | value |\n| --- | --- |\n"
        m += "| case | \(Self.text(r.id)) |\n"
        m += "| age | \(r.age.map { "\($0) years" } ?? "not recorded") |\n"
        m += "| sex | \(r.sex?.rawValue ?? "not recorded") |\n"
        m += "| site | \(Self.text(r.site ?? "not recorded")) |\n"
        if let n = r.clinicalNote { m += "| clinical note | \(Self.text(n)) |\n" }
        if let l = r.label {
            m += "| reference diagnosis (from the source, not the model) | \(l.rawValue)\(r.subtype.map { " (\(Self.text($0)))" } ?? "") |\n"
        }
        m += "| source | \(Self.text(r.provenance ?? "not stated")) |\n\n"

        m += "### Inputs\n\n| input | what the models read | real or generated |\n| --- | --- | --- |\n"
        if let g = r.radiographs.first {
            var what = [(g.file as NSString).lastPathComponent, "\(f.width) x \(f.height) px"]
            if let v = g.view { what.append(v) }
            if let a = g.acquired { what.append("acquired \(a)") }
            if let s = g.sha256 { what.append("sha256 \(s.prefix(12))…") }
            m += "| radiograph | \(Self.text(what.joined(separator: ", "))) | \(origins.radiograph) |\n"
        }
        if let s = r.slides.first {
            var what = ["slide \(s.slideID)"]
            if let b = s.block { what.append("block \(b)") }
            if let st = s.stain { what.append(st) }
            what.append((s.file as NSString).lastPathComponent)
            if let by = s.enteredBy { what.append("entered by \(by)\(s.enteredAt.map { " at \($0)" } ?? "")") }
            m += "| pathology slide | \(Self.text(what.joined(separator: ", "))) | \(origins.slides) |\n"
        } else {
            m += "| pathology slide | none | |\n"
        }
        m += "| labs | \(r.labs.isEmpty ? "none" : "\(r.labs.count) result\(r.labs.count == 1 ? "" : "s") (the table below)") | \(r.labs.isEmpty ? "" : origins.labs) |\n"

        m += "\n## Findings\n\n"
        let p = ModelSet.classes.firstIndex(of: f.predicted).map { f.probabilities.values[$0] }
        m += "- Answer: **\(Self.text(f.predicted))**, p = \(Self.number(p)) (the fusion head on the modalities present).\n"
        if let l = f.lesion {
            m += "- Lesion classified: box \(Self.box(l.box)) (radiograph pixels, x1 and y1 exclusive), detector score \(String(format: "%.2f", l.score)).\n"
        } else {
            m += "- **No lesion found** above the detector's threshold: the whole radiograph was classified, and the probabilities assume a lesion is there.\n"
        }
        m += "- Grad-CAM for \(Self.text(f.heatmap.target)) over box \(Self.box(f.heatmap.box)), a \(f.heatmap.width) x \(f.heatmap.height) grid: drawn in `\(Self.imageName)`.\n"
        if !f.detections.isEmpty {
            m += "\nModel boxes (detector, best first; outlined in `\(Self.imageName)` with their scores, the classified lesion in its class's colour):\n\n"
            m += "| # | box [x0, y0, x1, y1] | score |\n| ---: | --- | ---: |\n"
            for (k, d) in f.detections.enumerated() { m += "| \(k + 1) | \(Self.box(d.box)) | \(String(format: "%.2f", d.score)) |\n" }
        }

        m += "\n## Probabilities\n\nCalibrated class probabilities, to \(Self.decimals) decimal places.\n\n"
        m += "| class | fused (modalities present) | radiograph only |\n| --- | ---: | ---: |\n"
        for (k, c) in ModelSet.classes.enumerated() {
            let mark = c == f.predicted ? " (answer)" : ""
            m += "| \(c)\(mark) | \(Self.number(f.probabilities.values[k])) | \(Self.number(f.imageOnlyProbabilities.values[k])) |\n"
        }

        let showsAttention = f.attention != nil
        m += "\n## Contributions\n\nExact Shapley values of each modality for p(\(f.predicted)), to \(Self.decimals) decimal places; they add up to p(all present) − p(none present). "
        m += showsAttention ? "Attention: the fusion head's weights.\n\n"
            : "The fused answer multiplies each present modality's own calibrated probabilities (a product of experts), so no attention weight decides it.\n\n"
        m += showsAttention ? "| modality | present | contribution | attention |\n| --- | --- | ---: | ---: |\n"
            : "| modality | present | contribution |\n| --- | --- | ---: |\n"
        let rows: [(String, Bool?, Float?, Float?)] = [
            ("radiograph", f.present.image, f.contributions.image, f.attention?.image),
            ("pathology slide", f.present.pathology, f.contributions.pathology, f.attention?.pathology),
            ("labs", f.present.labs, f.contributions.labs, f.attention?.labs),
        ]
        for (name, present, c, a) in rows {
            let isPresent = present == true
            m += "| \(name) | \(isPresent ? "yes" : "no") | \(isPresent ? Self.number(c.map(Double.init), signed: true) : "—") |"
            m += showsAttention ? " \(isPresent ? Self.number(a.map(Double.init)) : "—") |\n" : "\n"
        }

        m += "\n## Labs and the clinical sentence\n\n"
        m += labsSection()

        m += "\n## Models\n\nSHA-256 of every weight file that produced these findings.\n\n| file | sha256 |\n| --- | --- |\n"
        for (file, hash) in f.models.sorted(by: { $0.key < $1.key }) { m += "| \(Self.text(file)) | `\(Self.text(hash))` |\n" }

        m += "\n## Review\n\n"
        m += "- Reviewer's note: \(r.review?.note.map { Self.text($0) } ?? "none")\n"
        if isSignedOff {
            m += "- Signed off by: \(Self.text(r.review?.signedOffBy ?? "(not recorded)"))\n"
            m += "- Signed off at: \(Self.text(r.review?.signedOffAt ?? "(not recorded)"))\n"
        } else {
            m += "- **Not signed off.**\n"
        }

        if let audit {
            m += "\n## Audit trail\n\n"
            if audit.isEmpty { m += "No entries.\n" } else {
                m += "| at | user | action | detail |\n| --- | --- | --- | --- |\n"
                for a in audit { m += "| \(Self.text(a.at)) | \(Self.text(a.user)) | \(Self.text(a.action)) | \(Self.text(a.detail)) |\n" }
            }
        }
        return m
    }

    /// Every lab result of the case against its reference band (when age and sex are known),
    /// which of them the models read (the latest per marker), and the sentence they read.
    func labsSection() -> String {
        let r = record
        var m = ""
        if r.labs.isEmpty {
            m += "No lab results: the labs modality was absent.\n"
        } else {
            let used = (try? r.labs.panelForDiagnosis()) ?? []
            let catalog = try? BiomarkerCatalog.bundled
            m += "| marker | value | unit | reference | flag | date | read by the models |\n| --- | ---: | --- | --- | --- | --- | --- |\n"
            for l in r.labs {
                let name = (try? catalog?.marker(l.marker))?.name ?? l.marker
                var value = String(l.value), reference = "needs age and sex", flag = ""
                if let catalog, let age = r.age, let sex = r.sex {
                    do {
                        let i = try catalog.interpret(l, age: age, sex: sex)
                        value = i.valueText
                        reference = i.lowIsZero ? "up to \(i.highText)" : "\(i.lowText)–\(i.highText)"
                        flag = i.flag == .normal ? "normal" : "**\(i.flag.rawValue)**\(i.severity.map { " (\($0.rawValue))" } ?? "")"
                    } catch {
                        reference = "n/a (\(error))"
                    }
                }
                m += "| \(Self.text(name)) | \(value) | \(Self.text(l.unit)) | \(Self.text(reference)) | \(flag) | \(l.date ?? "") | \(used.contains(l) ? "yes" : "no (an older result)") |\n"
            }
        }
        if let s = findings.sentence {
            m += "\nThe clinical sentence the text encoder read (made from the abnormal results):\n\n> \(Self.text(s))\n"
        } else if findings.present.labs == true {
            m += "\nNo clinical sentence was recorded with these findings.\n"
        }
        return m
    }

    // MARK: writing

    /// The case's first radiograph as the models saw it, refused when its bytes are not those
    /// the case recorded (the findings would belong to another picture).
    public func radiograph() throws -> Image {
        guard let g = record.radiographs.first else { throw CaseReportError("\(record.id): the case has no radiograph") }
        if let expected = g.sha256 { try CaseFiles.check(g.file, expected: expected, field: "radiographs[0]", caseID: record.id) }
        return try CaseFolder.decodeImage(URL(fileURLWithPath: g.file), field: "radiographs[0].file")
    }

    public func annotatedRadiograph() throws -> AnnotatedRadiograph {
        try AnnotatedRadiograph(radiograph: radiograph(), findings: findings)
    }

    /// Why `folder` may not take this report, or nil: it may be missing, empty, or an earlier
    /// report of the same case (report.md and radiograph.png only), never anything else.
    public static func refusal(toWriteInto folder: URL, caseID: String) -> String? {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: folder.path, isDirectory: &isDir) else { return nil }
        guard isDir.boolValue else { return "\(folder.path): is a file, not a folder" }
        let entries: [String]
        do { entries = try fm.contentsOfDirectory(atPath: folder.path) } catch {
            return "\(folder.path): cannot be listed (\(error.localizedDescription))"
        }
        if entries.isEmpty { return nil }
        let ours: Set<String> = [Self.markdownName, Self.imageName]
        let others = entries.filter { !ours.contains($0) }.sorted()
        let first = (try? String(contentsOf: folder.appendingPathComponent(Self.markdownName), encoding: .utf8))?
            .split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)
        guard let first, first.hasPrefix(Self.heading(caseID: "")) else {
            return "\(folder.path): is not empty and holds no TumorBoard case report; choose another --out"
        }
        guard first == Self.heading(caseID: caseID) else {
            let other = String(first.dropFirst(Self.heading(caseID: "").count))
            return "\(folder.path): holds the report of case \(other), not \(caseID); choose another --out"
        }
        guard others.isEmpty else {
            return "\(folder.path): holds other files beside the earlier report (\(others.prefix(3).joined(separator: ", "))\(others.count > 3 ? ", …" : "")); they would be lost: choose another --out"
        }
        return nil
    }

    /// Writes report.md and radiograph.png into `folder` (created if missing), all or nothing:
    /// both are written into a new folder beside it, which then takes its place, so a reader never
    /// sees a new picture beside an old text. Returns the two files.
    @discardableResult
    public func write(to folder: URL) throws -> (report: URL, image: URL) {
        if let why = Self.refusal(toWriteInto: folder, caseID: record.id) { throw CaseReportError(why + "; nothing was written") }
        // Everything that can fail on the case (the radiograph, the drawing) before the disk is touched.
        let png: Data, text = Data(markdown.utf8)
        do { png = try annotatedRadiograph().image().pngData() } catch {
            throw CaseReportError("\(record.id): the annotated radiograph could not be made: \(error)")
        }
        let folder = folder.standardizedFileURL
        do {
            try AtomicFolder.replace(folder) { staging in
                // AtomicFile fsyncs each file, so the swap publishes whole files.
                try AtomicFile.write(png, to: staging.appendingPathComponent(Self.imageName))
                try AtomicFile.write(text, to: staging.appendingPathComponent(Self.markdownName))
            }
        } catch {
            throw CaseReportError("\(folder.path): the report could not be written (\(error)); an earlier report, if any, is as it was")
        }
        return (folder.appendingPathComponent(Self.markdownName), folder.appendingPathComponent(Self.imageName))
    }
}
