import Imaging

/// A lesion box in image pixel coordinates (x1, y1 exclusive, as BTXRD's boxes.csv), with
/// the label drawn next to it and the role that colours it.
public struct LabelledBox: Sendable, Equatable {
    public var rect: PixelRect
    public var label: String
    public var role: Role
    /// Dashed outline: the reference (ground-truth) boxes, told apart from the model's.
    public var dashed: Bool
    public init(rect: PixelRect, label: String, role: Role, dashed: Bool = false) {
        self.rect = rect; self.label = label; self.role = role; self.dashed = dashed
    }
}

/// The Grad-CAM map over the radiograph: a coarse grid covering a box in source pixels,
/// values normalised to 0...1 (1 the hottest).
public struct HeatOverlay: Sendable, Equatable {
    public var x0: Double, y0: Double, x1: Double, y1: Double
    public var width: Int, height: Int
    public var values: [Float]
    public init(x0: Double, y0: Double, x1: Double, y1: Double, width: Int, height: Int, values: [Float]) {
        self.x0 = x0; self.y0 = y0; self.x1 = x1; self.y1 = y1; self.width = width; self.height = height; self.values = values
    }

    /// Bilinear between cell centres, clamped at the grid's edge; nil outside the box.
    public func value(atSourceX x: Double, y: Double) -> Float? {
        guard x >= x0, x < x1, y >= y0, y < y1, width > 0, height > 0, values.count == width * height else { return nil }
        let gx = min(Double(width - 1), max(0, (x - x0) / (x1 - x0) * Double(width) - 0.5))
        let gy = min(Double(height - 1), max(0, (y - y0) / (y1 - y0) * Double(height) - 0.5))
        let ix = Int(gx), iy = Int(gy)
        let jx = min(width - 1, ix + 1), jy = min(height - 1, iy + 1)
        let fx = Float(gx - Double(ix)), fy = Float(gy - Double(iy))
        let top = values[iy * width + ix] * (1 - fx) + values[iy * width + jx] * fx
        let bottom = values[jy * width + ix] * (1 - fx) + values[jy * width + jx] * fx
        return top * (1 - fy) + bottom * fy
    }

    /// Heat below this shows nothing (the overlay would only dim the image).
    public static let floor: Float = 0.15
    /// Heat at or above this is marked in ASCII mode, which has no colour blend.
    public static let asciiMark: Float = 0.5
}

/// How the image pane looks at the image: window, zoom and the point at the pane's centre.
public struct ImageViewState: Sendable, Equatable {
    public var window: Window
    /// 1 fits the whole image in the pane; 2 shows half of it, and so on.
    public var zoom: Double = 1
    /// The source pixel (x, y) at the pane's centre; nil: the image's centre.
    public var centre: (x: Double, y: Double)? {
        get { centreX.map { ($0, centreY) } }
        set { centreX = newValue?.x; centreY = newValue?.y ?? 0 }
    }
    private var centreX: Double?
    private var centreY: Double = 0
    public var showBoxes = true
    public var invert = false

    public init(window: Window) { self.window = window }
}

/// The pane's pixels as the terminal will draw them (RGB, 8-bit): one pixel per sixel/kitty
/// pixel, per half block, or per ASCII cell. Boxes come back in these pixel coordinates.
public struct PaneRaster: Sendable {
    public var width: Int
    public var height: Int
    public var rgb: [UInt8]
    /// Boxes as drawn, in raster pixels (x1, y1 exclusive), clipped to the raster; nil when off-pane.
    public var boxes: [(rect: PixelRect, box: LabelledBox)]
    /// Source pixels per raster pixel (horizontal), after zoom: for the status line.
    public var scale: Double
    /// Heat per raster pixel when an overlay was drawn (0 outside its box), for ASCII marks.
    public var heat: [Float]? = nil

    public func pixel(_ x: Int, _ y: Int) -> (r: UInt8, g: UInt8, b: UInt8) {
        let i = (y * width + x) * 3
        return (rgb[i], rgb[i + 1], rgb[i + 2])
    }
}

