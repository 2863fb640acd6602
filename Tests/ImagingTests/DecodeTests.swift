import Foundation
import Synchronization
import XCTest
import Imaging
import TestSupport

final class DecodeTests: XCTestCase {
    let decoder = ImageDecoder()

    /// Every fixture decodes to exactly PIL's pixels (PNG: lossless; JPEG: same IDCT and
    /// upsampling in libjpeg-turbo 2.1 and Pillow's 3.x, so exact as well).
    func testDecodeMatchesPIL() throws {
        for f in ReferenceFixtures.decode {
            let image = try decoder.decode(f.file, name: f.name)
            XCTAssertEqual(image.width, f.width, f.name)
            XCTAssertEqual(image.height, f.height, f.name)
            XCTAssertEqual(image.channels, f.channels, f.name)
            XCTAssertEqual(image.bitDepth, f.bitDepth, f.name)
            if f.bitDepth == 16 {
                XCTAssertEqual(image.samples16, f.pixels.uint16LEArray, f.name)
            } else {
                let got = image.bytes8, want = f.pixels.uint8Array
                let diff = zip(got, want).map { abs(Int($0) - Int($1)) }.max() ?? -1
                XCTAssertEqual(got.count, want.count, f.name)
                XCTAssertEqual(diff, 0, "\(f.name): max |swift - PIL| = \(diff)")
            }
        }
    }

    func testSixteenBitKeepsFullRange() throws {
        let image = try decoder.decode(fixture("png_grey16").file, name: "grey16.png")
        XCTAssertEqual(image.sample(x: 0, y: 0), 0)
        XCTAssertEqual(image.sample(x: 1, y: 0), 65535)
    }

    func testPNGRoundTrips() throws {
        let folder = try makeTemporaryFolder(self)
        let w = 23, h = 17
        let grey8 = try Image(width: w, height: h, colour: .grey, pixels: (0..<w * h).map { UInt8(truncatingIfNeeded: $0 * 7) })
        let rgb8 = try Image(width: w, height: h, colour: .rgb, pixels: (0..<w * h * 3).map { UInt8(truncatingIfNeeded: $0 * 13 + 5) })
        let grey16 = try Image(width: w, height: h, colour: .grey, pixels: (0..<w * h).map { UInt16(truncatingIfNeeded: $0 * 2039 + 1) })
        let rgb16 = try Image(width: w, height: h, colour: .rgb, pixels: (0..<w * h * 3).map { UInt16(truncatingIfNeeded: $0 * 40_009) })
        for (name, image) in [("grey8", grey8), ("rgb8", rgb8), ("grey16", grey16), ("rgb16", rgb16)] {
            let url = folder.appendingPathComponent("\(name).png")
            try image.writePNG(to: url)
            XCTAssertEqual(try decoder.decode(contentsOf: url), image, name)
            // Overwriting goes through the same atomic path.
            try image.writePNG(to: url, compressionLevel: 1)
            XCTAssertEqual(try decoder.decode(contentsOf: url), image, name)
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.contains(".tmp-") }
        XCTAssertEqual(leftovers, [], "atomic write left temporary files")
    }

    func testWriteIntoMissingFolderFailsCleanly() throws {
        let folder = try makeTemporaryFolder(self)
        let url = folder.appendingPathComponent("no-such-folder/out.png")
        let image = try Image.filled(width: 2, height: 2, colour: .grey, bitDepth: 8, value: 9)
        XCTAssertThrowsError(try image.writePNG(to: url)) { error in
            XCTAssertTrue("\(error)".contains("no-such-folder/out.png"), "\(error)")
        }
    }

    // MARK: - Bad input: each names the file, and the next decode still works.

    private func assertStillDecodes(file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNoThrow(try decoder.decode(fixture("jpeg_rgb_420_odd_size").file, name: "ok.jpg"), file: file, line: line)
        XCTAssertNoThrow(try decoder.decode(fixture("png_rgb8").file, name: "ok.png"), file: file, line: line)
    }

