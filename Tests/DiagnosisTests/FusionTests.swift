import Diagnosis
import Engine
import Foundation
import Models
import XCTest

/// The fusion head's hand-derived gradient (what Grad-CAM uses) against central finite
/// differences, and the Shapley values against their defining properties, on a head with
/// random weights (no trained model needed).
final class FusionTests: XCTestCase {
    static func randomHead(seed: UInt64 = 5) throws -> FusionHead {
        try FusionHead(RandomCheckpoint.fusionHead(dims: [12, 10, 20], d: 16, hidden: 8, seed: seed))
    }

    func features() -> [Tensor?] {
        [Tensor.random([1, 12], seed: 40), Tensor.random([1, 10], seed: 41), Tensor.random([1, 20], seed: 42)]
    }

    static func productHead() throws -> FusionHead {
        try FusionHead(RandomCheckpoint.fusionHead(dims: [12, 10, 20], d: 16, hidden: 8, seed: 5, expertTemperatures: [1.9, 0.7, 1.2]))
    }

    func testGradientOfLogitMatchesFiniteDifferences() throws {
        try checkGradient(Self.randomHead())
    }

    /// The product rule's gradient (through the image's own pass and its log-softmax) too.
    func testGradientOfTheProductLogitMatchesFiniteDifferences() throws {
        let head = try Self.productHead()
        XCTAssertEqual(head.combine, .product(expertTemperatures: [1.9, 0.7, 1.2]))
        try checkGradient(head)
    }

    /// The product rule by its definition: the sum of each present modality's log-softmax of
    /// the attention head run on it alone, over its temperature; absent ones add nothing.
    func testProductSumsEachModalitysOwnCalibratedLogProbabilities() throws {
        let product = try Self.productHead(), joint = try Self.randomHead()
        let t: [Float] = [1.9, 0.7, 1.2]
        let f = features()
        func logSoftmax(_ x: [Float]) -> [Double] {
            let d = x.map(Double.init), m = d.max()!
            let lse = m + Foundation.log(d.map { Foundation.exp($0 - m) }.reduce(0, +))
            return d.map { $0 - lse }
        }
        for present in [[true, true, true], [true, false, true], [false, true, false], [false, false, false]] {
            var expected = [Double](repeating: 0, count: 3)
            for i in 0..<3 where present[i] {
                let alone = try joint(f, present: (0..<3).map { $0 == i }).logits
                for (c, v) in logSoftmax(alone.map { $0 / t[i] }).enumerated() { expected[c] += v }
            }
            let got = try product(f, present: present)
            for c in 0..<3 { XCTAssertEqual(Double(got.logits[c]), expected[c], accuracy: 1e-5, "present \(present), class \(c)") }
            XCTAssertNil(got.attention, "no attention weight decides a product")
        }
    }

