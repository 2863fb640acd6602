/// Pixels of a radiograph, slide tile or display buffer, kept at the depth they were stored in.
///
/// Layout: interleaved samples (RGBRGB... or grey), row-major, top row first, origin top-left,
/// no row padding. `x` is the column, `y` the row, as in BTXRD's boxes.csv.
/// A 16-bit image stays 16-bit through crop, resize and letterbox; only `windowed(_:)` maps it
/// to 8-bit display values.
public struct Image: Sendable, Equatable {
    /// Colour model; the raw value is the number of channels.
    public enum Colour: Int, Sendable, Equatable, CustomStringConvertible {
        case grey = 1
        case rgb = 3
        public var description: String { self == .grey ? "grey" : "RGB" }
    }

    /// The sample storage, which carries the bit depth.
    public enum Samples: Sendable, Equatable {
        case eightBit([UInt8])
        case sixteenBit([UInt16])

        public var count: Int {
            switch self {
            case .eightBit(let values): values.count
            case .sixteenBit(let values): values.count
            }
        }
    }

    public let width: Int
    public let height: Int
    public let colour: Colour
    public let samples: Samples

    public var channels: Int { colour.rawValue }
    public var bitDepth: Int {
        if case .eightBit = samples { return 8 } else { return 16 }
    }
    /// Largest representable sample: 255 or 65535.
    public var maxSampleValue: Int { bitDepth == 8 ? 255 : 65535 }
    public var pixelCount: Int { width * height }

    /// Checks that `samples` holds exactly width * height * channels values.
    public init(width: Int, height: Int, colour: Colour, samples: Samples) throws(ImagingError) {
        guard width > 0, height > 0 else {
            throw .invalidArgument("image size must be positive, got \(width) x \(height)")
        }
        let (expected, overflow) = width.multipliedReportingOverflow(by: height * colour.rawValue)
        guard !overflow, samples.count == expected else {
            throw .invalidArgument(
                "\(width) x \(height) \(colour) needs \(width * height * colour.rawValue) samples, got \(samples.count)")
        }
        self.width = width
        self.height = height
        self.colour = colour
        self.samples = samples
    }

    public init(width: Int, height: Int, colour: Colour, pixels: [UInt8]) throws(ImagingError) {
        try self.init(width: width, height: height, colour: colour, samples: .eightBit(pixels))
    }

    public init(width: Int, height: Int, colour: Colour, pixels: [UInt16]) throws(ImagingError) {
        try self.init(width: width, height: height, colour: colour, samples: .sixteenBit(pixels))
    }

    /// For code that already guarantees the count (internal operations).
    init(unchecked width: Int, _ height: Int, _ colour: Colour, _ samples: Samples) {
        assert(samples.count == width * height * colour.rawValue)
        self.width = width
        self.height = height
        self.colour = colour
        self.samples = samples
    }

    /// A uniform image (every sample `value`, clamped to the depth's range).
    public static func filled(width: Int, height: Int, colour: Colour, bitDepth: Int, value: Int) throws(ImagingError) -> Image {
        guard width > 0, height > 0 else {
            throw .invalidArgument("image size must be positive, got \(width) x \(height)")
        }
        let n = width * height * colour.rawValue
        switch bitDepth {
        case 8: return Image(unchecked: width, height, colour, .eightBit([UInt8](repeating: UInt8(clamping: value), count: n)))
        case 16: return Image(unchecked: width, height, colour, .sixteenBit([UInt16](repeating: UInt16(clamping: value), count: n)))
        default: throw .invalidArgument("bit depth must be 8 or 16, got \(bitDepth)")
        }
    }

    /// The sample at column x, row y; nil outside the image.
    public func sample(x: Int, y: Int, channel: Int = 0) -> Int? {
        guard x >= 0, x < width, y >= 0, y < height, channel >= 0, channel < channels else { return nil }
        let index = (y * width + x) * channels + channel
        switch samples {
        case .eightBit(let values): return Int(values[index])
        case .sixteenBit(let values): return Int(values[index])
        }
    }

    /// Samples as Float32 planes (CHW: all of channel 0, then 1, then 2), each divided by
    /// `maxSampleValue` (a true division, as torch's `x / 255`), so 0...1 whatever the depth.
    /// This is what a network's input wants.
    public func planarFloats() -> [Float] {
        let plane = width * height, c = channels
        var out = [Float](repeating: 0, count: plane * c)
        func fill<T: BinaryInteger>(_ values: [T], _ scale: Float) {
            out.withUnsafeMutableBufferPointer { dst in
                values.withUnsafeBufferPointer { src in
                    for i in 0..<plane {
                        for k in 0..<c { dst[k * plane + i] = Float(src[i * c + k]) / scale }
                    }
                }
            }
        }
        switch samples {
        case .eightBit(let values): fill(values, 255)
        case .sixteenBit(let values): fill(values, 65535)
        }
        return out
    }
}

extension Image: CustomStringConvertible {
    public var description: String { "\(width) x \(height) \(colour) \(bitDepth)-bit" }
}
