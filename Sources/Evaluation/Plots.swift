import Foundation
import Imaging

/// Small line and grid plots for the evaluation report, drawn into an RGB image and written
/// with libpng: white ground, axes 0...1 with ticks at 0.2, labels in the pixel font.
struct PlotCanvas {
    let width: Int, height: Int
    var rgb: [UInt8]
    /// The plotting area, pixels.
    let left = 70, top = 56, right = 30, bottom = 60
    var plotW: Int { width - left - right }
    var plotH: Int { height - top - bottom }

    typealias RGB = (UInt8, UInt8, UInt8)
    static let ink: RGB = (20, 20, 20), grid: RGB = (225, 225, 225)
    static let series: [RGB] = [(44, 123, 182), (230, 145, 30), (200, 40, 40), (90, 160, 60)]

    init(width: Int = 640, height: Int = 520) {
        self.width = width; self.height = height
        rgb = [UInt8](repeating: 255, count: width * height * 3)
    }

    mutating func set(_ x: Int, _ y: Int, _ c: RGB) {
        guard x >= 0, x < width, y >= 0, y < height else { return }
        let d = (y * width + x) * 3
        rgb[d] = c.0; rgb[d + 1] = c.1; rgb[d + 2] = c.2
    }

    /// Data (0...1, 0...1) to pixels.
    func px(_ x: Double, _ y: Double) -> (Int, Int) {
        (left + Int((min(1, max(0, x)) * Double(plotW)).rounded()), top + plotH - Int((min(1, max(0, y)) * Double(plotH)).rounded()))
    }

    mutating func line(_ a: (Int, Int), _ b: (Int, Int), _ c: RGB, thickness: Int = 1, dashed: Bool = false) {
        var (x0, y0) = a
        let (x1, y1) = b
        let dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var err = dx + dy, n = 0
        while true {
            if !dashed || (n / 6) % 2 == 0 {
                for t in 0..<thickness { set(x0, y0 + t, c); set(x0 + t, y0, c) }
            }
            n += 1
            if x0 == x1 && y0 == y1 { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x0 += sx }
            if e2 <= dx { err += dx; y0 += sy }
        }
    }

    mutating func fill(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: RGB) {
        for y in min(y0, y1)..<max(y0, y1) { for x in min(x0, x1)..<max(x0, x1) { set(x, y, c) } }
    }

    mutating func text(_ s: String, _ x: Int, _ y: Int, scale: Int = 2, colour: RGB = ink, plate: RGB = (255, 255, 255)) {
        PixelFont.draw(s.uppercased(), into: &rgb, width: width, height: height, x: x, y: y, scale: scale, colour: colour, plate: plate)
    }

    /// Grid, axes, ticks, title and axis names.
    mutating func frame(title: String, x: String, y: String) {
        for k in 0...5 {
            let v = Double(k) / 5
            line(px(v, 0), px(v, 1), Self.grid); line(px(0, v), px(1, v), Self.grid)
            let (tx, _) = px(v, 0), (_, ty) = px(0, v)
            text(String(format: "%.1f", v), tx - 10, top + plotH + 8)
            text(String(format: "%.1f", v), left - 40, ty - 6)
        }
        line(px(0, 0), px(1, 0), Self.ink, thickness: 2); line(px(0, 0), px(0, 1), Self.ink, thickness: 2)
        text(title, left, 8)
        text(x, left + plotW / 2 - PixelFont.textWidth(x, scale: 2) / 2, height - 26)
        text(y, 4, top - 22)
    }

    mutating func polyline(_ points: [[Double]], _ c: RGB, dashed: Bool = false) {
        for (a, b) in zip(points, points.dropFirst()) { line(px(a[0], a[1]), px(b[0], b[1]), c, thickness: 2, dashed: dashed) }
    }

    mutating func legend(_ entries: [(String, RGB)]) {
        for (k, (name, c)) in entries.enumerated() {
            let y = top + 10 + k * 18
            fill(left + plotW - 190, y + 3, left + plotW - 170, y + 8, c)
            text(name, left + plotW - 165, y)
        }
    }

