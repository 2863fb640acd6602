import CKernels
import Foundation

extension Ops {
    /// Max pooling over NCHW; padded positions never win (as in PyTorch).
    public static func maxPool2d(_ x: Tensor, kernel: Int, stride: Int? = nil, padding: Int = 0) throws -> Tensor {
        try Profiler.shared.measure("maxpool k\(kernel) \(x.shape)") {
            try maxPool2dImpl(x, kernel: kernel, stride: stride, padding: padding)
        }
    }

    static func maxPool2dImpl(_ x: Tensor, kernel: Int, stride: Int?, padding: Int) throws -> Tensor {
        try x.expectRank(4, "maxpool2d")
        let s = stride ?? kernel
        guard kernel >= 1, s >= 1, padding >= 0, padding * 2 <= kernel else {
            throw EngineError.argument(op: "maxpool2d", detail: "kernel \(kernel), stride \(s), padding \(padding): padding must be at most half the kernel")
        }
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        guard n * c == 0 || (h > 0 && w > 0) else {
            throw EngineError.shape(op: "maxpool2d", detail: "input \(x.shape) has an empty plane")
        }
        let oh = (h + 2 * padding - kernel) / s + 1, ow = (w + 2 * padding - kernel) / s + 1
        guard oh > 0, ow > 0 else {
            throw EngineError.shape(op: "maxpool2d", detail: "input \(h)x\(w) smaller than kernel \(kernel)")
        }
        let y = Tensor(uninitialized: [n, c, oh, ow])
        // Groups of planes per work item (`planeGroups`), each plane in C (`tb_maxpool_plane`, on 8-float vectors
        // under the avx2 and avx512 kernels): the window's rows as whole rows, then its columns (separable, 2k
        // comparisons per output instead of k^2).
        let k = ConvKernels.current.kernels.cKernels
        planeGroups(n * c, workPerPlane: h * w * kernel) { p in
            poolPlane(k, x.pointer + p * h * w, h, w, y.pointer + p * oh * ow, oh, ow, kernel: kernel, stride: s, padding: padding)
        }
        return y
    }

    /// `body(p)` for planes 0..<planes on the engine's threads, in about 8 groups a thread: a plane of a small map
    /// (SPPF's 20 x 20) takes about a microsecond, and items that small spent more on the threads taking
    /// them than on the planes.
    private static func planeGroups(_ planes: Int, workPerPlane: Int, _ body: (Int) -> Void) {
        let group = max(1, planes / (8 * max(1, EngineThreads.count))), groups = (planes + group - 1) / group
        EngineThreads.parallelFor(groups, minWorkPerChunk: group * workPerPlane) { g in
            for p in g * group..<min(planes, (g + 1) * group) { body(p) }
        }
    }

