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

    func testGradientOfLogitMatchesFiniteDifferences() throws {
        let head = try Self.randomHead()
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
        XCTAssertEqual(a.attention[1], 0)
        XCTAssertEqual(a.attention[0] + a.attention[2], 1, accuracy: 1e-6)
    }
}
