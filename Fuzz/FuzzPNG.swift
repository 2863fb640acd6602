// libFuzzer entry for the PNG decoder: ImageDecoder (Swift) over the C shim over libpng.
// Any input must come back as an image or an ImagingError: a crash, an AddressSanitizer report,
// a leak, a hang or an allocation past libFuzzer's RSS limit is a bug.
// Inputs without the PNG signature get it prepended, so no mutation is spent outside the format.
import Foundation
import Imaging

// 4 megapixels: more than every seed; small enough that a header declaring the limit (the
// decoder allocates what the header says before reading rows) stays far below the RSS limit.
let pngDecoder = ImageDecoder(maxPixels: 4_000_000, maxFileBytes: 1 << 24)
let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPNG(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var bytes = Data(bytes: data, count: size)
    if !bytes.starts(with: pngSignature) { bytes = Data(pngSignature) + bytes }
    checkDecode(bytes, decoder: pngDecoder)
    return 0
}

func checkDecode(_ bytes: Data, decoder: ImageDecoder) {
    do {
        let image = try decoder.decode(bytes, name: "fuzz-input")
        // What every consumer relies on: the samples agree with the dimensions, within the limit.
        guard image.width > 0, image.height > 0, image.pixelCount <= decoder.maxPixels,
              image.samples.count == image.width * image.height * image.channels else {
            fuzzViolation("decoded \(image.width) x \(image.height) x \(image.channels) with \(image.samples.count) samples")
        }
    } catch {
        guard !error.description.isEmpty else { fuzzViolation("an error without a message") }
    }
}