    func testCorruptPNG() {
        // Damaged compressed pixels: zlib refuses them.
        var bytes = fixture("png_grey8").file.uint8Array
        let idat = bytes.indices.first { bytes[$0..<$0 + 4].elementsEqual(Array("IDAT".utf8)) }!
        for i in idat + 6..<idat + 16 { bytes[i] ^= 0x5A }
        let error = assertImagingError({ try self.decoder.decode(Data(bytes), name: "knee.png") },
                                       contains: ["knee.png", "PNG is corrupt", "IDAT"])
        if case .corrupt = error {} else { XCTFail("\(String(describing: error))") }
        // A flipped bit in the header: the chunk checksum catches it.
        var header = fixture("png_grey8").file.uint8Array
        header[16] ^= 0x01  // IHDR width
        assertImagingError({ try self.decoder.decode(Data(header), name: "knee2.png") },
                           contains: ["knee2.png", "PNG is corrupt", "IHDR: CRC error"])
        assertStillDecodes()
    }

    func testCorruptPNGWithValidCRC() {
        // Damage the zlib stream but fix the CRC, so zlib (not the CRC check) must catch it.
        var bytes = fixture("png_rgb8").file.uint8Array
        let idat = bytes.indices.first { bytes[$0..<$0 + 4].elementsEqual(Array("IDAT".utf8)) }!
        let length = Int(bytes[idat - 4]) << 24 | Int(bytes[idat - 3]) << 16 | Int(bytes[idat - 2]) << 8 | Int(bytes[idat - 1])
        bytes[idat + 4] = 0x78; bytes[idat + 5] = 0xFF  // bad zlib header check bits
        let crc = bigEndian32(crc32(Array(bytes[idat..<idat + 4 + length])))
        bytes.replaceSubrange(idat + 4 + length..<idat + 8 + length, with: crc)
        assertImagingError({ try self.decoder.decode(Data(bytes), name: "hip.png") }, contains: ["hip.png", "PNG is corrupt"])
        assertStillDecodes()
    }

    func testTruncatedPNG() {
        let bytes = fixture("png_rgb8").file
        let error = assertImagingError({ try self.decoder.decode(bytes.prefix(bytes.count / 2), name: "femur.png") },
                                       contains: ["femur.png", "PNG is truncated", "not copied completely"])
        if case .truncated = error {} else { XCTFail("\(String(describing: error))") }
        assertImagingError({ try self.decoder.decode(bytes.prefix(12), name: "short.png") }, contains: ["short.png", "truncated"])
        assertStillDecodes()
    }

