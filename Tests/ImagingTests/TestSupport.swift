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
func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}

func bigEndian32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

func pngChunk(_ type: String, _ payload: [UInt8]) -> [UInt8] {
    let body = Array(type.utf8) + payload
    return bigEndian32(UInt32(payload.count)) + body + bigEndian32(crc32(body))
}

/// A well-formed PNG header declaring width x height 8-bit grey, with a token IDAT: what a
/// malicious or mangled file could claim without carrying the pixels.
func pngDeclaring(width: UInt32, height: UInt32) -> Data {
    let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    let ihdr = bigEndian32(width) + bigEndian32(height) + [8, 0, 0, 0, 0]
    // zlib stream of an empty deflate block: not the declared pixels, but valid framing.
    let idat: [UInt8] = [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]
    return Data(signature + pngChunk("IHDR", ihdr) + pngChunk("IDAT", idat) + pngChunk("IEND", []))
}

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
