// libFuzzer entry for the DICOM parser (Cases/DICOM.swift): the element reader, the pixel data,
// the display rendering (modality LUT, VOI window, MONOCHROME1) and the patient-tags-only path.
// Any input must come back as a DICOMFile or a DICOMError (ImagingError for the rendering).
import Cases
import Foundation
import Imaging

let dicomScratch = fuzzScratchPath("input.dcm")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDICOM(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    do {
        let d = try DICOMFile(data: bytes, name: "fuzz-input", maxPixels: 4_000_000)
        _ = d.description
        guard d.image.samples.count == d.image.width * d.image.height * d.image.channels else {
            fuzzViolation("stored image \(d.image) with \(d.image.samples.count) samples")
        }
        do {
            let shown = try d.displayImage()
            guard shown.bitDepth == 8, shown.width == d.image.width, shown.height == d.image.height else {
                fuzzViolation("display image \(shown) for stored \(d.image)")
            }
        } catch {
            guard !error.description.isEmpty else { fuzzViolation("an error without a message") }
        }
    } catch {
        guard !error.description.isEmpty else { fuzzViolation("an error without a message") }
    }
    // The header-only reader (listing cases) reads a file.
    if fuzzWrite(data, size, to: dicomScratch) {
        do { _ = try DICOMFile.patient(contentsOf: URL(fileURLWithPath: dicomScratch)) } catch { _ = error.description }
    }
    return 0
}
