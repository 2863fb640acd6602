import Engine
import Foundation
import TestSupport
import XCTest

/// Every op against the outputs PyTorch wrote (training/make_engine_fixtures.py), within
/// |diff| <= 1e-4 * max(1, |ref|).
final class OpsTests: XCTestCase {
    var cases: [FixtureCase] = []

    override func setUpWithError() throws {
        cases = try Fixtures.cases(Fixtures.path("ops.safetensors"))
    }

    private func each(_ op: String, _ body: (FixtureCase) throws -> Void) throws {
        let selected = cases.filter { $0.op == op }
        XCTAssertFalse(selected.isEmpty, "no fixture cases for \(op)")
        for c in selected { try body(c) }
    }

    private func forEachThreadCount(_ body: () throws -> Void) rethrows {
        let saved = EngineThreads.count
        defer { EngineThreads.set(saved) }
        for n in [1, 2] { EngineThreads.set(n); try body() }
    }

    func testConv2d() throws {
        try forEachThreadCount {
            try each("conv2d") { c in
                let conv = try Conv2d(weight: c.tensor("weight"), bias: c.has("bias") ? c.tensor("bias") : nil,
                                      stride: c.pair("stride"), padding: c.pair("padding"),
                                      dilation: c.pair("dilation"), groups: c.params["groups"] as! Int,
                                      algorithm: .im2col)
                assertClose(try conv(c.tensor("x")), try c.tensor("y"), c.name)
            }
        }
    }

    func testConv2dWinogradWhereItApplies() throws {
        var ran = 0
        try forEachThreadCount {
            try each("conv2d") { c in
                guard c.pair("stride") == (1, 1), c.pair("dilation") == (1, 1), c.params["groups"] as! Int == 1,
                      try c.tensor("weight").shape[2...] == [3, 3] else { return }
                let conv = try Conv2d(weight: c.tensor("weight"), bias: c.has("bias") ? c.tensor("bias") : nil,
                                      padding: c.pair("padding"), algorithm: .winograd)
                assertClose(try conv(c.tensor("x")), try c.tensor("y"), c.name + " (Winograd)")
                ran += 1
            }
        }
        XCTAssertGreaterThan(ran, 0, "no fixture case exercises Winograd")
        XCTAssertThrowsError(try Conv2d(weight: Tensor(zeros: [2, 2, 3, 3]), stride: (2, 2), algorithm: .winograd))
    }

    func testConvWithFoldedBatchNormAndSiLU() throws {
        try each("conv_bn") { c in
            let bn = try BatchNormParams(gamma: c.tensor("gamma"), beta: c.tensor("beta"), mean: c.tensor("mean"),
                                         variance: c.tensor("var"), eps: Float(c.params["eps"] as! Double))
            let conv = try Conv2d(weight: c.tensor("weight"), stride: c.pair("stride"), padding: c.pair("padding"))
                .folding(bn, activation: .silu)
            assertClose(try conv(c.tensor("x")), try c.tensor("y"), c.name)
        }
    }

    func testBatchNorm() throws {
        try each("batchnorm") { c in
            let bn = try BatchNormParams(gamma: c.tensor("gamma"), beta: c.tensor("beta"), mean: c.tensor("mean"),
                                         variance: c.tensor("var"), eps: Float(c.params["eps"] as! Double))
            assertClose(try Ops.batchNorm(c.tensor("x"), bn), try c.tensor("y"), c.name)
        }
    }

    func testActivations() throws {
        try each("activation") { c in
            let act = Activation(rawValue: c.params["activation"] as! String)!
            assertClose(Ops.activation(try c.tensor("x"), act), try c.tensor("y"), c.name)
        }
    }

    func testSoftmax() throws {
        try each("softmax") { c in assertClose(try Ops.softmax(c.tensor("x")), try c.tensor("y"), c.name) }
    }

    func testMaxPool() throws {
        try each("maxpool") { c in
            let y = try Ops.maxPool2d(c.tensor("x"), kernel: c.params["kernel"] as! Int,
                                      stride: c.params["stride"] as? Int, padding: c.params["padding"] as! Int)
            assertClose(y, try c.tensor("y"), c.name)
        }
    }

