import Foundation
import Imaging

/// Size and cost of the last image frame: for the status bar, the docs and the tests.
public struct FrameStats: Sendable, Equatable {
    public var mode: GraphicsMode
    public var cells: CellRect
    public var pixelWidth: Int
    public var pixelHeight: Int
    /// Bytes of the image's escape sequence (sixel, kitty); for text modes, the cells' characters
    /// and colours are sent by ncurses and counted by the terminal layer instead.
    public var bytes: Int
    /// Time to rasterize and encode, milliseconds (0 when served from the cache).
    public var milliseconds: Double
}

/// The image pane: turns (image, boxes, view) into cells or a graphics layer of the screen
/// model for the mode in use. Keeps the last frame, so an unchanged image costs nothing.
final class ImagePane {
    /// Longest side of a sixel image, pixels: sixel cannot be scaled by the terminal, so a
    /// bigger pane shows the image at this size, centred. A 256-pixel radiograph gains nothing
    /// from more, and a 1540x1120 frame is about 200 KB (1.6 s at 1 Mbit/s); 1024 keeps a
    /// full-pane frame near 100 KB. TUMORBOARD_SIXEL_MAX overrides.
    static let sixelMaxSide = ProcessInfo.processInfo.environment["TUMORBOARD_SIXEL_MAX"].flatMap { Int($0) } ?? 1024
    /// Longest side of the image sent with the kitty protocol: kitty scales it to the pane's
    /// cells itself, so sending more pixels only costs bytes (PNG of an upscaled image).
    static let kittyMaxSide = 512

    private var cacheKey: String?
    private var cachedRaster: PaneRaster?
    private var cachedBytes: [UInt8]?
    private(set) var lastStats: FrameStats?

    func draw(_ image: Image, id: String, boxes: [LabelledBox], view: ImageViewState, in paneRect: CellRect,
              graphics: GraphicsChoice, theme: Theme, heat: HeatOverlay? = nil, into screen: inout Screen) throws {
        guard paneRect.width > 1, paneRect.height > 1 else { return }
        let mode = graphics.mode, cell = graphics.cellSize
        let ppc = mode.pixelsPerCell(cell: cell)
        var rect = paneRect
        var pw = rect.width * ppc.x, ph = rect.height * ppc.y
        if mode == .sixel, max(pw, ph) > Self.sixelMaxSide {
            let s = Double(Self.sixelMaxSide) / Double(max(pw, ph))
            let cw = max(1, Int(Double(rect.width) * s)), ch = max(1, Int(Double(rect.height) * s))
            rect = CellRect(x: rect.x + (rect.width - cw) / 2, y: rect.y + (rect.height - ch) / 2, width: cw, height: ch)
            pw = cw * ppc.x; ph = ch * ppc.y
        } else if mode == .kitty {
            // At most 1.5 sent pixels per source pixel shown, and 512 a side: kitty enlarges.
            let shown = min(Double(pw) / Double(image.width), Double(ph) / Double(image.height)) * view.zoom
            let s = min(1, 1.5 / max(shown, 1e-9), Double(Self.kittyMaxSide) / Double(max(pw, ph)))
            if s < 1 { pw = max(16, Int(Double(pw) * s)); ph = max(16, Int(Double(ph) * s)) }
        }
        // Everything drawn is in the key: boxes and the heatmap arrive after the image.
        let boxKey = boxes.map { "\($0.rect.x),\($0.rect.y),\($0.rect.x1),\($0.rect.y1),\($0.label),\($0.role),\($0.dashed)" }.joined(separator: ";")
        let heatKey = heat.map { "\($0.x0),\($0.y0),\($0.x1),\($0.y1),\($0.width)x\($0.height),\($0.values.hashValue)" } ?? "-"
        let key = "\(id)|\(view.window)|\(view.zoom)|\(String(describing: view.centre))|\(view.showBoxes)|\(view.invert)|\(rect)|\(mode)|\(cell)|\(theme.name)|\(boxKey)|\(heatKey)"
        if key != cacheKey {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let pixelMode = mode == .sixel || mode == .kitty
            let raster = try PaneRasterizer.rasterize(
                image, boxes: boxes, view: view, width: pw, height: ph, pixelAspect: mode.pixelAspect(cell: cell),
                theme: theme, drawBoxes: mode != .ascii, thickness: pixelMode ? max(1, pw / 300) : 1,
                labelScale: pixelMode ? min(3, max(1, ph / 160)) : 0, heat: heat)
            var bytes: [UInt8]? = nil
            switch mode {
            case .sixel: bytes = try SixelEncoder.encode(raster, colours: SixelEncoder.colours)
            case .kitty: bytes = try KittyEncoder.encode(raster, columns: rect.width, rows: rect.height)
            case .blocks, .ascii: break
            }
            let ms = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
            cacheKey = key; cachedRaster = raster; cachedBytes = bytes
            lastStats = FrameStats(mode: mode, cells: rect, pixelWidth: pw, pixelHeight: ph, bytes: bytes?.count ?? 0, milliseconds: ms)
        } else if var s = lastStats {
            s.milliseconds = 0
            lastStats = s
        }
        guard let raster = cachedRaster else { return }
        switch mode {
        case .sixel, .kitty:
            screen.fill(paneRect, style: theme[.imageBackground])
            screen.graphics.append(GraphicsLayer(rect: rect, mode: mode, bytes: cachedBytes ?? [], key: key,
                                                 pixelWidth: pw, pixelHeight: ph))
        case .blocks:
            HalfBlockRenderer.draw(raster, into: &screen, at: rect)
            TextBoxOverlay.draw(raster, rowsPerCell: 2, outlines: false, into: &screen, at: rect, theme: theme)
        case .ascii:
            AsciiRenderer.draw(raster, into: &screen, at: rect, theme: theme)
            TextBoxOverlay.draw(raster, rowsPerCell: 1, outlines: true, into: &screen, at: rect, theme: theme)
        }
    }
}
