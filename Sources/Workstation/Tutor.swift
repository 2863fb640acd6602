import Cases
import Diagnosis
import Foundation

/// Tutor mode in the case view: modalities switched off and on (the answer comes from the
/// fusion head's subset passes the diagnosis already made: no encoder runs again), a lab value
/// changed in a scratch copy that is never saved (that one runs the text encoder and fusion
/// again, in the background), and each modality's answer alone beside the fused one.
public struct TutorState: Sendable {
    /// Image, pathology, labs: switched on by the tutor (an absent modality stays absent).
    public var on: [Bool] = [true, true, true]
    /// The scratch copy's labs, once a value was changed; nil: the case's own.
    public var scratchLabs: [LabResult]?
    /// The diagnosis of the scratch copy.
    public var scratch: DiagnosisDisplay = .waiting

    public init() {}
}

/// What tutor mode shows, computed from a diagnosis and the switches.
public struct TutorView: Sendable, Equatable {
    /// The modalities in play: present in the case and switched on.
    public var subset: ModalitySubset
    /// The fusion head's answer for that subset; nil when no modality is left or the result
    /// predates the subset table.
    public var probabilities: ClassProbabilities?
    public var predicted: DiagnosisLabel?
    /// Shapley values over the modalities in play, for the predicted class.
    public var contributions: [Float?]
    /// Each present modality alone, and all present ones fused: (name, answer).
    public var alone: [(name: String, probabilities: ClassProbabilities?)]

    public static func == (a: TutorView, b: TutorView) -> Bool {
        a.subset == b.subset && a.probabilities == b.probabilities && a.predicted == b.predicted && a.contributions == b.contributions
            && a.alone.map(\.name) == b.alone.map(\.name) && a.alone.map(\.probabilities) == b.alone.map(\.probabilities)
    }

    public init(findings f: Findings, on: [Bool]) {
        let present = [f.present.image == true, f.present.pathology == true, f.present.labs == true]
        subset = ModalitySubset((0..<3).map { present[$0] && on[$0] })
        let table = f.subsets ?? [:]
        if subset.mask != 0, let p = table[subset.name] {
            probabilities = p
            let k = p.values.indices.max { p.values[$0] < p.values[$1] } ?? 0
            predicted = DiagnosisLabel.tumourClasses[k]
            var v: [Int: Float] = [:]
            for mask in 0..<8 { if let q = table[ModalitySubset(mask: mask).name] { v[mask] = Float(q.values[k]) } }
            contributions = ModalityShapley.values(table: v, players: subset)
        } else {
            probabilities = nil
            predicted = nil
            contributions = [nil, nil, nil]
        }
        var alone: [(String, ClassProbabilities?)] = []
        for m in 0..<3 where present[m] { alone.append(("\(TutorPanel.names[m]) alone", table[ModalitySubset.names[m]])) }
        alone.append(("all fused", table[ModalitySubset(present).name]))
        self.alone = alone
    }
}

enum TutorPanel {
    typealias Row = DiagnosisPanel.Row

    /// What the screen calls the modalities: the third is the clinical text the text encoder
    /// reads (age, sex and site, then the abnormal labs), not the labs alone.
    static let names = ["image", "pathology", "text"]
    static func name(_ subset: ModalitySubset) -> String {
        let parts = (0..<3).filter(subset.contains).map { names[$0] }
        return parts.isEmpty ? "none" : parts.joined(separator: "+")
    }

