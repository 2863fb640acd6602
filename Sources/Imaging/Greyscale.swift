extension Image {
    /// One channel, same bit depth. ITU-R BT.601 luma with PIL's integer weights and rounding:
    /// `L = (19595 R + 38470 G + 7471 B + 32768) >> 16` (weights 0.299/0.587/0.114 in 16-bit
    /// fixed point, summing to 65536; the +32768 rounds half up). Identical to PIL's
    /// `convert("L")` for 8-bit; the same formula is used for 16-bit samples.
    /// A grey image is returned unchanged.
    public func greyscale() -> Image {
        guard colour == .rgb else { return self }
        func luma<T: FixedWidthInteger & UnsignedInteger>(_ rgb: [T]) -> [T] {
            let n = width * height
            return [T](unsafeUninitializedCapacity: n) { out, initialised in
                rgb.withUnsafeBufferPointer { src in
                    for i in 0..<n {
                        let r = UInt64(src[3 * i]), g = UInt64(src[3 * i + 1]), b = UInt64(src[3 * i + 2])
                        out[i] = T(truncatingIfNeeded: (19595 * r + 38470 * g + 7471 * b + 32768) >> 16)
                    }
                }
                initialised = n
            }
        }
        switch samples {
        case .eightBit(let values): return Image(unchecked: width, height, .grey, .eightBit(luma(values)))
        case .sixteenBit(let values): return Image(unchecked: width, height, .grey, .sixteenBit(luma(values)))
        }
    }

    /// Three channels, same bit depth (grey copied into R, G and B). An RGB image is returned unchanged.
    public func rgb() -> Image {
        guard colour == .grey else { return self }
        func spread<T>(_ grey: [T]) -> [T] {
            var out = [T]()
            out.reserveCapacity(grey.count * 3)
            for v in grey { out.append(v); out.append(v); out.append(v) }
            return out
        }
        switch samples {
        case .eightBit(let values): return Image(unchecked: width, height, .rgb, .eightBit(spread(values)))
        case .sixteenBit(let values): return Image(unchecked: width, height, .rgb, .sixteenBit(spread(values)))
        }
    }
}
