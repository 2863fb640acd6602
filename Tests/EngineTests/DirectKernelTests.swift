import Engine
import Foundation
import TestSupport
import XCTest

/// Our direct convolution kernels (issue 17, Sources/CKernels), on every path this processor
/// runs (portable; AVX2 where it has AVX2 and FMA; AVX-512 where it has AVX-512 F, VL and DQ too): against the outputs PyTorch wrote for
/// every fixture convolution they can take, against a naive double-precision convolution on
/// shapes that exercise every tail (widths, channel blocks, positions, wide inputs), and for
/// identical bits with 1 and 2 threads. The whole networks on each path: scripts/test runs the
/// parity suites once per forced path (TUMORBOARD_KERNELS).
final class DirectKernelTests: XCTestCase {
    var paths: [ConvKernels] { [.portable, .avx2, .avx512].filter(\.isAvailable) }

    override func tearDown() { try? ConvKernels.force(nil) }

    func testEveryPathMatchesPyTorchOnTheFixtureConvolutionsItTakes() throws {
        let cases = try Fixtures.cases(Fixtures.path("ops.safetensors"))
        XCTAssertTrue(paths.contains(.portable))
        for k in paths {
            try ConvKernels.force(k)
            var ran = 0
            for c in cases where c.op == "conv2d" {
                let w = try c.tensor("weight")
                guard c.pair("dilation") == (1, 1), c.params["groups"] as! Int == 1 else { continue }
                let conv = try Conv2d(weight: w, bias: c.has("bias") ? c.tensor("bias") : nil, stride: c.pair("stride"),
                                      padding: c.pair("padding"), algorithm: .direct)
                assertClose(try conv(c.tensor("x")), try c.tensor("y"), "\(c.name) on \(k.rawValue)")
                ran += 1
            }
            for c in cases where c.op == "conv_bn" {
                let bn = try BatchNormParams(gamma: c.tensor("gamma"), beta: c.tensor("beta"), mean: c.tensor("mean"),
                                             variance: c.tensor("var"), eps: Float(c.params["eps"] as! Double))
                let conv = try Conv2d(weight: c.tensor("weight"), stride: c.pair("stride"), padding: c.pair("padding"), algorithm: .direct)
                    .folding(bn, activation: .silu)
                assertClose(try conv(c.tensor("x")), try c.tensor("y"), "\(c.name) on \(k.rawValue)")
                ran += 1
            }
            XCTAssertGreaterThanOrEqual(ran, 8, "fixture convolutions the direct kernels took on \(k.rawValue) (stride 1 and 2, 1x1 to 7x7)")
        }
    }

