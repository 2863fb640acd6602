import CSixel
import Foundation

/// Sixel through libsixel: the pane raster, palette capped (`colours`), no error diffusion
/// (diffusion noise breaks the run-length encoding and roughly doubles the bytes; a grey
/// radiograph with 64 levels shows no visible banding at pane sizes).
public enum SixelEncoder {
    public static let defaultColours = 64
    /// The palette size in use: TUMORBOARD_SIXEL_COLOURS (2-256) or the default.
    public static let colours = ProcessInfo.processInfo.environment["TUMORBOARD_SIXEL_COLOURS"].flatMap { Int($0) }
        .map { max(2, min(256, $0)) } ?? defaultColours

    public struct Failure: Error, CustomStringConvertible { public var description: String }

    private final class Sink { var bytes: [UInt8] = [] }

    public static func encode(_ raster: PaneRaster, colours: Int = defaultColours) throws -> [UInt8] {
        let sink = Sink()
        let priv = Unmanaged.passUnretained(sink).toOpaque()
        var output: OpaquePointer?
        var status = sixel_output_new(&output, { data, size, priv in
            guard let data, let priv, size > 0 else { return 0 }
            let sink = Unmanaged<Sink>.fromOpaque(priv).takeUnretainedValue()
            data.withMemoryRebound(to: UInt8.self, capacity: Int(size)) {
                sink.bytes.append(contentsOf: UnsafeBufferPointer(start: $0, count: Int(size)))
            }
            return size
        }, priv, nil)
        guard tb_sixel_failed(status) == 0, let output else { throw Failure(description: "libsixel: cannot create the output (status \(status))") }
        defer { sixel_output_unref(output) }
        sixel_output_set_encode_policy(output, Int32(SIXEL_ENCODEPOLICY_SIZE))
        var dither: OpaquePointer?
        status = sixel_dither_new(&dither, Int32(max(2, min(256, colours))), nil)
        guard tb_sixel_failed(status) == 0, let dither else { throw Failure(description: "libsixel: cannot create the palette (status \(status))") }
        defer { sixel_dither_unref(dither) }
        var pixels = raster.rgb
        status = pixels.withUnsafeMutableBufferPointer { buf in
            sixel_dither_initialize(dither, buf.baseAddress, Int32(raster.width), Int32(raster.height),
                                    tb_sixel_pixelformat_rgb888(), Int32(SIXEL_LARGE_AUTO), Int32(SIXEL_REP_AUTO),
                                    Int32(SIXEL_QUALITY_AUTO))
        }
        guard tb_sixel_failed(status) == 0 else { throw Failure(description: "libsixel: palette construction failed (status \(status))") }
        sixel_dither_set_diffusion_type(dither, Int32(SIXEL_DIFFUSE_NONE))
        status = pixels.withUnsafeMutableBufferPointer { buf in
            sixel_encode(buf.baseAddress, Int32(raster.width), Int32(raster.height), 3, dither, output)
        }
        guard tb_sixel_failed(status) == 0 else { throw Failure(description: "libsixel: encoding failed (status \(status))") }
        return sink.bytes
    }

    /// Decodes sixel bytes with libsixel: width, height and palette size, or nil when they do not decode.
    public static func decode(_ bytes: [UInt8]) -> (width: Int, height: Int, colours: Int, pixels: [UInt8])? {
        var data = bytes
        var pixels: UnsafeMutablePointer<UInt8>?
        var palette: UnsafeMutablePointer<UInt8>?
        var w: Int32 = 0, h: Int32 = 0, n: Int32 = 0
        let status = data.withUnsafeMutableBufferPointer {
            sixel_decode_raw($0.baseAddress, Int32($0.count), &pixels, &w, &h, &palette, &n, nil)
        }
        defer { free(pixels); free(palette) }
        guard tb_sixel_failed(status) == 0, let pixels, w > 0, h > 0 else { return nil }
        return (Int(w), Int(h), Int(n), Array(UnsafeBufferPointer(start: pixels, count: Int(w * h))))
    }

    /// The raster attributes `"Pan;Pad;Ph;Pv` at the start of the sixel data: declared width and height.
    public static func rasterAttributes(_ bytes: [UInt8]) -> (width: Int, height: Int)? {
        guard let q = bytes.firstIndex(of: UInt8(ascii: "\"")) else { return nil }
        var end = q + 1
        while end < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[end]) || bytes[end] == UInt8(ascii: ";") { end += 1 }
        let fields = String(decoding: bytes[(q + 1)..<end], as: UTF8.self).split(separator: ";").compactMap { Int($0) }
        return fields.count == 4 ? (fields[2], fields[3]) : nil
    }
}
