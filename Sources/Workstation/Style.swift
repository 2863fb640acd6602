/// Colours and text attributes as the screen model records them. ncurses only renders them.

/// A terminal colour: the terminal's default, or an xterm-256 palette index
/// (0-15 the basic colours, 16-231 the 6x6x6 cube, 232-255 the grey ramp).
public enum TermColor: Sendable, Hashable, CustomStringConvertible {
    case `default`
    case index(UInt8)

    public var description: String {
        switch self {
        case .default: "default"
        case .index(let i): "\(i)"
        }
    }

    /// The nearest palette index to an 8-bit RGB colour (cube or grey ramp, whichever is closer),
    /// computed as xterm defines the palette.
    public static func nearest(r: Int, g: Int, b: Int) -> TermColor {
        if r == g && g == b { return .index(Palette.greyIndex(r)) }
        let ci = Palette.cubeIndex(r: r, g: g, b: b)
        let gi = Palette.greyIndex((r * 30 + g * 59 + b * 11) / 100)
        return .index(Palette.distance(ci, r, g, b) <= Palette.distance(gi, r, g, b) ? ci : gi)
    }

    /// The same colour on a terminal with only `colors` colours (8 or 16): nearest basic colour.
    public func downgraded(toColors colors: Int) -> TermColor {
        guard case .index(let i) = self, Int(i) >= colors else { return self }
        let (r, g, b) = Palette.rgb(i)
        if r == g && g == b {
            // Greys by level, not by RGB distance (which would pick yellow for mid-grey).
            if colors < 16 { return .index(r < 128 ? 0 : 7) }
            return .index(r < 64 ? 0 : r < 160 ? 8 : r < 224 ? 7 : 15)
        }
        var best = 0, bestD = Int.max
        for c in 0..<min(colors, 16) {
            let d = Palette.distance(UInt8(c), r, g, b)
            if d < bestD { bestD = d; best = c }
        }
        return .index(UInt8(best))
    }
}

/// The xterm-256 palette (xterm's 256colres.h).
public enum Palette {
    static let cubeLevels = [0, 95, 135, 175, 215, 255]
    static let basic: [(Int, Int, Int)] = [
        (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
        (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255),
    ]

    public static func rgb(_ i: UInt8) -> (Int, Int, Int) {
        let n = Int(i)
        if n < 16 { return basic[n] }
        if n >= 232 { let v = 8 + 10 * (n - 232); return (v, v, v) }
        let c = n - 16
        return (cubeLevels[c / 36], cubeLevels[(c / 6) % 6], cubeLevels[c % 6])
    }

    static func cubeStep(_ v: Int) -> Int {
        v < 48 ? 0 : v < 115 ? 1 : (v - 35) / 40
    }

    static func cubeIndex(r: Int, g: Int, b: Int) -> UInt8 {
        UInt8(16 + 36 * cubeStep(r) + 6 * cubeStep(g) + cubeStep(b))
    }

    /// Nearest of black (16), the 24 greys (232-255) and white (231) to grey level v.
    public static func greyIndex(_ v: Int) -> UInt8 {
        if v < 4 { return 16 }
        if v > 246 { return 231 }
        let k = min(23, max(0, (v - 3) / 10))
        return UInt8(232 + k)
    }

    static func distance(_ i: UInt8, _ r: Int, _ g: Int, _ b: Int) -> Int {
        let (pr, pg, pb) = rgb(i)
        return (pr - r) * (pr - r) + (pg - g) * (pg - g) + (pb - b) * (pb - b)
    }
}

/// What a cell looks like: colours and attributes.
public struct Style: Sendable, Hashable, CustomStringConvertible {
    public var fg: TermColor
    public var bg: TermColor
    public var bold: Bool
    public var reverse: Bool
    public var underline: Bool

    public init(fg: TermColor = .default, bg: TermColor = .default, bold: Bool = false,
                reverse: Bool = false, underline: Bool = false) {
        self.fg = fg; self.bg = bg; self.bold = bold; self.reverse = reverse; self.underline = underline
    }

    public static let plain = Style()

    public var description: String {
        var s = "\(fg) on \(bg)"
        if bold { s += " bold" }
        if reverse { s += " reverse" }
        if underline { s += " underline" }
        return s
    }
}

/// The parts of the UI a theme colours. One place: screens ask for a role, never a colour.
public enum Role: String, CaseIterable, Sendable {
    case text, dim, title, status, selection, header, border, key, search, error
    case normal, benign, intermediate, malignant
    /// Ground-truth boxes (dashed).
    case box
    /// Model boxes other than the classified (top) lesion.
    case prediction
    /// Signed contributions: towards the predicted class, and away from it.
    case gain, loss
    /// The Grad-CAM overlay: fg the hottest colour, bg the coolest.
    case heatmap
    /// The empty part of a bar.
    case track
    case imageBackground = "image-background"
}
