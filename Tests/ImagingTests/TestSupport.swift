import Foundation
import XCTest
import Imaging

/// A fresh folder under the system temp dir, removed by the test's teardown.
func makeTemporaryFolder(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("tumorboard-imaging-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

extension Data {
    var uint8Array: [UInt8] { [UInt8](self) }
    var uint16LEArray: [UInt16] {
        let bytes = [UInt8](self)
        return stride(from: 0, to: bytes.count, by: 2).map { UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8 }
    }
    var float32LEArray: [Float] {
        let bytes = [UInt8](self)
        return stride(from: 0, to: bytes.count, by: 4).map {
            Float(bitPattern: UInt32(bytes[$0]) | UInt32(bytes[$0 + 1]) << 8 | UInt32(bytes[$0 + 2]) << 16 | UInt32(bytes[$0 + 3]) << 24)
        }
    }
}

extension Image {
    var bytes8: [UInt8] {
        if case .eightBit(let v) = samples { return v }
        XCTFail("expected 8-bit, got \(self)"); return []
    }
    var samples16: [UInt16] {
        if case .sixteenBit(let v) = samples { return v }
        XCTFail("expected 16-bit, got \(self)"); return []
    }
}

/// CRC-32 as PNG uses it (ISO 3309), to build hand-made chunks.
func fixture(_ name: String) -> DecodeFixture {
    ReferenceFixtures.decode.first { $0.name == name }!
}

/// Repository root, from this file's path (Tests/ImagingTests/TestSupport.swift).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

/// A Python 3 with PIL and numpy, or nil: TUMORBOARD_PYTHON, the repo's .venv, /work/venv, python3.
func pythonWithPIL() -> URL? {
    var candidates: [String] = []
    if let env = ProcessInfo.processInfo.environment["TUMORBOARD_PYTHON"] { candidates.append(env) }
    candidates += [repositoryRoot.appendingPathComponent(".venv/bin/python").path, "/work/venv/bin/python",
                   "/usr/bin/python3", "/usr/local/bin/python3"]
    for path in candidates where FileManager.default.isExecutableFile(atPath: path) {
        let url = URL(fileURLWithPath: path)
        if (try? runProcess(url, ["-c", "import PIL, numpy"]))?.status == 0 { return url }
    }
    return nil
}

func runProcess(_ executable: URL, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Asserts that `body` throws an ImagingError whose message contains every string in `contains`.
@discardableResult
func assertImagingError(_ body: () throws -> Image, contains: [String],
                        file: StaticString = #filePath, line: UInt = #line) -> ImagingError? {
    do {
        let image = try body()
        XCTFail("expected an error, got \(image)", file: file, line: line)
        return nil
    } catch let error as ImagingError {
        if ProcessInfo.processInfo.environment["TUMORBOARD_PRINT_ERRORS"] != nil { print("error message: \(error)") }
        for text in contains {
            XCTAssertTrue(error.description.contains(text), "message \"\(error)\" lacks \"\(text)\"", file: file, line: line)
        }
        return error
    } catch {
        XCTFail("expected ImagingError, got \(error)", file: file, line: line)
        return nil
    }
}
