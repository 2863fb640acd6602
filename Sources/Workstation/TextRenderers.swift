/// The two text rungs of the ladder: colour half blocks and ASCII shades. Both turn a
/// `PaneRaster` into cells of the screen model, so tests can check them cell by cell.

public enum HalfBlockRenderer {
    /// One cell per raster column and per two raster rows: "▀" with the upper pixel as the
    /// foreground and the lower as the background (xterm-256 colours).
    public static func draw(_ raster: PaneRaster, into screen: inout Screen, at origin: CellRect) {
        let rows = min(origin.height, (raster.height + 1) / 2), cols = min(origin.width, raster.width)
        var cache: [UInt32: TermColor] = [:]
        func colour(_ x: Int, _ y: Int) -> TermColor {
            guard y < raster.height else { return .index(16) }
            let p = raster.pixel(x, y)
            let key = UInt32(p.r) << 16 | UInt32(p.g) << 8 | UInt32(p.b)
            if let c = cache[key] { return c }
            let c = TermColor.nearest(r: Int(p.r), g: Int(p.g), b: Int(p.b))
            cache[key] = c
            return c
        }
        for cy in 0..<rows {
            for cx in 0..<cols {
                screen[origin.x + cx, origin.y + cy] = Cell("▀", Style(fg: colour(cx, 2 * cy), bg: colour(cx, 2 * cy + 1)))
            }
        }
    }
}

public enum AsciiRenderer {
    /// Ten shades, dark to light (Paul Bourke's short ramp).
    public static let ramp: [Character] = [" ", ".", ":", "-", "=", "+", "*", "#", "%", "@"]

    public static func shade(_ luma: Int) -> Character {
        ramp[min(ramp.count - 1, max(0, luma * ramp.count / 256))]
    }

    /// One cell per raster pixel; the luminance (Rec. 601) picks the shade. Boxes are drawn as
    /// character outlines (+ - |) in their role's style, since shades cannot carry colour.
    public static func draw(_ raster: PaneRaster, into screen: inout Screen, at origin: CellRect, theme: Theme) {
        let style = theme[.text]
        // Shades carry no colour: heat at or above `HeatOverlay.asciiMark` is shown in the
        // heatmap role's colour (the pane's legend says so).
        let hot = Style(fg: theme[.heatmap].fg, bg: theme[.text].bg, bold: true)
        let rows = min(origin.height, raster.height), cols = min(origin.width, raster.width)
        for y in 0..<rows {
            for x in 0..<cols {
                let p = raster.pixel(x, y)
                let luma = (Int(p.r) * 299 + Int(p.g) * 587 + Int(p.b) * 114) / 1000
                let marked = (raster.heat?[y * raster.width + x] ?? 0) >= HeatOverlay.asciiMark
                screen[origin.x + x, origin.y + y] = Cell(shade(luma), marked ? hot : style)
            }
        }
    }
}

/// Box outlines and labels as text over a text-mode image (blocks or ASCII): `raster` boxes
/// are in raster pixels; `rowsPerCell` is 2 for half blocks, 1 for ASCII.
enum TextBoxOverlay {
    static func draw(_ raster: PaneRaster, rowsPerCell: Int, outlines: Bool, into screen: inout Screen,
                     at origin: CellRect, theme: Theme) {
        for (rect, box) in raster.boxes {
            let style = theme[box.role]
            let x0 = rect.x, x1 = rect.x1 - 1
            let y0 = rect.y / rowsPerCell, y1 = (rect.y1 - 1) / rowsPerCell
            func set(_ x: Int, _ y: Int, _ ch: Character) {
                guard x >= 0, x < origin.width, y >= 0, y < origin.height else { return }
                screen[origin.x + x, origin.y + y] = Cell(ch, style)
            }
            if outlines {
                // Reference boxes dotted, the model's solid.
                let (h, v): (Character, Character) = box.dashed ? (".", ":") : ("-", "|")
                for x in x0...max(x0, x1) { set(x, y0, h); set(x, y1, h) }
                for y in y0...max(y0, y1) { set(x0, y, v); set(x1, y, v) }
                set(x0, y0, "+"); set(x1, y0, "+"); set(x0, y1, "+"); set(x1, y1, "+")
            }
            // The model's label sits on the row above the box (inside its top row when there is no
            // room), a reference box's label on the row below it, so both stay readable.
            let ly = box.dashed ? (y1 + 1 < origin.height ? y1 + 1 : y1) : (y0 > 0 ? y0 - 1 : y0)
            let label = box.label
            let lx = max(0, min(x0, origin.width - label.count))
            for (i, ch) in label.enumerated() { set(lx + i, ly, ch) }
        }
    }
}