    /// A file whose combine rule and tensors disagree, or that names a rule this program does
    /// not know, is refused by name.
    func testCombineRuleMismatchesAreNamedErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fusion-combine-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func write(_ name: String, config: String, product: Bool) throws -> String {
            let w = RandomCheckpoint.fusionHead(dims: [12, 10, 20], d: 16, hidden: 8, expertTemperatures: product ? [1, 1, 1] : nil)
            var tensors: [String: Tensor] = [:]
            for n in w.names { tensors[n] = try w(n) }
            let path = dir.appendingPathComponent(name).path
            try SafeTensorsWriter.write(tensors, metadata: ["config": config], to: path)
            return path
        }
        let cases: [(String, String, Bool, String)] = [
            ("unknown.safetensors", #"{"combine": "sum"}"#, true, "fusion combine rule sum is not one this program knows"),
            ("no-tensor.safetensors", #"{"combine": "product"}"#, false, "says combine: product but the tensor is missing"),
            ("says-attention.safetensors", #"{"combine": "attention"}"#, true, "present, but the config says combine: attention"),
        ]
        for (name, config, product, message) in cases {
            let path = try write(name, config: config, product: product)
            XCTAssertThrowsError(try FusionHead(Weights(path: path)), name) { e in
                XCTAssertTrue("\(e)".contains(name) && "\(e)".contains(message), "\(e)")
            }
        }
        XCTAssertEqual(try FusionHead(Weights(path: write("ok.safetensors", config: #"{"combine": "product"}"#, product: true))).combine,
                       .product(expertTemperatures: [1, 1, 1]))
        XCTAssertEqual(try FusionHead(Weights(path: write("old.safetensors", config: #"{"arch": "attention-gated-fusion"}"#, product: false))).combine,
                       .attention, "a file from before the product rule still reads as the attention head")
    }

    /// A head whose widths disagree would index past a vector in some pass: refused by name.
    func testAHeadWhoseWidthsDisagreeIsRefused() throws {
        let w = RandomCheckpoint.fusionHead(dims: [12, 10, 20], d: 16, hidden: 8)
        var tensors: [String: Tensor] = [:]
        for n in w.names { tensors[n] = try w(n) }
        tensors["head.linear.weight"] = Tensor.random([3, 17], seed: 1)
        XCTAssertThrowsError(try FusionHead(Weights(tensors: tensors, name: "skewed head"))) { e in
            XCTAssertTrue("\(e)".contains("skewed head") && "\(e)".contains("widths disagree"), "\(e)")
        }
    }

    func checkGradient(_ head: FusionHead) throws {
        for present in [[true, true, true], [true, false, true], [true, false, false]] {
            var f = features()
            let pass = try head(f, present: present)
            for c in 0..<3 {
                let g = try head.gradientOfLogit(c, withRespectToImageFeature: f[0]!, pass: pass)
                for k in 0..<12 {
                    let h: Float = 1e-2
                    let base = f[0]!
                    let plus = base.copy(), minus = base.copy()
                    plus.pointer[k] += h; minus.pointer[k] -= h
                    f[0] = plus; let lp = try head(f, present: present).logits[c]
                    f[0] = minus; let lm = try head(f, present: present).logits[c]
                    f[0] = base
                    let numeric = (lp - lm) / (2 * h)
                    XCTAssertEqual(g[k], numeric, accuracy: 2e-3 + 2e-2 * abs(numeric),
                                   "d logit[\(c)] / d f_image[\(k)] with present \(present)")
                }
            }
        }
    }

    func testShapleyValuesSumToTheGainAndSkipAbsentModalities() throws {
        let head = try Self.randomHead()
        let f = features()
        for present in [[true, true, true], [true, false, true], [false, true, false]] {
            for target in 0..<3 {
                let phi = try ModalityShapley.values(fusion: head, features: f, present: present, target: target)
                let all = try head(f, present: present).probabilities[target]
                let none = try head(f, present: [false, false, false]).probabilities[target]
                XCTAssertEqual(phi.compactMap { $0 }.reduce(0, +), all - none, accuracy: 1e-5, "efficiency, present \(present)")
                for i in 0..<3 { XCTAssertEqual(phi[i] == nil, !present[i], "absent modalities get no value") }
                if present.filter({ $0 }).count == 1, let i = present.firstIndex(of: true) {
                    XCTAssertEqual(phi[i]!, all - none, accuracy: 1e-6)
                }
            }
        }
        // Two players by hand: phi_0 = ((v01 - v1) + (v0 - v))/2.
        let p = [true, false, true]
        let v = { (m: [Bool]) in try head(f, present: m).probabilities[2] }
        let expected = ((try v([true, false, true]) - v([false, false, true])) + (try v([true, false, false]) - v([false, false, false]))) / 2
        XCTAssertEqual(try ModalityShapley.values(fusion: head, features: f, present: p, target: 2)[0]!, expected, accuracy: 1e-6)
    }

    func testAbsentModalitiesWeighNothing() throws {
        let head = try Self.randomHead()
        var f = features()
        let a = try head(f, present: [true, false, true])
        f[1] = Tensor.random([1, 10], seed: 99)   // whatever sits in an absent slot is ignored
        let b = try head(f, present: [true, false, true])
        XCTAssertEqual(a.logits, b.logits)
        let att = try XCTUnwrap(a.attention)
        XCTAssertEqual(att[1], 0)
        XCTAssertEqual(att[0] + att[2], 1, accuracy: 1e-6)
    }
}