    func testCorruptJPEG() {
        // A Huffman table that overflows, in the middle of the header.
        var bytes = fixture("jpeg_rgb_420_odd_size").file.uint8Array
        let dht = bytes.indices.first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC4 }!
        for i in dht + 5..<dht + 21 { bytes[i] = 0xFF }
        let error = assertImagingError({ try self.decoder.decode(Data(bytes), name: "tibia.jpg") },
                                       contains: ["tibia.jpg", "JPEG is corrupt"])
        if case .corrupt = error {} else { XCTFail("\(String(describing: error))") }
        assertStillDecodes()
    }

    func testCorruptJPEGScanData() {
        // Garbage in the entropy-coded data: libjpeg only warns ("Corrupt JPEG data"); we refuse.
        var bytes = fixture("jpeg_rgb_444_progressive").file.uint8Array
        let sos = bytes.indices.first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xDA }!
        for i in sos + 20..<sos + 60 { bytes[i] = 0xFF }
        assertImagingError({ try self.decoder.decode(Data(bytes), name: "scan.jpg") }, contains: ["scan.jpg", "JPEG is"])
        assertStillDecodes()
    }

    func testTruncatedJPEG() {
        let bytes = fixture("jpeg_rgb_420_odd_size").file
        let error = assertImagingError({ try self.decoder.decode(bytes.prefix(bytes.count * 2 / 3), name: "ankle.jpg") },
                                       contains: ["ankle.jpg", "JPEG is truncated", "Premature end of JPEG file"])
        if case .truncated = error {} else { XCTFail("\(String(describing: error))") }
        assertImagingError({ try self.decoder.decode(bytes.prefix(3), name: "three.jpg") }, contains: ["three.jpg", "JPEG"])
        assertStillDecodes()
    }

    func testEmptyFile() throws {
        let folder = try makeTemporaryFolder(self)
        let url = folder.appendingPathComponent("empty.png")
        XCTAssertTrue(FileManager.default.createFile(atPath: url.path, contents: Data()))
        assertImagingError({ try self.decoder.decode(contentsOf: url) }, contains: [url.path, "empty (0 bytes)"])
        assertStillDecodes()
    }

    func testNotAnImage() {
        assertImagingError({ try self.decoder.decode(Data("hello, radiology".utf8), name: "notes.png") },
                           contains: ["notes.png: not a PNG or JPEG (starts with 0x68656C6C)"])
        var dicom = Data(count: 128)
        dicom.append(Data("DICM".utf8))
        dicom.append(Data(count: 16))
        assertImagingError({ try self.decoder.decode(dicom, name: "ct.dcm") }, contains: ["ct.dcm", "DICOM"])
        assertStillDecodes()
    }

    func testDirectoryAndMissingFile() throws {
        let folder = try makeTemporaryFolder(self)
        assertImagingError({ try self.decoder.decode(contentsOf: folder) }, contains: [folder.path, "is a folder"])
        let missing = folder.appendingPathComponent("IMG999999.png")
        let error = assertImagingError({ try self.decoder.decode(contentsOf: missing) }, contains: [missing.path, "no such file"])
        XCTAssertEqual(error, .notFound(file: missing.path))
        assertStillDecodes()
    }

    func testHugeDeclaredPNGIsRefusedBeforeAllocating() {
        let data = pngDeclaring(width: 1_000_000, height: 1_000_000)
        let error = assertImagingError({ try self.decoder.decode(data, name: "huge.png") },
                                       contains: ["huge.png", "1000000 x 1000000", "limit of 100000000 pixels"])
        XCTAssertEqual(error, .tooLarge(file: "huge.png", width: 1_000_000, height: 1_000_000, limit: 100_000_000))
        assertStillDecodes()
    }

    func testHugeDeclaredJPEGIsRefusedBeforeAllocating() {
        // JPEG stores sizes in 16 bits and libjpeg accepts up to 65500 per side: patch SOF0.
        var bytes = fixture("jpeg_grey").file.uint8Array
        let sof = bytes.indices.first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 }!
        bytes.replaceSubrange(sof + 5..<sof + 9, with: [0xFF, 0xDC, 0xFF, 0xDC])  // 65500 x 65500
        assertImagingError({ try self.decoder.decode(Data(bytes), name: "huge.jpg") },
                           contains: ["huge.jpg", "65500 x 65500", "limit of 100000000 pixels"])
        assertStillDecodes()
    }

    func testPixelLimitIsConfigurable() {
        let small = ImageDecoder(maxPixels: 100)
        let error = assertImagingError({ try small.decode(fixture("png_grey8").file, name: "a.png") }, contains: ["17 x 13", "limit of 100"])
        XCTAssertEqual(error, .tooLarge(file: "a.png", width: 17, height: 13, limit: 100))
        XCTAssertNoThrow(try ImageDecoder(maxPixels: 17 * 13).decode(fixture("png_grey8").file, name: "a.png"))
    }

    func testFormatIsSniffedNotTakenFromTheName() throws {
        let folder = try makeTemporaryFolder(self)
        let url = folder.appendingPathComponent("really-a-png.jpg")
        try fixture("png_rgb8").file.write(to: url)
        XCTAssertEqual(try decoder.decode(contentsOf: url).colour, .rgb)
        XCTAssertEqual(ImageFormat.sniff(fixture("jpeg_grey").file), .jpeg)
    }

    /// The C shim keeps no global state: decodes (good and bad) on many threads at once.
    func testConcurrentDecodes() throws {
        let files = ReferenceFixtures.decode.map(\.file)
        let decoder = self.decoder
        let wrong = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 64) { i in
            let data = files[i % files.count]
            let truncate = i % 3 == 0
            let ok = (try? decoder.decode(truncate ? data.prefix(data.count / 2) : data, name: "\(i)")) != nil
            if ok == truncate { wrong.withLock { $0 += 1 } }
        }
        XCTAssertEqual(wrong.withLock { $0 }, 0)
    }

    /// Thousands of damaged variants of every fixture (bytes flipped, set to 0xFF or 0x00,
    /// cut short, garbage spliced in): each decodes or throws an ImagingError; none crashes,
    /// exits or hangs. Run under `--sanitize=address` to check the C error paths for memory errors.
    func testMutatedFilesNeverCrash() {
        var random = SplitMix64(seed: 7)
        var decodedCount = 0, refused = 0
        for f in ReferenceFixtures.decode {
            let original = f.file.uint8Array
            for _ in 0..<300 {
                var bytes = original
                for _ in 0..<(1 + Int(random.next() % 4)) {
                    let at = Int(random.next() % UInt64(bytes.count))
                    switch random.next() % 5 {
                    case 0: bytes[at] ^= UInt8(truncatingIfNeeded: random.next() | 1)
                    case 1: bytes[at] = 0xFF
                    case 2: bytes[at] = 0x00
                    case 3: bytes.removeSubrange(max(at, 8)...)
                    default: bytes.insert(contentsOf: (0..<8).map { _ in UInt8(truncatingIfNeeded: random.next()) }, at: at)
                    }
                    if bytes.count < 9 { break }
                }
                do {
                    let image = try decoder.decode(Data(bytes), name: "mutant")
                    XCTAssertEqual(image.samples.count, image.width * image.height * image.channels)
                    decodedCount += 1
                } catch {
                    XCTAssertTrue("\(error)".hasPrefix("mutant: "), "\(error)")
                    refused += 1
                }
            }
        }
        print("mutated files: \(refused) refused with a message, \(decodedCount) still decoded")
        assertStillDecodes()
    }
}

struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Resource limits: a small file must not make the decoder allocate gigabytes or block.
final class DecodeLimitTests: XCTestCase {
    static func maxRSSKilobytes() -> Int {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Int(u.ru_maxrss)
    }

    /// A 44-byte PNG whose zTXt chunk declares 2 GB: refused before the chunk's buffer exists.
    func testATextChunkDeclaringGigabytesIsNotAllocated() throws {
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        let ihdr: [UInt8] = Array("IHDR".utf8) + [0, 0, 0, 16, 0, 0, 0, 16, 8, 0, 0, 0, 0]
        png += [0, 0, 0, 13] + ihdr + crc32(ihdr)
        png += [0x7F, 0xFF, 0xFF, 0xF0] + Array("zTXt".utf8) + Array("abc".utf8)
        XCTAssertEqual(png.count, 44)
        let before = Self.maxRSSKilobytes()
        XCTAssertThrowsError(try ImageDecoder().decode(Data(png), name: "bomb.png")) { e in
            XCTAssertTrue("\(e)".contains("bomb.png"), "\(e)")
        }
        XCTAssertLessThan(Self.maxRSSKilobytes() - before, 256 * 1024, "the peak memory grew by less than 256 MB")
    }

    func testAFIFOIsRefusedNotWaitedOn() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tb-fifo-\(getpid()).png").path
        unlink(path)
        XCTAssertEqual(mkfifo(path, 0o600), 0)
        defer { unlink(path) }
        XCTAssertThrowsError(try ImageDecoder().decode(contentsOf: URL(fileURLWithPath: path))) { e in
            XCTAssertTrue("\(e)".contains("not a regular file"), "\(e)")
        }
    }

    func crc32(_ bytes: [UInt8]) -> [UInt8] {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        c ^= 0xFFFF_FFFF
        return [UInt8(c >> 24), UInt8((c >> 16) & 0xFF), UInt8((c >> 8) & 0xFF), UInt8(c & 0xFF)]
    }
}
