// libFuzzer entry for the JPEG decoder: ImageDecoder (Swift, including the EXIF orientation
// reader) over the C shim over libjpeg-turbo. As for PNG: an image or an ImagingError, nothing
// else. Inputs not starting with SOI (FF D8) get it prepended.
import Foundation
import Imaging

let jpegDecoder = ImageDecoder(maxPixels: 4_000_000, maxFileBytes: 1 << 24)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJPEG(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var bytes = Data(bytes: data, count: size)
    if !bytes.starts(with: [0xFF, 0xD8]) { bytes = Data([0xFF, 0xD8]) + bytes }
    do {
        let image = try jpegDecoder.decode(bytes, name: "fuzz-input")
        guard image.width > 0, image.height > 0, image.pixelCount <= jpegDecoder.maxPixels,
              image.samples.count == image.width * image.height * image.channels else {
            fuzzViolation("decoded \(image.width) x \(image.height) x \(image.channels) with \(image.samples.count) samples")
        }
    } catch {
        guard !error.description.isEmpty else { fuzzViolation("an error without a message") }
    }
    // The orientation reader alone, on the raw input too (it must never read out of bounds).
    if let o = ImageDecoder.exifOrientation(Data(bytes: data, count: size)), !(1...8).contains(o) {
        fuzzViolation("EXIF orientation \(o) outside 1-8")
    }
    return 0
}