    func write(to url: URL) throws {
        try Image(width: width, height: height, colour: .rgb, pixels: rgb).writePNG(to: url)
    }
}

enum Plots {
    static func prCurve(_ d: EvalReport.Detection) -> PlotCanvas {
        var c = PlotCanvas()
        c.frame(title: String(format: "Detection: precision-recall, AP50 %.3f", d.map50 ?? .nan), x: "recall", y: "precision")
        c.polyline(d.prCurve, PlotCanvas.series[0])
        let (x, y) = c.px(d.recall, d.precision)
        c.fill(x - 4, y - 4, x + 5, y + 5, PlotCanvas.series[2])
        c.legend([("all candidates", PlotCanvas.series[0]), (String(format: "operating %.3f", d.operatingThreshold ?? .nan), PlotCanvas.series[2])])
        return c
    }

    static func roc(_ row: EvalReport.Classification) -> PlotCanvas {
        var c = PlotCanvas()
        c.frame(title: "ROC, one vs rest: " + row.name, x: "false positive rate", y: "true positive rate")
        c.polyline([[0, 0], [1, 1]], PlotCanvas.grid, dashed: true)
        var entries: [(String, PlotCanvas.RGB)] = []
        for (k, pts) in row.roc.enumerated() where !pts.isEmpty {
            c.polyline(pts, PlotCanvas.series[k])
            entries.append((EvalReport.classes[k] + (row.auc[k].map { String(format: " %.3f", $0) } ?? ""), PlotCanvas.series[k]))
        }
        c.legend(entries)
        return c
    }

    static func reliability(_ row: EvalReport.Classification) -> PlotCanvas {
        var c = PlotCanvas()
        c.frame(title: String(format: "Reliability, 15 bins, ECE %.3f", row.ece15Shown ?? row.ece15), x: "confidence", y: "accuracy")
        c.polyline([[0, 0], [1, 1]], PlotCanvas.ink, dashed: true)
        for (k, b) in row.reliability.enumerated() where b[2] > 0 {
            let (x0, y0) = c.px(Double(k) / 15 + 0.005, 0), (x1, y1) = c.px(Double(k + 1) / 15 - 0.005, b[1])
            c.fill(x0, y0, x1, y1, PlotCanvas.series[0])
            let (cx, cy) = c.px(b[0], b[0])
            c.fill(cx - 2, cy - 2, cx + 3, cy + 3, PlotCanvas.series[2])
        }
        c.legend([("accuracy", PlotCanvas.series[0]), ("mean confidence", PlotCanvas.series[2])])
        return c
    }

    static func confusion(_ row: EvalReport.Classification) -> PlotCanvas {
        var c = PlotCanvas(width: 560, height: 520)
        c.text("Confusion: " + row.name, 10, 10)
        let n = 3, cell = 120, x0 = 170, y0 = 90
        let maxCount = max(1, row.confusion.flatMap { $0 }.max() ?? 1)
        for i in 0..<n {
            for j in 0..<n {
                let v = row.confusion[i][j]
                let shade = UInt8(255 - min(215, 215 * v / maxCount))
                c.fill(x0 + j * cell, y0 + i * cell, x0 + (j + 1) * cell - 2, y0 + (i + 1) * cell - 2, (shade, shade, 255))
                let s = "\(v)"
                c.text(s, x0 + j * cell + cell / 2 - PixelFont.textWidth(s, scale: 3) / 2, y0 + i * cell + cell / 2 - 9, scale: 3,
                       colour: shade < 130 ? (255, 255, 255) : PlotCanvas.ink, plate: (shade, shade, 255))
            }
            let name = String(EvalReport.classes[i].prefix(6))
            c.text(name, 20, y0 + i * cell + cell / 2 - 6)
            c.text(name, x0 + i * cell + 10, y0 + n * cell + 10)
        }
        c.text("truth (rows)", 20, y0 - 30)
        c.text("predicted (columns)", x0, y0 + n * cell + 40)
        return c
    }
}
