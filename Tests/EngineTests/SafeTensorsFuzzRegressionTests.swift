import Engine
import Foundation
import XCTest

/// Inputs the fuzzer found (scripts/fuzz safetensors; docs/fuzzing.md), embedded as bytes, and
/// the non-finite weight check the models run at load.
final class SafeTensorsFuzzRegressionTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-safetensors-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    private func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    private func hex(_ s: String) -> [UInt8] {
        var out: [UInt8] = [], chars = Array(s.utf8)
        while chars.count >= 2 {
            out.append(UInt8(String(decoding: chars.prefix(2), as: UTF8.self), radix: 16) ?? 0)
            chars.removeFirst(2)
        }
        return out
    }

    /// The fuzzer's crash (190 bytes): a header length of 0xbabababababababa40, above Int.max,
    /// trapped in the Int conversion ("Not enough bits to represent the passed value").
    func testHeaderLengthAboveIntMaxIsAnErrorNotATrap() throws {
        let crash = hex("40" + String(repeating: "ba", count: 110) + "000000000000007b2268223a207b226474797065223a2022463136222c20227368617065223a205b345d2c2022646174615f6f666673657473223a205b302c20385d7d7d202020003c00c00100ff7b")
        XCTAssertEqual(crash.count, 190)
        let path = try write("crash.safetensors", crash)
        XCTAssertThrowsError(try SafeTensors(path: path)) { e in
            XCTAssert("\(e)".contains("crash.safetensors") && "\(e)".contains("header length 13455272147882261056"), "\(e)")
        }
        // Every length from 2^63 up is the same error.
        for top: UInt64 in [1 << 63, UInt64.max] {
            var b = withUnsafeBytes(of: top.littleEndian) { Array($0) }
            b += Array("{}".utf8)
            XCTAssertThrowsError(try SafeTensors(path: write("big-\(top).safetensors", b))) { e in
                XCTAssert("\(e)".contains("does not fit in the file"), "\(e)")
            }
        }
    }

    /// A file with one tensor `name` of `dtype` holding `data`, plus a finite F32 tensor "ok".
    private func file(_ fileName: String, tensor name: String, dtype: String, count: Int, data: [UInt8]) throws -> String {
        let ok = [Float(1), 2].flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian) { Array($0) } }
        var header = Array("{\"ok\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":[\(count)],\"data_offsets\":[8,\(8 + data.count)]}}".utf8)
        while (8 + header.count) % 8 != 0 { header.append(0x20) }
        let len = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) }
        return try write(fileName, len + header + ok + data)
    }

    private func f32(_ v: [Float]) -> [UInt8] { v.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian) { Array($0) } } }
    private func u16(_ v: [UInt16]) -> [UInt8] { v.flatMap { withUnsafeBytes(of: $0.littleEndian) { Array($0) } } }

    func testNonFiniteWeightsAreNamedByFileTensorAndElement() throws {
        // NaN deep in a long F32 tensor (past the first 1024-value block), +inf, -inf.
        var long = [Float](repeating: 0.5, count: 3000); long[2500] = .nan
        let cases: [(String, String, Int, [UInt8], String)] = [
            ("nan.safetensors", "F32", long.count, f32(long), "holds NaN at element 2500 of 3000"),
            ("inf.safetensors", "F32", 3, f32([1, .infinity, 0]), "holds +infinity at element 1 of 3"),
            ("ninf.safetensors", "F32", 2, f32([-.infinity, 0]), "holds -infinity at element 0 of 2"),
            ("f16.safetensors", "F16", 3, u16([0x3C00, 0x0001, 0x7C00]), "holds +infinity at element 2 of 3"),
            ("f16nan.safetensors", "F16", 1, u16([0xFE00]), "holds NaN at element 0 of 1"),
            ("bf16.safetensors", "BF16", 2, u16([0x3F80, 0x7FC0]), "holds NaN at element 1 of 2"),
            // Either side of the C search's 64-value steps, and deep in a long 16-bit tensor.
            ("edge63.safetensors", "F32", 130, f32((0..<130).map { $0 == 63 ? -.infinity : 1 }), "holds -infinity at element 63 of 130"),
            ("edge64.safetensors", "F32", 130, f32((0..<130).map { $0 == 64 ? .nan : 1 }), "holds NaN at element 64 of 130"),
            ("f16long.safetensors", "F16", 200, u16((0..<200).map { $0 == 130 ? 0x7C00 : 0x3C00 }), "holds +infinity at element 130 of 200"),
        ]
        for (fileName, dtype, count, data, expected) in cases {
            let path = try file(fileName, tensor: "model.22.cv2.weight", dtype: dtype, count: count, data: data)
            let st = try SafeTensors(path: path)   // the header is fine: only the values are not
            XCTAssertThrowsError(try st.checkFinite(), fileName) { e in
                let m = "\(e)"
                XCTAssert(m.contains(fileName) && m.contains("'model.22.cv2.weight'") && m.contains(expected), m)
            }
        }
    }

    func testFiniteWeightsAndIntegersPass() throws {
        // The largest finite values and subnormals are finite; integer tensors are not looked at.
        try SafeTensors(path: file("f32.safetensors", tensor: "w", dtype: "F32", count: 3, data: f32([.greatestFiniteMagnitude, -.leastNonzeroMagnitude, 0]))).checkFinite()
        try SafeTensors(path: file("f16.safetensors", tensor: "w", dtype: "F16", count: 2, data: u16([0x7BFF, 0x8001]))).checkFinite()
        try SafeTensors(path: file("u8.safetensors", tensor: "w", dtype: "U8", count: 4, data: [0xFF, 0xFF, 0x80, 0x7F])).checkFinite()
        try SafeTensors(path: file("i32.safetensors", tensor: "w", dtype: "I32", count: 1, data: [0x00, 0x00, 0x80, 0x7F])).checkFinite()
    }
}
