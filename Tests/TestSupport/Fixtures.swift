import Engine
import Foundation
import XCTest

/// One case of a PyTorch-written fixture: tensors named "<case>/<tensor>" and JSON params
/// (safetensors metadata key "cases"), as training/make_engine_fixtures.py writes them.
public struct FixtureCase {
    public let name: String
    public let op: String
    public let params: [String: Any]
    public let file: SafeTensors

    public func tensor(_ key: String) throws -> Tensor { try file.tensor("\(name)/\(key)") }
    public func has(_ key: String) -> Bool { file.contains("\(name)/\(key)") }
    public func integers(_ key: String) throws -> [Int] { try file.integers("\(name)/\(key)") }
    public func pair(_ key: String) -> (Int, Int) {
        let a = params[key] as! [Int]
        return (a[0], a[1])
    }
}

public enum Fixtures {
    public static func cases(_ path: String) throws -> [FixtureCase] {
        let file = try SafeTensors(path: path)
        let json = try JSONSerialization.jsonObject(with: Data(file.metadata["cases"]!.utf8)) as! [[String: Any]]
        return json.map { FixtureCase(name: $0["name"] as! String, op: $0["op"] as! String,
                                      params: $0["params"] as! [String: Any], file: file) }
    }

    /// A file in the Fixtures folder next to the calling test file.
    public static func path(_ name: String, _ filePath: String = #filePath) -> String {
        URL(fileURLWithPath: filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)").path
    }

    /// The repository root (tests run from the source tree).
    public static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
}

/// The tolerance every engine comparison uses: |got - ref| <= rtol * max(1, |ref|), element-wise.
public func assertClose(_ got: Tensor, _ ref: Tensor, _ what: String, rtol: Float = 1e-4,
                        file: StaticString = #filePath, line: UInt = #line) {
    guard got.shape == ref.shape else {
        XCTFail("\(what): shape \(got.shape), reference \(ref.shape)", file: file, line: line)
        return
    }
    assertClose(got.scalars, ref.scalars, what, rtol: rtol, file: file, line: line)
}

/// The same comparison on plain arrays.
public func assertClose(_ got: [Float], _ ref: [Float], _ what: String, rtol: Float = 1e-4,
                        file: StaticString = #filePath, line: UInt = #line) {
    guard got.count == ref.count else {
        XCTFail("\(what): \(got.count) values, reference \(ref.count)", file: file, line: line)
        return
    }
    var worst: Float = 0, worstIndex = 0
    for i in 0..<ref.count {
        let d = abs(got[i] - ref[i]) / max(1, abs(ref[i]))
        if !(d <= worst) { worst = d; worstIndex = i }   // also catches NaN
    }
    XCTAssert(worst <= rtol, "\(what): max scaled |diff| \(worst) at \(worstIndex) (got \(got.isEmpty ? .nan : got[worstIndex]), ref \(ref.isEmpty ? .nan : ref[worstIndex])) > \(rtol)",
              file: file, line: line)
}

extension Array {
    public func chunked(_ n: Int) -> [[Element]] {
        stride(from: 0, to: count, by: n).map { Array(self[$0..<Swift.min($0 + n, count)]) }
    }
}

/// A plain convolution in double precision (one group, dilation 1, square stride and padding),
/// the reference the engine's own convolution paths are checked against where PyTorch wrote no
/// fixture (big products, every tail of the direct kernels).
public func naiveConv2d(_ x: Tensor, _ w: Tensor, bias: Tensor? = nil, stride st: Int, padding pad: Int) -> [[[[Double]]]] {
    naiveConv2d(x, w, bias: bias, stride: (st, st), padding: pad)
}

/// The same with a stride of rows and columns.
public func naiveConv2d(_ x: Tensor, _ w: Tensor, bias: Tensor? = nil, stride: (Int, Int), padding pad: Int) -> [[[[Double]]]] {
    let (n, cin, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (cout, k) = (w.shape[0], w.shape[2])
    let (sy, sx) = stride
    let oh = (h + 2 * pad - k) / sy + 1, ow = (wd + 2 * pad - k) / sx + 1
    var y = [[[[Double]]]](repeating: [[[Double]]](repeating: [[Double]](repeating: [Double](repeating: 0, count: ow), count: oh), count: cout), count: n)
    for img in 0..<n {
        for oc in 0..<cout {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var acc = Double(bias?.pointer[oc] ?? 0)
                    for c in 0..<cin {
                        for i in 0..<k {
                            let iy = oy * sy + i - pad
                            if iy < 0 || iy >= h { continue }
                            for j in 0..<k {
                                let ix = ox * sx + j - pad
                                if ix < 0 || ix >= wd { continue }
                                acc += Double(w.pointer[((oc * cin + c) * k + i) * k + j]) * Double(x.pointer[((img * cin + c) * h + iy) * wd + ix])
                            }
                        }
                    }
                    y[img][oc][oy][ox] = acc
                }
            }
        }
    }
    return y
}
