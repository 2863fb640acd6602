import Foundation
import Imaging

/// The kitty graphics protocol: the raster sent as PNG (f=100), base64 in chunks of 4096,
/// placed over `columns` x `rows` cells at the cursor, quiet (q=2: no replies to read).
/// One image id for the pane, deleted before the next frame's is placed.
public enum KittyEncoder {
    public static let imageID = 7001

    public static func encode(_ raster: PaneRaster, columns: Int, rows: Int) throws -> [UInt8] {
        let image = try Image(width: raster.width, height: raster.height, colour: .rgb, pixels: raster.rgb)
        let png = try image.pngData(compressionLevel: 6)
        let b64 = Array(png.base64EncodedString().utf8)
        var out: [UInt8] = Array(deleteAll.utf8)
        var i = 0
        var first = true
        repeat {
            let end = min(i + 4096, b64.count)
            let more = end < b64.count ? 1 : 0
            let control = first ? "a=T,f=100,i=\(imageID),c=\(columns),r=\(rows),C=1,q=2,m=\(more)" : "m=\(more),q=2"
            out += Array("\u{1B}_G\(control);".utf8) + b64[i..<end] + Array("\u{1B}\\".utf8)
            first = false
            i = end
        } while i < b64.count
        return out
    }

    /// Deletes the pane's image (and frees its data).
    public static let deleteAll = "\u{1B}_Ga=d,d=I,i=\(imageID),q=2\u{1B}\\"
}
