/// A 3x5 pixel font for text drawn into pictures: box labels in sixel/kitty images (where text
/// cells cannot sit on top of the picture) and the evaluation's plots. Upper case, digits and a
/// few signs; each glyph is five rows of three bits.
public enum PixelFont {
    public static let width = 3, height = 5
    static let glyphs: [Character: [UInt8]] = [
        "A": [2, 5, 7, 5, 5], "B": [6, 5, 6, 5, 6], "C": [3, 4, 4, 4, 3], "D": [6, 5, 5, 5, 6], "E": [7, 4, 6, 4, 7],
        "F": [7, 4, 6, 4, 4], "G": [3, 4, 5, 5, 3], "H": [5, 5, 7, 5, 5], "I": [7, 2, 2, 2, 7], "J": [1, 1, 1, 5, 2],
        "K": [5, 5, 6, 5, 5], "L": [4, 4, 4, 4, 7], "M": [5, 7, 7, 5, 5], "N": [6, 5, 5, 5, 5], "O": [2, 5, 5, 5, 2],
        "P": [6, 5, 6, 4, 4], "Q": [2, 5, 5, 6, 3], "R": [6, 5, 6, 5, 5], "S": [3, 4, 2, 1, 6], "T": [7, 2, 2, 2, 2],
        "U": [5, 5, 5, 5, 7], "V": [5, 5, 5, 5, 2], "W": [5, 5, 7, 7, 5], "X": [5, 5, 2, 5, 5], "Y": [5, 5, 2, 2, 2],
        "Z": [7, 1, 2, 4, 7], "0": [7, 5, 5, 5, 7], "1": [2, 6, 2, 2, 7], "2": [6, 1, 2, 4, 7], "3": [6, 1, 2, 1, 6],
        "4": [5, 5, 7, 1, 1], "5": [7, 4, 6, 1, 6], "6": [3, 4, 7, 5, 7], "7": [7, 1, 2, 2, 2], "8": [7, 5, 7, 5, 7],
        "9": [7, 5, 7, 1, 6], ".": [0, 0, 0, 0, 2], "-": [0, 0, 7, 0, 0], "%": [5, 1, 2, 4, 5], ":": [0, 2, 0, 2, 0],
        "/": [1, 1, 2, 4, 4], " ": [0, 0, 0, 0, 0], "(": [1, 2, 2, 2, 1], ")": [4, 2, 2, 2, 4],
        "+": [0, 2, 7, 2, 0], "=": [0, 7, 0, 7, 0], ",": [0, 0, 0, 2, 4], "?": [6, 1, 2, 0, 2], "|": [2, 2, 2, 2, 2],
    ]

    /// Columns `text` takes at `scale`, plate included.
    public static func textWidth(_ text: String, scale: Int) -> Int { text.count * (width + 1) * scale + 1 }

    /// Draws `text` (upper-cased by the caller) on a plate (one pixel margin, black unless
    /// given) so it reads on any part of the image.
    public static func draw(_ text: String, into rgb: inout [UInt8], width: Int, height: Int, x: Int, y: Int,
                            scale: Int, colour: (UInt8, UInt8, UInt8), plate: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
        let advance = (PixelFont.width + 1) * scale
        let plateW = text.count * advance + 1, plateH = PixelFont.height * scale + 2
        func set(_ px: Int, _ py: Int, _ c: (UInt8, UInt8, UInt8)) {
            guard px >= 0, px < width, py >= 0, py < height else { return }
            let d = (py * width + px) * 3
            rgb[d] = c.0; rgb[d + 1] = c.1; rgb[d + 2] = c.2
        }
        for py in y..<(y + plateH) { for px in x..<(x + plateW) { set(px, py, plate) } }
        for (i, ch) in text.enumerated() {
            guard let rows = glyphs[ch] ?? glyphs["?"] ?? glyphs["-"] else { continue }
            for (r, bits) in rows.enumerated() {
                for c in 0..<PixelFont.width where bits & (4 >> c) != 0 {
                    for sy in 0..<scale { for sx in 0..<scale {
                        set(x + 1 + i * advance + c * scale + sx, y + 1 + r * scale + sy, colour)
                    } }
                }
            }
        }
    }
}