public enum PaneRasterizer {
    /// Window/level on the source depth, then zoom, pan and fit into width x height raster
    /// pixels whose on-screen shape is `pixelAspect` (width / height). Boxes drawn in the
    /// raster when `drawBoxes` (outline `thickness` pixels, colours from `theme`), labels in
    /// pixels when `labelScale` > 0.
    public static func rasterize(_ image: Image, boxes: [LabelledBox], view: ImageViewState,
                                 width pw: Int, height ph: Int, pixelAspect a: Double = 1,
                                 theme: Theme, drawBoxes: Bool, thickness: Int = 1,
                                 labelScale: Int = 0, heat: HeatOverlay? = nil) throws(ImagingError) -> PaneRaster {
        let W = Double(image.width), H = Double(image.height)
        let fit = min(Double(pw) * a / W, Double(ph) / H)
        let sy = fit * view.zoom, sx = sy / a
        let (cx, cy) = view.centre ?? (W / 2, H / 2)
        var out = PaneRaster(width: pw, height: ph, rgb: [UInt8](repeating: 0, count: pw * ph * 3), boxes: [], scale: 1 / sx)
        func toRaster(_ x: Double, _ y: Double) -> (Double, Double) {
            ((x - cx) * sx + Double(pw) / 2, (y - cy) * sy + Double(ph) / 2)
        }
        // Visible source region, whole pixels.
        let vx0 = max(0, Int((cx - Double(pw) / (2 * sx)).rounded(.down)))
        let vx1 = min(image.width, Int((cx + Double(pw) / (2 * sx)).rounded(.up)))
        let vy0 = max(0, Int((cy - Double(ph) / (2 * sy)).rounded(.down)))
        let vy1 = min(image.height, Int((cy + Double(ph) / (2 * sy)).rounded(.up)))
        if vx1 > vx0, vy1 > vy0 {
            let (dx0, dy0) = toRaster(Double(vx0), Double(vy0))
            let (dx1, dy1) = toRaster(Double(vx1), Double(vy1))
            let ix0 = Int(dx0.rounded()), iy0 = Int(dy0.rounded())
            let dw = max(1, Int(dx1.rounded()) - ix0), dh = max(1, Int(dy1.rounded()) - iy0)
            let region = try image.cropped(to: PixelRect(x0: vx0, y0: vy0, x1: vx1, y1: vy1))
            let shown = try region.windowed(view.window, invert: view.invert).rgb()
                .resized(width: dw, height: dh, filter: .bilinearAntialiased)
            guard case .eightBit(let px) = shown.samples else { return out }
            for y in 0..<dh {
                let ty = iy0 + y
                if ty < 0 || ty >= ph { continue }
                for x in 0..<dw {
                    let tx = ix0 + x
                    if tx < 0 || tx >= pw { continue }
                    let s = (y * dw + x) * 3, d = (ty * pw + tx) * 3
                    out.rgb[d] = px[s]; out.rgb[d + 1] = px[s + 1]; out.rgb[d + 2] = px[s + 2]
                }
            }
        }
        if let heat {
            // Blend from the theme's cool colour to its hot colour, more opaque as it heats.
            let hot = rgbOf(theme[.heatmap].fg, fallback: (255, 0, 0)), cool = rgbOf(theme[.heatmap].bg, fallback: (0, 0, 255))
            var field = [Float](repeating: 0, count: pw * ph)
            for y in 0..<ph {
                let sy0 = (Double(y) + 0.5 - Double(ph) / 2) / sy + cy
                for x in 0..<pw {
                    let sx0 = (Double(x) + 0.5 - Double(pw) / 2) / sx + cx
                    guard let h = heat.value(atSourceX: sx0, y: sy0), h > HeatOverlay.floor else { continue }
                    field[y * pw + x] = h
                    let a = 0.65 * h
                    let d = (y * pw + x) * 3
                    let c = (Float(cool.0) + (Float(hot.0) - Float(cool.0)) * h, Float(cool.1) + (Float(hot.1) - Float(cool.1)) * h,
                             Float(cool.2) + (Float(hot.2) - Float(cool.2)) * h)
                    out.rgb[d] = UInt8(Float(out.rgb[d]) * (1 - a) + c.0 * a)
                    out.rgb[d + 1] = UInt8(Float(out.rgb[d + 1]) * (1 - a) + c.1 * a)
                    out.rgb[d + 2] = UInt8(Float(out.rgb[d + 2]) * (1 - a) + c.2 * a)
                }
            }
            out.heat = field
        }
        guard view.showBoxes else { return out }
        for box in boxes {
            let (bx0, by0) = toRaster(Double(box.rect.x), Double(box.rect.y))
            let (bx1, by1) = toRaster(Double(box.rect.x1), Double(box.rect.y1))
            let r = PixelRect(x0: Int(bx0.rounded(.down)), y0: Int(by0.rounded(.down)),
                              x1: max(Int(bx0.rounded(.down)) + 1, Int(bx1.rounded(.up))),
                              y1: max(Int(by0.rounded(.down)) + 1, Int(by1.rounded(.up))))
            guard r.clamped(toWidth: pw, height: ph) != nil else { continue }
            out.boxes.append((r, box))
            guard drawBoxes else { continue }
            let colour = rgbOf(theme[box.role].fg, fallback: (255, 210, 0))
            let t = max(1, thickness)
            func set(_ x: Int, _ y: Int) {
                guard x >= 0, x < pw, y >= 0, y < ph else { return }
                let d = (y * pw + x) * 3
                out.rgb[d] = colour.0; out.rgb[d + 1] = colour.1; out.rgb[d + 2] = colour.2
            }
            // Dashes of 3t pixels on, 2t off.
            let period = 5 * t
            func on(_ i: Int) -> Bool { !box.dashed || i % period < 3 * t }
            for k in 0..<t {
                for x in r.x..<r.x1 where on(x - r.x) { set(x, r.y + k); set(x, r.y1 - 1 - k) }
                for y in r.y..<r.y1 where on(y - r.y) { set(r.x + k, y); set(r.x1 - 1 - k, y) }
            }
            if labelScale > 0 {
                let textH = PixelFont.height * labelScale + 2
                // The model's labels above their boxes, the reference labels below theirs, so a
                // prediction and the truth on the same lesion do not hide each other's label.
                let above = r.y - textH, below = r.y1 + 1
                let ly = box.dashed ? (below + textH <= ph ? below : max(0, above))
                                    : (above >= 0 ? above : min(below, ph - textH))
                PixelFont.draw(box.label.uppercased(), into: &out.rgb, width: pw, height: ph,
                               x: max(0, r.x), y: ly, scale: labelScale, colour: colour)
            }
        }
        return out
    }

    static func rgbOf(_ c: TermColor, fallback: (UInt8, UInt8, UInt8)) -> (UInt8, UInt8, UInt8) {
        guard case .index(let i) = c else { return fallback }
        let (r, g, b) = Palette.rgb(i)
        return (UInt8(r), UInt8(g), UInt8(b))
    }
}
