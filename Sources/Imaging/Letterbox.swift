/// An image scaled to fit a target size with its aspect ratio kept, padded on both sides, and
/// what is needed to map coordinates (lesion boxes) between it and the source.
///
/// Matches YOLOv5's `letterbox(auto=False)`: scale r = min(W / w, H / h); content size
/// round(w r) x round(h r); padding split as left = (W - content) / 2 (integer division),
/// the odd pixel going right/bottom.
public struct Letterbox: Sendable, Equatable {
    public let image: Image
    /// The uniform scale r = min(targetWidth / sourceWidth, targetHeight / sourceHeight).
    public let scale: Double
    /// Where the content starts in `image` (the left and top padding), in pixels.
    public let offsetX: Int
    public let offsetY: Int
    /// The scaled source's size inside `image`.
    public let contentWidth: Int
    public let contentHeight: Int
    public let sourceWidth: Int
    public let sourceHeight: Int

    /// A point in letterbox pixel coordinates to the source image. Uses the exact per-axis
    /// content scale (contentWidth / sourceWidth), which differs from `scale` by the rounding of
    /// the content size.
    public func toSource(x: Double, y: Double) -> (x: Double, y: Double) {
        ((x - Double(offsetX)) * Double(sourceWidth) / Double(contentWidth),
         (y - Double(offsetY)) * Double(sourceHeight) / Double(contentHeight))
    }

    /// A point in source pixel coordinates to the letterbox.
    public func fromSource(x: Double, y: Double) -> (x: Double, y: Double) {
        (x * Double(contentWidth) / Double(sourceWidth) + Double(offsetX),
         y * Double(contentHeight) / Double(sourceHeight) + Double(offsetY))
    }

    /// A box (x0, y0, x1, y1) in letterbox coordinates to source coordinates, clipped to the source.
    public func boxToSource(x0: Double, y0: Double, x1: Double, y1: Double) -> (x0: Double, y0: Double, x1: Double, y1: Double) {
        let a = toSource(x: x0, y: y0), b = toSource(x: x1, y: y1)
        let w = Double(sourceWidth), h = Double(sourceHeight)
        return (min(max(a.x, 0), w), min(max(a.y, 0), h), min(max(b.x, 0), w), min(max(b.y, 0), h))
    }
}

extension Image {
    /// Fits the image into width x height keeping its aspect ratio, pads the rest with
    /// `padValue` (in sample units of this image's depth, every channel; YOLOv5 uses 114 for
    /// 8-bit) and records the mapping. See `Letterbox`.
    public func letterboxed(width targetWidth: Int, height targetHeight: Int, padValue: Int = 114,
                            filter: ResizeFilter = .bilinear) throws(ImagingError) -> Letterbox {
        guard targetWidth > 0, targetHeight > 0, targetWidth <= 1 << 16, targetHeight <= 1 << 16 else {
            throw .invalidArgument("letterbox target must be 1...65536 per side, got \(targetWidth) x \(targetHeight)")
        }
        let r = min(Double(targetWidth) / Double(width), Double(targetHeight) / Double(height))
        let contentWidth = min(targetWidth, max(1, Int((Double(width) * r).rounded())))
        let contentHeight = min(targetHeight, max(1, Int((Double(height) * r).rounded())))
        let content = try resized(width: contentWidth, height: contentHeight, filter: filter)
        let left = (targetWidth - contentWidth) / 2, top = (targetHeight - contentHeight) / 2
        let c = channels

        func paste<T: FixedWidthInteger>(_ values: [T], _ pad: T) -> [T] {
            var out = [T](repeating: pad, count: targetWidth * targetHeight * c)
            let rowLength = contentWidth * c
            for row in 0..<contentHeight {
                let dst = ((row + top) * targetWidth + left) * c
                out.replaceSubrange(dst..<dst + rowLength, with: values[row * rowLength..<(row + 1) * rowLength])
            }
            return out
        }
        let padded: Image
        switch content.samples {
        case .eightBit(let values):
            padded = Image(unchecked: targetWidth, targetHeight, colour, .eightBit(paste(values, UInt8(clamping: padValue))))
        case .sixteenBit(let values):
            padded = Image(unchecked: targetWidth, targetHeight, colour, .sixteenBit(paste(values, UInt16(clamping: padValue))))
        }
        return Letterbox(image: padded, scale: r, offsetX: left, offsetY: top,
                         contentWidth: contentWidth, contentHeight: contentHeight,
                         sourceWidth: width, sourceHeight: height)
    }
}
