import Foundation
import XCTest
import Imaging

final class ProcessingTests: XCTestCase {
    func testGreyscaleMatchesPILExactly() throws {
        let rgb = try ImageDecoder().decode(fixture("png_rgb8").file, name: "rgb.png")
        let grey = rgb.greyscale()
        XCTAssertEqual(grey.colour, .grey)
        XCTAssertEqual(grey.bytes8, ReferenceFixtures.greyOfRGB8.uint8Array)
        XCTAssertEqual(grey.greyscale(), grey)
        // 16-bit keeps its depth; pure channels give the BT.601 weights.
        let pure = try Image(width: 3, height: 1, colour: .rgb, pixels: [65535, 0, 0, 0, 65535, 0, 0, 0, 65535] as [UInt16])
        XCTAssertEqual(pure.greyscale().samples16, [19595, 38469, 7471])  // (38470 * 65535 + 32768) >> 16
        XCTAssertEqual(pure.greyscale().rgb().greyscale(), pure.greyscale())
    }

    /// `.bilinear` against torch F.interpolate(align_corners=False) in float32, rounded half up.
    /// Tolerance: 1 grey level where the float lands within 1e-3 of .5 (float32 order of
    /// operations); exact elsewhere.
    func testBilinearMatchesTorch() throws {
        var worst = 0
        for f in ReferenceFixtures.resize {
            let source = try Image(width: f.width, height: f.height, colour: f.channels == 1 ? .grey : .rgb, pixels: f.source.uint8Array)
            let out = try source.resized(width: f.outWidth, height: f.outHeight, filter: .bilinear)
            XCTAssertEqual(out.width, f.outWidth)
            XCTAssertEqual(out.height, f.outHeight)
            for (got, ref) in zip(out.bytes8, f.torchFloat.float32LEArray) {
                let rounded = Int((ref + 0.5).rounded(.down))
                let diff = abs(Int(got) - rounded)
                worst = max(worst, diff)
                if diff > 0 {
                    XCTAssertLessThanOrEqual(diff, 1, f.name)
                    XCTAssertLessThan(abs(ref - ref.rounded(.down) - 0.5), 1e-3, "\(f.name): \(got) vs torch \(ref)")
                }
            }
        }
        print("bilinear vs torch: max |diff| = \(worst) grey levels over \(ReferenceFixtures.resize.count) cases")
    }

    /// `.bilinearAntialiased` against PIL's Image.resize(BILINEAR): within 1 grey level (PIL
    /// uses 22-bit fixed-point weights, we use Float32).
    func testAntialiasedMatchesPIL() throws {
        var worst = 0, differing = 0, total = 0
        for f in ReferenceFixtures.resize {
            let source = try Image(width: f.width, height: f.height, colour: f.channels == 1 ? .grey : .rgb, pixels: f.source.uint8Array)
            let out = try source.resized(width: f.outWidth, height: f.outHeight, filter: .bilinearAntialiased)
            for (got, ref) in zip(out.bytes8, f.pil.uint8Array) {
                let diff = abs(Int(got) - Int(ref))
                worst = max(worst, diff)
                differing += diff > 0 ? 1 : 0
                total += 1
            }
        }
        XCTAssertLessThanOrEqual(worst, 1)
        print("antialiased vs PIL: max |diff| = \(worst), \(differing) of \(total) samples differ")
    }

    func testResizeKeepsSixteenBitDepth() throws {
        let image = try Image(width: 4, height: 2, colour: .grey, pixels: [0, 1000, 2000, 65535, 4, 5, 6, 7] as [UInt16])
        let up = try image.resized(width: 8, height: 4)
        XCTAssertEqual(up.bitDepth, 16)
        XCTAssertEqual(up.sample(x: 0, y: 0), 0)
        XCTAssertEqual(up.sample(x: 7, y: 0), 65535)
        XCTAssertEqual(try image.resized(width: 4, height: 2), image)
        XCTAssertThrowsError(try image.resized(width: 0, height: 3))
    }

    func testLetterboxMatchesYOLOv5Reference() throws {
        let source = try Image(width: 19, height: 13, colour: .grey, pixels: ReferenceFixtures.letterboxSource.uint8Array)
        let box = try source.letterboxed(width: 32, height: 32, padValue: 114)
        XCTAssertEqual(box.scale, ReferenceFixtures.letterboxScale, accuracy: 1e-12)
        XCTAssertEqual(box.offsetX, ReferenceFixtures.letterboxOffset.x)
        XCTAssertEqual(box.offsetY, ReferenceFixtures.letterboxOffset.y)
        XCTAssertEqual(box.contentWidth, ReferenceFixtures.letterboxContent.width)
        XCTAssertEqual(box.contentHeight, ReferenceFixtures.letterboxContent.height)
        let diffs = zip(box.image.bytes8, ReferenceFixtures.letterboxExpected.uint8Array).map { abs(Int($0) - Int($1)) }
        XCTAssertLessThanOrEqual(diffs.max() ?? 99, 1)
        XCTAssertEqual(box.image.sample(x: 0, y: 0), 114)
        XCTAssertEqual(box.image.sample(x: 31, y: 31), 114)

        // A box maps back to where it was.
        let corner = box.fromSource(x: 19, y: 13)
        let back = box.toSource(x: corner.x, y: corner.y)
        XCTAssertEqual(back.x, 19, accuracy: 1e-9)
        XCTAssertEqual(back.y, 13, accuracy: 1e-9)
        let mapped = box.boxToSource(x0: -5, y0: Double(box.offsetY), x1: 40, y1: 20)
        XCTAssertEqual(mapped.x0, 0)
        XCTAssertEqual(mapped.y0, 0, accuracy: 1e-9)
        XCTAssertEqual(mapped.x1, 19)
    }

