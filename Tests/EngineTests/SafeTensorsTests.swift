import Engine
import Foundation
import XCTest

/// The safetensors reader on files made by hand: every dtype it converts, and files that are
/// truncated or lie about their contents (each an error naming file and tensor, never a crash).
final class SafeTensorsTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-safetensors-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// Builds a file from a JSON header and raw data bytes.
    private func file(_ name: String, header: String, data: [UInt8], headerLength: UInt64? = nil) throws -> String {
        var bytes = [UInt8]()
        let h = Array(header.utf8)
        var len = (headerLength ?? UInt64(h.count)).littleEndian
        withUnsafeBytes(of: &len) { bytes += $0 }
        bytes += h + data
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    private func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

    func testReadsF32F16BF16AndI64() throws {
        let f32 = [Float(1.5), -2.25].flatMap { le($0.bitPattern) }
        // F16: 1.0 = 0x3C00, -2.0 = 0xC000, 65504 = 0x7BFF, smallest subnormal 0x0001 = 2^-24.
        let f16: [UInt8] = [0x3C00, 0xC000, 0x7BFF, 0x0001].flatMap { le(UInt16($0)) }
        // BF16: upper half of the float: 3.0 = 0x4040, -0.5 = 0xBF00.
        let bf16: [UInt8] = [0x4040, 0xBF00].flatMap { le(UInt16($0)) }
        let i64: [UInt8] = [Int64(7), -3, 30521].flatMap { le($0) }
        let i32: [UInt8] = [Int32(-5), 70000].flatMap { le($0) }
        let u8: [UInt8] = [0, 114, 255]
        let header = """
        {"e":{"dtype":"I32","shape":[2],"data_offsets":[44,52]},"f":{"dtype":"U8","shape":[3],"data_offsets":[52,55]},\
        "a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F16","shape":[2,2],"data_offsets":[8,16]},\
        "c":{"dtype":"BF16","shape":[2],"data_offsets":[16,20]},"d":{"dtype":"I64","shape":[3],"data_offsets":[20,44]},\
        "__metadata__":{"format":"pt"}}
        """
        let st = try SafeTensors(path: file("ok.safetensors", header: header, data: f32 + f16 + bf16 + i64 + i32 + u8))
        XCTAssertEqual(try st.tensor("a").scalars, [1.5, -2.25])
        XCTAssertEqual(try st.tensor("b").shape, [2, 2])
        XCTAssertEqual(try st.tensor("b").scalars, [1, -2, 65504, 0x1p-24])
        XCTAssertEqual(try st.tensor("c").scalars, [3, -0.5])
        XCTAssertEqual(try st.integers("d"), [7, -3, 30521])
        XCTAssertEqual(try st.tensor("d").scalars, [7, -3, 30521])
        XCTAssertEqual(try st.integers("e"), [-5, 70000])
        XCTAssertEqual(try st.tensor("e").scalars, [-5, 70000])
        XCTAssertEqual(try st.integers("f"), [0, 114, 255])
        XCTAssertEqual(try st.tensor("f").scalars, [0, 114, 255])
        XCTAssertThrowsError(try st.integers("a"))
        XCTAssertEqual(st.metadata["format"], "pt")
        XCTAssertThrowsError(try st.tensor("nope")) { e in XCTAssert("\(e)".contains("'nope'"), "\(e)") }
    }

    func testTruncatedFileNamesFileAndTensor() throws {
        let header = #"{"weight":{"dtype":"F32","shape":[4,4],"data_offsets":[0,64]}}"#
        let path = try file("truncated.safetensors", header: header, data: [UInt8](repeating: 0, count: 40))
        XCTAssertThrowsError(try SafeTensors(path: path)) { e in
            let m = "\(e)"
            XCTAssert(m.contains("truncated.safetensors") && m.contains("weight") && m.contains("truncated"), m)
        }
    }

    func testLyingHeaderLengthAndOffsets() throws {
        let header = #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        XCTAssertThrowsError(try SafeTensors(path: file("len.safetensors", header: header, data: [], headerLength: 1 << 40))) { e in
            XCTAssert("\(e)".contains("header length"), "\(e)")
        }
        let wrongSize = #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#
        XCTAssertThrowsError(try SafeTensors(path: file("size.safetensors", header: wrongSize, data: [UInt8](repeating: 0, count: 12)))) { e in
            XCTAssert("\(e)".contains("'w'") && "\(e)".contains("needs 12"), "\(e)")
        }
        let overflow = #"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#
        XCTAssertThrowsError(try SafeTensors(path: file("overflow.safetensors", header: overflow, data: [UInt8](repeating: 0, count: 8))))
        let badType = #"{"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}"#
        XCTAssertThrowsError(try SafeTensors(path: file("f64.safetensors", header: badType, data: [UInt8](repeating: 0, count: 8)))) { e in
            XCTAssert("\(e)".contains("unsupported dtype F64"), "\(e)")
        }
        XCTAssertThrowsError(try SafeTensors(path: file("json.safetensors", header: "{not json", data: [])))
        XCTAssertThrowsError(try SafeTensors(path: file("tiny.safetensors", header: "", data: [], headerLength: 0)))
    }

    func testMissingEmptyAndDirectory() throws {
        XCTAssertThrowsError(try SafeTensors(path: dir.appendingPathComponent("absent.safetensors").path)) { e in
            XCTAssert("\(e)".contains("absent.safetensors") && "\(e)".contains("cannot open"), "\(e)")
        }
        let empty = dir.appendingPathComponent("empty.safetensors")
        try Data().write(to: empty)
        XCTAssertThrowsError(try SafeTensors(path: empty.path)) { e in XCTAssert("\(e)".contains("empty"), "\(e)") }
        XCTAssertThrowsError(try SafeTensors(path: dir.path)) { e in XCTAssert("\(e)".contains("not a regular file"), "\(e)") }
    }

    func testEveryTruncationOfAValidFileIsAnErrorNotACrash() throws {
        let t = Tensor.random([3, 5], seed: 7)
        let path = dir.appendingPathComponent("full.safetensors").path
        try SafeTensorsWriter.write(["x": t], metadata: ["k": "v"], to: path)
        let full = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertEqual(try SafeTensors(path: path).tensor("x").scalars, t.scalars)
        for cut in stride(from: 0, to: full.count, by: 3) {
            let p = dir.appendingPathComponent("cut\(cut).safetensors").path
            try full.prefix(cut).write(to: URL(fileURLWithPath: p))
            XCTAssertThrowsError(try SafeTensors(path: p).tensor("x"), "a file cut at \(cut) of \(full.count) bytes was accepted")
        }
    }
}
