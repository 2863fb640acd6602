import Foundation
import XCTest
import Imaging

/// Issue 14: a JPEG's EXIF Orientation was ignored, so a radiograph or slide photographed
/// sideways reached the models (and the boxes) sideways while every viewer showed it upright.
final class EXIFOrientationTests: XCTestCase {
    /// All 8 orientations, grey and RGB, against Pillow's ImageOps.exif_transpose
    /// (training/make_exif_fixtures.py, run here).
    func testEveryOrientationIsShownAsPillowShowsIt() throws {
        guard let python = pythonWithPIL() else {
            throw XCTSkip("no Python with PIL (set TUMORBOARD_PYTHON): the Pillow comparison is skipped; the byte-level tests below still run")
        }
        let dir = try makeTemporaryFolder(self)
        let script = repositoryRoot.appendingPathComponent("training/make_exif_fixtures.py").path
        let run = try runProcess(python, [script, dir.path])
        XCTAssertEqual(run.status, 0, run.output)
        let decoder = ImageDecoder()
        for orientation in 1...8 {
            for mode in ["grey", "rgb"] {
                let name = "exif-\(orientation)-\(mode)"
                let jpeg = try Data(contentsOf: dir.appendingPathComponent(name + ".jpg"))
                XCTAssertEqual(ImageDecoder.exifOrientation(jpeg), orientation, name)
                let ours = try decoder.decode(jpeg, name: name)
                let pillow = try decoder.decode(contentsOf: dir.appendingPathComponent(name + ".png"))
                XCTAssertEqual([ours.width, ours.height, ours.channels], [pillow.width, pillow.height, pillow.channels], name)
                guard ours.width == pillow.width, ours.height == pillow.height, ours.channels == pillow.channels else { continue }
                // The same libjpeg decode on both sides; allow a level for a different IDCT build.
                let diff = zip(ours.bytes8, pillow.bytes8).map { abs(Int($0) - Int($1)) }.max() ?? 0
                XCTAssertLessThanOrEqual(diff, 2, "\(name): largest difference from Pillow \(diff)")
            }
        }
    }

    // MARK: - Without Python: an Exif segment spliced into a JPEG the repository ships

    /// A sample slide (a real JPEG, no Exif) and the same bytes with an APP1 Exif segment.
    func sampleJPEG() throws -> Data {
        try Data(contentsOf: repositoryRoot.appendingPathComponent("samples/SAMPLE-01-OSTEOCHONDROMA/slide-A1.jpg"))
    }