    /// Tails everywhere: output channels that fill no block of 6 (1, 5, 7, 13), rows of 1, 7, 8,
    /// 9, 17 and 20 positions (partial 16- and 8-wide tiles, two-row tiles), 1x1 over 1, 15, 17
    /// and 300 positions, an input wider than the 256 channels the 1x1 tail keeps on the stack;
    /// strided and stem shapes on the strided kernel (3x3/2, 6x6/2, 7x7/2, 3x3 without padding) and
    /// a 1x1/2 on the subsampled 1x1 loop, each activation, with and without bias; rows and position
    /// counts that take every AVX-512 tile (32 + 8, 32 + 16 + 9, two rows of 15 with an odd row left and
    /// two rows of 16, both with SiLU, 1x1 over 48; the phase path's stride-2 rows of 64 or more). Where the processor has
    /// AVX-512, its outputs must be AVX2's bit for bit (the same
    /// sums in the same order, the same activation). (A 2x1 stride with a 1x3 kernel is PyTorch's
    /// fixture `conv_1x3_stride_2x1`, in the test above.)
    func testAwkwardShapesMatchANaiveConvolutionAndAreThreadCountIndependent() throws {
        let shapes: [(cin: Int, cout: Int, h: Int, w: Int, k: Int, s: Int, p: Int)] = [
            (3, 1, 5, 7, 3, 1, 1), (5, 5, 1, 1, 3, 1, 1), (4, 7, 8, 8, 3, 1, 1), (6, 13, 9, 17, 3, 1, 1), (17, 6, 20, 9, 3, 1, 1),
            (2, 12, 3, 20, 3, 1, 1), (3, 7, 1, 1, 1, 1, 0), (9, 5, 3, 5, 1, 1, 0), (16, 13, 1, 17, 1, 1, 0), (300, 8, 15, 20, 1, 1, 0),
            (7, 19, 4, 75, 1, 1, 0),
            (5, 7, 14, 14, 3, 2, 1), (6, 13, 15, 33, 3, 2, 1), (3, 16, 21, 19, 6, 2, 2), (3, 8, 17, 15, 7, 2, 3), (8, 9, 9, 9, 1, 2, 0),
            (4, 5, 7, 12, 3, 1, 0), (2, 6, 1, 3, 3, 2, 1),
            (4, 13, 7, 15, 3, 1, 1), (5, 8, 5, 40, 3, 1, 1), (7, 6, 3, 57, 3, 1, 1), (5, 7, 3, 16, 1, 1, 0),
            (3, 7, 5, 16, 3, 1, 1),
            // stride-1 3x3 on maps 8 or fewer wide with 512 input channels, which the strided kernel takes under
            // AVX-512: pairs of blocks and a last odd one, tiles of 7 across rows, one cut short; and two with
            // fewer channels, on the direct loop
            (512, 33, 7, 7, 3, 1, 1), (512, 40, 6, 8, 3, 1, 1), (40, 33, 7, 7, 3, 1, 1), (33, 17, 3, 5, 3, 1, 1),
            // stride 2 with outputs 64 or more wide, which AVX-512 runs on the phase path (rows in tiles of 32, 16
            // and fewer; 8-channel halves past cout; the 6x6 stem); and a 1x1 whose items are cut evenly over 1600
            // positions and 11 blocks; a thin 1x1 on a map of 80 x 80 or more, which streams its output past the caches
            // (its planes 6561 floats, so only some vectors are aligned, with a partial last tile)
            (5, 40, 6, 131, 3, 2, 1), (3, 16, 5, 140, 6, 2, 2), (16, 33, 4, 190, 3, 2, 1), (64, 64, 40, 40, 1, 1, 0),
            (24, 20, 81, 81, 1, 1, 0),
        ]
        let acts: [Activation] = [.none, .relu, .silu, .sigmoid]
        var outputs: [ConvKernels: [[Float]]] = [:]
        for k in paths {
            try ConvKernels.force(k)
            for (i, s) in shapes.enumerated() {
                let w = Tensor.random([s.cout, s.cin, s.k, s.k], seed: UInt64(20 + i), scale: 0.3)
                let bias = i % 2 == 0 ? Tensor.random([s.cout], seed: UInt64(40 + i)) : nil
                let x = Tensor.random([2, s.cin, s.h, s.w], seed: UInt64(60 + i))
                let act = acts[i % acts.count]
                let conv = try Conv2d(weight: w, bias: bias, stride: (s.s, s.s), padding: (s.p, s.p), activation: act, algorithm: .direct)
                let outs = try Self.atOneAndTwoThreads(conv, x)
                let what = "\(s.cin)->\(s.cout) \(s.k)x\(s.k)/\(s.s) pad \(s.p) at \(s.h)x\(s.w), \(act), bias \(bias != nil), \(k.rawValue)"
                XCTAssertEqual(outs[0].scalars, outs[1].scalars, "1 vs 2 threads: " + what)
                assertClose(outs[0], Self.naive(x, w, bias, stride: s.s, pad: s.p, act), what)
                outputs[k, default: []].append(outs[0].scalars)
            }
        }
        if let wide = outputs[.avx512], let narrow = outputs[.avx2] {
            for (i, s) in shapes.enumerated() {
                XCTAssertEqual(wide[i].map(\.bitPattern), narrow[i].map(\.bitPattern), "avx512 vs avx2 bits: \(s)")
            }
        }
    }

