import Imaging

/// A lesion box in image pixel coordinates (x1, y1 exclusive, as BTXRD's boxes.csv), with
/// the label drawn next to it and the role that colours it.
public struct LabelledBox: Sendable, Equatable {
    public var rect: PixelRect
    public var label: String
    public var role: Role
    public init(rect: PixelRect, label: String, role: Role) { self.rect = rect; self.label = label; self.role = role }
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
                                 labelScale: Int = 0) throws(ImagingError) -> PaneRaster {
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
            for k in 0..<t {
                for x in r.x..<r.x1 { set(x, r.y + k); set(x, r.y1 - 1 - k) }
                for y in r.y..<r.y1 { set(r.x + k, y); set(r.x1 - 1 - k, y) }
            }
            if labelScale > 0 {
                let textH = PixelFont.height * labelScale + 2
                let ly = r.y - textH >= 0 ? r.y - textH : min(r.y1 + 1, ph - textH)
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
