import CKernels
import Foundation

/// Batch-norm parameters for inference: y = (x - mean) / sqrt(var + eps) * gamma + beta.
public struct BatchNormParams: Sendable {
    public let gamma: Tensor, beta: Tensor, mean: Tensor, variance: Tensor
    public let eps: Float

    public init(gamma: Tensor, beta: Tensor, mean: Tensor, variance: Tensor, eps: Float = 1e-5) throws {
        let c = gamma.count
        guard gamma.rank == 1, [beta, mean, variance].allSatisfy({ $0.shape == [c] }) else {
            throw EngineError.shape(op: "batchnorm", detail: "gamma \(gamma.shape), beta \(beta.shape), mean \(mean.shape), var \(variance.shape) must all be [C]")
        }
        self.gamma = gamma; self.beta = beta; self.mean = mean; self.variance = variance; self.eps = eps
    }

    /// Per-channel scale and shift: y = x * scale + shift.
    var scaleShift: ([Float], [Float]) {
        let c = gamma.count
        var scale = [Float](repeating: 0, count: c), shift = scale
        for i in 0..<c {
            scale[i] = gamma.pointer[i] / (variance.pointer[i] + eps).squareRoot()
            shift[i] = beta.pointer[i] - mean.pointer[i] * scale[i]
        }
        return (scale, shift)
    }
}

/// A 2-D convolution over NCHW input, with optional bias and a fused activation.
/// Path by shape: where our direct kernels (`ConvKernels`, Sources/CKernels) are in force they take
/// the stride-1 1x1 and 3x3 convolutions and every strided one (`DirectConvPlan.preferredByDefault`);
/// otherwise 1x1 / stride 1 / no padding goes straight to GEMM; 3x3 / stride 1 with enough channels
/// goes to Winograd F(2x2, 3x3); everything else is im2col + GEMM, one GEMM per image and group.
public struct Conv2d: Sendable {
    public enum Algorithm: String, Sendable {
        /// Choose by shape (the default).
        case auto
        /// im2col + GEMM (or GEMM alone for 1x1), always valid.
        case im2col
        /// Winograd F(2x2, 3x3); only for 3x3, stride 1, dilation 1, one group.
        case winograd
        /// Our direct kernels (the ones `ConvKernels.current` names, or the best available where
        /// that is `blas`); for one group, dilation 1, padding smaller than the kernel, no GELU.
        case direct
    }

    public let weight: Tensor            // [Cout, Cin / groups, kh, kw]
    public let bias: Tensor?             // [Cout]
    public let stride: (Int, Int)
    public let padding: (Int, Int)
    public let dilation: (Int, Int)
    public let groups: Int
    public let activation: Activation
    public let algorithm: Algorithm
    /// Whether a 1x1 convolution on our vector kernels writes its output past the caches (non-temporal
    /// stores): for maps read only after the rest of the pass (YOLOv5's detection heads), which would
    /// otherwise be read into the cache before being written and push out what the next layers use. The
    /// same values either way.
    public let streamsOutput: Bool
    let winograd: Winograd2x3?
    let direct: DirectConvPlan?

    public var outChannels: Int { weight.shape[0] }
    public var inChannels: Int { weight.shape[1] * groups }
    public var kernel: (Int, Int) { (weight.shape[2], weight.shape[3]) }

    public init(weight: Tensor, bias: Tensor? = nil, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
                dilation: (Int, Int) = (1, 1), groups: Int = 1, activation: Activation = .none,
                algorithm: Algorithm = .auto, streamsOutput: Bool = false) throws {
        guard weight.rank == 4, weight.count > 0 else {
            throw EngineError.shape(op: "conv2d", detail: "weight must be [Cout, Cin/groups, kh, kw], got \(weight.shape)")
        }
        guard groups >= 1, weight.shape[0] % groups == 0 else {
            throw EngineError.shape(op: "conv2d", detail: "\(weight.shape[0]) output channels not divisible by groups \(groups)")
        }
        if let bias, bias.shape != [weight.shape[0]] {
            throw EngineError.shape(op: "conv2d", detail: "bias \(bias.shape) does not match \(weight.shape[0]) output channels")
        }
        guard stride.0 >= 1, stride.1 >= 1, dilation.0 >= 1, dilation.1 >= 1, padding.0 >= 0, padding.1 >= 0 else {
            throw EngineError.argument(op: "conv2d", detail: "stride and dilation must be >= 1 and padding >= 0")
        }
        self.weight = weight; self.bias = bias; self.stride = stride; self.padding = padding
        self.dilation = dilation; self.groups = groups; self.activation = activation
        self.algorithm = algorithm; self.streamsOutput = streamsOutput
        let winogradShape = weight.shape[2] == 3 && weight.shape[3] == 3 && stride == (1, 1)
            && dilation == (1, 1) && groups == 1
        try ConvKernels.validateEnvironment()
        direct = DirectConvPlan(weight: weight, stride: stride, padding: padding, dilation: dilation, groups: groups, activation: activation)
        if algorithm == .direct && direct == nil {
            throw EngineError.argument(op: "conv2d", detail: "the direct kernels take convolutions with one group, dilation 1, padding smaller than the kernel, and no GELU")
        }
        switch algorithm {
        case .im2col, .direct: winograd = nil
        case .winograd:
            guard winogradShape else {
                throw EngineError.argument(op: "conv2d", detail: "Winograd needs a 3x3 kernel, stride 1, dilation 1 and one group")
            }
            winograd = Winograd2x3(weight: weight)
        case .auto:
            // Measured with `tumorboard bench --model conv-paths` on an idle machine
            // (docs/performance.md): Winograd wins from 256 channels on; the spatial size is
            // checked per call.
            winograd = winogradShape && weight.shape[0] >= 256 && weight.shape[1] >= 256 ? Winograd2x3(weight: weight) : nil
        }
    }