    /// One plane through `tb_maxpool_plane`, with the scratch row it needs (w + 2p + 16 floats).
    private static func poolPlane(_ k: tb_kernels, _ x: UnsafePointer<Float>, _ h: Int, _ w: Int, _ y: UnsafeMutablePointer<Float>,
                                  _ oh: Int, _ ow: Int, kernel: Int, stride: Int, padding: Int) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: w + 2 * padding + 16) { row in
            tb_maxpool_plane(k, x, Int32(h), Int32(w), y, Int32(oh), Int32(ow), Int32(kernel), Int32(stride), Int32(padding),
                             row.baseAddress!)
        }
    }

    /// YOLOv5's SPPF pools in one pass: `out` ([N, (count + 1) * C, H, W]) holds x in channels [0, C); this
    /// writes maxPool(x) (kernel k, stride 1, padding k / 2, so every pool keeps H x W) into channels [C, 2C),
    /// the pool of that into [2C, 3C), and so on, `count` times. Each plane's chain runs on one thread while
    /// the plane is in cache, in one parallel loop instead of `count`, and nothing is copied into a
    /// concatenation afterwards. The same values as the separate pools (the same C per plane).
    public static func chainedMaxPools(in out: Tensor, channels c: Int, count: Int, kernel k: Int) throws {
        try out.expectRank(4, "chained max pools")
        let (n, h, w) = (out.shape[0], out.shape[2], out.shape[3])
        guard c >= 1, count >= 1, out.shape[1] == (count + 1) * c else {
            throw EngineError.shape(op: "chained max pools", detail: "\(out.shape) cannot hold \(count + 1) parts of \(c) channels")
        }
        guard k >= 1, k % 2 == 1 else {
            throw EngineError.argument(op: "chained max pools", detail: "kernel \(k): an odd kernel keeps the map's size at stride 1")
        }
        guard n * c == 0 || (h > 0 && w > 0) else {
            throw EngineError.shape(op: "chained max pools", detail: "\(out.shape) has an empty plane")
        }
        let plane = h * w, kernels = ConvKernels.current.kernels.cKernels
        Profiler.shared.measure("maxpool k\(k) x\(count) [\(n), \(c), \(h), \(w)]") {
            planeGroups(n * c, workPerPlane: plane * k * count) { p in
                let (b, ch) = (p / c, p % c)
                let image = out.pointer + b * (count + 1) * c * plane
                for t in 0..<count {
                    poolPlane(kernels, image + (t * c + ch) * plane, h, w, image + ((t + 1) * c + ch) * plane, h, w,
                              kernel: k, stride: 1, padding: k / 2)
                }
            }
        }
    }

    /// Global average pooling: [N, C, H, W] -> [N, C].
    public static func globalAvgPool(_ x: Tensor) throws -> Tensor {
        try x.expectRank(4, "global_avg_pool")
        let (n, c) = (x.shape[0], x.shape[1]), plane = x.shape[2] * x.shape[3]
        guard plane > 0 else { throw EngineError.shape(op: "global_avg_pool", detail: "empty spatial size in \(x.shape)") }
        let y = Tensor(uninitialized: [n, c])
        for p in 0..<(n * c) {
            var s: Float = 0
            let src = x.pointer + p * plane
            for i in 0..<plane { s += src[i] }
            y.pointer[p] = s / Float(plane)
        }
        return y
    }

    /// Nearest-neighbour upsampling by an integer factor: [N, C, H, W] -> [N, C, H*f, W*f].
    public static func upsampleNearest(_ x: Tensor, factor f: Int) throws -> Tensor {
        try x.expectRank(4, "upsample_nearest")
        guard f >= 1 else { throw EngineError.argument(op: "upsample_nearest", detail: "factor must be >= 1, got \(f)") }
        let y = Tensor(uninitialized: [x.shape[0], x.shape[1], x.shape[2] * f, x.shape[3] * f])
        try upsampleNearest(x, factor: f, into: y, channel: 0)
        return y
    }

    /// The same, written into channels [channel, channel + C) of `out` ([N, C', H*f, W*f]): a
    /// concatenation's part, written in place (YOLOv5's neck). The same values.
    public static func upsampleNearest(_ x: Tensor, factor f: Int, into out: Tensor, channel: Int) throws {
        try x.expectRank(4, "upsample_nearest")
        guard f >= 1 else { throw EngineError.argument(op: "upsample_nearest", detail: "factor must be >= 1, got \(f)") }
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let slice = try ChannelSlice(out, holding: [n, c, h * f, w * f], at: channel, op: "upsample_nearest")
        Profiler.shared.measure("upsample x\(f) \(x.shape)") {
            // groups of planes per work item (YOLOv5n's are 20 x 20 and 40 x 40), each in C
            planeGroups(n * c, workPerPlane: h * w * f * f) { p in
                tb_upsample_nearest_plane(x.pointer + p * h * w, Int32(h), Int32(w), Int32(f), slice.image(p / c) + (p % c) * h * w * f * f)
            }
        }
    }

    /// Bilinear resizing as PyTorch's `F.interpolate(mode="bilinear", align_corners=False)` without
    /// antialiasing: [N, C, H, W] -> [N, C, height, width]. Each output pixel's source position is
    /// max((o + 0.5) * in / out - 0.5, 0); the two row taps are mixed first, then the two rows, as
    /// ATen's CPU kernel does. The detector trained on an enlarged input (`input_side`, issue 15)
    /// sees the 256 letterbox through it. Imaging's `.bilinear` resize computes the same taps for
    /// 8-bit images (Imaging/Resize.swift `torchTaps`); the two layers do not depend on each other.
    public static func resizeBilinear(_ x: Tensor, height oh: Int, width ow: Int) throws -> Tensor {
        try Profiler.shared.measure("resize bilinear \(x.shape) -> \(oh)x\(ow)") { try resizeBilinearImpl(x, height: oh, width: ow) }
    }

    static func resizeBilinearImpl(_ x: Tensor, height oh: Int, width ow: Int) throws -> Tensor {
        try x.expectRank(4, "resize_bilinear")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        guard oh > 0, ow > 0, h > 0, w > 0 else {
            throw EngineError.shape(op: "resize_bilinear", detail: "input \(x.shape) to \(oh)x\(ow): every side must be positive")
        }
        struct Tap { var i0: Int, i1: Int, w0: Float, w1: Float }
        func taps(_ inLength: Int, _ outLength: Int) -> [Tap] {
            let scale = Float(inLength) / Float(outLength)
            return (0..<outLength).map { o in
                let s = max(scale * (Float(o) + 0.5) - 0.5, 0)
                let i0 = min(Int(s), inLength - 1)
                let w1 = s - Float(i0)
                return Tap(i0: i0, i1: i0 < inLength - 1 ? i0 + 1 : i0, w0: 1 - w1, w1: w1)
            }
        }
        let xs = taps(w, ow), ys = taps(h, oh)
        let y = Tensor(uninitialized: [n, c, oh, ow])
        withExtendedLifetime(x) {
            EngineThreads.parallelFor(n * c, minWorkPerChunk: oh * ow * 4) { p in
                let src = x.pointer + p * h * w, dst = y.pointer + p * oh * ow
                for (oy, ty) in ys.enumerated() {
                    let r0 = src + ty.i0 * w, r1 = src + ty.i1 * w, out = dst + oy * ow
                    for (ox, tx) in xs.enumerated() {
                        let top = r0[tx.i0] * tx.w0 + r0[tx.i1] * tx.w1
                        let bottom = r1[tx.i0] * tx.w0 + r1[tx.i1] * tx.w1
                        out[ox] = top * ty.w0 + bottom * ty.w1
                    }
                }
            }
        }
        return y
    }

    /// Concatenation along one axis; all other dimensions must agree.
    public static func concat(_ xs: [Tensor], axis: Int) throws -> Tensor {
        try Profiler.shared.measure("concat \(xs.first?.shape ?? []) x\(xs.count)") { try concatImpl(xs, axis: axis) }
    }

    static func concatImpl(_ xs: [Tensor], axis: Int) throws -> Tensor {
        guard let first = xs.first else { throw EngineError.argument(op: "concat", detail: "no tensors") }
        let r = first.rank
        guard axis >= 0, axis < r else { throw EngineError.argument(op: "concat", detail: "axis \(axis) out of range for rank \(r)") }
        for t in xs {
            guard t.rank == r, (0..<r).allSatisfy({ $0 == axis || t.shape[$0] == first.shape[$0] }) else {
                throw EngineError.shape(op: "concat", detail: "shapes \(xs.map(\.shape)) differ outside axis \(axis)")
            }
        }
        var shape = first.shape
        shape[axis] = xs.reduce(0) { $0 + $1.shape[axis] }
        let outer = first.shape[..<axis].reduce(1, *)
        let inner = first.shape[(axis + 1)...].reduce(1, *)
        let y = Tensor(uninitialized: shape)
        let rowOut = shape[axis] * inner
        // Each outer index's row of the output is the inputs' pieces side by side; equal ranges
        // of the output are copied in parallel, each piece by piece.
        let chunks = xs.map { $0.shape[axis] * inner }
        var starts = [0]   // where each input's piece starts in a row
        for c in chunks { starts.append(starts[starts.count - 1] + c) }
        let total = outer * rowOut
        let sources = xs.map(\.pointer)
        EngineThreads.parallelRanges(total, grain: 1 << 15) { r in
            var at = r.lowerBound
            while at < r.upperBound {
                let o = at / rowOut, within = at % rowOut
                var t = 0
                while starts[t + 1] <= within { t += 1 }   // the input whose piece holds `within` (skips empty ones)
                let end = min(r.upperBound, o * rowOut + starts[t + 1])
                (y.pointer + at).update(from: sources[t] + o * chunks[t] + (within - starts[t]), count: end - at)
                at = end
            }
        }
        return y
    }

    /// Layer norm over the last axis.
    public static func layerNorm(_ x: Tensor, gamma: Tensor, beta: Tensor, eps: Float = 1e-12) throws -> Tensor {
        guard let d = x.shape.last, gamma.shape == [d], beta.shape == [d] else {
            throw EngineError.shape(op: "layernorm", detail: "input \(x.shape), gamma \(gamma.shape), beta \(beta.shape)")
        }
        let y = Tensor(uninitialized: x.shape)
        for r in 0..<(x.count / max(d, 1)) {
            let src = x.pointer + r * d, dst = y.pointer + r * d
            var mean: Float = 0
            for i in 0..<d { mean += src[i] }
            mean /= Float(d)
            var v: Float = 0
            for i in 0..<d { let t = src[i] - mean; v += t * t }
            let inv = 1 / (v / Float(d) + eps).squareRoot()
            for i in 0..<d { dst[i] = (src[i] - mean) * inv * gamma.pointer[i] + beta.pointer[i] }
        }
        return y
    }

    /// L2 normalisation over the last axis: x / max(||x||, eps), as torch.nn.functional.normalize.
    public static func l2Normalize(_ x: Tensor, eps: Float = 1e-12) throws -> Tensor {
        guard let d = x.shape.last, d > 0 else { throw EngineError.shape(op: "l2_normalize", detail: "empty last axis in \(x.shape)") }
        let y = Tensor(uninitialized: x.shape)
        for r in 0..<(x.count / d) {
            let src = x.pointer + r * d, dst = y.pointer + r * d
            var s: Float = 0
            for i in 0..<d { s += src[i] * src[i] }
            let inv = 1 / max(s.squareRoot(), eps)
            for i in 0..<d { dst[i] = src[i] * inv }
        }
        return y
    }

    /// Mean over the sequence axis of [B, L, D], counting only positions where mask is 1.
    public static func meanPool(_ x: Tensor, mask: [[Int]]) throws -> Tensor {
        try x.expectRank(3, "mean_pool")
        let (b, l, d) = (x.shape[0], x.shape[1], x.shape[2])
        guard mask.count == b, mask.allSatisfy({ $0.count == l }) else {
            throw EngineError.shape(op: "mean_pool", detail: "mask \(mask.count)x\(mask.first?.count ?? 0) does not match input \(x.shape)")
        }
        let y = Tensor(zeros: [b, d])
        for i in 0..<b {
            var n: Float = 0
            for t in 0..<l where mask[i][t] != 0 {
                n += 1
                let src = x.pointer + (i * l + t) * d
                for k in 0..<d { y.pointer[i * d + k] += src[k] }
            }
            let inv = 1 / max(n, 1e-9)   // sentence-transformers clamps the count at 1e-9
            for k in 0..<d { y.pointer[i * d + k] *= inv }
        }
        return y
    }

    /// Rows of an embedding table: table [V, D], ids -> [ids.count, D].
    public static func embedding(_ table: Tensor, ids: [Int]) throws -> Tensor {
        try table.expectRank(2, "embedding")
        let (v, d) = (table.shape[0], table.shape[1])
        let y = Tensor(uninitialized: [ids.count, d])
        for (r, id) in ids.enumerated() {
            guard id >= 0, id < v else {
                throw EngineError.argument(op: "embedding", detail: "id \(id) outside the table of \(v) rows")
            }
            (y.pointer + r * d).update(from: table.pointer + id * d, count: d)
        }
        return y
    }
}

