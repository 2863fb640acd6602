/// How `resized` computes a new pixel. Both use the half-pixel-centre convention: output pixel
/// i has its centre at source coordinate (i + 0.5) * in / out - 0.5.
public enum ResizeFilter: Sendable, Equatable {
    /// Two-tap bilinear exactly as PyTorch's `F.interpolate(mode="bilinear",
    /// align_corners=False, antialias=False)` (and OpenCV's INTER_LINEAR): a source coordinate
    /// below 0 is clamped to 0, the right/bottom neighbour is clamped to the last pixel.
    /// Computed in Float32 in torch's order, then rounded half up. Use it where the training
    /// code used torch's interpolate. Downscaling by more than 2x aliases.
    case bilinear
    /// Triangle filter widened by the scale factor when shrinking, as PIL's
    /// `Image.resize(..., Image.BILINEAR)` (= torch's antialias=True): separable, horizontal
    /// pass first, rounded to the sample type between passes like PIL. Upscaling gives the same
    /// as `.bilinear`.
    case bilinearAntialiased
}

extension Image {
    /// The image scaled to width x height (aspect not kept; see `letterboxed` for that).
    /// Bit depth and colour are kept.
    public func resized(width newWidth: Int, height newHeight: Int,
                        filter: ResizeFilter = .bilinear) throws(ImagingError) -> Image {
        guard newWidth > 0, newHeight > 0, newWidth <= 1 << 16, newHeight <= 1 << 16 else {
            throw .invalidArgument("resize target must be 1...65536 per side, got \(newWidth) x \(newHeight)")
        }
        if newWidth == width, newHeight == height { return self }
        if filter == .bilinearAntialiased, case .eightBit(let bytes) = samples {
            // Pillow's own fixed-point arithmetic for 8-bit images, so a downscaled radiograph is
            // the one the PyTorch reference letterboxes (float sums rounded ~3 % of pixels the
            // other way at x.5, enough to move a detector score by 0.01).
            var current = bytes, currentWidth = width
            if newWidth != width {
                current = fixedPointPass(current, count: height, stride: currentWidth, inLength: width, outLength: newWidth, horizontal: true)
                currentWidth = newWidth
            }
            if newHeight != height {
                current = fixedPointPass(current, count: currentWidth, stride: currentWidth, inLength: height, outLength: newHeight, horizontal: false)
            }
            return Image(unchecked: newWidth, newHeight, colour, .eightBit(current))
        }
        let maxValue = Float(maxSampleValue)
        let source = floatSamples()
        let result: [Float]
        switch filter {
        case .bilinear:
            result = bilinearTorch(source, newWidth, newHeight)
        case .bilinearAntialiased:
            var current = source, currentWidth = width
            if newWidth != width {
                current = separablePass(current, count: height, stride: currentWidth, inLength: width,
                                        outLength: newWidth, horizontal: true)
                currentWidth = newWidth
                roundInPlace(&current, maxValue)
            }
            if newHeight != height {
                current = separablePass(current, count: currentWidth, stride: currentWidth, inLength: height,
                                        outLength: newHeight, horizontal: false)
            }
            result = current
        }
        return Image(rounding: result, width: newWidth, height: newHeight, colour: colour, bitDepth: bitDepth)
    }

    func floatSamples() -> [Float] {
        switch samples {
        case .eightBit(let values): values.map { Float($0) }
        case .sixteenBit(let values): values.map { Float($0) }
        }
    }

    /// Rounds half up and clamps to the depth's range.
    init(rounding values: [Float], width: Int, height: Int, colour: Colour, bitDepth: Int) {
        if bitDepth == 8 {
            self.init(unchecked: width, height, colour, .eightBit(values.map { UInt8(clamping: Int(($0 + 0.5).rounded(.down))) }))
        } else {
            self.init(unchecked: width, height, colour, .sixteenBit(values.map { UInt16(clamping: Int(($0 + 0.5).rounded(.down))) }))
        }
    }

    private func roundInPlace(_ values: inout [Float], _ maxValue: Float) {
        for i in values.indices { values[i] = min(max((values[i] + 0.5).rounded(.down), 0), maxValue) }
    }

    /// Source taps of torch's upsample_bilinear2d (align_corners=False); Engine's
    /// `Ops.resizeBilinear` computes the same for tensors (the layers do not depend on each other).
    private struct Taps { var i0: Int; var i1: Int; var w0: Float; var w1: Float }

    private static func torchTaps(inLength: Int, outLength: Int) -> [Taps] {
        let scale = Float(inLength) / Float(outLength)
        return (0..<outLength).map { o in
            var s = scale * (Float(o) + 0.5) - 0.5
            if s < 0 { s = 0 }
            let i0 = min(Int(s), inLength - 1)
            let i1 = i0 < inLength - 1 ? i0 + 1 : i0
            let w1 = s - Float(i0)
            return Taps(i0: i0, i1: i1, w0: 1 - w1, w1: w1)
        }
    }