    /// This convolution followed by batch norm, folded into one convolution (inference only).
    public func folding(_ bn: BatchNormParams, activation: Activation? = nil) throws -> Conv2d {
        guard bn.gamma.count == outChannels else {
            throw EngineError.shape(op: "conv2d+batchnorm", detail: "batch norm over \(bn.gamma.count) channels after a conv with \(outChannels)")
        }
        let (scale, shift) = bn.scaleShift
        let w = weight.copy()
        let per = weight.count / outChannels
        let b = Tensor(zeros: [outChannels])
        for o in 0..<outChannels {
            for i in 0..<per { w.pointer[o * per + i] *= scale[o] }
            b.pointer[o] = (bias?.pointer[o] ?? 0) * scale[o] + shift[o]
        }
        return try Conv2d(weight: w, bias: b, stride: stride, padding: padding, dilation: dilation,
                          groups: groups, activation: activation ?? self.activation, algorithm: algorithm,
                          streamsOutput: streamsOutput)
    }

    public func outputSize(_ h: Int, _ w: Int) -> (Int, Int) {
        let (kh, kw) = kernel
        return ((h + 2 * padding.0 - dilation.0 * (kh - 1) - 1) / stride.0 + 1,
                (w + 2 * padding.1 - dilation.1 * (kw - 1) - 1) / stride.1 + 1)
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        let (oh, ow) = try validatedOutputSize(x)
        let y = Tensor(uninitialized: [x.shape[0], outChannels, oh, ow])
        try run(x, into: ChannelSlice(y, holding: y.shape, at: 0, op: "conv2d"))
        return y
    }

    /// Writes this convolution's output into channels [channel, channel + outChannels) of `out`
    /// ([N, C, oh, ow]): a concatenation's part, written in place instead of copied (YOLOv5's C3).
    /// The same bits as the plain call.
    public func callAsFunction(_ x: Tensor, into out: Tensor, channel: Int) throws {
        let (oh, ow) = try validatedOutputSize(x)
        try run(x, into: ChannelSlice(out, holding: [x.shape[0], outChannels, oh, ow], at: channel, op: "conv2d"))
    }

    /// The output size for input x, or the named error for an input this convolution cannot take.
    private func validatedOutputSize(_ x: Tensor) throws -> (Int, Int) {
        guard x.rank == 4, x.shape[1] == inChannels else {
            throw EngineError.shape(op: "conv2d", detail: "input \(x.shape) does not match weight \(weight.shape) with groups \(groups) (expected [N, \(inChannels), H, W])")
        }
        let (oh, ow) = outputSize(x.shape[2], x.shape[3])
        guard oh > 0, ow > 0 else {
            throw EngineError.shape(op: "conv2d", detail: "input \(x.shape[2])x\(x.shape[3]) is smaller than the kernel \(kernel) with padding \(padding), dilation \(dilation)")
        }
        return (oh, ow)
    }

    private func run(_ x: Tensor, into slice: ChannelSlice) throws {
        let own = ownKernels()   // chosen once, so the profile names the path that ran
        Profiler.shared.measure(profileKey(x, own: own)) { forward(x, own: own, into: slice) }
    }

    /// Whether this call runs Winograd: forced, or chosen and the output has at least 14x14
    /// positions (below that the tiles are too few for the 16 GEMMs to pay).
    private func usesWinograd(outputs: Int) -> Bool {
        winograd != nil && (algorithm == .winograd || outputs >= 196)
    }