    /// Stride-1 3x3 convolutions of 32 input channels or more run Winograd F(2x2, 3x3) on our
    /// micro-kernel (`tb_wino_conv`) on maps of 32 tiles of 2x2 outputs or more, on every path:
    /// against a naive double-precision convolution on shapes with every tail (a map one row high;
    /// odd heights and widths, whose last tiles are cut; tile rows shorter and longer than a chunk
    /// of 8 tiles, so chunks cross row ends; output channels that fill no block of 6; input
    /// channels not a multiple of 8; a map of two pairs of chunks, whose channel blocks are split
    /// over the threads), each activation, with and without bias, and 1 vs 2 threads bit for bit.
    func testWinogradMatchesANaiveConvolutionAndIsThreadCountIndependent() throws {
        let shapes: [(cin: Int, cout: Int, h: Int, w: Int)] = [
            (32, 5, 1, 63), (64, 7, 9, 13), (65, 13, 9, 17), (33, 6, 16, 7), (40, 1, 5, 33), (72, 6, 20, 20), (64, 7, 6, 37),
            (128, 64, 8, 15),
        ]
        let acts: [Activation] = [.none, .relu, .silu, .sigmoid]
        for k in paths {
            try ConvKernels.force(k)
            for (i, s) in shapes.enumerated() {
                let w = Tensor.random([s.cout, s.cin, 3, 3], seed: UInt64(220 + i), scale: 0.1)
                let bias = i % 2 == 0 ? Tensor.random([s.cout], seed: UInt64(240 + i)) : nil
                let x = Tensor.random([2, s.cin, s.h, s.w], seed: UInt64(260 + i))
                let act = acts[i % acts.count]
                let conv = try Conv2d(weight: w, bias: bias, stride: (1, 1), padding: (1, 1), activation: act, algorithm: .direct)
                XCTAssertEqual(conv.ownPath(h: s.h, w: s.w), .winograd, "\(s) on \(k.rawValue)")
                let outs = try Self.atOneAndTwoThreads(conv, x)
                let what = "Winograd \(s.cin)->\(s.cout) at \(s.h)x\(s.w), \(act), bias \(bias != nil), \(k.rawValue)"
                XCTAssertEqual(outs[0].scalars, outs[1].scalars, "1 vs 2 threads: " + what)
                assertClose(outs[0], Self.naive(x, w, bias, stride: 1, pad: 1, act), what)
            }
        }
        try ConvKernels.force(ConvKernels.avx2.isAvailable ? .avx2 : .portable)
        let thin = try Conv2d(weight: Tensor.random([8, 31, 3, 3], seed: 1), padding: (1, 1), algorithm: .direct)
        XCTAssertEqual(thin.ownPath(h: 56, w: 56), .direct, "31 input channels: the direct 3x3 loop")
        let wide = try Conv2d(weight: Tensor.random([8, 512, 3, 3], seed: 1), padding: (1, 1), algorithm: .direct)
        XCTAssertEqual(wide.ownPath(h: 14, w: 14), .winograd, "49 tiles")
        XCTAssertEqual(wide.ownPath(h: 7, w: 7), .direct, "16 tiles (ResNet-18's 7x7 stage): the direct 3x3 loop")
        if ConvKernels.avx512.isAvailable {
            try ConvKernels.force(.avx512)
            XCTAssertEqual(wide.ownPath(h: 7, w: 7), .strided, "avx512, 512 channels on a map 8 or fewer wide: the strided kernel's tiles of 7")
            XCTAssertEqual(wide.ownPath(h: 9, w: 9), .direct, "avx512, 9 wide: the direct loop")
            XCTAssertEqual(wide.ownPath(h: 14, w: 14), .winograd, "avx512, 49 tiles")
            let narrower = try Conv2d(weight: Tensor.random([8, 256, 3, 3], seed: 1), padding: (1, 1), algorithm: .direct)
            XCTAssertEqual(narrower.ownPath(h: 7, w: 7), .direct, "avx512, 256 channels at 7x7: the direct loop")
        }
        try ConvKernels.force(.blas)
        XCTAssertNil(try Conv2d(weight: Tensor.random([64, 64, 3, 3], seed: 1), padding: (1, 1)).ownPath(h: 56, w: 56), "blas: none of ours")
    }

