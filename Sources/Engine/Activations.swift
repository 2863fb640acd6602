import Foundation

/// Activations that can be fused into the epilogue of a convolution or linear layer.
public enum Activation: String, Sendable, Codable {
    case none, relu, silu, sigmoid, gelu
}

/// exp(x) without a library call, written so that LLVM vectorises the loops that use it:
/// range reduction x = n ln2 + r, a degree-6 polynomial for e^r on |r| <= ln2/2, and 2^n through
/// the exponent bits. Adding 1.5 * 2^23 rounds x log2(e) to the nearest integer n and leaves n in
/// the low mantissa bits, so no float-to-int conversion is needed (Swift does not vectorise that
/// conversion; neither are the generic SIMD min/max specialised across modules, so the clamp is a
/// plain comparison). Relative error below 2e-7 on [-87, 88]; inputs are clamped to that range.
@inline(__always)
func fastExp(_ x: Float) -> Float {
    let xc = x < -87 ? -87 : (x > 88 ? 88 : x)
    let t = xc * 1.442695040888963 + 12582912.0
    let n = t - 12582912.0
    var r = xc - n * 0.693145751953125     // ln2 high part
    r = r - n * 1.428606765330187e-06       // ln2 low part
    var p: Float = 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    // bits(t) = 0x4B400000 + n, so 2^n has bits (n + 127) << 23 = (bits(t) - 0x4B3FFF81) << 23.
    return p * Float(bitPattern: (t.bitPattern &- 0x4B3F_FF81) &<< 23)
}

@inline(__always) func sexp(_ x: Float) -> Float { fastExp(x) }

/// Applies an activation in place over `count` floats, with an optional bias added first.
/// Plain loops over scalars: LLVM vectorises them.
@inline(__always)
func applyActivation(_ act: Activation, _ p: UnsafeMutablePointer<Float>, _ count: Int, bias: Float = 0) {
    switch act {
    case .none:
        if bias == 0 { return }
        for k in 0..<count { p[k] += bias }
    case .relu:
        for k in 0..<count { let v = p[k] + bias; p[k] = v > 0 ? v : 0 }
    case .silu:
        for k in 0..<count { let v = p[k] + bias; p[k] = v / (1 + fastExp(-v)) }
    case .sigmoid:
        for k in 0..<count { let v = p[k] + bias; p[k] = 1 / (1 + fastExp(-v)) }
    case .gelu:
        // Exact (erf) form, as BERT uses: 0.5 x (1 + erf(x / sqrt 2)).
        for k in 0..<count { let v = p[k] + bias; p[k] = 0.5 * v * (1 + erff(v * 0.70710678118654752)) }
    }
}

public enum Ops {}

extension Ops {
    /// Element-wise activation, returning a new tensor.
    public static func activation(_ x: Tensor, _ act: Activation) -> Tensor {
        let y = x.copy()
        EngineThreads.parallelRanges(y.count, grain: 16384) { r in
            applyActivation(act, y.pointer + r.lowerBound, r.count)
        }
        return y
    }

    public static func relu(_ x: Tensor) -> Tensor { activation(x, .relu) }
    public static func silu(_ x: Tensor) -> Tensor { activation(x, .silu) }
    public static func sigmoid(_ x: Tensor) -> Tensor { activation(x, .sigmoid) }
    public static func gelu(_ x: Tensor) -> Tensor { activation(x, .gelu) }

    /// Softmax over the last axis (max-subtracted).
    public static func softmax(_ x: Tensor) throws -> Tensor {
        guard x.rank >= 1, let n = x.shape.last, n > 0 else {
            throw EngineError.shape(op: "softmax", detail: "needs a non-empty last axis, got \(x.shape)")
        }
        let y = x.copy()
        let rows = x.count / n
        for r in 0..<rows { softmaxRow(y.pointer + r * n, n) }
        return y
    }

