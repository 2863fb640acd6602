/// The screen model: what is drawn where, in which style. Screens draw into it; tests read it;
/// `Terminal` renders it with ncurses (cells) and raw escape sequences (image layers).

public struct Cell: Sendable, Equatable {
    public var char: Character
    public var style: Style
    public init(_ char: Character = " ", _ style: Style = .plain) { self.char = char; self.style = style }
}

/// A rectangle of cells: column x, row y, origin top-left.
public struct CellRect: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var x: Int, y: Int, width: Int, height: Int
    public init(x: Int, y: Int, width: Int, height: Int) { self.x = x; self.y = y; self.width = width; self.height = height }
    public var isEmpty: Bool { width <= 0 || height <= 0 }
    public var description: String { "\(width)x\(height) cells at \(x),\(y)" }
}

/// Pixels placed over a cell rectangle with a terminal graphics protocol. `bytes` is the
/// complete escape sequence to send with the cursor at the rectangle's top-left cell; `key`
/// identifies the content, so an unchanged image is not sent again.
public struct GraphicsLayer: Sendable, Equatable {
    public var rect: CellRect
    public var mode: GraphicsMode
    public var bytes: [UInt8]
    public var key: String
    public var pixelWidth: Int
    public var pixelHeight: Int
}

public struct Screen: Sendable, Equatable {
    public private(set) var width: Int
    public private(set) var height: Int
    public private(set) var cells: [Cell]
    public var graphics: [GraphicsLayer] = []
    /// Where the terminal cursor should rest (nil: hidden).
    public var cursor: (x: Int, y: Int)? {
        get { cursorX.map { ($0, cursorY) } }
        set { cursorX = newValue?.x; cursorY = newValue?.y ?? 0 }
    }
    private var cursorX: Int?
    private var cursorY = 0

    public init(width: Int, height: Int, fill: Style = .plain) {
        self.width = max(0, width); self.height = max(0, height)
        cells = Array(repeating: Cell(" ", fill), count: self.width * self.height)
    }

    public subscript(x: Int, y: Int) -> Cell {
        get { x >= 0 && x < width && y >= 0 && y < height ? cells[y * width + x] : Cell() }
        set { if x >= 0 && x < width && y >= 0 && y < height { cells[y * width + x] = newValue } }
    }

    /// Writes `text` from (x, y), clipped at `maxWidth` (and the screen's edge). One
    /// Character a cell (the UI uses single-width characters only). Returns the columns used.
    @discardableResult
    public mutating func put(_ text: String, x: Int, y: Int, style: Style, maxWidth: Int? = nil) -> Int {
        guard y >= 0, y < height else { return 0 }
        let limit = min(width - x, maxWidth ?? Int.max)
        var col = 0
        for ch in text {
            if col >= limit { break }
            if x + col >= 0 { self[x + col, y] = Cell(ch, style) }
            col += 1
        }
        return max(0, col)
    }

    public mutating func fill(_ rect: CellRect, style: Style, char: Character = " ") {
        let x0 = max(0, rect.x), x1 = min(width, rect.x + rect.width)
        let y0 = max(0, rect.y), y1 = min(height, rect.y + rect.height)
        guard x0 < x1, y0 < y1 else { return }
        for y in y0..<y1 { for x in x0..<x1 { self[x, y] = Cell(char, style) } }
    }

    /// A single-line frame around `rect` with an optional title in the top edge.
    public mutating func frame(_ rect: CellRect, style: Style, title: String? = nil, titleStyle: Style? = nil) {
        guard rect.width >= 2, rect.height >= 2 else { return }
        let x1 = rect.x + rect.width - 1, y1 = rect.y + rect.height - 1
        for x in rect.x...x1 { self[x, rect.y] = Cell("─", style); self[x, y1] = Cell("─", style) }
        for y in rect.y...y1 { self[rect.x, y] = Cell("│", style); self[x1, y] = Cell("│", style) }
        self[rect.x, rect.y] = Cell("┌", style); self[x1, rect.y] = Cell("┐", style)
        self[rect.x, y1] = Cell("└", style); self[x1, y1] = Cell("┘", style)
        if let title, rect.width > 4 { put(" \(title) ", x: rect.x + 2, y: rect.y, style: titleStyle ?? style, maxWidth: rect.width - 4) }
    }

