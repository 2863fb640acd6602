import Foundation
import Imaging

/// The radiograph as the report shows it: grey, the Grad-CAM heatmap blended inside its box
/// (inferno colour map), every model box outlined with its detector score, the classified lesion
/// in its class's colour, and a legend strip below the picture (so nothing of the radiograph is
/// hidden; source pixel (x, y) is canvas pixel (x, y)). RGB, 8-bit, written with libpng.
public struct AnnotatedRadiograph: Sendable {
    public typealias RGB = (UInt8, UInt8, UInt8)

    /// The canvas: the radiograph's width; its height plus the legend strip.
    public let width: Int, height: Int
    public let radiographHeight: Int
    public private(set) var rgb: [UInt8]

    // The default theme's colours (themes/, xterm 81, 150, 179, 203), so the report and the
    // workstation's case view agree.
    public static let modelBoxColour: RGB = (95, 215, 255)
    public static func classColour(_ name: String) -> RGB {
        switch name {
        case "benign": return (175, 215, 135)
        case "intermediate": return (215, 175, 95)
        case "malignant": return (255, 95, 95)
        default: return (255, 255, 255)
        }
    }
    public static let legendBackground: RGB = (24, 24, 24)

    /// Heat below this (of the map's maximum) is not drawn: it would only tint the bone.
    public static let heatFloor: Float = 0.15
    /// How much of the colour map covers the grey where heat is drawn.
    public static let heatOpacity: Float = 0.6

    /// matplotlib's inferno at nine even stops (dark purple, red, orange, pale yellow): perceptually
    /// uniform and readable in grey print, so "hotter" is also "lighter".
    static let inferno: [(Float, Float, Float)] = [
        (0, 0, 4), (31, 12, 72), (85, 15, 109), (136, 34, 106), (186, 54, 85),
        (227, 89, 51), (249, 140, 10), (249, 201, 50), (252, 255, 164),
    ]