    func testLetterboxRGBSixteenBitAndTall() throws {
        let image = try Image(width: 10, height: 40, colour: .rgb, pixels: [UInt16](repeating: 60000, count: 10 * 40 * 3))
        let box = try image.letterboxed(width: 64, height: 64, padValue: 0)
        XCTAssertEqual(box.image.bitDepth, 16)
        XCTAssertEqual(box.contentWidth, 16)
        XCTAssertEqual(box.contentHeight, 64)
        XCTAssertEqual(box.offsetX, 24)
        XCTAssertEqual(box.offsetY, 0)
        XCTAssertEqual(box.image.sample(x: 23, y: 10, channel: 2), 0)
        XCTAssertEqual(box.image.sample(x: 24, y: 10, channel: 2), 60000)
        XCTAssertEqual(box.image.sample(x: 39, y: 63, channel: 0), 60000)
        XCTAssertEqual(box.image.sample(x: 40, y: 63, channel: 0), 0)
    }

    func testCropClampsToTheImage() throws {
        let image = try Image(width: 5, height: 4, colour: .grey, pixels: (0..<20).map { UInt8($0) })
        let inside = try image.cropped(to: PixelRect(x0: 1, y0: 1, x1: 3, y1: 3))
        XCTAssertEqual(inside.bytes8, [6, 7, 11, 12])
        let overhang = try image.cropped(to: PixelRect(x: 3, y: -2, width: 10, height: 4))
        XCTAssertEqual(overhang.width, 2)
        XCTAssertEqual(overhang.height, 2)
        XCTAssertEqual(overhang.bytes8, [3, 4, 8, 9])
        XCTAssertEqual(PixelRect(x: 3, y: -2, width: 10, height: 4).clamped(toWidth: 5, height: 4), PixelRect(x: 3, y: 0, width: 2, height: 2))
        XCTAssertThrowsError(try image.cropped(to: PixelRect(x: 5, y: 0, width: 3, height: 3))) { error in
            XCTAssertTrue("\(error)".contains("outside the 5 x 4 image"), "\(error)")
        }
        XCTAssertEqual(PixelRect(enclosingX0: 1.2, y0: 0.9, x1: 3.01, y1: 2.0), PixelRect(x0: 1, y0: 0, x1: 4, y1: 2))
        let rgb16 = try Image(width: 2, height: 2, colour: .rgb, pixels: (0..<12).map { UInt16($0 * 1000) })
        XCTAssertEqual(try rgb16.cropped(to: PixelRect(x: 1, y: 1, width: 1, height: 1)).samples16, [9000, 10000, 11000])
    }

    /// Known values of the DICOM PS3.3 C.11.2.1.2.1 linear VOI function.
    func testWindowLevel() throws {
        let ramp8 = try Image(width: 256, height: 1, colour: .grey, pixels: (0...255).map { UInt8($0) })
        XCTAssertEqual(try ramp8.windowed(Window(center: 128, width: 256)).bytes8, ramp8.bytes8, "C128/W256 is the identity")

        let twelveBit = try Image(width: 4, height: 1, colour: .grey, pixels: [0, 2048, 4095, 65535] as [UInt16])
        // x=2048: ((2048 - 2047.5) / 4095 + 0.5) * 255 = 127.53 -> 128.
        XCTAssertEqual(try twelveBit.windowed(Window(center: 2048, width: 4096)).bytes8, [0, 128, 255, 255])
        XCTAssertEqual(try twelveBit.windowed(Window(center: 2048, width: 4096), invert: true).bytes8, [255, 127, 0, 0])
        let full = twelveBit.fullRangeWindow()
        XCTAssertEqual(try twelveBit.windowed(full).bytes8.first, 0)
        XCTAssertEqual(try twelveBit.windowed(full).bytes8.last, 255)

        // CT-style: signed stored values, rescale intercept -1024, brain window C40 W80.
        let stored: [UInt16] = [0, 1024, 1064, 1104, UInt16(bitPattern: -2000)]
        let ct = try Image(width: 5, height: 1, colour: .grey, pixels: stored)
        let rescale = Rescale(slope: 1, intercept: -1024, signedSamples: true)
        // HU: -1024, 0, 40, 80, -3024.  40 -> ((40 - 39.5) / 79 + 0.5) * 255 = 129.1 -> 129.
        XCTAssertEqual(try ct.windowed(Window(center: 40, width: 80), rescale: rescale).bytes8, [0, 0, 129, 255, 0])

        // Width 1: a threshold at c - 0.5.
        XCTAssertEqual(try ramp8.windowed(Window(center: 100, width: 1)).bytes8[99...100], [0, 255])
        XCTAssertThrowsError(try ramp8.windowed(Window(center: 100, width: 0.5)))
        XCTAssertEqual(twelveBit.bitDepth, 16, "windowing returns a new image; the source keeps its depth")
    }

    func testPlanarFloats() throws {
        let image = try Image(width: 2, height: 1, colour: .rgb, pixels: [255, 0, 51, 0, 255, 102] as [UInt8])
        XCTAssertEqual(image.planarFloats(), [1, 0, 0, 1, 0.2, 0.4])
        let sixteen = try Image(width: 1, height: 1, colour: .grey, pixels: [65535] as [UInt16])
        XCTAssertEqual(sixteen.planarFloats(), [1])
    }

    func testInvalidConstruction() {
        XCTAssertThrowsError(try Image(width: 2, height: 2, colour: .rgb, pixels: [UInt8](repeating: 0, count: 4))) { error in
            XCTAssertTrue("\(error)".contains("needs 12 samples, got 4"), "\(error)")
        }
        XCTAssertThrowsError(try Image(width: 0, height: 2, colour: .grey, pixels: [UInt8]()))
    }
}