    /// The kernels of ours that take this call (nil: the BLAS paths): forced by the algorithm, or by
    /// `TUMORBOARD_KERNELS` (then on every convolution they take), else the vector kernels (AVX-512 or
    /// AVX2) where they are the best available and measured faster for this kind of convolution
    /// (`DirectConvPlan.preferredByDefault`; `tumorboard bench --model conv-paths`,
    /// docs/performance.md). The portable kernels run only when forced.
    private func ownKernels() -> ConvKernels? {
        guard let direct else { return nil }
        if algorithm == .direct { return ConvKernels.forDirectAlgorithm }
        guard algorithm == .auto else { return nil }
        let sel = ConvKernels.current
        switch sel.kernels {
        case .blas: return nil
        case _ where sel.forced: return sel.kernels
        default: return sel.kernels.isVector && direct.preferredByDefault ? sel.kernels : nil
        }
    }

    /// Which loop of our kernels runs a convolution (`ownPath`, `DirectConvPlan.path`): the direct 1x1 or 3x3
    /// loop, Winograd F(2x2, 3x3) on our micro-kernel (`DirectConvPlan.runsWinograd`), the strided kernel
    /// (`tb_conv_strided`), or the 1x1 loop over a strided 1x1's subsampled input.
    public enum OwnPath: String, Sendable { case direct, winograd, strided, subsampled }

    /// The loop of ours that runs this convolution on an input of h x w under the kernels now in force, or nil
    /// where it runs on the BLAS paths. The one rule behind the profile's names ("strided-avx512", ...), bench's
    /// conv-paths columns and the tests.
    public func ownPath(h: Int, w: Int) -> OwnPath? {
        guard let k = ownKernels(), let direct else { return nil }
        let (oh, ow) = outputSize(h, w)
        return direct.path(k, oh: oh, ow: ow)
    }

    private func profileKey(_ x: Tensor, own: ConvKernels?) -> String {
        let (kh, kw) = kernel
        guard x.rank == 4 else { return "conv (bad input \(x.shape))" }
        let (oh, ow) = outputSize(x.shape[2], x.shape[3])
        let ours = own.flatMap { k in direct.map { "\($0.path(k, oh: oh, ow: ow).rawValue)-\(k.rawValue)" } }
        let path = ours ?? (usesWinograd(outputs: oh * ow) ? "winograd" : (kh == 1 && kw == 1 && stride == (1, 1) && padding == (0, 0) ? "gemm" : "im2col"))
        return "conv \(kh)x\(kw)/\(stride.0) \(path) \(x.shape) -> \(outChannels)"
    }

    /// The convolution of a validated input (`validatedOutputSize`) into its part of the output.
    private func forward(_ x: Tensor, own: ConvKernels?, into slice: ChannelSlice) {
        let (n, h, w) = (x.shape[0], x.shape[2], x.shape[3])
        let (oh, ow) = outputSize(h, w)
        let (kh, kw) = kernel
        let cinG = inChannels / groups, coutG = outChannels / groups
        let kdim = cinG * kh * kw, spatial = oh * ow
        let dst = slice.image   // image b's output planes
        if let k = own, let direct {
            FlopCounter.shared.add(2 * n * outChannels * inChannels * kh * kw * spatial)
            for b in 0..<n {
                direct.run(k, x: x.pointer + b * inChannels * h * w, h: h, w: w, y: dst(b),
                           oh: oh, ow: ow, bias: bias?.pointer, activation: activation, stream: streamsOutput)
            }
            return
        }
        if usesWinograd(outputs: spatial), let winograd {
            FlopCounter.shared.add(2 * n * outChannels * inChannels * kh * kw * spatial)   // nominal, as for a direct conv
            for b in 0..<n {
                winograd.run(x: x.pointer + b * inChannels * h * w, h: h, w: w, padding: padding,
                             y: dst(b), bias: bias?.pointer, activation: activation)
            }
            return
        }
        let direct = kh == 1 && kw == 1 && stride == (1, 1) && padding == (0, 0)
        // The product runs in bands of output rows sized to stay in cache: each band builds its
        // im2col columns (none for a 1x1 convolution), multiplies, and applies bias and
        // activation while the band is still hot. Bands run in parallel; they depend only on
        // the shape, so the bits do not depend on the thread count.
        let bandRows = max(1, min(oh, (1 << 18) / max(1, (kdim + coutG) * ow)))
        let bands = (oh + bandRows - 1) / bandRows
        // im2col's stride-2 gather runs on the best C kernels (or those forced).
        let gatherKernels = ConvKernels.forDirectAlgorithm.cKernels
        let act = activation
        FlopCounter.shared.add(2 * n * outChannels * kdim * spatial)
        for b in 0..<n {
            for g in 0..<groups {
                let src = x.pointer + (b * inChannels + g * cinG) * h * w
                let wg = weight.pointer + g * coutG * kdim
                let dst = dst(b) + g * coutG * spatial
                let biasG = bias.map { $0.pointer + g * coutG }
                let band: (Int) -> Void = { t in
                    let rows = t * bandRows..<min(oh, (t + 1) * bandRows)
                    let cols = rows.count * ow, first = rows.lowerBound * ow
                    var col: TensorStorage?
                    defer { withExtendedLifetime(col) {} }   // read below only through raw pointers
                    if !direct {
                        col = TensorStorage(count: kdim * cols, zeroed: false)
                        Self.im2col(gatherKernels, src, channels: cinG, h, w, oh, ow, kernel: self.kernel, stride: self.stride,
                                    padding: self.padding, dilation: self.dilation, col!.pointer, rows: rows, parallel: bands == 1)
                    }
                    GEMM.sgemm(m: coutG, n: cols, k: kdim, a: wg, lda: kdim,
                               b: col?.pointer ?? src + first, ldb: direct ? spatial : cols,
                               c: dst + first, ldc: spatial, countFlops: false, split: bands == 1)
                    if biasG != nil || act != .none {
                        for o in 0..<coutG { applyActivation(act, dst + o * spatial + first, cols, bias: biasG?[o] ?? 0) }
                    }
                }
                if bands > 1 && EngineThreads.count > 1 { EngineThreads.perform(bands, band) } else { for t in 0..<bands { band(t) } }
            }
        }
    }

