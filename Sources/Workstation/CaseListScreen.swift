import Cases
import Foundation

/// The case list: counts, column headers, one row a case with the model's answer, the search line.
enum CaseListScreen {
    /// Always shown; then Subtype and Site where the width allows.
    static let columns: [(title: String, width: Int)] = [
        ("ID", 18), ("Age/Sex", 8), ("Truth", 13), ("Status", 10), ("Model", 13), ("p", 6), ("p(mal)", 7),
    ]
    static let subtypeWidth = 26

    /// Status column: signed / reviewed (the store's review), running, predicted, not run.
    static func status(_ c: CaseSummary, browser b: Browser) -> String {
        if let r = c.review { return r }
        if b.running == c.id { return "running" }
        return b.predictions[c.id] == nil ? "not run" : "predicted"
    }

    static func draw(_ b: Browser, into s: inout Screen) {
        let t = b.theme
        let w = s.width
        s.fill(CellRect(x: 0, y: 0, width: w, height: 1), style: t[.title])
        s.put(" TumorBoard · \(b.source.title)", x: 0, y: 0, style: t[.title], maxWidth: w - 10)
        s.put("? help", x: w - 7, y: 0, style: t[.title])

        // Counts: the whole folder by label, then what the search leaves.
        var x = 1
        x += s.put("\(b.all.count) cases", x: x, y: 1, style: t[.header])
        for label in DiagnosisLabel.allCases {
            let n = b.all.filter { $0.label == label.rawValue }.count
            if n == 0 { continue }
            x += s.put(" · ", x: x, y: 1, style: t[.dim])
            x += s.put("\(label.rawValue) \(n)", x: x, y: 1, style: t[Role.forLabel(label)])
        }
        let unknown = b.all.filter { $0.label == nil }.count
        if unknown > 0 { x += s.put(" · unlabelled \(unknown)", x: x, y: 1, style: t[.dim]) }
        let arrow = b.ascending ? "↑" : "↓"
        let filter = b.filter == .all ? "" : " │ model: \(b.filter.name)"
        s.put(" │ showing \(b.visible.count) │ sort \(b.sortKey.rawValue) \(arrow)\(filter) │ run \(b.predictions.count)",
              x: x, y: 1, style: t[.dim], maxWidth: w - x)

        let fixed = columns.reduce(0) { $0 + $1.width } + 1
        let showSubtype = w >= fixed + subtypeWidth + 8
        // Header row.
        var cx = 1
        for (title, width) in columns {
            s.put(fit(title, width), x: cx, y: 2, style: t[.header])
            cx += width
        }
        if showSubtype { s.put("Subtype", x: cx, y: 2, style: t[.header]); cx += subtypeWidth }
        s.put("Site", x: cx, y: 2, style: t[.header], maxWidth: w - cx)

        let top = 3, rows = s.height - 5
        let first = b.scrollTop(rows: rows)
        if b.visible.isEmpty {
            let why = b.all.isEmpty ? "No cases here."
                : b.filter != .all ? "No case with model answer \"\(b.filter.name)\" (F changes the filter)."
                : "No case matches \"\(b.query)\" (Esc clears the search)."
            s.put(why, x: 2, y: top + 1, style: t[.dim])
        }
        for r in 0..<rows {
            let i = first + r
            guard i < b.visible.count else { break }
            let c = b.all[b.visible[i]]
            let isSel = i == b.selected
            let base = isSel ? t[.selection] : t[.text]
            s.fill(CellRect(x: 0, y: top + r, width: w, height: 1), style: base)
            let p = b.predictions[c.id]
            let model = p.map { $0.lesionFound ? $0.predicted.rawValue : "no lesion" } ?? ""
            let cells: [(String, Style)] = [
                (c.id, base), (c.ageSex, base), (c.label ?? "—", isSel ? base : t[c.labelRole]),
                (status(c, browser: b), isSel ? base : (p == nil && c.review == nil ? t[.dim] : t[.text])),
                (model, isSel ? base : (p?.lesionFound == false ? t[.normal] : t[Role.forLabel(p?.predicted)])),
                (p.map { String(format: "%.0f%%", 100 * $0.probability) } ?? "", base),
                (p.map { String(format: "%.2f", $0.malignant) } ?? "", isSel ? base : (p.map { $0.malignant >= 0.5 } == true ? t[.malignant] : base)),
            ]
            var x = 1
            for (k, (_, width)) in columns.enumerated() {
                s.put(fit(cells[k].0, width - 1), x: x, y: top + r, style: cells[k].1)
                x += width
            }
            if showSubtype { s.put(fit(c.subtype ?? "", subtypeWidth - 1), x: x, y: top + r, style: base); x += subtypeWidth }
            s.put(c.site ?? "", x: x, y: top + r, style: base, maxWidth: w - x - 1)
        }

        // Search line / hints.
        let y = s.height - 2
        if b.editingSearch || !b.query.isEmpty {
            s.fill(CellRect(x: 0, y: y, width: w, height: 1), style: t[.search])
            s.put(" / \(b.query)", x: 0, y: y, style: t[.search])
            if b.editingSearch { s.cursor = (min(w - 1, 3 + b.query.count), y) }
            s.put(b.editingSearch ? "Enter keeps · Esc clears" : "Esc clears", x: max(0, w - 26), y: y, style: t[.search])
        } else {
            s.put(" ↑↓ move  Enter open  / search  s sort  M triage  F filter  R run all  ? help  q quit",
                  x: 0, y: y, style: t[.dim], maxWidth: w)
        }
    }
}