/// A fully connected layer: y = x W^T + b over the last axis (weight [out, in], as PyTorch stores it).
public struct Linear: Sendable {
    public let weight: Tensor
    public let bias: Tensor?
    public let activation: Activation

    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    public init(weight: Tensor, bias: Tensor?, activation: Activation = .none) throws {
        guard weight.rank == 2 else { throw EngineError.shape(op: "linear", detail: "weight must be [out, in], got \(weight.shape)") }
        if let bias, bias.shape != [weight.shape[0]] {
            throw EngineError.shape(op: "linear", detail: "bias \(bias.shape) does not match weight \(weight.shape)")
        }
        self.weight = weight; self.bias = bias; self.activation = activation
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        guard x.rank >= 1, x.shape.last == inFeatures else {
            throw EngineError.shape(op: "linear", detail: "input \(x.shape) has not \(inFeatures) features on its last axis (weight \(weight.shape))")
        }
        let rows = x.count / inFeatures
        var shape = x.shape
        shape[shape.count - 1] = outFeatures
        let y = Tensor(uninitialized: shape)
        if let bias {
            for r in 0..<rows { (y.pointer + r * outFeatures).update(from: bias.pointer, count: outFeatures) }
        }
        GEMM.sgemm(transB: true, m: rows, n: outFeatures, k: inFeatures, a: x.pointer, lda: inFeatures,
                   b: weight.pointer, ldb: inFeatures, beta: bias == nil ? 0 : 1, c: y.pointer, ldc: outFeatures)
        if activation != .none { applyActivation(activation, y.pointer, y.count) }
        return y
    }
}