    /// Lays out the receptive fields of output rows `rows` as columns:
    /// col[(c*kh + i)*kw + j][(oy - rows.lowerBound)*ow + ox]. Rows are contiguous copies at
    /// stride 1 and vector gathers of every other column at stride 2 (`tb_gather_stride2`),
    /// straight from the input (docs/performance.md). A strided 1x1 without padding is its input
    /// subsampled (`DirectConvPlan`'s subsampled mode).
    static func im2col(_ k: tb_kernels, _ src: UnsafeMutablePointer<Float>, channels: Int, _ h: Int, _ w: Int,
                       _ oh: Int, _ ow: Int, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int),
                       _ col: UnsafeMutablePointer<Float>, rows outRows: Range<Int>, parallel: Bool) {
        let (kh, kw) = kernel
        let (sh, sw) = stride, (ph, pw) = padding, (dh, dw) = dilation
        let rows = channels * kh * kw
        let cols = outRows.count * ow
        let body: (Int) -> Void = { r in
            let c = r / (kh * kw), i = (r / kw) % kh, j = r % kw
            let plane = src + c * h * w
            let dst = col + r * cols - outRows.lowerBound * ow
            // The range of ox whose input column is inside the image.
            let xOff = j * dw - pw
            let oxLo = xOff < 0 ? min(ow, (-xOff + sw - 1) / sw) : 0
            let oxHi = max(oxLo, w - 1 - xOff >= 0 ? min(ow, (w - 1 - xOff) / sw + 1) : 0)
            for oy in outRows {
                let iy = oy * sh - ph + i * dh
                let row = dst + oy * ow
                if iy < 0 || iy >= h {
                    row.initialize(repeating: 0, count: ow)
                    continue
                }
                let line = plane + iy * w
                if oxLo > 0 { row.initialize(repeating: 0, count: oxLo) }
                if sw == 1 {
                    if oxHi > oxLo { row.advanced(by: oxLo).update(from: line + oxLo + xOff, count: oxHi - oxLo) }
                } else if sw == 2 && dw == 1 {
                    let ix = oxLo * 2 + xOff
                    if oxHi > oxLo { tb_gather_stride2(k, line + ix, Int32(oxHi - oxLo), Int32(w - ix), row + oxLo) }
                } else {
                    var ix = oxLo * sw + xOff
                    for ox in oxLo..<oxHi { row[ox] = line[ix]; ix += sw }
                }
                if oxHi < ow { row.advanced(by: oxHi).initialize(repeating: 0, count: ow - oxHi) }
            }
        }
        if parallel { EngineThreads.parallelFor(rows, minWorkPerChunk: cols, body) } else { for r in 0..<rows { body(r) } }
    }
}

extension Ops {
    /// Batch norm over NCHW (or NC) input, inference form.
    public static func batchNorm(_ x: Tensor, _ bn: BatchNormParams) throws -> Tensor {
        guard x.rank >= 2, x.shape[1] == bn.gamma.count else {
            throw EngineError.shape(op: "batchnorm", detail: "input \(x.shape) has not \(bn.gamma.count) channels on axis 1")
        }
        let (scale, shift) = bn.scaleShift
        let c = x.shape[1], plane = x.count / (x.shape[0] * c)
        let y = Tensor(uninitialized: x.shape)
        EngineThreads.parallelFor(x.shape[0] * c, minWorkPerChunk: plane) { k in
            let ch = k % c, off = k * plane
            for i in 0..<plane { y.pointer[off + i] = x.pointer[off + i] * scale[ch] + shift[ch] }
        }
        return y
    }
}
