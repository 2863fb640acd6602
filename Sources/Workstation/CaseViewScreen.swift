import Foundation

/// The case view: the image pane (left) with the boxes, the details and the box list (right).
enum CaseViewScreen {
    static func layout(width: Int, height: Int) -> (pane: CellRect, side: CellRect) {
        let sideW = min(44, max(24, width / 3))
        let pane = CellRect(x: 0, y: 1, width: width - sideW, height: height - 2)
        let side = CellRect(x: width - sideW, y: 1, width: sideW, height: height - 2)
        return (pane, side)
    }

    static func draw(_ cv: CaseViewState, browser b: Browser, into s: inout Screen) {
        let t = b.theme
        let sum = cv.detail.summary
        s.fill(CellRect(x: 0, y: 0, width: s.width, height: 1), style: t[.title])
        var x = s.put(" \(sum.id)", x: 0, y: 0, style: t[.title])
        if let l = sum.label { x += s.put("  \(l)", x: x, y: 0, style: Style(fg: t[sum.labelRole].fg, bg: t[.title].bg, bold: true)) }
        let rest = [sum.subtype, sum.ageSex, sum.site].compactMap { $0 }.joined(separator: " · ")
        s.put("  \(rest)", x: x, y: 0, style: t[.title], maxWidth: s.width - x - 8)
        s.put("? help", x: s.width - 7, y: 0, style: t[.title])

        let (pane, side) = layout(width: s.width, height: s.height)
        let v = cv.view
        let title = cv.loaded == nil ? (cv.error == nil ? "decoding" : "no image")
            : String(format: "C %.0f W %.0f %@ · zoom %.2fx%@", v.window.center, v.window.width, cv.presetName,
                     v.zoom, v.invert ? " · inverted" : "")
        s.frame(pane, style: t[.border], title: title, titleStyle: t[.header])
        let inner = CellRect(x: pane.x + 1, y: pane.y + 1, width: pane.width - 2, height: pane.height - 2)
        if let img = cv.loaded {
            do {
                try b.pane.draw(img.image, id: sum.id, boxes: cv.detail.boxes, view: v, in: inner,
                                graphics: b.graphics, theme: t, into: &s)
            } catch {
                s.put("cannot draw: \(error)", x: inner.x + 1, y: inner.y + 1, style: t[.error], maxWidth: inner.width - 2)
            }
        } else if let e = cv.error {
            s.put(e, x: inner.x + 1, y: inner.y + 1, style: t[.error], maxWidth: inner.width - 2)
        } else {
            s.put("decoding…", x: inner.x + 1, y: inner.y + 1, style: t[.dim])
        }

        // Details.
        let detailsH = min(cv.detail.details.count + 2, side.height / 2)
        let dRect = CellRect(x: side.x, y: side.y, width: side.width, height: detailsH)
        s.frame(dRect, style: t[.border], title: "Details", titleStyle: t[.header])
        for (k, (name, value)) in cv.detail.details.prefix(detailsH - 2).enumerated() {
            s.put(fit(name, 9), x: dRect.x + 2, y: dRect.y + 1 + k, style: t[.dim])
            let role: Role = name == "Label" ? Role.forLabel(value) : .text
            s.put(value, x: dRect.x + 11, y: dRect.y + 1 + k, style: t[role], maxWidth: dRect.width - 13)
        }

        // Boxes.
        let bRect = CellRect(x: side.x, y: side.y + detailsH, width: side.width, height: side.height - detailsH - 4)
        s.frame(bRect, style: t[.border], title: "Boxes (\(cv.detail.boxes.count))\(v.showBoxes ? "" : " hidden")", titleStyle: t[.header])
        if cv.detail.boxes.isEmpty {
            s.put("none", x: bRect.x + 2, y: bRect.y + 1, style: t[.dim])
        }
        for (k, box) in cv.detail.boxes.prefix(max(0, bRect.height - 2)).enumerated() {
            let r = box.rect
            let line = "\(box.label) \(r.x),\(r.y) \(r.width)x\(r.height)"
            let style = cv.selectedBox == k ? t[.selection] : t[box.role]
            s.put(line, x: bRect.x + 2, y: bRect.y + 1 + k, style: style, maxWidth: bRect.width - 4)
        }

        // Image facts and hints.
        let y = side.y + side.height - 4
        if let img = cv.loaded?.image {
            s.put("\(img.width)x\(img.height) \(img.colour) \(img.bitDepth)-bit", x: side.x + 1, y: y, style: t[.dim], maxWidth: side.width - 2)
        }
        if let f = b.lastFrame {
            let kb = f.bytes > 0 ? String(format: " %.1f KB", Double(f.bytes) / 1024) : ""
            s.put("\(f.mode) \(f.pixelWidth)x\(f.pixelHeight)px\(kb) \(String(format: "%.1f", f.milliseconds)) ms",
                  x: side.x + 1, y: y + 1, style: t[.dim], maxWidth: side.width - 2)
        }
        s.put("+/- zoom ←↑↓→ pan w/W c/C 1-4 window", x: side.x + 1, y: y + 2, style: t[.dim], maxWidth: side.width - 2)
        s.put("Tab box  b boxes  n/p case  Esc back", x: side.x + 1, y: y + 3, style: t[.dim], maxWidth: side.width - 2)
    }
}