    /// Left-aligned eighth blocks, 1/8 to 8/8 of a cell.
    static let eighths: [Character] = ["▏", "▎", "▍", "▌", "▋", "▊", "▉", "█"]

    /// A bar of `fraction` (clamped to 0...1) of `width` cells, in eighths of a cell, starting
    /// at x; the rest of the width is the track.
    public mutating func bar(x: Int, y: Int, width: Int, fraction: Double, style: Style, track: Style) {
        guard width > 0 else { return }
        let f = fraction.isFinite ? min(1, max(0, fraction)) : 0
        let units = Int((f * Double(width * 8)).rounded())
        for c in 0..<width {
            let filled = min(8, max(0, units - c * 8))
            self[x + c, y] = filled == 0 ? Cell("·", track) : Cell(Self.eighths[filled - 1], style)
        }
    }

    /// A bar around zero: the axis "│" at the middle of `width`; a positive value grows right
    /// of it in `gain` (eighths of a cell), a negative one left of it in `loss` (half cells: the
    /// right-aligned eighths are not in common fonts). `scale` is the value that fills a side.
    public mutating func divergingBar(x: Int, y: Int, width: Int, value: Double, scale: Double,
                                      gain: Style, loss: Style, axis: Style) {
        guard width >= 3 else { return }
        let half = (width - 1) / 2
        let axisX = x + half
        for c in 0..<width { self[x + c, y] = Cell(" ", axis) }
        self[axisX, y] = Cell("│", axis)
        guard value.isFinite, scale > 0 else { return }
        let f = min(1, abs(value) / scale)
        if value > 0 {
            let side = width - half - 1
            let units = Int((f * Double(side * 8)).rounded())
            for c in 0..<side where units - c * 8 > 0 {
                self[axisX + 1 + c, y] = Cell(Self.eighths[min(8, units - c * 8) - 1], gain)
            }
        } else if value < 0 {
            let units = Int((f * Double(half * 2)).rounded())
            for c in 0..<half where units - c * 2 > 0 {
                self[axisX - 1 - c, y] = Cell(units - c * 2 >= 2 ? "█" : "▐", loss)
            }
        }
    }

    /// The characters of row y (for tests and the e2e comparison with capture-pane).
    public func row(_ y: Int) -> String {
        guard y >= 0, y < height else { return "" }
        return String(cells[(y * width)..<(y * width + width)].map(\.char))
    }

    public var text: String { (0..<height).map { row($0) }.joined(separator: "\n") }

    /// Column of the first occurrence of `needle` in row y.
    public func find(_ needle: String) -> (x: Int, y: Int)? {
        for y in 0..<height {
            let r = row(y)
            if let range = r.range(of: needle) { return (r.distance(from: r.startIndex, to: range.lowerBound), y) }
        }
        return nil
    }

    public static func == (a: Screen, b: Screen) -> Bool {
        a.width == b.width && a.height == b.height && a.cells == b.cells && a.graphics == b.graphics
            && a.cursorX == b.cursorX && a.cursorY == b.cursorY
    }
}

/// Pads or clips to exactly `n` columns.
func fit(_ s: String, _ n: Int, right: Bool = false) -> String {
    guard n > 0 else { return "" }
    if s.count >= n { return n > 1 && s.count > n ? String(s.prefix(n - 1)) + "…" : String(s.prefix(n)) }
    let pad = String(repeating: " ", count: n - s.count)
    return right ? pad + s : s + pad
}
