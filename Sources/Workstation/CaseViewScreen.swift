import Diagnosis
import Foundation

/// The case view: the image pane (left) with the model's boxes, the reference boxes and the
/// heatmap; the side panel (right) with the diagnosis and everything the model read.
enum CaseViewScreen {
    static func layout(width: Int, height: Int) -> (pane: CellRect, side: CellRect) {
        let sideW = min(60, max(34, width * 2 / 5))
        let pane = CellRect(x: 0, y: 1, width: width - sideW, height: height - 2)
        let side = CellRect(x: width - sideW, y: 1, width: sideW, height: height - 2)
        return (pane, side)
    }

    static func draw(_ cv: CaseViewState, browser b: Browser, into s: inout Screen) {
        let t = b.theme
        let sum = cv.detail.summary
        s.fill(CellRect(x: 0, y: 0, width: s.width, height: 1), style: t[.title])
        var x = s.put(" \(sum.id)", x: 0, y: 0, style: t[.title])
        if let l = sum.label { x += s.put("  truth \(l)", x: x, y: 0, style: Style(fg: t[sum.labelRole].fg, bg: t[.title].bg, bold: true)) }
        let rest = [sum.subtype, sum.ageSex, sum.site].compactMap { $0 }.joined(separator: " · ")
        s.put("  \(rest)", x: x, y: 0, style: t[.title], maxWidth: s.width - x - 8)
        s.put("? help", x: s.width - 7, y: 0, style: t[.title])

        let (pane, side) = layout(width: s.width, height: s.height)
        drawPane(cv, browser: b, pane: pane, into: &s)
        drawSide(cv, browser: b, side: side, into: &s)
    }

    static func drawPane(_ cv: CaseViewState, browser b: Browser, pane: CellRect, into s: inout Screen) {
        let t = b.theme
        let slide = cv.showingSlide
        let image = slide ? cv.slide : cv.loaded
        let v = slide ? cv.slideView : cv.view
        let heat = b.heatOverlay(for: cv)
        var title: String
        if let _ = image {
            title = String(format: "%@C %.0f W %.0f%@ · zoom %.2fx%@", slide ? "slide · " : "", v.window.center, v.window.width,
                           slide ? "" : " " + cv.presetName, v.zoom, v.invert ? " · inverted" : "")
            if heat != nil { title += " · heatmap" }
        } else {
            title = (slide ? cv.slideError : cv.error) == nil ? "decoding" : "no image"
        }
        s.frame(pane, style: t[.border], title: title, titleStyle: t[.header])
        let inner = CellRect(x: pane.x + 1, y: pane.y + 1, width: pane.width - 2, height: pane.height - 2)
        if let img = image {
            do {
                try b.pane.draw(img.image, id: cv.detail.summary.id + (slide ? "/slide" : ""),
                                boxes: slide ? [] : Browser.boxes(for: cv, showTruth: b.showTruth),
                                view: v, in: inner, graphics: b.graphics, theme: t, heat: heat, into: &s)
            } catch {
                s.put("cannot draw: \(error)", x: inner.x + 1, y: inner.y + 1, style: t[.error], maxWidth: inner.width - 2)
            }
        } else if let e = slide ? cv.slideError : cv.error {
            s.put(e, x: inner.x + 1, y: inner.y + 1, style: t[.error], maxWidth: inner.width - 2)
        } else {
            s.put("decoding…", x: inner.x + 1, y: inner.y + 1, style: t[.dim])
        }
        if heat != nil { drawLegend(mode: b.graphics.mode, theme: t, y: pane.y + pane.height - 1, x: pane.x + 2, width: pane.width - 4, into: &s) }
    }

    /// The heatmap's legend on the pane's bottom edge: a colour ramp, or for ASCII (no colour
    /// blend) what the coloured cells mean.
    static func drawLegend(mode: GraphicsMode, theme t: Theme, y: Int, x: Int, width: Int, into s: inout Screen) {
        if mode == .ascii {
            s.put(" heat ≥ \(Int(HeatOverlay.asciiMark * 100))% of max: coloured cells ", x: x, y: y,
                  style: Style(fg: t[.heatmap].fg, bg: t[.border].bg, bold: true), maxWidth: width)
            return
        }
        var cx = x + s.put(" Grad-CAM low ", x: x, y: y, style: t[.dim], maxWidth: width)
        let hot = PaneRasterizer.rgbOf(t[.heatmap].fg, fallback: (255, 0, 0)), cool = PaneRasterizer.rgbOf(t[.heatmap].bg, fallback: (0, 0, 255))
        for k in 0..<6 where cx < x + width {
            let h = Double(k + 1) / 6
            func mix(_ a: UInt8, _ b: UInt8) -> Int { Int(Double(a) + (Double(b) - Double(a)) * h) }
            s[cx, y] = Cell("█", Style(fg: TermColor.nearest(r: mix(cool.0, hot.0), g: mix(cool.1, hot.1), b: mix(cool.2, hot.2)), bg: t[.border].bg))
            cx += 1
        }
        s.put(" high ", x: cx, y: y, style: t[.dim], maxWidth: x + width - cx)
    }

    static func drawSide(_ cv: CaseViewState, browser b: Browser, side: CellRect, into s: inout Screen) {
        let t = b.theme
        s.frame(side, style: t[.border])
        let innerW = side.width - 3
        let sections = cv.tutor.map { TutorPanel.sections(cv, tutor: $0, browser: b, width: innerW) }
            ?? DiagnosisPanel.sections(cv, browser: b, width: innerW)
        // Lay the sections out as one column of rows; the panel shows rows from sideTop.
        var lines: [(DiagnosisPanel.Row, isHeader: Bool)] = []
        var starts: [Int] = []
        for sec in sections {
            starts.append(lines.count)
            let title = sec.title
            lines.append(({ sc, x, y, w in
                sc.put("─ \(title) " + String(repeating: "─", count: max(0, w - title.count - 3)), x: x - 1, y: y, style: t[.header], maxWidth: w + 1)
            }, true))
            lines += sec.rows.map { ($0, false) }
        }
        b.sideSections = starts
        let rows = side.height - 3    // the frame, and the hint line
        let top = max(0, min(cv.sideTop, max(0, lines.count - rows)))
        for (k, line) in lines.dropFirst(top).prefix(rows).enumerated() {
            line.0(&s, side.x + 2, side.y + 1 + k, innerW)
        }
        let more = lines.count - top - rows
        let hintY = side.y + side.height - 2
        let hint = more > 0 ? "▼ ] more (\(more) rows)  m heat  s slide  ?" : (top > 0 ? "▲ [ back  m heat  s slide  T truth  ?" : "P slide  L lab  N note  S sign  u tutor  ?")
        s.put(hint, x: side.x + 2, y: hintY, style: t[.dim], maxWidth: innerW)
    }
}
