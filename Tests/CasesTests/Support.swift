import Foundation
import XCTest
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

import Imaging