    /// The colour map at `h` in 0...1 (clamped), linear between the stops.
    public static func heatColour(_ h: Float) -> RGB {
        let v = h.isFinite ? min(1, max(0, h)) : 0
        let t = v * Float(inferno.count - 1)
        let i = min(inferno.count - 2, Int(t)), f = t - Float(i)
        let a = inferno[i], b = inferno[i + 1]
        func mix(_ p: Float, _ q: Float) -> UInt8 { UInt8(clamping: Int((p + (q - p) * f).rounded())) }
        return (mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }

    /// A radiograph pixel under heat `h` (0...1 of the map's maximum): unchanged below the floor.
    public static func blend(_ base: RGB, heat h: Float) -> RGB {
        guard h.isFinite, h >= heatFloor else { return base }
        let c = heatColour(h), a = heatOpacity
        func mix(_ p: UInt8, _ q: UInt8) -> UInt8 { UInt8(clamping: Int((Float(p) * (1 - a) + Float(q) * a).rounded())) }
        return (mix(base.0, c.0), mix(base.1, c.1), mix(base.2, c.2))
    }

    /// `radiograph` as decoded for the models (`CaseFolder.decodeImage`: for DICOM the display
    /// image); `findings` for that radiograph (their size must match).
    public init(radiograph: Image, findings: Findings) throws(CaseReportError) {
        guard radiograph.width == findings.width, radiograph.height == findings.height else {
            throw CaseReportError("the findings are for a \(findings.width) x \(findings.height) radiograph, this one is \(radiograph.width) x \(radiograph.height): not the image that was diagnosed")
        }
        let grey = Preprocessing.grey8(radiograph)
        guard case .eightBit(let g) = grey.samples, grey.colour == .grey else {
            throw CaseReportError("the radiograph could not be made 8-bit grey")
        }
        let w = grey.width, h = grey.height
        let side = min(w, h)
        scale = max(1, side / 160)
        thickness = max(1, side / 256)
        width = w
        radiographHeight = h
        let heatRect = Self.heatRect(findings.heatmap, width: w, height: h)
        let legend = Self.legendRows(findings, heat: heatRect != nil, width: w, height: h, scale: scale)
        height = h + legend.count * (PixelFont.height * scale + 2 + 2 * scale) + 2 * scale
        rgb = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(w * h) { rgb[3 * i] = g[i]; rgb[3 * i + 1] = g[i]; rgb[3 * i + 2] = g[i] }
        heatDrawn = heatRect != nil
        if let heatRect { drawHeat(findings.heatmap, over: heatRect) }
        for d in findings.detections {
            // The classified lesion is the top detection: drawn once, in its class's colour.
            guard d != findings.lesion, let r = Self.pixelRect(d.box, width: w, height: h) else { continue }
            outline(r, Self.modelBoxColour, label: String(format: "%.2f", d.score))
        }
        if let l = findings.lesion, let r = Self.pixelRect(l.box, width: w, height: h) {
            outline(r, Self.classColour(findings.predicted), label: findings.predicted.uppercased() + String(format: " %.2f", l.score))
        }
        drawLegend(legend)
    }

    let scale: Int, thickness: Int
    /// False when the findings' heatmap had no usable grid or box.
    public let heatDrawn: Bool

    public func pixel(x: Int, y: Int) -> RGB? {
        guard x >= 0, x < width, y >= 0, y < height else { return nil }
        let d = (y * width + x) * 3
        return (rgb[d], rgb[d + 1], rgb[d + 2])
    }

    public func image() throws(ImagingError) -> Image { try Image(width: width, height: height, colour: .rgb, pixels: rgb) }

    // MARK: drawing

    mutating func set(_ x: Int, _ y: Int, _ c: RGB) {
        guard x >= 0, x < width, y >= 0, y < height else { return }
        let d = (y * width + x) * 3
        rgb[d] = c.0; rgb[d + 1] = c.1; rgb[d + 2] = c.2
    }

    struct Rect: Equatable { var x0: Int, y0: Int, x1: Int, y1: Int }

    /// A box in source pixels (x1, y1 exclusive) as whole pixels, outwards, clipped to the
    /// radiograph; nil when malformed or outside it (a kept result is data, not a promise).
    static func pixelRect(_ b: [Double], width: Int, height: Int) -> Rect? {
        guard b.count == 4, b.allSatisfy(\.isFinite) else { return nil }
        func clamp(_ v: Double, _ limit: Int) -> Int { Int(min(Double(limit), max(0, v))) }
        let r = Rect(x0: clamp(b[0].rounded(.down), width), y0: clamp(b[1].rounded(.down), height),
                     x1: clamp(b[2].rounded(.up), width), y1: clamp(b[3].rounded(.up), height))
        return r.x0 < r.x1 && r.y0 < r.y1 ? r : nil
    }

    /// The pixels the heatmap covers, or nil when its grid or box cannot be drawn.
    static func heatRect(_ heat: Heatmap, width: Int, height: Int) -> Rect? {
        guard heat.width > 0, heat.height > 0, heat.values.count == heat.width * heat.height, heat.values.allSatisfy(\.isFinite),
              heat.box.count == 4, heat.box[2] > heat.box[0], heat.box[3] > heat.box[1] else { return nil }
        return pixelRect(heat.box, width: width, height: height)
    }

    /// Grad-CAM normalised to its maximum, bilinear between cell centres (as the workstation's
    /// overlay), sampled at each pixel's centre inside the heatmap's box.
    mutating func drawHeat(_ heat: Heatmap, over r: Rect) {
        let gw = heat.width, gh = heat.height
        let v = GradCAM.normalised(heat.values.map { max(0, $0) })
        let bx0 = heat.box[0], by0 = heat.box[1], bw = heat.box[2] - heat.box[0], bh = heat.box[3] - heat.box[1]
        for y in r.y0..<r.y1 {
            let sy = Double(y) + 0.5
            guard sy >= by0, sy < by0 + bh else { continue }
            let gy = min(Double(gh - 1), max(0, (sy - by0) / bh * Double(gh) - 0.5))
            let iy = Int(gy), jy = min(gh - 1, iy + 1), fy = Float(gy - Double(iy))
            for x in r.x0..<r.x1 {
                let sx = Double(x) + 0.5
                guard sx >= bx0, sx < bx0 + bw else { continue }
                let gx = min(Double(gw - 1), max(0, (sx - bx0) / bw * Double(gw) - 0.5))
                let ix = Int(gx), jx = min(gw - 1, ix + 1), fx = Float(gx - Double(ix))
                let top = v[iy * gw + ix] * (1 - fx) + v[iy * gw + jx] * fx
                let bottom = v[jy * gw + ix] * (1 - fx) + v[jy * gw + jx] * fx
                let d = (y * width + x) * 3
                let c = Self.blend((rgb[d], rgb[d + 1], rgb[d + 2]), heat: top * (1 - fy) + bottom * fy)
                rgb[d] = c.0; rgb[d + 1] = c.1; rgb[d + 2] = c.2
            }
        }
    }

    mutating func outline(_ r: Rect, _ c: RGB, label: String) {
        for k in 0..<thickness {
            for x in r.x0..<r.x1 { if r.y0 + k < r.y1 { set(x, r.y0 + k, c) }; if r.y1 - 1 - k >= r.y0 { set(x, r.y1 - 1 - k, c) } }
            for y in r.y0..<r.y1 { if r.x0 + k < r.x1 { set(r.x0 + k, y, c) }; if r.x1 - 1 - k >= r.x0 { set(r.x1 - 1 - k, y, c) } }
        }
        // The label on a plate of the box's colour: above the box, else below, else inside its top.
        let lw = PixelFont.textWidth(label, scale: scale), lh = PixelFont.height * scale + 2
        let y = r.y0 - lh >= 0 ? r.y0 - lh : (r.y1 + lh <= radiographHeight ? r.y1 : r.y0 + thickness)
        let x = max(0, min(r.x0, width - lw))
        PixelFont.draw(label, into: &rgb, width: width, height: radiographHeight, x: x, y: y, scale: scale, colour: (0, 0, 0), plate: c)
    }

    // MARK: legend

    enum LegendPart { case text(String), ramp, swatch(RGB) }
    /// Parts that stay on one row together.
    typealias LegendGroup = [LegendPart]

    static func partWidth(_ p: LegendPart, scale: Int) -> Int {
        switch p {
        case .text(let s): return PixelFont.textWidth(s, scale: scale)
        case .ramp: return 40 * scale
        case .swatch: return PixelFont.height * scale
        }
    }

    /// The heatmap's ramp on the first row, then what the box colours mean; a group that does not
    /// fit beside the previous one starts a new row (a narrow radiograph gets a taller strip).
    static func legendRows(_ f: Findings, heat: Bool, width: Int, height: Int, scale: Int) -> [[LegendGroup]] {
        let heatGroup: LegendGroup = heat ? [.text("GRAD-CAM " + f.heatmap.target.uppercased() + " LOW"), .ramp, .text("HIGH")]
                                          : [.text("NO GRAD-CAM HEATMAP")]
        var boxes: [LegendGroup] = []
        if f.detections.contains(where: { $0 != f.lesion && pixelRect($0.box, width: width, height: height) != nil }) {
            boxes.append([.swatch(modelBoxColour), .text("MODEL BOX: DETECTOR SCORE")])
        }
        if f.lesion != nil {
            boxes.append([.swatch(classColour(f.predicted)), .text("CLASSIFIED LESION: " + f.predicted.uppercased())])
        } else {
            boxes.append([.text("NO LESION FOUND:"), .text("WHOLE IMAGE CLASSIFIED")])
        }
        let gap = 2 * scale
        func groupWidth(_ g: LegendGroup) -> Int { g.map { partWidth($0, scale: scale) + gap }.reduce(0, +) }
        var rows: [[LegendGroup]] = [[heatGroup]]
        var row: [LegendGroup] = [], used = gap
        for g in boxes {
            let gw = groupWidth(g)
            if !row.isEmpty, used + gw > width { rows.append(row); row = []; used = gap }
            row.append(g); used += gw
        }
        if !row.isEmpty { rows.append(row) }
        return rows
    }

    mutating func drawLegend(_ rows: [[LegendGroup]]) {
        for y in radiographHeight..<height { for x in 0..<width { set(x, y, Self.legendBackground) } }
        let gap = 2 * scale, rowHeight = PixelFont.height * scale + 2, ink: RGB = (230, 230, 230)
        var y = radiographHeight + gap
        for groups in rows {
            var x = gap
            for part in groups.joined() {
                switch part {
                case .text(let s):
                    PixelFont.draw(s, into: &rgb, width: width, height: height, x: x, y: y, scale: scale, colour: ink, plate: Self.legendBackground)
                case .ramp:
                    let n = Self.partWidth(.ramp, scale: scale)
                    for k in 0..<n {
                        let c = Self.heatColour(Self.heatFloor + (1 - Self.heatFloor) * Float(k) / Float(max(1, n - 1)))
                        for yy in (y + 1)..<(y + rowHeight - 1) { set(x + k, yy, c) }
                    }
                case .swatch(let c):
                    let n = Self.partWidth(part, scale: scale)
                    for yy in (y + 1)..<(y + 1 + n) { for xx in x..<(x + n) { set(xx, yy, c) } }
                }
                x += Self.partWidth(part, scale: scale) + gap
            }
            y += rowHeight + gap
        }
    }
}