    private func bilinearTorch(_ source: [Float], _ newWidth: Int, _ newHeight: Int) -> [Float] {
        let xs = Self.torchTaps(inLength: width, outLength: newWidth)
        let ys = Self.torchTaps(inLength: height, outLength: newHeight)
        let c = channels, rowStride = width * c
        var out = [Float](repeating: 0, count: newWidth * newHeight * c)
        out.withUnsafeMutableBufferPointer { dst in
            source.withUnsafeBufferPointer { src in
                for oy in 0..<newHeight {
                    let ty = ys[oy], row0 = ty.i0 * rowStride, row1 = ty.i1 * rowStride
                    for ox in 0..<newWidth {
                        let tx = xs[ox], a = tx.i0 * c, b = tx.i1 * c
                        let o = (oy * newWidth + ox) * c
                        for k in 0..<c {
                            let top = tx.w0 * src[row0 + a + k] + tx.w1 * src[row0 + b + k]
                            let bottom = tx.w0 * src[row1 + a + k] + tx.w1 * src[row1 + b + k]
                            dst[o + k] = ty.w0 * top + ty.w1 * bottom
                        }
                    }
                }
            }
        }
        return out
    }

    /// PIL's precompute_coeffs for the bilinear (triangle) filter.

    /// Pillow's 8-bit resampling (Resample.c): weights as Int with 22 fraction bits (rounded
    /// away from zero), a sum started at half a unit, shifted back and clipped to 0...255.
    private func fixedPointPass(_ source: [UInt8], count: Int, stride: Int, inLength: Int,
                                outLength: Int, horizontal: Bool) -> [UInt8] {
        let c = channels, precision = 22
        let taps = Self.pilWeightsDouble(inLength: inLength, outLength: outLength).map { t in
            (t.start, t.weights.map { w in Int(w < 0 ? -0.5 + w * Double(1 << precision) : 0.5 + w * Double(1 << precision)) })
        }
        let outWidth = horizontal ? outLength : stride
        let outHeight = horizontal ? count : outLength
        var out = [UInt8](repeating: 0, count: outWidth * outHeight * c)
        out.withUnsafeMutableBufferPointer { dst in
            source.withUnsafeBufferPointer { src in
                for line in 0..<count {
                    for o in 0..<outLength {
                        let (start, weights) = taps[o]
                        for k in 0..<c {
                            var sum = 1 << (precision - 1)
                            for (j, w) in weights.enumerated() {
                                let i = start + j
                                sum += w * Int(src[horizontal ? (line * stride + i) * c + k : (i * stride + line) * c + k])
                            }
                            let v = sum <= 0 ? 0 : (sum >= (1 << precision) << 8 ? 255 : sum >> precision)
                            dst[horizontal ? (line * outWidth + o) * c + k : (o * outWidth + line) * c + k] = UInt8(v)
                        }
                    }
                }
            }
        }
        return out
    }

    /// Pillow's bilinear taps (precompute_coeffs): a triangle widened by the scale when shrinking, normalised.
    private static func pilWeightsDouble(inLength: Int, outLength: Int) -> [(start: Int, weights: [Double])] {
        let scale = Double(inLength) / Double(outLength)
        let filterScale = max(scale, 1)
        let support = filterScale
        return (0..<outLength).map { o in
            let centre = (Double(o) + 0.5) * scale
            let start = max(Int(centre - support + 0.5), 0)
            let end = min(Int(centre + support + 0.5), inLength)
            var weights = (start..<max(end, start + 1)).map { i -> Double in
                let t = abs((Double(i) - centre + 0.5) / filterScale)
                return t < 1 ? 1 - t : 0
            }
            let total = weights.reduce(0, +)
            if total > 0 { weights = weights.map { $0 / total } }
            return (start, weights)
        }
    }

    /// One 1-D pass along x (horizontal) or y, over `count` rows (or columns).
    private func separablePass(_ source: [Float], count: Int, stride: Int, inLength: Int,
                               outLength: Int, horizontal: Bool) -> [Float] {
        let c = channels
        let taps = Self.pilWeightsDouble(inLength: inLength, outLength: outLength).map { (start: $0.start, weights: $0.weights.map { Float($0) }) }
        let outWidth = horizontal ? outLength : stride
        let outHeight = horizontal ? count : outLength
        var out = [Float](repeating: 0, count: outWidth * outHeight * c)
        out.withUnsafeMutableBufferPointer { dst in
            source.withUnsafeBufferPointer { src in
                for line in 0..<count {
                    for o in 0..<outLength {
                        let tap = taps[o]
                        for k in 0..<c {
                            var sum: Float = 0
                            for (j, w) in tap.weights.enumerated() {
                                let i = tap.start + j
                                sum += w * src[horizontal ? (line * stride + i) * c + k : (i * stride + line) * c + k]
                            }
                            dst[horizontal ? (line * outWidth + o) * c + k : (o * outWidth + line) * c + k] = sum
                        }
                    }
                }
            }
        }
        return out
    }
}
