/// The bottom line: the image mode in use and why, the theme, and the last message.
enum StatusBar {
    static func draw(_ b: Browser, into s: inout Screen) {
        let y = s.height - 1, t = b.theme
        s.fill(CellRect(x: 0, y: y, width: s.width, height: 1), style: t[.status])
        let g = b.graphics
        let left = " \(g.mode) · \(g.cellSize)px cells · theme \(t.name)"
        var x = s.put(left, x: 0, y: y, style: t[.status])
        if let m = b.message {
            x += s.put("  ", x: x, y: y, style: t[.status])
            s.put(" \(m.text) ", x: x, y: y, style: m.error ? t[.error] : t[.status], maxWidth: s.width - x)
        } else {
            s.put("  (\(g.reason))", x: x, y: y, style: t[.status], maxWidth: s.width - x)
        }
    }
}