    /// Every strided convolution runs on the strided kernel (`tb_conv_strided`), or, a 1x1 without
    /// padding, on the 1x1 loop over its subsampled input, by default where AVX2 or AVX-512 is the best path,
    /// and on both paths when forced (the trained networks' strided layers
    /// are checked against PyTorch layer by layer in PipelineTests and BlocksTests on every path):
    /// against a naive convolution on shapes with every tail (output channels that fill no block of
    /// 16: 7, 13, 20, 40; positions that fill no tile of 6, tiles across row ends, maps of one
    /// output; windows cut by the padding on every side; a stride of 3 and a 2 x 1 stride; blocks of
    /// over 192 KiB of weights (400 channels: 225 KiB), one to a work item; a position range split into several chunks; 1x1
    /// at strides 2 and 3 x 2, and over the 256 channels of the 1x1 loop's stack tail), each
    /// activation, with and without bias, and 1 vs 2 threads bit for bit.
    func testStridedConvolutionsRunOnTheStridedKernelAndAreThreadCountIndependent() throws {
        let shapes: [(cin: Int, cout: Int, h: Int, w: Int, k: Int, s: (Int, Int), p: Int)] = [
            (5, 7, 14, 14, 3, (2, 2), 1), (6, 13, 15, 33, 3, (2, 2), 1), (8, 9, 9, 9, 1, (2, 2), 0), (300, 20, 10, 37, 1, (2, 2), 0),
            (5, 8, 11, 10, 1, (3, 2), 0), (40, 20, 13, 13, 3, (2, 2), 1),
            (33, 6, 64, 70, 3, (2, 2), 1), (7, 20, 2, 2, 3, (2, 2), 1), (400, 40, 9, 11, 3, (2, 2), 1), (4, 16, 23, 17, 5, (3, 3), 2),
            (3, 17, 12, 10, 3, (2, 1), 1), (3, 16, 21, 19, 6, (2, 2), 2),
        ]
        let acts: [Activation] = [.silu, .relu, .none, .sigmoid]
        for k in [nil] + paths {
            try ConvKernels.force(k)
            // by default only where AVX2 or AVX-512 is in force (the best path, and not `blas` from the environment)
            if k == nil && !ConvKernels.current.kernels.isVector { continue }
            for (i, s) in shapes.enumerated() {
                let w = Tensor.random([s.cout, s.cin, s.k, s.k], seed: UInt64(120 + i), scale: 0.3)
                let bias = i % 2 == 0 ? Tensor.random([s.cout], seed: UInt64(140 + i)) : nil
                let x = Tensor.random([2, s.cin, s.h, s.w], seed: UInt64(160 + i))
                let act = acts[i % acts.count]
                let conv = try Conv2d(weight: w, bias: bias, stride: s.s, padding: (s.p, s.p), activation: act)
                let what = "\(s.cin)->\(s.cout) \(s.k)x\(s.k)/\(s.s) at \(s.h)x\(s.w), \(act), \(k?.rawValue ?? "default")"
                if s.k == 1 && s.p == 0 {
                    XCTAssertEqual(conv.ownPath(h: s.h, w: s.w), .subsampled, what)
                } else {
                    XCTAssertEqual(conv.ownPath(h: s.h, w: s.w), .strided, what)
                }
                let outs = try Self.atOneAndTwoThreads(conv, x)
                XCTAssertEqual(outs[0].scalars, outs[1].scalars, "1 vs 2 threads: " + what)
                assertClose(outs[0], Self.naive(x, w, bias, stride: s.s, pad: s.p, act), what)
            }
        }
        try ConvKernels.force(.blas)
        XCTAssertNil(try Conv2d(weight: Tensor.random([8, 8, 3, 3], seed: 1), stride: (2, 2), padding: (1, 1)).ownPath(h: 9, w: 9), "blas: none of ours")
    }

