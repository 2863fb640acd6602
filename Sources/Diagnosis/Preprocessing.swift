import Engine
import Foundation
import Imaging
import Models

/// The exact input preparation of the reference pipeline (docs/method.md sections 1, 3, 4).
public enum Preprocessing {
    /// The detector's input size (letterbox side).
    public static let letterboxSide = LesionDetector.letterboxSide
    public static let padValue = 114
    public static let cropSide = 128
    public static let slideSide = 128

    /// Grey, 8-bit: 16-bit samples are mapped linearly over their full range (v * 255 / 65535,
    /// rounded), since the models were trained on 8-bit radiographs.
    public static func grey8(_ image: Image) -> Image {
        let g = image.colour == .grey ? image : image.greyscale()
        guard case .sixteenBit(let v) = g.samples else { return g }
        let bytes = v.map { UInt8((UInt32($0) * 255 + 32767) / 65535) }
        return try! Image(width: g.width, height: g.height, colour: .grey, pixels: bytes)
    }

    /// Letterbox to the detector's square input (keep aspect, pad 114). Downscaling uses the
    /// antialiased filter (as PIL, which made the 256-pixel training copies); an image already at
    /// 256 x 256 passes through unchanged, as in training.
    public static func letterbox(_ image: Image) throws -> Letterbox {
        let g = grey8(image)
        let s = letterboxSide
        let downscale = g.width > s || g.height > s
        do {
            return try g.letterboxed(width: s, height: s, padValue: padValue, filter: downscale ? .bilinearAntialiased : .bilinear)
        } catch { throw DiagnosisError.input("radiograph: \(error)") }
    }

    /// The letterboxed image as [1, 1, S, S] in 0...1.
    public static func tensor(_ lb: Letterbox) throws -> Tensor {
        guard case .eightBit(let px) = lb.image.samples else { throw DiagnosisError.input("letterbox is not 8-bit") }
        return try Tensor(shape: [1, 1, lb.image.height, lb.image.width], values: px.map { Float($0) / 255 })
    }

    /// Crop centre and side (letterbox pixels) around a box: side = max(32, 1.5 x the longer
    /// edge), 25% context each side; without a box, the whole letterbox.
    public static func cropParameters(box: (x0: Float, y0: Float, x1: Float, y1: Float)?) -> (cx: Float, cy: Float, side: Float) {
        guard let b = box else {
            let h = Float(letterboxSide) / 2
            return (h, h, Float(letterboxSide))
        }
        return ((b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2, max(32, 1.5 * max(b.x1 - b.x0, b.y1 - b.y0)))
    }

    /// The lesion crop [1, 1, 128, 128]: output pixel (i, j) samples the letterbox at
    /// x = cx + ((j + 0.5) / 128 - 0.5) side (and y likewise), bilinear between pixel centres,
    /// neighbours outside the image count as 114; then / 255 (grid_sample, align_corners=False).
    public static func lesionCrop(_ lb: Letterbox, cx: Float, cy: Float, side: Float) throws -> Tensor {
        guard case .eightBit(let px) = lb.image.samples else { throw DiagnosisError.input("letterbox is not 8-bit") }
        let (w, h) = (lb.image.width, lb.image.height)
        let n = cropSide
        let out = Tensor(uninitialized: [1, 1, n, n])
        func at(_ x: Int, _ y: Int) -> Float {
            (x < 0 || y < 0 || x >= w || y >= h) ? Float(padValue) : Float(px[y * w + x])
        }
        for i in 0..<n {
            let y = cy + ((Float(i) + 0.5) / Float(n) - 0.5) * side - 0.5
            let y0 = Int(y.rounded(.down)), fy = y - Float(y0)
            for j in 0..<n {
                let x = cx + ((Float(j) + 0.5) / Float(n) - 0.5) * side - 0.5
                let x0 = Int(x.rounded(.down)), fx = x - Float(x0)
                let top = at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx
                let bottom = at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx
                out.pointer[i * n + j] = (top * (1 - fy) + bottom * fy) / 255
            }
        }
        return out
    }

    /// The slide as [1, 3, 128, 128] RGB in 0...1: an image whose sides are multiples of 128 is
    /// reduced by block means rounded half to even (as the cohort's 256-pixel tiles were in
    /// training); other sizes by the antialiased bilinear filter.
    public static func slideTensor(_ slide: Image) throws -> Tensor {
        var rgb = slide.colour == .rgb ? slide : slide.rgb()
        if case .sixteenBit(let v) = rgb.samples {
            rgb = try Image(width: rgb.width, height: rgb.height, colour: .rgb, pixels: v.map { UInt8((UInt32($0) * 255 + 32767) / 65535) })
        }
        let n = slideSide
        let out = Tensor(uninitialized: [1, 3, n, n])
        if rgb.width % n == 0, rgb.height % n == 0, case .eightBit(let px) = rgb.samples {
            let fx = rgb.width / n, fy = rgb.height / n
            for c in 0..<3 {
                for i in 0..<n {
                    for j in 0..<n {
                        var s = 0
                        for dy in 0..<fy { for dx in 0..<fx { s += Int(px[((i * fy + dy) * rgb.width + j * fx + dx) * 3 + c]) } }
                        let mean = (Double(s) / Double(fx * fy)).rounded(.toNearestOrEven)
                        out.pointer[(c * n + i) * n + j] = Float(mean) / 255
                    }
                }
            }
            return out
        }
        let small: Image
        do { small = try rgb.resized(width: n, height: n, filter: .bilinearAntialiased) }
        catch { throw DiagnosisError.input("slide: \(error)") }
        guard case .eightBit(let px) = small.samples else { throw DiagnosisError.input("slide is not 8-bit") }
        for c in 0..<3 { for k in 0..<(n * n) { out.pointer[c * n * n + k] = Float(px[k * 3 + c]) / 255 } }
        return out
    }
}