    /// Every kernel, stride and padding the pool takes (padding up to half the kernel), on planes
    /// of one row, one column, odd sizes and sizes the stride does not divide, and rows of 8 or more
    /// (the vector loops of the avx2 and avx512 kernels, with a last partial step), against the naive
    /// definition (max over the window's inputs inside the image); the max is exact, so the
    /// values must be equal, not close.
    func testMaxPoolMatchesTheDefinitionOnAwkwardShapes() throws {
        let planes = [(1, 1), (1, 7), (7, 1), (6, 5), (13, 9), (20, 17), (9, 8), (5, 33), (3, 24)]
        var checked = 0
        for (i, (h, w)) in planes.enumerated() {
            let x = Tensor.random([2, 3, h, w], seed: UInt64(300 + i))
            for k in 1...5 {
                for s in 1...3 {
                    for p in 0...(k / 2) where h + 2 * p >= k && w + 2 * p >= k {
                        let y = try Ops.maxPool2d(x, kernel: k, stride: s, padding: p)
                        let (oh, ow) = ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1)
                        XCTAssertEqual(y.shape, [2, 3, oh, ow])
                        var want: [Float] = []
                        for plane in 0..<6 {
                            for oy in 0..<oh {
                                for ox in 0..<ow {
                                    var m = -Float.infinity
                                    for iy in (oy * s - p)..<(oy * s - p + k) where iy >= 0 && iy < h {
                                        for ix in (ox * s - p)..<(ox * s - p + k) where ix >= 0 && ix < w {
                                            m = Swift.max(m, x.pointer[plane * h * w + iy * w + ix])
                                        }
                                    }
                                    want.append(m)
                                }
                            }
                        }
                        XCTAssertEqual(y.scalars, want, "maxpool k\(k) s\(s) p\(p) on \(h)x\(w)")
                        checked += 1
                    }
                }
            }
        }
        XCTAssertEqual(checked, 237, "kernel, stride and padding combinations checked")
    }

    /// A NaN in a window makes its maximum NaN wherever it sits in the window (as in PyTorch), and
    /// a plane with no rows or columns is a named error, not a read past the input.
    func testMaxPoolPropagatesNaNAndRefusesAnEmptyPlane() throws {
        // a 3x3 plane (the plain C loops) and a 3x17 one (the vector loops: NaN in either operand of a max)
        for (h, w) in [(3, 3), (3, 17)] {
        for at in 0..<(h * w) {
            let x = Tensor.random([1, 1, h, w], seed: 7)
            x.pointer[at] = .nan
            for (k, s, p) in [(3, 1, 1), (3, 2, 1), (2, 1, 0), (3, 3, 0), (5, 1, 2)] where h + 2 * p >= k {
                let y = try Ops.maxPool2d(x, kernel: k, stride: s, padding: p)
                let (oh, ow) = ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1)
                let (iy, ix) = (at / w, at % w)
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        let inside = (oy * s - p..<oy * s - p + k).contains(iy) && (ox * s - p..<ox * s - p + k).contains(ix)
                        XCTAssertEqual(y.pointer[oy * ow + ox].isNaN, inside, "NaN at \(at) of \(h)x\(w), k\(k) s\(s) p\(p), output (\(oy), \(ox))")
                    }
                }
            }
        }
        }
        XCTAssertThrowsError(try Ops.maxPool2d(Tensor(zeros: [1, 1, 0, 5]), kernel: 2, stride: 1, padding: 1)) { e in
            XCTAssertTrue("\(e)".contains("empty plane"), "\(e)")
        }
    }

    /// SPPF's chained pools in one pass (`chainedMaxPools`) give the bits of three separate pools copied into
    /// a concatenation: two images, planes with rows of 8 or more and fewer, one of one pixel, a NaN, kernels 3
    /// and 5, 74 planes (groups of planes per work item with a short last one); and a named error for a tensor that cannot hold the parts or an even kernel.
    func testChainedMaxPoolsEqualSeparatePools() throws {
        for (i, (c, h, w, k)) in [(3, 20, 20, 5), (2, 7, 13, 3), (4, 1, 1, 5), (5, 9, 24, 5), (37, 6, 9, 5)].enumerated() {
            let x = Tensor.random([2, c, h, w], seed: UInt64(500 + i))
            if i == 1 { x.pointer[17] = .nan }
            var parts = [x]
            for _ in 0..<3 { parts.append(try Ops.maxPool2d(parts.last!, kernel: k, stride: 1, padding: k / 2)) }
            let want = try Ops.concat(parts, axis: 1)
            let out = Tensor(zeros: [2, 4 * c, h, w])
            try Ops.copy(x, into: out, channel: 0)
            try Ops.chainedMaxPools(in: out, channels: c, count: 3, kernel: k)
            XCTAssertEqual(out.scalars.map(\.bitPattern), want.scalars.map(\.bitPattern), "\(c) x \(h)x\(w), k\(k)")
        }
        XCTAssertThrowsError(try Ops.chainedMaxPools(in: Tensor(zeros: [1, 7, 4, 4]), channels: 2, count: 3, kernel: 5))
        XCTAssertThrowsError(try Ops.chainedMaxPools(in: Tensor(zeros: [1, 8, 4, 4]), channels: 2, count: 3, kernel: 4))
    }

    func testGlobalAveragePool() throws {
        try each("gap") { c in assertClose(try Ops.globalAvgPool(c.tensor("x")), try c.tensor("y"), c.name) }
    }

    func testResizeBilinearAsPyTorchsInterpolate() throws {
        try each("resize") { c in
            assertClose(try Ops.resizeBilinear(c.tensor("x"), height: c.params["height"] as! Int, width: c.params["width"] as! Int),
                        try c.tensor("y"), c.name)
        }
        XCTAssertThrowsError(try Ops.resizeBilinear(Tensor(zeros: [1, 1, 4, 4]), height: 0, width: 3)) { e in
            XCTAssertTrue("\(e)".contains("positive"), "\(e)")
        }
    }

    func testUpsampleNearest() throws {
        try each("upsample") { c in
            assertClose(try Ops.upsampleNearest(c.tensor("x"), factor: c.params["factor"] as! Int), try c.tensor("y"), c.name)
        }
    }

    func testConcat() throws {
        try each("concat") { c in
            let y = try Ops.concat([c.tensor("a"), c.tensor("b")], axis: c.params["axis"] as! Int)
            assertClose(y, try c.tensor("y"), c.name)
        }
    }

    /// Concatenation copies equal ranges of the output in parallel, each from the pieces it
    /// meets: against the definition on every axis, with batches, an empty input, and sizes
    /// large enough to be split over the threads (and at 1 thread, the same values).
    func testConcatOnEveryAxisMatchesTheDefinitionAtOneAndTwoThreads() throws {
        let saved = EngineThreads.count
        defer { EngineThreads.set(saved) }
        let cases: [([[Int]], Int)] = [
            ([[3, 5, 40, 41], [3, 2, 40, 41], [3, 0, 40, 41], [3, 7, 40, 41]], 1),
            ([[2, 16, 90, 90], [2, 16, 90, 90]], 1),
            ([[1, 4, 30, 50], [1, 4, 9, 50]], 2),
            ([[2, 3, 7, 300], [2, 3, 7, 1]], 3),
            ([[1, 70000], [2, 70000]], 0),
        ]
        for (i, (shapes, axis)) in cases.enumerated() {
            let xs = shapes.enumerated().map { Tensor.random($0.element, seed: UInt64(400 + 10 * i + $0.offset)) }
            var shape = shapes[0]
            shape[axis] = shapes.reduce(0) { $0 + $1[axis] }
            let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
            var want: [Float] = []
            for o in 0..<outer {
                for x in xs {
                    let chunk = x.shape[axis] * inner
                    want += Array(x.scalars[(o * chunk)..<((o + 1) * chunk)])
                }
            }
            for threads in [1, 2] {
                EngineThreads.set(threads)
                let y = try Ops.concat(xs, axis: axis)
                XCTAssertEqual(y.shape, shape)
                XCTAssertEqual(y.scalars, want, "concat of \(shapes) on axis \(axis) at \(threads) threads")
            }
        }
    }

    func testLinear() throws {
        try each("linear") { c in
            let fc = try Linear(weight: c.tensor("weight"), bias: c.has("bias") ? c.tensor("bias") : nil)
            assertClose(try fc(c.tensor("x")), try c.tensor("y"), c.name)
        }
    }

    func testLayerNorm() throws {
        try each("layernorm") { c in
            let y = try Ops.layerNorm(c.tensor("x"), gamma: c.tensor("gamma"), beta: c.tensor("beta"),
                                      eps: Float(c.params["eps"] as! Double))
            assertClose(y, try c.tensor("y"), c.name)
        }
    }

    func testEmbedding() throws {
        try each("embedding") { c in
            assertClose(try Ops.embedding(c.tensor("table"), ids: c.integers("ids")), try c.tensor("y"), c.name)
        }
    }

    func testMaskedSelfAttention() throws {
        try each("attention") { c in
            func lin(_ w: String, _ b: String) throws -> Linear { try Linear(weight: c.tensor(w), bias: c.tensor(b)) }
            let att = try MultiHeadSelfAttention(query: lin("wq", "bq"), key: lin("wk", "bk"), value: lin("wv", "bv"),
                                                 output: lin("wo", "bo"), heads: c.params["heads"] as! Int)
            let x = try c.tensor("x")
            let mask = try c.integers("mask").chunked(x.shape[1])
            assertClose(try att(x, mask: mask), try c.tensor("y"), c.name)
        }
    }

    func testMeanPool() throws {
        try each("mean_pool") { c in
            let x = try c.tensor("x")
            assertClose(try Ops.meanPool(x, mask: c.integers("mask").chunked(x.shape[1])), try c.tensor("y"), c.name)
        }
    }

    func testL2Normalize() throws {
        try each("l2_normalize") { c in assertClose(try Ops.l2Normalize(c.tensor("x")), try c.tensor("y"), c.name) }
    }

    func testEveryFixtureCaseIsCovered() {
        let known: Set = ["conv2d", "conv_bn", "batchnorm", "activation", "softmax", "maxpool", "gap", "upsample", "resize",
                          "concat", "linear", "layernorm", "embedding", "attention", "mean_pool", "l2_normalize"]
        for c in cases { XCTAssert(known.contains(c.op), "fixture case \(c.name) has an op (\(c.op)) no test runs") }
    }

    func testResultsAreIdenticalRunToRunAndAcrossThreadCounts() throws {
        let c = try XCTUnwrap(cases.first { $0.name == "conv_7x7_stride2_pad3" })
        let conv = try Conv2d(weight: c.tensor("weight"), stride: c.pair("stride"), padding: c.pair("padding"))
        let x = try c.tensor("x")
        var outputs: [[Float]] = []
        try forEachThreadCount { outputs.append(try conv(x).scalars); outputs.append(try conv(x).scalars) }
        for o in outputs.dropFirst() { XCTAssertEqual(o, outputs[0]) }
    }

    /// Products big enough for the engine's own GEMM split (by rows and by columns) and for the
    /// banded im2col, against a naive double-precision convolution, and bit-identical for 1 and 2 threads.
    func testLargeConvolutionsMatchNaiveReferenceAndAreThreadCountIndependent() throws {
        // (cin, cout, size, kernel, stride, padding): rows split; columns split; banded 3x3; banded 7x7/2.
        for (cin, cout, size, k, st, pad) in [(24, 64, 20, 3, 1, 1), (8, 16, 60, 3, 1, 1), (16, 8, 120, 3, 1, 1), (3, 4, 200, 7, 2, 3)] {
            let w = Tensor.random([cout, cin, k, k], seed: 11, scale: 0.3)
            let x = Tensor.random([1, cin, size, size], seed: 12)
            let conv = try Conv2d(weight: w, stride: (st, st), padding: (pad, pad), algorithm: .im2col)
            var outs: [Tensor] = []
            try forEachThreadCount { outs.append(try conv(x)) }
            XCTAssertEqual(outs[0].scalars, outs[1].scalars, "1 vs 2 threads differ for \(cin)->\(cout) at \(size)")
            let o = (size + 2 * pad - k) / st + 1
            let ref = try Tensor(shape: [1, cout, o, o], values: naiveConv2d(x, w, stride: st, padding: pad).joined().joined().joined().map(Float.init))
            assertClose(outs[1], ref, "conv \(cin)->\(cout) \(k)x\(k)/\(st) at \(size)")
        }
    }

    /// A convolution (on our kernels: the direct 3x3 and 1x1 loops, Winograd, the strided kernel, the
    /// subsampled 1x1; under `blas`: im2col + GEMM and GEMM alone, and a grouped convolution), a sum, a
    /// copy and a nearest upsampling
    /// write their part of a concatenation in place (YOLOv5's C3): bit for bit the plain call's
    /// output in channels [channel, channel + C) of every image, every other value untouched; a
    /// part that does not fit is refused by name.
    func testConvolutionsAndSumsWriteTheirPartOfAConcatenationInPlace() throws {
        defer { try? ConvKernels.force(nil) }
        let convs: [(Conv2d, Tensor)] = try [
            (Conv2d(weight: Tensor.random([7, 5, 3, 3], seed: 3), bias: Tensor.random([7], seed: 4), padding: (1, 1), activation: .silu),
             Tensor.random([2, 5, 9, 11], seed: 5)),
            (Conv2d(weight: Tensor.random([7, 40, 3, 3], seed: 6), padding: (1, 1), activation: .relu), Tensor.random([2, 40, 16, 16], seed: 7)),
            (Conv2d(weight: Tensor.random([7, 5, 3, 3], seed: 8), stride: (2, 2), padding: (1, 1)), Tensor.random([2, 5, 18, 22], seed: 9)),
            (Conv2d(weight: Tensor.random([7, 5, 1, 1], seed: 10), stride: (2, 2)), Tensor.random([2, 5, 18, 22], seed: 11)),
            (Conv2d(weight: Tensor.random([7, 5, 1, 1], seed: 12), activation: .silu), Tensor.random([2, 5, 9, 11], seed: 13)),
            (Conv2d(weight: Tensor.random([6, 3, 3, 3], seed: 16), padding: (1, 1), groups: 2), Tensor.random([2, 6, 7, 9], seed: 17)),
        ]
        let sentinel: Float = -7.25
        for k in [nil, ConvKernels.blas, .portable] {
            try ConvKernels.force(k)
            for (i, (conv, x)) in convs.enumerated() {
                let plain = try conv(x)
                let (n, c, oh, ow) = (plain.shape[0], plain.shape[1], plain.shape[2], plain.shape[3])
                let out = Tensor(zeros: [n, c + 5, oh, ow])
                for j in 0..<out.count { out.pointer[j] = sentinel }
                try conv(x, into: out, channel: 3)
                for b in 0..<n {
                    for ch in 0..<(c + 5) {
                        for p in 0..<(oh * ow) {
                            let got = out.pointer[(b * (c + 5) + ch) * oh * ow + p]
                            let want = ch >= 3 && ch < 3 + c ? plain.pointer[(b * c + ch - 3) * oh * ow + p] : sentinel
                            if got.bitPattern != want.bitPattern {
                                XCTFail("conv \(i) on \(k?.rawValue ?? "default"): image \(b) channel \(ch) position \(p): \(got) vs \(want)")
                                return
                            }
                        }
                    }
                }
                XCTAssertThrowsError(try conv(x, into: out, channel: 6)) { e in XCTAssert("\(e)".contains("cannot hold"), "\(e)") }
            }
        }
        let a = Tensor.random([2, 3, 4, 5], seed: 14), b = Tensor.random([2, 3, 4, 5], seed: 15)
        let sum = try Ops.add(a, b), out = Tensor(zeros: [2, 7, 4, 5])
        for j in 0..<out.count { out.pointer[j] = sentinel }
        try Ops.add(a, b, into: out, channel: 4)
        for img in 0..<2 {
            for j in 0..<(7 * 20) {
                let ch = j / 20, want = ch >= 4 ? sum.pointer[img * 60 + (ch - 4) * 20 + j % 20] : sentinel
                XCTAssertEqual(out.pointer[img * 140 + j].bitPattern, want.bitPattern, "sum: image \(img) value \(j)")
            }
        }
        XCTAssertThrowsError(try Ops.add(a, b, into: out, channel: 5)) { e in XCTAssert("\(e)".contains("cannot hold"), "\(e)") }
        // a copy and a nearest upsampling, each into its channels, against the plain concatenation
        let small = Tensor.random([2, 3, 2, 5], seed: 18), up = try Ops.upsampleNearest(small, factor: 2)
        let other = Tensor.random([2, 4, 4, 10], seed: 19)
        let whole = try Ops.concat([up, other], axis: 1), parts = Tensor(zeros: [2, 7, 4, 10])
        try Ops.upsampleNearest(small, factor: 2, into: parts, channel: 0)
        try Ops.copy(other, into: parts, channel: 3)
        XCTAssertEqual(parts.scalars.map(\.bitPattern), whole.scalars.map(\.bitPattern), "upsampled and copied parts against concat")
        XCTAssertThrowsError(try Ops.copy(other, into: parts, channel: 4)) { e in XCTAssert("\(e)".contains("cannot hold"), "\(e)") }
        XCTAssertThrowsError(try Ops.upsampleNearest(small, factor: 2, into: parts, channel: 5)) { e in XCTAssert("\(e)".contains("cannot hold"), "\(e)") }
    }

    /// Nearest upsampling (`tb_upsample_nearest_plane`, in groups of planes) against its definition, bit for bit:
    /// factors 1, 2 and 3, 74 planes (groups with a short last one), rows of odd widths and a 1 x 1 plane.
    func testUpsampleMatchesTheDefinition() throws {
        for (i, (c, h, w)) in [(37, 5, 7), (3, 1, 1), (2, 4, 33)].enumerated() {
            let x = Tensor.random([2, c, h, w], seed: UInt64(700 + i))
            for f in 1...3 {
                let y = try Ops.upsampleNearest(x, factor: f)
                XCTAssertEqual(y.shape, [2, c, h * f, w * f])
                var want: [UInt32] = []
                for p in 0..<(2 * c) {
                    for oy in 0..<(h * f) { for ox in 0..<(w * f) { want.append(x.pointer[p * h * w + (oy / f) * w + ox / f].bitPattern) } }
                }
                XCTAssertEqual(y.scalars.map(\.bitPattern), want, "\(c) x \(h)x\(w), factor \(f)")
            }
        }
    }

    func testWrongShapesThrowDescriptiveErrors() throws {
        let conv = try Conv2d(weight: Tensor(zeros: [4, 3, 3, 3]))
        XCTAssertThrowsError(try conv(Tensor(zeros: [1, 2, 8, 8]))) { e in
            XCTAssert("\(e)".contains("conv2d") && "\(e)".contains("[1, 2, 8, 8]"), "\(e)")
        }
        XCTAssertThrowsError(try conv(Tensor(zeros: [1, 3, 2, 2]))) { e in XCTAssert("\(e)".contains("smaller than the kernel"), "\(e)") }
        XCTAssertThrowsError(try Ops.add(Tensor(zeros: [2, 3]), Tensor(zeros: [3, 2])))
        XCTAssertThrowsError(try Ops.concat([Tensor(zeros: [1, 2, 3]), Tensor(zeros: [1, 2, 4])], axis: 1))
        let fc = try Linear(weight: Tensor(zeros: [4, 5]), bias: nil)
        XCTAssertThrowsError(try fc(Tensor(zeros: [2, 6]))) { e in XCTAssert("\(e)".contains("linear"), "\(e)") }
        XCTAssertThrowsError(try Ops.embedding(Tensor(zeros: [3, 2]), ids: [3])) { e in XCTAssert("\(e)".contains("id 3"), "\(e)") }
        XCTAssertThrowsError(try Tensor(zeros: [2, 3]).reshaped([4, 2]))
    }
}
