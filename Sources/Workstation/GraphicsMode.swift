/// The rungs of the image ladder, best first.
public enum GraphicsMode: String, Sendable, CaseIterable, CustomStringConvertible {
    case sixel, kitty, blocks, ascii
    public var description: String { rawValue }

    /// Pixels per cell the mode draws with, given the terminal's cell size in pixels:
    /// half blocks are two pixels a cell (one wide, two tall), ASCII one pixel a cell.
    func pixelsPerCell(cell: CellSize) -> (x: Int, y: Int) {
        switch self {
        case .sixel, .kitty: (cell.width, cell.height)
        case .blocks: (1, 2)
        case .ascii: (1, 1)
        }
    }

    /// Width over height of one drawing pixel on screen (cells are about twice as tall as wide).
    func pixelAspect(cell: CellSize) -> Double {
        switch self {
        case .sixel, .kitty, .blocks: 1
        case .ascii: Double(cell.height) / Double(max(1, cell.width)) >= 1.5 ? 0.5 : 1
        }
    }
}

/// The terminal's cell size in pixels.
public struct CellSize: Sendable, Equatable, CustomStringConvertible {
    public var width: Int, height: Int
    public init(width: Int, height: Int) { self.width = width; self.height = height }
    /// When the terminal does not say: a common 10x20 cell.
    public static let assumed = CellSize(width: 10, height: 20)
    public var description: String { "\(width)x\(height)" }
}