    /// A 1x1 convolution that streams its output (`streamsOutput`, YOLOv5's heads) gives the bits of one that
    /// does not, on every path: whole planes (64-byte aligned, so the streaming stores run), maps whose planes
    /// are not aligned, a partial last tile, and a part of a larger output (a concatenation's channels).
    func testStreamingStoresGiveTheSameBits() throws {
        let shapes: [(cin: Int, cout: Int, h: Int, w: Int)] = [(64, 255, 16, 20), (16, 13, 5, 7), (40, 32, 8, 8), (300, 20, 3, 37)]
        for k in paths {
            try ConvKernels.force(k)
            for (i, s) in shapes.enumerated() {
                let w = Tensor.random([s.cout, s.cin, 1, 1], seed: UInt64(400 + i), scale: 0.3)
                let bias = Tensor.random([s.cout], seed: UInt64(420 + i))
                let x = Tensor.random([2, s.cin, s.h, s.w], seed: UInt64(440 + i))
                let plain = try Conv2d(weight: w, bias: bias, activation: i % 2 == 0 ? .none : .silu, algorithm: .direct)
                let streamed = try Conv2d(weight: w, bias: bias, activation: i % 2 == 0 ? .none : .silu, algorithm: .direct,
                                          streamsOutput: true)
                let what = "\(s), \(k.rawValue)"
                XCTAssertEqual(try streamed(x).scalars.map(\.bitPattern), try plain(x).scalars.map(\.bitPattern), what)
                let a = Tensor(zeros: [2, s.cout + 3, s.h, s.w]), b = Tensor(zeros: [2, s.cout + 3, s.h, s.w])
                try plain(x, into: a, channel: 3)
                try streamed(x, into: b, channel: 3)
                XCTAssertEqual(a.scalars.map(\.bitPattern), b.scalars.map(\.bitPattern), "into channel 3: " + what)
            }
        }
    }

    /// The peak benchmark's loop (`MachinePeak`, `tumorboard bench --model peak`) does the work it
    /// counts on every path: its lanes sum to half its floating-point operations, which fails if
    /// the loop is cut short, miscounted or folded away.
    func testThePeakLoopDoesTheWorkItCounts() {
        for k in paths {
            let r = MachinePeak.loop(k, iterations: 1000)
            XCTAssertEqual(r.flops, k == .avx512 ? 384_000 : k == .avx2 ? 192_000 : 96_000, k.rawValue)
            XCTAssertEqual(r.sum, r.flops / 2, k.rawValue)
        }
    }

    /// The direct kernels take only what they were written for, by name: one group, dilation 1,
    /// padding smaller than the kernel, no GELU.
    func testShapesTheDirectKernelsDoNotTakeAreRefusedByName() throws {
        let refused: [() throws -> Conv2d] = [
            { try Conv2d(weight: Tensor(zeros: [4, 1, 3, 3]), padding: (1, 1), groups: 4, algorithm: .direct) },
            { try Conv2d(weight: Tensor(zeros: [4, 3, 3, 3]), padding: (2, 2), dilation: (2, 2), algorithm: .direct) },
            { try Conv2d(weight: Tensor(zeros: [4, 3, 1, 1]), padding: (1, 1), algorithm: .direct) },
            { try Conv2d(weight: Tensor(zeros: [4, 3, 3, 3]), padding: (1, 1), activation: .gelu, algorithm: .direct) },
        ]
        for make in refused {
            XCTAssertThrowsError(try make()) { e in XCTAssertTrue("\(e)".contains("direct kernels take"), "\(e)") }
        }
    }

    /// The convolution's output on 1 and on 2 engine threads.
    static func atOneAndTwoThreads(_ conv: Conv2d, _ x: Tensor) throws -> [Tensor] {
        let saved = EngineThreads.count
        defer { EngineThreads.set(saved) }
        return try [1, 2].map { n in EngineThreads.set(n); return try conv(x) }
    }

    static func naive(_ x: Tensor, _ w: Tensor, _ b: Tensor?, stride st: Int, pad: Int, _ act: Activation) -> Tensor {
        naive(x, w, b, stride: (st, st), pad: pad, act)
    }

    static func naive(_ x: Tensor, _ w: Tensor, _ b: Tensor?, stride st: (Int, Int), pad: Int, _ act: Activation) -> Tensor {
        let conv = naiveConv2d(x, w, bias: b, stride: st, padding: pad)
        let values = conv.joined().joined().joined().map { acc -> Float in
            switch act {
            case .none, .gelu: return Float(acc)
            case .relu: return Float(max(0, acc))
            case .silu: return Float(acc / (1 + exp(-acc)))
            case .sigmoid: return Float(1 / (1 + exp(-acc)))
            }
        }
        let (n, cout) = (conv.count, conv.first?.count ?? 0)
        let (oh, ow) = (conv.first?.first?.count ?? 0, conv.first?.first?.first?.count ?? 0)
        return (try? Tensor(shape: [n, cout, oh, ow], values: values)) ?? Tensor(zeros: [0])
    }
}