    /// The tutor's sections, in place of the diagnosis sections.
    static func sections(_ cv: CaseViewState, tutor: TutorState, browser b: Browser, width: Int) -> [DiagnosisPanel.Section] {
        let t = b.theme
        let scratch = tutor.scratchLabs != nil
        let display = scratch ? tutor.scratch : cv.diagnosis
        var out: [DiagnosisPanel.Section] = []
        guard let f = display.result?.findings else {
            var rows: [Row] = [DiagnosisPanel.text(scratch ? "running the scratch copy…" : "waiting for the diagnosis…", t[.dim])]
            if case .failed(let why) = display { rows = DiagnosisPanel.wrap(why, width).map { DiagnosisPanel.text($0, t[.error]) } }
            return [DiagnosisPanel.Section(title: "Tutor mode", rows: rows)]
        }
        guard f.subsets != nil else {
            return [DiagnosisPanel.Section(title: "Tutor mode", rows: [DiagnosisPanel.text("this result was kept before tutor mode: press r to run the case again", t[.error])])]
        }
        let v = TutorView(findings: f, on: tutor.on)
        var rows: [Row] = []
        let present = [f.present.image == true, f.present.pathology == true, f.present.labs == true]
        rows.append { s, x, y, w in
            var cx = x
            for m in 0..<3 where cx < x + w {
                let mark = !present[m] ? "·" : (tutor.on[m] ? "■" : "□")
                let style = !present[m] ? t[.dim] : (tutor.on[m] ? t[.key] : t[.dim])
                cx += s.put("\(m + 1) \(mark) \(names[m])\(present[m] ? "" : " (absent)")  ", x: cx, y: y, style: style, maxWidth: x + w - cx)
            }
        }
        if scratch { rows.append(DiagnosisPanel.text("SCRATCH COPY: changed labs, not saved", t[.error])) }
        if let p = v.probabilities, let predicted = v.predicted {
            let answer = "▶ \(predicted.rawValue.uppercased()) "
            let percent = DiagnosisPanel.percent(p.values[DiagnosisLabel.tumourClasses.firstIndex(of: predicted) ?? 0]).trimmingCharacters(in: .whitespaces)
            let source = "from: \(name(v.subset))"
            // Where the answer and its source do not fit on one line, the source gets its own.
            if answer.count + percent.count + 2 + source.count <= width {
                rows.append(DiagnosisPanel.pieces([(answer, t[Role.forLabel(predicted)]), (percent, t[.text]), ("  " + source, t[.dim])]))
            } else {
                rows.append(DiagnosisPanel.pieces([(answer, t[Role.forLabel(predicted)]), (percent, t[.text])]))
                rows.append(DiagnosisPanel.text("  " + source, t[.dim]))
            }
            let labelW = 14, pctW = 7
            let barW = max(3, width - labelW - pctW)
            for (k, c) in DiagnosisLabel.tumourClasses.enumerated() {
                let mark = c == predicted, role = Role.forLabel(c)
                rows.append { s, x, y, w in
                    s.put((mark ? "▶" : " ") + fit(c.rawValue, labelW - 1), x: x, y: y, style: mark ? t[role] : t[.text], maxWidth: w)
                    s.bar(x: x + labelW, y: y, width: barW, fraction: p.values[k], style: Style(fg: t[role].fg, bg: t[.text].bg), track: t[.track])
                    s.put(DiagnosisPanel.percent(p.values[k]), x: x + labelW + barW, y: y, style: t[.text], maxWidth: pctW)
                }
            }
        } else {
            rows.append(DiagnosisPanel.text("no modality switched on: the fusion head has nothing to read", t[.error]))
        }
        out.append(DiagnosisPanel.Section(title: "Tutor · 1 2 3 switch · e lab · F paper", rows: rows))

        if let predicted = v.predicted {
            var crows: [Row] = []
            let scale = max(0.05, v.contributions.compactMap { $0 }.map { abs(Double($0)) }.max() ?? 0)
            let labelW = 10, valueW = 7, barW = max(3, width - 10 - 7 - 1)
            for m in 0..<3 {
                let name = names[m]
                if let c = v.contributions[m] {
                    crows.append { s, x, y, w in
                        s.put(fit(name, labelW), x: x, y: y, style: t[.text], maxWidth: w)
                        s.divergingBar(x: x + labelW, y: y, width: barW, value: Double(c), scale: scale, gain: t[.gain], loss: t[.loss], axis: t[.dim])
                        s.put(DiagnosisPanel.signed(Double(c)), x: x + labelW + barW + 1, y: y, style: c >= 0 ? t[.gain] : t[.loss], maxWidth: valueW)
                    }
                } else {
                    crows.append(DiagnosisPanel.pieces([(fit(name, labelW), t[.dim]), (present[m] ? "switched off" : "absent", t[.dim])]))
                }
            }
            out.append(DiagnosisPanel.Section(title: "Contributions to p(\(predicted.rawValue))", rows: crows))
        }

        var arows: [Row] = []
        for (name, p) in v.alone {
            guard let p else { arows.append(DiagnosisPanel.pieces([(fit(name, 16), t[.text]), ("—", t[.dim])])); continue }
            arows.append(answerRow(name, p, theme: t))
        }
        arows.append(answerRow("image, own head", f.imageOnlyProbabilities, theme: t))
        out.append(DiagnosisPanel.Section(title: "Each modality alone", rows: arows))

        var lrows: [Row] = []
        let labs = tutor.scratchLabs ?? cv.detail.record?.labs ?? []
        let original = Set(cv.detail.record?.labs ?? [])
        for l in labs {
            let changed = scratch && !original.contains(l)
            lrows.append(DiagnosisPanel.pieces([(fit(l.marker, 12), changed ? t[.error] : t[.text]),
                                                ("\(DiagnosisPanel.formatValue(l.value)) \(l.unit)", changed ? t[.error] : t[.text]),
                                                (changed ? "  (scratch)" : "", t[.error])]))
        }
        if labs.isEmpty { lrows.append(DiagnosisPanel.text("no lab results", t[.dim])) }
        lrows.append(DiagnosisPanel.text("sentence read:", t[.dim]))
        lrows += DiagnosisPanel.wrap(f.sentence ?? "(none: no labs)", width).map { DiagnosisPanel.text($0, scratch ? t[.error] : t[.text]) }
        out.append(DiagnosisPanel.Section(title: scratch ? "Labs (scratch copy)" : "Labs", rows: lrows))
        return out
    }
}

