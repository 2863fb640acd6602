import Foundation
import XCTest
import Imaging

/// Decodes real files from ../shared/data (BTXRD radiographs, their 1-bit masks, an
/// osteosarcoma H&E JPEG tile) and compares with PIL's decode of the same files, run at test
/// time. Skips with a message when the data or a Python with PIL is not there. Writes only
/// to a temporary folder.
final class RealDataTests: XCTestCase {
    static let dataFolder: URL = {
        if let env = ProcessInfo.processInfo.environment["TUMORBOARD_DATA"] { return URL(fileURLWithPath: env) }
        return repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/data")
    }()

    /// Three greyscale radiographs, one of the 34 RGB ones (README), a lesion mask (1-bit).
    func testBTXRDMatchesPIL() throws {
        let btxrd = Self.dataFolder.appendingPathComponent("btxrd")
        guard FileManager.default.fileExists(atPath: btxrd.appendingPathComponent("images").path) else {
            throw XCTSkip("BTXRD not found at \(btxrd.path) (set TUMORBOARD_DATA to the shared data folder)")
        }
        let images = btxrd.appendingPathComponent("images")
        let cases: [(file: URL, colour: Image.Colour, pilMode: String)] = [
            (images.appendingPathComponent("IMG000001.png"), .grey, "L"),
            (images.appendingPathComponent("IMG000002.png"), .grey, "L"),
            (images.appendingPathComponent("IMG000003.png"), .grey, "L"),
            (images.appendingPathComponent("IMG001369.png"), .rgb, "RGB"),
            (btxrd.appendingPathComponent("masks/IMG000001.png"), .grey, "1"),
        ]
        var decoded: [Image] = []
        for c in cases {
            let image = try ImageDecoder().decode(contentsOf: c.file)
            XCTAssertEqual(image.width, 256, c.file.lastPathComponent)
            XCTAssertEqual(image.height, 256, c.file.lastPathComponent)
            XCTAssertEqual(image.colour, c.colour, c.file.lastPathComponent)
            XCTAssertEqual(image.bitDepth, 8, c.file.lastPathComponent)
            decoded.append(image)
        }
        try compareWithPIL(cases.map(\.file), decoded, modes: cases.map(\.pilMode))
    }

    func testSlideTileJPEGMatchesPIL() throws {
        let folder = Self.dataFolder.appendingPathComponent("osteosarcoma-ut-tiles/viable")
        guard let name = (try? FileManager.default.contentsOfDirectory(atPath: folder.path))?.sorted().first(where: { $0.hasSuffix(".jpg") }) else {
            throw XCTSkip("osteosarcoma tiles not found at \(folder.path) (set TUMORBOARD_DATA)")
        }
        let file = folder.appendingPathComponent(name)
        let image = try ImageDecoder().decode(contentsOf: file)
        XCTAssertEqual(image.colour, .rgb)
        try compareWithPIL([file], [image], modes: ["RGB"])
    }

    /// PIL writes each file's pixels (mode "1" through convert("L"), as our decoder scales
    /// 1-bit to 0/255) plus width, height and mode; we compare every byte and report an
    /// FNV-1a checksum of each.
    private func compareWithPIL(_ files: [URL], _ images: [Image], modes: [String]) throws {
        guard let python = pythonWithPIL() else {
            throw XCTSkip("no Python with PIL and numpy (set TUMORBOARD_PYTHON): dimensions checked, PIL comparison skipped")
        }
        let folder = try makeTemporaryFolder(self)
        let script = """
        import sys, numpy as np
        from PIL import Image
        out = sys.argv[1]
        for i, path in enumerate(sys.argv[2:]):
            im = Image.open(path); mode = im.mode
            a = np.array(im.convert("L") if mode == "1" else im)
            open(f"{out}/{i}.raw", "wb").write(a.astype(np.uint8).tobytes())
            print(i, im.width, im.height, mode)
        """
        let result = try runProcess(python, ["-c", script, folder.path] + files.map(\.path))
        XCTAssertEqual(result.status, 0, result.output)
        let lines = result.output.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        XCTAssertEqual(lines.count, files.count, result.output)
        for (i, (image, line)) in zip(images, lines).enumerated() where line.count == 4 {
            let name = files[i].lastPathComponent
            XCTAssertEqual([String(image.width), String(image.height)], [line[1], line[2]], name)
            XCTAssertEqual(line[3], modes[i], name)
            let pil = try Data(contentsOf: folder.appendingPathComponent("\(i).raw"))
            guard case .eightBit(let ours) = image.samples else { XCTFail(name); continue }
            XCTAssertEqual(ours.count, pil.count, name)
            XCTAssertTrue(ours.elementsEqual(pil), "\(name): pixels differ from PIL")
            XCTAssertEqual(fnv1a(ours), fnv1a([UInt8](pil)), name)
            print("real data: \(name) \(image) fnv1a=\(String(fnv1a(ours), radix: 16)) matches PIL")
        }
    }
}

func fnv1a(_ bytes: [UInt8]) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in bytes { hash = (hash ^ UInt64(b)) &* 0x100_0000_01B3 }
    return hash
}
