/// Every key on one screen, printed from `KeyMap`: the lines flow into as many columns as the
/// window's height needs (two at 80x24), help texts clipped to the column.
enum HelpScreen {
    enum Line { case header(String), binding(Binding), blank }

    static func draw(into s: inout Screen, theme t: Theme) {
        s.fill(CellRect(x: 0, y: 0, width: s.width, height: 1), style: t[.title])
        s.put(" TumorBoard · keys (any key closes this)", x: 0, y: 0, style: t[.title])
        var lines: [Line] = []
        for context in KeyContext.allCases {
            if !lines.isEmpty { lines.append(.blank) }
            lines.append(.header(context.rawValue))
            lines += KeyMap.bindings.filter { $0.context == context }.map { .binding($0) }
        }
        let top = 1, rows = max(1, s.height - 2)
        let columns = (lines.count + rows - 1) / rows + 1
        let colW = max(20, s.width / max(1, min(columns, s.width / 20)))
        let namesW = min(11, max(10, colW / 3))
        var x = 1, y = top
        for line in lines {
            // A group starts in the next column rather than on a column's last rows.
            if case .header = line, y + 2 > top + rows - 1, y > top { x += colW; y = top }
            if case .blank = line, y == top { continue }
            if y >= top + rows { x += colW; y = top }
            defer { y += 1 }
            switch line {
            case .header(let h): s.put(h, x: x, y: y, style: t[.header], maxWidth: colW - 2)
            case .binding(let b):
                s.put(fit(b.names, namesW), x: x + 1, y: y, style: t[.key])
                s.put(fit(b.help, colW - namesW - 3), x: x + namesW + 2, y: y, style: t[.text])
            case .blank: break
            }
        }
    }
}
