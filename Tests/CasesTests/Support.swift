import Foundation
import XCTest
import Imaging
@testable import Cases

/// The repository root (Tests/CasesTests/ is two levels down).
let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A fresh temporary folder, removed when the test ends.
func temporaryFolder(_ test: XCTestCase, _ name: String = "cases") throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("tumorboard-\(name)-\(getpid())-\(UInt32.random(in: 0 ... .max))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// A small valid 8-bit grey PNG (written by the Imaging target's PNG writer).
func writePNG(_ url: URL, width: Int = 8, height: Int = 6, seed: UInt8 = 0) throws {
    let px = (0..<(width * height)).map { UInt8(truncatingIfNeeded: $0 * 7 + Int(seed)) }
    let image = try Image(width: width, height: height, colour: .grey, pixels: px)
    try image.writePNG(to: url)
}

func assertThrowsMessage(_ body: () throws -> Void, contains parts: [String], file: StaticString = #filePath, line: UInt = #line) {
    do {
        try body()
        XCTFail("expected an error containing \(parts)", file: file, line: line)
    } catch {
        let message = "\(error)"
        for p in parts where !message.contains(p) {
            XCTFail("error message \"\(message)\" lacks \"\(p)\"", file: file, line: line)
        }
    }
}


/// A valid case folder with one PNG radiograph, one slide image and two labs.
func makeCase(in parent: URL, id: String = "TB-0001", extra: [String: Any] = [:],
              slidePath: String = "slide.png") throws -> URL {
    let folder = parent.appendingPathComponent(id)
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try writePNG(folder.appendingPathComponent("radiograph.png"))
    try writePNG(folder.appendingPathComponent("slide.png"), seed: 3)
    var manifest: [String: Any] = [
        "format": "tumorboard-case", "format_version": 1, "id": id,
        "synthetic": true, "description": "test case",
        "age": 15, "sex": "M", "site": "femur", "label": "malignant", "subtype": "osteosarcoma",
        "radiographs": [["file": "radiograph.png", "view": "frontal", "acquired": "2026-01-05",
                         "boxes": [["x0": 1, "y0": 1, "x1": 4, "y1": 5]]]],
        "slides": [["slide_id": "S1", "block": "A1", "stain": "H&E", "file": slidePath]],
        "labs": [["marker": "alp", "value": 612, "unit": "U/L", "date": "2026-01-04"],
                 ["marker": "calcium", "value": 2.3, "unit": "mmol/L"]],
    ]
    for (k, v) in extra { manifest[k] = v }
    try JSONSerialization.data(withJSONObject: manifest).write(to: folder.appendingPathComponent("case.json"))
    return folder
}

