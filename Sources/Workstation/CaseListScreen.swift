/// The case list: counts, column headers, one row a case, the search line.
enum CaseListScreen {
    static let columns: [(title: String, width: Int)] = [("ID", 18), ("Age/Sex", 8), ("Label", 13), ("Subtype", 26), ("Boxes", 6)]

    static func draw(_ b: Browser, into s: inout Screen) {
        let t = b.theme
        let w = s.width
        s.fill(CellRect(x: 0, y: 0, width: w, height: 1), style: t[.title])
        s.put(" TumorBoard · \(b.source.title)", x: 0, y: 0, style: t[.title], maxWidth: w - 10)
        s.put("? help", x: w - 7, y: 0, style: t[.title])

        // Counts: the whole folder by label, then what the search leaves.
        var x = 1
        x += s.put("\(b.all.count) cases", x: x, y: 1, style: t[.header])
        for label in ["normal", "benign", "intermediate", "malignant"] {
            let n = b.all.filter { $0.label == label }.count
            if n == 0 { continue }
            x += s.put(" · ", x: x, y: 1, style: t[.dim])
            x += s.put("\(label) \(n)", x: x, y: 1, style: t[Role.forLabel(label)])
        }
        let unknown = b.all.filter { $0.label == nil }.count
        if unknown > 0 { x += s.put(" · unlabelled \(unknown)", x: x, y: 1, style: t[.dim]) }
        let arrow = b.ascending ? "↑" : "↓"
        s.put(" │ showing \(b.visible.count) │ sort \(b.sortKey.rawValue) \(arrow)", x: x, y: 1, style: t[.dim])

        // Header row.
        var cx = 1
        for (title, width) in columns {
            s.put(fit(title, width), x: cx, y: 2, style: t[.header])
            cx += width
        }
        s.put("Site", x: cx, y: 2, style: t[.header], maxWidth: w - cx)

        let top = 3, rows = s.height - 5
        let first = b.scrollTop(rows: rows)
        if b.visible.isEmpty {
            s.put(b.all.isEmpty ? "No cases here." : "No case matches \"\(b.query)\" (Esc clears the search).",
                  x: 2, y: top + 1, style: t[.dim])
        }
        for r in 0..<rows {
            let i = first + r
            guard i < b.visible.count else { break }
            let c = b.all[b.visible[i]]
            let isSel = i == b.selected
            let base = isSel ? t[.selection] : t[.text]
            s.fill(CellRect(x: 0, y: top + r, width: w, height: 1), style: base)
            var x = 1
            let cells = [c.id, c.ageSex, c.label ?? "—", c.subtype ?? "", c.boxCount > 0 ? "\(c.boxCount)" : ""]
            for (k, (_, width)) in columns.enumerated() {
                let style = (k == 2 && !isSel) ? t[c.labelRole] : base
                s.put(fit(cells[k], width - 1), x: x, y: top + r, style: style)
                x += width
            }
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
            s.put(" ↑↓ move  Enter open  / search  s sort  r reverse  t theme  g image mode  ? help  q quit",
                  x: 0, y: y, style: t[.dim], maxWidth: w)
        }
    }
}