/// Multi-head self-attention as in BERT: separate Q, K, V projections, scaled dot product,
/// keys masked where the padding mask is 0, then an output projection (BERT applies its own
/// in the residual block after, so it may be left out).
public struct MultiHeadSelfAttention: Sendable {
    public let query: Linear, key: Linear, value: Linear, output: Linear?
    public let heads: Int

    public init(query: Linear, key: Linear, value: Linear, output: Linear?, heads: Int) throws {
        let d = query.outFeatures
        guard heads >= 1, d % heads == 0, [key, value].allSatisfy({ $0.outFeatures == d }), output?.inFeatures ?? d == d else {
            throw EngineError.shape(op: "attention", detail: "width \(d) with \(heads) heads: projections must agree and divide evenly")
        }
        self.query = query; self.key = key; self.value = value; self.output = output; self.heads = heads
    }

    /// x: [B, L, D]; mask: B rows of L entries (1 = token, 0 = padding).
    public func callAsFunction(_ x: Tensor, mask: [[Int]]) throws -> Tensor {
        try x.expectRank(3, "attention")
        let (b, l, d) = (x.shape[0], x.shape[1], x.shape[2])
        guard mask.count == b, mask.allSatisfy({ $0.count == l }) else {
            throw EngineError.shape(op: "attention", detail: "mask \(mask.count)x\(mask.first?.count ?? 0) does not match input \(x.shape)")
        }
        let q = try query(x), k = try key(x), v = try value(x)
        let hd = d / heads
        let scale = 1 / Float(hd).squareRoot()
        let ctx = Tensor(uninitialized: [b, l, d])
        let scores = TensorStorage(count: l * l, zeroed: false)
        for i in 0..<b {
            for h in 0..<heads {
                // scores[l, l] = Q_h K_h^T * scale (rows of Q_h are strided by d).
                GEMM.sgemm(transB: true, m: l, n: l, k: hd, alpha: scale,
                           a: q.pointer + i * l * d + h * hd, lda: d,
                           b: k.pointer + i * l * d + h * hd, ldb: d, c: scores.pointer, ldc: l)
                for r in 0..<l {
                    let row = scores.pointer + r * l
                    for t in 0..<l where mask[i][t] == 0 { row[t] = -.infinity }
                    Ops.softmaxRow(row, l)
                }
                GEMM.sgemm(m: l, n: hd, k: l, a: scores.pointer, lda: l,
                           b: v.pointer + i * l * d + h * hd, ldb: d,
                           c: ctx.pointer + i * l * d + h * hd, ldc: d)
            }
        }
        return try output.map { try $0(ctx) } ?? ctx
    }
}