extension TutorPanel {
    /// "labs alone      intermediate  51.0%": the answer and its probability.
    static func answerRow(_ name: String, _ p: ClassProbabilities, theme t: Theme) -> Row {
        let k = p.values.indices.max { p.values[$0] < p.values[$1] } ?? 0
        let c = DiagnosisLabel.tumourClasses[k]
        return DiagnosisPanel.pieces([(fit(name, 16), t[.text]), (fit(c.rawValue, 13), t[Role.forLabel(c)]),
                                      (DiagnosisPanel.percent(p.values[k]), t[.text])])
    }
}

/// docs/results.json: the paper's figures beside ours on the BTXRD test split.
public struct PaperFigures: Sendable {
    public struct Row: Sendable, Equatable {
        public var measure: String
        public var paper: Double?
        public var ours: Double
        public var inputs: String
        /// Some input of this row is generated, not real.
        public var generated: Bool { inputs.contains("GENERATED") }
    }
    public var rows: [Row]
    public var note: String

    struct File: Decodable {
        struct Paper: Decodable { let macro_precision: Double; let macro_f1: Double; let macro_auc: Double; let detection_map50: Double }
        struct Detection: Decodable { let map50_101pt: Double; let inputs: String }
        struct Classification: Decodable { let name: String; let macro_precision: Double; let macro_f1: Double; let macro_auc: Double; let inputs: String }
        let paper: Paper
        let detection: Detection
        let classification: [Classification]
        let split_note: String?
    }

    public static func load(_ url: URL) throws -> PaperFigures {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw CaseSourceError("\(url.path): cannot be read (\(error.localizedDescription))") }
        let f: File
        do { f = try JSONDecoder().decode(File.self, from: data) } catch { throw CaseSourceError("\(url.path): not the results file tumorboard writes (\(error))") }
        var rows = [Row(measure: "detection mAP@0.5 · all test images", paper: f.paper.detection_map50, ours: f.detection.map50_101pt, inputs: f.detection.inputs)]
        for c in f.classification {
            let full = c.name.hasPrefix("fusion: image + pathology + labs")
            rows.append(Row(measure: "macro precision · \(c.name)", paper: full ? f.paper.macro_precision : nil, ours: c.macro_precision, inputs: c.inputs))
            rows.append(Row(measure: "macro F1        · \(c.name)", paper: full ? f.paper.macro_f1 : nil, ours: c.macro_f1, inputs: c.inputs))
            rows.append(Row(measure: "macro AUC       · \(c.name)", paper: full ? f.paper.macro_auc : nil, ours: c.macro_auc, inputs: c.inputs))
        }
        return PaperFigures(rows: rows, note: f.split_note ?? "")
    }

    static func draw(_ figures: Result<PaperFigures, CaseSourceError>, top: Int, theme t: Theme, into s: inout Screen) {
        s.fill(CellRect(x: 0, y: 0, width: s.width, height: 1), style: t[.title])
        s.put(" The paper (Sang et al., J Bone Oncol 2025) beside TumorBoard, BTXRD test split", x: 0, y: 0, style: t[.title], maxWidth: s.width - 8)
        s.put("? help", x: s.width - 7, y: 0, style: t[.title])
        switch figures {
        case .failure(let e):
            s.put("\(e)", x: 1, y: 2, style: t[.error], maxWidth: s.width - 2)
        case .success(let f):
            let warning = DiagnosisPanel.wrap("Radiographs are REAL (BTXRD); slides and lab panels are GENERATED: a row marked GENERATED does not measure real pathology or labs. The paper's figures are for its full model.", s.width - 2)
            for (k, line) in warning.prefix(2).enumerated() { s.put(line, x: 1, y: 1 + k, style: t[.error], maxWidth: s.width - 2) }
            let head = 1 + min(2, warning.count)
            let measureW = max(20, s.width - 34)
            s.put(fit("measure", measureW) + "  paper   ours    inputs", x: 1, y: head, style: t[.header], maxWidth: s.width - 2)
            for (k, r) in f.rows.dropFirst(top).prefix(max(0, s.height - head - 3)).enumerated() {
                let y = head + 1 + k
                var x = 1 + s.put(fit(r.measure, measureW), x: 1, y: y, style: t[.text], maxWidth: measureW)
                x += s.put("  " + (r.paper.map { String(format: "%.4f", $0) } ?? "   —  "), x: x, y: y, style: t[.dim], maxWidth: 8)
                x += s.put("  " + String(format: "%.4f", r.ours), x: x, y: y, style: t[.text], maxWidth: 8)
                s.put("  " + (r.generated ? "GENERATED" : "REAL"), x: x, y: y, style: r.generated ? t[.error] : t[.normal], maxWidth: s.width - x - 1)
            }
        }
        s.put("Esc or F: back to the case  ↑↓ scroll", x: 1, y: s.height - 2, style: t[.dim], maxWidth: s.width - 2)
    }
}