    /// APP1 "Exif\0\0" + TIFF (II or MM) with IFD0 holding tag 0x0112 = value (type 3 SHORT or 4 LONG).
    func exifSegment(_ value: Int, bigEndian: Bool = false, type: Int = 3, extraTagsBefore: Int = 1) -> [UInt8] {
        func u16(_ v: Int) -> [UInt8] { bigEndian ? [UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] : [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        func u32(_ v: Int) -> [UInt8] { bigEndian ? u16(v >> 16) + u16(v & 0xFFFF) : u16(v & 0xFFFF) + u16(v >> 16) }
        var tiff: [UInt8] = bigEndian ? [0x4D, 0x4D] : [0x49, 0x49]
        tiff += u16(42) + u32(8) + u16(extraTagsBefore + 1)
        for k in 0..<extraTagsBefore { tiff += u16(0x010F + k) + u16(2) + u32(4) + u32(0) }   // Make: ASCII
        let field = type == 3 ? u16(value) + u16(0) : u32(value)
        tiff += u16(0x0112) + u16(type) + u32(1) + field + u32(0)
        let payload = Array("Exif".utf8) + [0, 0] + tiff
        let length = payload.count + 2
        return [0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + payload
    }

    func withSegment(_ jpeg: Data, _ segment: [UInt8]) -> Data {
        Data(jpeg.prefix(2)) + Data(segment) + Data(jpeg.dropFirst(2))
    }

    func testOrientationIsReadInEitherByteOrderAndType() throws {
        let jpeg = try sampleJPEG()
        XCTAssertNil(ImageDecoder.exifOrientation(jpeg), "the sample has no orientation")
        for o in 1...8 {
            XCTAssertEqual(ImageDecoder.exifOrientation(withSegment(jpeg, exifSegment(o))), o)
            XCTAssertEqual(ImageDecoder.exifOrientation(withSegment(jpeg, exifSegment(o, bigEndian: true))), o)
            XCTAssertEqual(ImageDecoder.exifOrientation(withSegment(jpeg, exifSegment(o, bigEndian: true, type: 4, extraTagsBefore: 3))), o)
        }
        // Out of range: shown as stored (as by Pillow and viewers).
        for o in [0, 9, 0xFFFF] { XCTAssertNil(ImageDecoder.exifOrientation(withSegment(jpeg, exifSegment(o)))) }
    }

    func testRotationsAndMirrorsMovePixelsWhereTheyBelong() throws {
        let jpeg = try sampleJPEG()
        let decoder = ImageDecoder()
        let plain = try decoder.decode(jpeg, name: "plain")
        let w = plain.width, h = plain.height
        // The sample is square (256 x 256): its content tells rotations apart; the Pillow test
        // above covers a non-square picture's width and height.
        func px(_ i: Image, _ x: Int, _ y: Int) -> [Int] { (0..<i.channels).map { i.sample(x: x, y: y, channel: $0) ?? -1 } }
        // Where stored pixel (x, y) appears once shown, per orientation (the EXIF 2.32 table).
        let shownAt: [Int: (Int, Int) -> (Int, Int)] = [
            2: { x, y in (w - 1 - x, y) }, 3: { x, y in (w - 1 - x, h - 1 - y) }, 4: { x, y in (x, h - 1 - y) },
            5: { x, y in (y, x) }, 6: { x, y in (h - 1 - y, x) }, 7: { x, y in (h - 1 - y, w - 1 - x) }, 8: { x, y in (y, w - 1 - x) },
        ]
        let probes = [(0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1), (w / 3, h / 5), (w - 7, h / 2)]
        for o in 2...8 {
            let shown = try decoder.decode(withSegment(jpeg, exifSegment(o)), name: "o\(o)")
            XCTAssertEqual([shown.width, shown.height], o >= 5 ? [h, w] : [w, h], "orientation \(o)")
            for (x, y) in probes {
                let (sx, sy) = shownAt[o]!(x, y)
                XCTAssertEqual(px(shown, sx, sy), px(plain, x, y), "orientation \(o): stored (\(x), \(y)) should be shown at (\(sx), \(sy))")
            }
        }
        XCTAssertEqual(try decoder.decode(withSegment(jpeg, exifSegment(1)), name: "o1"), plain)
    }

    func testDamagedExifIsIgnoredNeverAFault() throws {
        let jpeg = try sampleJPEG()
        let good = exifSegment(6)
        // Every truncation of the segment's payload (its length fixed up to match), a bad TIFF
        // magic, an IFD offset past the end, an entry count past the end.
        for cut in 4..<good.count {
            var seg = Array(good.prefix(cut))
            let length = seg.count - 2
            seg[2] = UInt8(length >> 8); seg[3] = UInt8(length & 0xFF)
            _ = ImageDecoder.exifOrientation(withSegment(jpeg, seg))
        }
        var badMagic = good; badMagic[12] = 0x2B
        XCTAssertNil(ImageDecoder.exifOrientation(withSegment(jpeg, badMagic)))
        var farIFD = good; farIFD[14] = 0xFF; farIFD[15] = 0xFF
        XCTAssertNil(ImageDecoder.exifOrientation(withSegment(jpeg, farIFD)))
        var manyEntries = good; manyEntries[18] = 0xFF; manyEntries[19] = 0xFF
        _ = ImageDecoder.exifOrientation(withSegment(jpeg, manyEntries))   // entries past the end are not read
        var oneEntry = good; oneEntry[18] = 1; oneEntry[19] = 0
        XCTAssertNil(ImageDecoder.exifOrientation(withSegment(jpeg, oneEntry)), "the IFD's count says the tag is not there")
        // A segment length running past the file, and a file of markers only.
        XCTAssertNil(ImageDecoder.exifOrientation(Data([0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF, 0x45, 0x78])))
        XCTAssertNil(ImageDecoder.exifOrientation(Data([0xFF, 0xD8, 0xFF, 0xFF, 0xFF, 0xD0, 0xFF, 0xD9])))
        // The image still decodes, as stored.
        XCTAssertEqual(try ImageDecoder().decode(withSegment(jpeg, badMagic), name: "bad").width, try ImageDecoder().decode(jpeg, name: "plain").width)
    }
}
