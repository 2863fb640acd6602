/// A rectangle in image pixel coordinates: x is the column, y the row, origin top-left;
/// (x, y) is the first pixel inside, (x + width, y + height) the first outside — the same
/// convention as BTXRD's boxes.csv (x0, y0 inclusive; x1, y1 exclusive).
public struct PixelRect: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x; self.y = y; self.width = width; self.height = height
    }

    /// From corners x0, y0 (inclusive) and x1, y1 (exclusive).
    public init(x0: Int, y0: Int, x1: Int, y1: Int) {
        self.init(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
    }

    /// The smallest pixel rectangle covering a real-valued box (floor of x0/y0, ceil of x1/y1),
    /// e.g. a detector's output.
    public init(enclosingX0 x0: Double, y0: Double, x1: Double, y1: Double) {
        let left = Int(x0.rounded(.down)), top = Int(y0.rounded(.down))
        self.init(x0: left, y0: top, x1: max(left, Int(x1.rounded(.up))), y1: max(top, Int(y1.rounded(.up))))
    }

    public var x1: Int { x + width }
    public var y1: Int { y + height }
    public var isEmpty: Bool { width <= 0 || height <= 0 }

    /// The part inside a width x height image; nil when nothing is left.
    public func clamped(toWidth imageWidth: Int, height imageHeight: Int) -> PixelRect? {
        let left = max(x, 0), top = max(y, 0)
        let right = min(x1, imageWidth), bottom = min(y1, imageHeight)
        guard right > left, bottom > top else { return nil }
        return PixelRect(x0: left, y0: top, x1: right, y1: bottom)
    }

    public var description: String { "(x \(x), y \(y), \(width) x \(height))" }
}

extension Image {
    /// The pixels of `rect` after clamping it to the image (see `PixelRect.clamped`): a box
    /// that overhangs an edge gives the part inside. Throws when nothing of it is inside.
    /// The returned image's (0, 0) is `rect.clamped(toWidth: width, height: height)!.x/.y` here.
    public func cropped(to rect: PixelRect) throws(ImagingError) -> Image {
        guard let region = rect.clamped(toWidth: width, height: height) else {
            throw .invalidArgument("crop \(rect) lies outside the \(width) x \(height) image")
        }
        func cut<T>(_ values: [T]) -> [T] {
            let c = channels, rowLength = region.width * c
            var out = [T]()
            out.reserveCapacity(rowLength * region.height)
            for row in region.y..<region.y1 {
                let start = (row * width + region.x) * c
                out.append(contentsOf: values[start..<start + rowLength])
            }
            return out
        }
        switch samples {
        case .eightBit(let values): return Image(unchecked: region.width, region.height, colour, .eightBit(cut(values)))
        case .sixteenBit(let values): return Image(unchecked: region.width, region.height, colour, .sixteenBit(cut(values)))
        }
    }
}
