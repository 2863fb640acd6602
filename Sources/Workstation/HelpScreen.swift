/// Every key on one screen, printed from `KeyMap`.
enum HelpScreen {
    static func draw(into s: inout Screen, theme t: Theme) {
        s.fill(CellRect(x: 0, y: 0, width: s.width, height: 1), style: t[.title])
        s.put(" TumorBoard · keys (any key closes this)", x: 0, y: 0, style: t[.title])
        // Two columns when the window is wide enough.
        let colW = s.width >= 110 ? s.width / 2 : s.width
        var x = 1, y = 2
        for context in KeyContext.allCases {
            let group = KeyMap.bindings.filter { $0.context == context }
            if y + 2 > s.height - 2 { x += colW; y = 2 }
            s.put(context.rawValue, x: x, y: y, style: t[.header]); y += 1
            for b in group {
                if y >= s.height - 1 { x += colW; y = 2; if x >= s.width { return } }
                s.put(fit(b.names, 11), x: x + 1, y: y, style: t[.key])
                s.put(b.help, x: x + 13, y: y, style: t[.text], maxWidth: colW - 14)
                y += 1
            }
            y += 1
        }
    }
}