    @inline(__always)
    static func softmaxRow(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
        var m = -Float.infinity
        for i in 0..<n { m = max(m, p[i]) }
        if m == -.infinity { for i in 0..<n { p[i] = 0 }; return }   // fully masked row
        var s: Float = 0
        for i in 0..<n { let e = sexp(p[i] - m); p[i] = e; s += e }
        let inv = 1 / s
        for i in 0..<n { p[i] *= inv }
    }

    /// Element-wise sum of two tensors of the same shape (residual connections).
    public static func add(_ a: Tensor, _ b: Tensor, activation act: Activation = .none) throws -> Tensor {
        let y = Tensor(uninitialized: a.shape)
        try add(a, b, activation: act, into: y, channel: 0)
        return y
    }

    /// The sum of two [N, C, ...] tensors written into channels [channel, channel + C) of `out`
    /// ([N, C', ...], the same trailing shape): a concatenation's part, written in place.
    public static func add(_ a: Tensor, _ b: Tensor, activation act: Activation = .none, into out: Tensor, channel: Int) throws {
        guard a.shape == b.shape else {
            throw EngineError.shape(op: "add", detail: "\(a.shape) vs \(b.shape)")
        }
        let slice = try ChannelSlice(out, holding: a.shape, at: channel, op: "add")
        Profiler.shared.measure("add \(a.shape)") {
            EngineThreads.parallelRanges(a.count, grain: 16384) { r in
                slice.runs(r) { i, end, dst in
                    for j in i..<end { dst[j] = a.pointer[j] + b.pointer[j] }
                    applyActivation(act, dst + i, end - i)
                }
            }
        }
    }

    /// Copies x ([N, C, ...]) into channels [channel, channel + C) of `out`: the part of a
    /// concatenation that was computed elsewhere (YOLOv5's neck).
    public static func copy(_ x: Tensor, into out: Tensor, channel: Int) throws {
        let slice = try ChannelSlice(out, holding: x.shape, at: channel, op: "copy")
        Profiler.shared.measure("concat part \(x.shape)") {
            EngineThreads.parallelRanges(x.count, grain: 1 << 15) { r in
                slice.runs(r) { i, end, dst in (dst + i).update(from: x.pointer + i, count: end - i) }
            }
        }
    }
}

/// Where a tensor of `shape` ([N, C, ...]) lands as channels [channel, channel + C) of `out`
/// ([N, C', ...], the same trailing shape): image i's part is one contiguous run of `part` floats,
/// from `image(i)` on. The one rule for every op that writes a concatenation's part in place
/// (Conv2d, add, copy, nearest upsampling), and its one error.
struct ChannelSlice {
    let out: Tensor, part: Int, outImage: Int, offset: Int

    init(_ out: Tensor, holding shape: [Int], at channel: Int, op: String) throws {
        let count = shape.reduce(1, *)
        let fits = shape.count >= 2 && out.rank == shape.count && out.shape[0] == shape[0] && Array(out.shape[2...]) == Array(shape[2...])
            && channel >= 0 && channel + shape[1] <= out.shape[1]
        guard shape.count < 2 ? (out.shape == shape && channel == 0) : fits else {
            throw EngineError.shape(op: op, detail: "output \(out.shape) cannot hold channels \(channel)... of \(shape)")
        }
        self.out = out
        let images = shape.count < 2 ? 1 : shape[0]
        part = count / max(1, images)
        outImage = out.count / max(1, images)
        offset = shape.count < 2 ? 0 : channel * (part / max(1, shape[1]))
    }

    /// Image i's part in `out`.
    func image(_ i: Int) -> UnsafeMutablePointer<Float> { out.pointer + i * outImage + offset }

    /// body(i, end, dst) for each image's piece of [r): dst[j] is element j's place in `out`.
    func runs(_ r: Range<Int>, _ body: (Int, Int, UnsafeMutablePointer<Float>) -> Void) {
        var i = r.lowerBound
        while i < r.upperBound {
            let img = i / part, end = min(r.upperBound, (img + 1) * part)
            body(i, end, image(img) - img * part)
            i = end
        }
    }
}
