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
    private var cacheKey: String?
    private var cachedRaster: PaneRaster?
    private var cachedBytes: [UInt8]?
    private(set) var lastStats: FrameStats?

    func draw(_ image: Image, id: String, boxes: [LabelledBox], view: ImageViewState, in rect: CellRect,
              graphics: GraphicsChoice, theme: Theme, into screen: inout Screen) throws {
        guard rect.width > 1, rect.height > 1 else { return }
        let mode = graphics.mode, cell = graphics.cellSize
        let ppc = mode.pixelsPerCell(cell: cell)
        let pw = rect.width * ppc.x, ph = rect.height * ppc.y
        let key = "\(id)|\(view.window)|\(view.zoom)|\(String(describing: view.centre))|\(view.showBoxes)|\(view.invert)|\(rect)|\(mode)|\(cell)|\(theme.name)"
        if key != cacheKey {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let pixelMode = mode == .sixel || mode == .kitty
            let raster = try PaneRasterizer.rasterize(
                image, boxes: boxes, view: view, width: pw, height: ph, pixelAspect: mode.pixelAspect(cell: cell),
                theme: theme, drawBoxes: mode != .ascii, thickness: pixelMode ? max(1, cell.width / 5) : 1,
                labelScale: pixelMode ? (cell.height >= 16 ? 2 : 1) : 0)
            var bytes: [UInt8]? = nil
            switch mode {
            case .sixel: bytes = try SixelEncoder.encode(raster)
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
            screen.fill(rect, style: theme[.imageBackground])
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
