import Cases
import Diagnosis
import Foundation

/// The case view's side panel: the model's answer first (class probabilities, contributions),
/// then boxes, labs, the sentence the text encoder read, the slide, the case, the models. At
/// 80x24 the first two sections fit; `]` and `[` bring the others up; a taller window shows more.
enum DiagnosisPanel {
    typealias Row = (inout Screen, _ x: Int, _ y: Int, _ width: Int) -> Void

    struct Section {
        var title: String
        var rows: [Row]
    }

    static func text(_ t: String, _ style: Style) -> Row {
        { s, x, y, w in s.put(t, x: x, y: y, style: style, maxWidth: w) }
    }

    static func pieces(_ parts: [(String, Style)]) -> Row {
        { s, x, y, w in
            var cx = x
            for (t, st) in parts where cx < x + w { cx += s.put(t, x: cx, y: y, style: st, maxWidth: x + w - cx) }
        }
    }

    /// Words to lines of at most `width` columns (a longer word is cut).
    static func wrap(_ text: String, _ width: Int) -> [String] {
        guard width > 0 else { return [] }
        var lines: [String] = [], line = ""
        for word in text.split(separator: " ") {
            let w = String(word.prefix(width))
            if line.isEmpty { line = w } else if line.count + 1 + w.count <= width { line += " " + w } else { lines.append(line); line = w }
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }

    static func percent(_ p: Double) -> String { String(format: "%5.1f%%", 100 * p) }
    static func signed(_ v: Double) -> String { String(format: "%+.3f", v) }

    /// Every section for the open case, given the panel's inner width.
    static func sections(_ cv: CaseViewState, browser b: Browser, width: Int) -> [Section] {
        let t = b.theme
        var out: [Section] = []
        out.append(Section(title: "Diagnosis", rows: diagnosisRows(cv, browser: b, width: width)))
        if let r = cv.diagnosis.result { out.append(contributionSection(r.findings, theme: t, width: width)) }
        out.append(Section(title: "Review", rows: reviewRows(cv.detail.record, theme: t, width: width)))
        out.append(Section(title: "Boxes", rows: boxRows(cv, browser: b)))
        out.append(Section(title: "Labs", rows: labRows(cv.detail.record, theme: t)))
        out.append(Section(title: "Sentence read by the text encoder", rows: sentenceRows(cv, theme: t, width: width)))
        out.append(Section(title: "Slide", rows: slideRows(cv, theme: t)))
        out.append(Section(title: "Case", rows: cv.detail.details.map { name, value in
            pieces([(fit(name, 9) + " ", t[.dim]), (value, name == "Label" ? t[Role.forLabel(value)] : t[.text])])
        }))
        out.append(Section(title: "Models and timings", rows: modelRows(cv, browser: b, width: width)))
        if let h = cv.history {
            out.append(Section(title: "History (audit trail)", rows: h.flatMap { e in
                wrap("\(e.at.prefix(16).replacingOccurrences(of: "T", with: " ")) \(e.user): \(e.action)" + (e.detail.isEmpty ? "" : " · \(e.detail)"), width)
                    .enumerated().map { k, line in text(k == 0 ? line : "  " + line, k == 0 ? t[.text] : t[.dim]) }
            }))
        }
        return out
    }

    static func diagnosisRows(_ cv: CaseViewState, browser b: Browser, width: Int) -> [Row] {
        let t = b.theme
        var rows: [Row] = []
        let r: CaseDiagnosisResult
        switch cv.diagnosis {
        case .done(let result): r = result
        case .failed(let why):
            rows.append(text("cannot diagnose this case:", t[.error]))
            rows += wrap(why, width).map { text($0, t[.text]) }
            return rows
        case .running:
            return [text("running the models on this case…", t[.dim])]
        case .waiting:
            switch b.models {
            case .loading(let done, let total, let part):
                return [text("waiting for the models", t[.dim]), text("loading models \(done)/\(total) (\(part))", t[.dim])]
            case .failed(let why):
                rows.append(text("models not loaded; browsing works", t[.error]))
                rows += wrap(why, width).map { text($0, t[.text]) }
                return rows
            case .ready:
                return [text("queued behind another case…", t[.dim])]
            }
        }
        let f = r.findings
        if case .ready(_, let missing) = b.models {
            for m in missing { rows += wrap("missing: \(m)", width).map { text($0, t[.error]) } }
        }
        let predicted = DiagnosisLabel(rawValue: f.predicted)
        let lesion = !f.detections.isEmpty
        if !lesion {
            rows.append(text("no lesion found", Style(fg: t[.normal].fg, bg: t[.text].bg, bold: true)))
            rows.append(text("classes below: as if there were one", t[.dim]))
        }
        var head: [(String, Style)] = [("▶ \(f.predicted.uppercased()) ", t[Role.forLabel(predicted)]),
                                       (percent(f.probabilities.values[DiagnosisLabel.tumourClasses.firstIndex { $0.rawValue == f.predicted } ?? 0]).trimmingCharacters(in: .whitespaces), t[.text])]
        if let truth = cv.detail.summary.label.flatMap(DiagnosisLabel.init(rawValue:)) {
            let right = truth == .normal ? !lesion : (lesion && truth == predicted)
            head.append(("  truth \(truth.rawValue) ", t[.dim]))
            head.append((right ? "✓" : "✗", right ? t[.normal] : t[.error]))
        }
        rows.append(pieces(head))
        // Two columns: the fused answer and the radiograph alone.
        let labelW = 14, pctW = 6
        let barW = max(2, (width - labelW - 2 * pctW - 2) / 2)
        let fusedName = lesion ? "fused" : "if lesion"
        rows.append(pieces([(fit("", labelW), t[.dim]), (fit(fusedName, barW + pctW + 1), t[.dim]),
                            ("image only", t[.dim])]))
        let fused = f.probabilities.values, image = f.imageOnlyProbabilities.values
        for (k, c) in DiagnosisLabel.tumourClasses.enumerated() {
            let mark = c == predicted
            let role = Role.forLabel(c)
            rows.append { s, x, y, w in
                s.put((mark ? "▶" : " ") + fit(c.rawValue, labelW - 1), x: x, y: y, style: mark ? t[role] : t[.text], maxWidth: w)
                var cx = x + labelW
                s.bar(x: cx, y: y, width: barW, fraction: fused[k], style: Style(fg: t[role].fg, bg: t[.text].bg), track: t[.track])
                cx += barW
                s.put(percent(fused[k]), x: cx, y: y, style: mark ? t[role] : t[.text], maxWidth: x + w - cx)
                cx += pctW + 1
                s.bar(x: cx, y: y, width: barW, fraction: image[k], style: Style(fg: t[role].fg, bg: t[.text].bg), track: t[.track])
                cx += barW
                s.put(percent(image[k]), x: cx, y: y, style: t[.dim], maxWidth: x + w - cx)
            }
        }
        return rows
    }

    /// Exact Shapley values of the present modalities for the predicted class's probability,
    /// as bars around zero; an absent modality is marked absent, not drawn as zero.
    static func contributionSection(_ f: Findings, theme t: Theme, width: Int) -> Section {
        let c = f.contributions, p = f.present
        let entries: [(String, Float?, Bool?, String)] = [
            ("image", c.image, p.image, "no radiograph"), ("pathology", c.pathology, p.pathology, "no slide"),
            // The text encoder's input: the patient's age, sex and site, then the abnormal labs.
            ("text", c.labs, p.labs, "no age, sex, site or labs"),
        ]
        let scale = max(0.05, entries.compactMap { $0.1 }.map { abs(Double($0)) }.max() ?? 0)
        let labelW = 10, valueW = 7
        let barW = max(3, width - labelW - valueW - 1)
        var rows: [Row] = []
        for (name, value, present, why) in entries {
            if present == true, let v = value {
                rows.append { s, x, y, w in
                    s.put(fit(name, labelW), x: x, y: y, style: t[.text], maxWidth: w)
                    s.divergingBar(x: x + labelW, y: y, width: barW, value: Double(v), scale: scale,
                                   gain: t[.gain], loss: t[.loss], axis: t[.dim])
                    s.put(signed(Double(v)), x: x + labelW + barW + 1, y: y, style: v >= 0 ? t[.gain] : t[.loss], maxWidth: valueW)
                }
            } else {
                rows.append(pieces([(fit(name, labelW), t[.dim]), ("absent (\(why))", t[.dim])]))
            }
        }
        let sum = entries.compactMap { $0.1 }.reduce(0, +)
        rows.append(text("sum \(signed(Double(sum))) = p(all) − p(none)", t[.dim]))
        return Section(title: "Contributions to p(\(f.predicted))", rows: rows)
    }

    /// The radiologist's note and sign-off (a signed case is read-only).
    static func reviewRows(_ record: CaseRecord?, theme t: Theme, width: Int) -> [Row] {
        var rows: [Row] = []
        if let by = record?.review?.signedOffBy {
            rows.append(pieces([("✔ SIGNED OFF ", t[.normal]), ("by \(by) at \(record?.review?.signedOffAt ?? "?")", t[.text])]))
            rows.append(text("read-only; S reopens it with a reason", t[.dim]))
        } else {
            rows.append(text("not signed off (N note, S sign off)", t[.dim]))
        }
        if let note = record?.review?.note {
            rows += wrap("note: " + note, width).map { text($0, t[.text]) }
        }
        return rows
    }

    static func boxRows(_ cv: CaseViewState, browser b: Browser) -> [Row] {
        let t = b.theme
        var rows: [Row] = []
        if let f = cv.diagnosis.result?.findings {
            if f.detections.isEmpty { rows.append(text("model: none above the threshold", t[.dim])) }
            let role = Role.forLabel(DiagnosisLabel(rawValue: f.predicted))
            for (k, d) in f.detections.enumerated() where d.box.count == 4 {
                let line = String(format: "%@%d %.2f %.0f,%.0f %.0fx%.0f", k == 0 ? "▶" : " ", k + 1, d.score, d.box[0], d.box[1],
                                  d.box[2] - d.box[0], d.box[3] - d.box[1])
                rows.append(text(line + (k == 0 ? " classified" : ""), k == 0 ? t[role] : t[.prediction]))
            }
        } else {
            rows.append(text("model: not run yet", t[.dim]))
        }
        if cv.detail.boxes.isEmpty {
            rows.append(text("truth: none", t[.dim]))
        } else {
            for (k, box) in cv.detail.boxes.enumerated() {
                let r = box.rect
                let style = cv.selectedBox == k ? t[.selection] : t[.box]
                rows.append(text("truth \(k + 1) \(r.x),\(r.y) \(r.width)x\(r.height)\(b.showTruth ? "" : " (hidden: T)")", style))
            }
        }
        if !cv.view.showBoxes { rows.append(text("all boxes hidden (b)", t[.dim])) }
        return rows
    }

    static func labRows(_ record: CaseRecord?, theme t: Theme) -> [Row] {
        guard let r = record, !r.labs.isEmpty else { return [text("no blood tests (labs absent)", t[.dim])] }
        let catalog = try? BiomarkerCatalog.bundled
        var rows: [Row] = []
        var panel = r.labs
        do { panel = try r.labs.panelForDiagnosis() } catch { rows.append(text("\(error)", t[.error])) }
        for lab in panel {
            let name = (try? catalog?.marker(lab.marker))?.abbreviation ?? lab.marker
            let value = "\(formatValue(lab.value)) \(lab.unit)"
            if let age = r.age, let sex = r.sex, let c = catalog, let i = try? c.interpret(lab, age: age, sex: sex) {
                let range = i.lowIsZero ? "≤\(i.highText)" : "\(i.lowText)-\(i.highText)"
                let flag = i.flag == .high ? "H" : i.flag == .low ? "L" : ""
                rows.append(pieces([(fit(name, 7), t[.text]), (fit(value, 14), i.isAbnormal ? t[.intermediate] : t[.text]),
                                    (fit(range, 10), t[.dim]), (flag, t[.error])]))
            } else {
                rows.append(pieces([(fit(name, 7), t[.text]), (fit(value, 14), t[.text]), ("no range (age/sex?)", t[.dim])]))
            }
        }
        return rows
    }

    static func formatValue(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e9 ? String(Int(v)) : String(format: "%g", v)
    }

    static func sentenceRows(_ cv: CaseViewState, theme t: Theme, width: Int) -> [Row] {
        guard let f = cv.diagnosis.result?.findings else { return [text("not run yet", t[.dim])] }
        guard let sentence = f.sentence else { return [text("none: no age, sex, site or labs", t[.dim])] }
        return wrap("“\(sentence)”", width).map { text($0, t[.text]) }
    }

    static func slideRows(_ cv: CaseViewState, theme t: Theme) -> [Row] {
        guard let slide = cv.detail.record?.slides.first else { return [text("no slide (pathology absent)", t[.dim])] }
        var rows: [Row] = [pieces([("ID ", t[.dim]), (slide.slideID, t[.text]), ("  \(slide.stain ?? "")", t[.dim])]),
                           text((slide.file as NSString).lastPathComponent, t[.dim])]
        if let e = cv.slideError { rows.append(text(e, t[.error])) }
        rows.append(text(cv.showingSlide ? "shown in the pane (s: radiograph)" : "s shows it in the pane", t[.dim]))
        return rows
    }

    static func modelRows(_ cv: CaseViewState, browser b: Browser, width: Int) -> [Row] {
        let t = b.theme
        var rows: [Row] = []
        switch b.models {
        case .loading(let done, let total, let part): rows.append(text("loading \(done)/\(total) (\(part))", t[.dim]))
        case .failed(let why): rows += wrap(why, width).map { text($0, t[.error]) }
        case .ready(let digests, let missing):
            for (name, hash) in digests.sorted(by: { $0.key < $1.key }) {
                let short = (name as NSString).lastPathComponent.replacingOccurrences(of: ".safetensors", with: "")
                let label = name.hasPrefix("text/") ? "text" : short
                rows.append(pieces([(fit(label, 18), t[.dim]), (String(hash.prefix(12)), t[.text])]))
            }
            for m in missing { rows += wrap("missing: \(m)", width).map { text($0, t[.error]) } }
        }
        if let r = cv.diagnosis.result {
            let how = r.kept ? "kept result, read back" : "run now"
            rows.append(text("\(how) in \(String(format: "%.0f", r.milliseconds)) ms", t[.text]))
            if !r.kept {
                let stages = ["detect", "lesion_encoder", "pathology_encoder", "text_encoder", "fusion", "shapley", "gradcam"]
                for st in stages { if let ms = r.findings.timingsMs[st] { rows.append(text("  \(fit(st, 18)) \(String(format: "%7.1f", ms)) ms", t[.dim])) } }
            }
        }
        return rows
    }
}
