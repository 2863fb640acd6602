/// A VOI window: centre and width in modality units (after `Rescale`), as DICOM's
/// Window Center (0028,1050) / Window Width (0028,1051).
public struct Window: Sendable, Equatable, CustomStringConvertible {
    public var center: Double
    public var width: Double

    public init(center: Double, width: Double) {
        self.center = center
        self.width = width
    }

    /// The window that maps `minimum` to 0 and `maximum` to 255 exactly:
    /// center = (min + max + 1) / 2, width = max - min + 1.
    public static func spanning(minimum: Double, maximum: Double) -> Window {
        Window(center: (minimum + maximum + 1) / 2, width: max(1, maximum - minimum + 1))
    }

    public var description: String { "C \(center) W \(width)" }
}

/// DICOM's modality LUT: value = stored * slope + intercept, where stored is read as a two's
/// complement number when `signedSamples` (PixelRepresentation 1). For PNG/JPEG: `.identity`.
public struct Rescale: Sendable, Equatable {
    public var slope: Double
    public var intercept: Double
    public var signedSamples: Bool

    public init(slope: Double = 1, intercept: Double = 0, signedSamples: Bool = false) {
        self.slope = slope
        self.intercept = intercept
        self.signedSamples = signedSamples
    }

    public static let identity = Rescale()

    func modalityValue(stored: Int, bitDepth: Int) -> Double {
        var value = stored
        if signedSamples, stored >= 1 << (bitDepth - 1) { value -= 1 << bitDepth }
        return Double(value) * slope + intercept
    }
}

extension Image {
    /// Smallest and largest sample over all channels (stored values, before any rescale).
    public func sampleRange() -> (minimum: Int, maximum: Int) {
        func range<T: FixedWidthInteger>(_ values: [T]) -> (Int, Int) {
            var lo = T.max, hi = T.min
            for v in values { lo = Swift.min(lo, v); hi = Swift.max(hi, v) }
            return (Int(lo), Int(hi))
        }
        switch samples {
        case .eightBit(let values): return range(values)
        case .sixteenBit(let values): return range(values)
        }
    }

    /// 8-bit display values through the linear VOI function of DICOM PS3.3 C.11.2.1.2.1,
    /// with x the modality value (stored sample through `rescale`), c the center, w the width
    /// (w >= 1):
    ///
    ///     x <= c - 0.5 - (w - 1) / 2   ->  0
    ///     x >  c - 0.5 + (w - 1) / 2   ->  255
    ///     otherwise  y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255, rounded half up
    ///
    /// (w = 1 is a threshold at c - 0.5.) `invert` then maps y to 255 - y, for MONOCHROME1,
    /// which the standard inverts after the VOI window. Applied per channel; computed through a
    /// lookup table of every stored value, so 16-bit costs one table of 65,536 entries.
    public func windowed(_ window: Window, rescale: Rescale = .identity,
                         invert: Bool = false) throws(ImagingError) -> Image {
        guard window.width >= 1, window.width.isFinite, window.center.isFinite else {
            throw .invalidArgument("window width must be at least 1, got \(window.width) (center \(window.center))")
        }
        let depth = bitDepth
        let c = window.center, w = window.width
        let low = c - 0.5 - (w - 1) / 2, high = c - 0.5 + (w - 1) / 2
        let table = (0..<(1 << depth)).map { stored -> UInt8 in
            let x = rescale.modalityValue(stored: stored, bitDepth: depth)
            var y: Int
            if x <= low { y = 0 }
            else if x > high { y = 255 }
            else if w <= 1 { y = 255 }
            else { y = Int((((x - (c - 0.5)) / (w - 1) + 0.5) * 255 + 0.5).rounded(.down)) }
            y = Swift.min(Swift.max(y, 0), 255)
            return UInt8(invert ? 255 - y : y)
        }
        let mapped: [UInt8]
        switch samples {
        case .eightBit(let values): mapped = values.map { table[Int($0)] }
        case .sixteenBit(let values): mapped = values.map { table[Int($0)] }
        }
        return Image(unchecked: width, height, colour, .eightBit(mapped))
    }

    /// A window covering the image's own sample range (rescaled), for a first display of a
    /// 16-bit image without a window in its metadata.
    public func fullRangeWindow(rescale: Rescale = .identity) -> Window {
        let (lo, hi) = sampleRange()
        let a = rescale.modalityValue(stored: lo, bitDepth: bitDepth)
        let b = rescale.modalityValue(stored: hi, bitDepth: bitDepth)
        return .spanning(minimum: Swift.min(a, b), maximum: Swift.max(a, b))
    }
}
