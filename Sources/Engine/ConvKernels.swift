import CKernels
import Dispatch
import Foundation

/// Which convolution kernels run (issue 17, docs/performance.md "Kernels of our own").
///
/// - `blas`: im2col + GEMM on OpenBLAS and Winograd F(2x2, 3x3), the engine's paths before issue 17.
/// - `portable`: our direct kernels (Sources/CKernels) in plain C, for any processor (arm64 too).
/// - `avx2`: the same kernels with AVX2 and FMA.
/// - `avx512`: the direct 1x1 and 3x3 loops and the strided kernel on 16-float vectors (AVX-512F, VL and
///   DQ; stride 2 on outputs 64 or more wide on the strided kernel's phase path, over the input rows' even and
///   odd columns; the direct loops' maps 8 or fewer wide, which run the strided kernel, and rows' last 8 or fewer
///   positions on the AVX2 code), Winograd, max pooling and the stride-2 gather on their AVX2 code; the same
///   bits as `avx2`.
///
/// By default (`TUMORBOARD_KERNELS` unset or `auto`) the best kernels this processor has run
/// where they measured faster (`Conv2d`'s choice by shape), the rest on `blas`; a forced
/// `portable`, `avx2` or `avx512` runs every convolution they can take on our kernels (none on
/// OpenBLAS), so that every shape is tested on them. Kernels this processor cannot run are a named
/// error when asked for, never a silent fallback.
public enum ConvKernels: String, Sendable, CaseIterable {
    case blas, portable, avx2, avx512

    /// Whether this processor runs these kernels.
    public var isAvailable: Bool {
        switch self {
        case .blas: return true
        case .portable: return tb_kernels_available(TB_KERNELS_PORTABLE) != 0
        case .avx2: return tb_kernels_available(TB_KERNELS_AVX2) != 0
        case .avx512: return tb_kernels_available(TB_KERNELS_AVX512) != 0
        }
    }

    /// The kernels in force: what `TUMORBOARD_KERNELS` names, else the best available. A bad
    /// value is reported by `Conv2d` when a model is built (`validateEnvironment`).
    public static var current: Selection {
        lock.lock(); defer { lock.unlock() }
        if let forced = override { return forced }
        return environmentSelection.selection ?? Selection(kernels: best, forced: false)
    }

    /// What runs: the kernels, and whether they were forced (then every convolution they can
    /// take runs on them, whatever its shape).
    public struct Selection: Sendable, Equatable {
        public let kernels: ConvKernels
        public let forced: Bool
    }

    /// The best kernels this processor has (asked of cpuid once).
    public static let best: ConvKernels = ConvKernels.avx512.isAvailable ? .avx512 : ConvKernels.avx2.isAvailable ? .avx2 : .blas

    /// The kernels `Conv2d.Algorithm.direct` runs on: those in force, or the best available
    /// (the portable ones without AVX2) where that is `blas`.
    public static var forDirectAlgorithm: ConvKernels {
        let k = current.kernels
        return k != .blas ? k : (best == .blas ? .portable : best)
    }

    /// The C library's name for these kernels (`blas` has none: callers never pass it).
    var cKernels: tb_kernels {
        switch self {
        case .avx2: return TB_KERNELS_AVX2
        case .avx512: return TB_KERNELS_AVX512
        case .blas, .portable: return TB_KERNELS_PORTABLE
        }
    }

    /// Whether these are the vector kernels that the default choice runs by shape (AVX2, AVX-512).
    public var isVector: Bool { self == .avx2 || self == .avx512 }

    /// What a processor needs for these kernels, for the error when it has not.
    private var requirement: String {
        switch self {
        case .avx2: return "AVX2 and FMA"
        case .avx512: return "AVX2, FMA and AVX-512 (F, VL, DQ)"
        case .blas, .portable: return "nothing"
        }
    }

    /// Forces `k` in this process (tests and `tumorboard bench`), or returns to the environment's
    /// choice with nil. Throws for kernels this processor cannot run.
    public static func force(_ k: ConvKernels?) throws {
        if let k, !k.isAvailable {
            throw EngineError.argument(op: "kernels", detail: "\(k.rawValue) kernels need a processor with \(k.requirement); this one has not")
        }
        lock.lock(); override = k.map { Selection(kernels: $0, forced: true) }; lock.unlock()
    }

    /// Throws the named error for a `TUMORBOARD_KERNELS` this build or processor cannot honour.
    public static func validateEnvironment() throws {
        if let problem = environmentSelection.problem { throw EngineError.argument(op: "kernels", detail: problem) }
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var override: Selection?
    private static let environmentSelection: (selection: Selection?, problem: String?) = {
        guard let raw = ProcessInfo.processInfo.environment["TUMORBOARD_KERNELS"], !raw.isEmpty, raw != "auto" else { return (nil, nil) }
        guard let k = ConvKernels(rawValue: raw) else {
            return (nil, "TUMORBOARD_KERNELS=\(raw) is not one of auto, blas, portable, avx2, avx512")
        }
        guard k.isAvailable else { return (nil, "TUMORBOARD_KERNELS=\(raw): this processor cannot run them (available here: \(availableNames))") }
        return (Selection(kernels: k, forced: true), nil)
    }()
    private static var availableNames: String { allCases.filter(\.isAvailable).map(\.rawValue).joined(separator: ", ") }
}

/// A convolution on our direct kernels: stride-1 1x1 (no padding) and 3x3 (padding 1) on their
/// own loops, weights packed into blocks of 6 output channels; a strided 1x1 without padding (the
/// ResNet shortcuts) as the 1x1 loop on its subsampled input; every other one with one group and
/// dilation 1 (the strided convolutions, the 7x7 and 6x6 stems) on the strided kernel
/// (`tb_conv_strided`: the inputs broadcast, blocks of 16 output channels, straight from the
/// unpadded input). The weights are packed once, on first use.
final class DirectConvPlan: @unchecked Sendable {
    enum Mode { case pointwise, subsampled, threeByThree, strided }
    let mode: Mode
    let kh: Int, kw: Int, stride: (Int, Int), padding: (Int, Int)
    let cin: Int, cout: Int
    private let weight: Tensor
    private let lock = NSLock()

    init?(weight: Tensor, stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int), groups: Int, activation: Activation) {
        (kh, kw) = (weight.shape[2], weight.shape[3])
        guard groups == 1, dilation == (1, 1), activation != .gelu, padding.0 < kh, padding.1 < kw else { return nil }
        if stride == (1, 1) && kh == 1 && kw == 1 && padding == (0, 0) { mode = .pointwise }
        else if kh == 1 && kw == 1 && padding == (0, 0) { mode = .subsampled }
        else if stride == (1, 1) && kh == 3 && kw == 3 && padding == (1, 1) { mode = .threeByThree }
        else { mode = .strided }
        self.stride = stride; self.padding = padding
        cin = weight.shape[1]; cout = weight.shape[0]; self.weight = weight
    }

    /// Whether the default (not forced) choice runs this convolution here: the stride-1 1x1 and
    /// 3x3 loops always (faster than im2col + GEMM and Winograd on every such shape of ResNet-18
    /// and YOLOv5n), and the strided kernel on every strided convolution (as fast as im2col with
    /// our GEMM or faster on every strided shape of both networks, the same bits: docs/performance.md
    /// "Sixth step"; the strided 1x1 ones on the 1x1 loop over their subsampled input, which
    /// measured faster than the strided kernel there). A stride-1 convolution of another shape (none
    /// in TumorBoard's networks) runs here only when forced.
    var preferredByDefault: Bool { mode != .strided || stride != (1, 1) }

    /// Packed blocks of output channels: of 6 for the stride-1 loops (Winograd too), of 16 for the strided kernel.
    var blocks: Int { (cout + Int(TB_CO_BLOCK) - 1) / Int(TB_CO_BLOCK) }
    var stridedBlocks: Int { (cout + Int(TB_STRIDED_BLOCK) - 1) / Int(TB_STRIDED_BLOCK) }

    /// Which of our loops runs this plan on kernels `k` for an output of oh x ow: the one rule `run` follows
    /// and `Conv2d.ownPath` and the profile report. A stride-1 3x3 of 512 input channels or more on a map 8
    /// or fewer wide (ResNet-18's 7x7 stage) runs the strided kernel under AVX-512, whose tiles of 7
    /// positions x 32 channels fill the map where the direct loop's rows of 8 lanes carry 7 (the same bits:
    /// every output is summed the same way on both). Measured there only: in the network its three calls took
    /// 4.36 ms against 5.11; one thread, with the weights in cache, 64 to 256 channels at 7x7 and 8x8 ran
    /// 5-40 % slower on it than on the direct loop (docs/performance.md, "Eighth step").
    func path(_ k: ConvKernels, oh: Int, ow: Int) -> Conv2d.OwnPath {
        switch mode {
        case .pointwise: return .direct
        case .subsampled: return .subsampled
        case .threeByThree:
            if runsWinograd(oh: oh, ow: ow) { return .winograd }
            return k == .avx512 && ow <= Self.stridedMaxWidth && cin >= Self.stridedMinChannels ? .strided : .direct
        case .strided: return .strided
        }
    }
    static let stridedMaxWidth = 8
    static let stridedMinChannels = 512

    /// Whether this convolution runs Winograd F(2x2, 3x3) on our micro-kernel (`tb_wino_conv`,
    /// Sources/CKernels/winograd.c) instead of the direct 3x3 loop for an output of oh x ow:
    /// stride 1, padding 1, at least `winogradMinChannels` input channels (YOLOv5n's 32 at 80x80
    /// ran 1.5x faster; its 16 at 160x160, faster on one thread, ran slower on two inside the
    /// network: with so few channels the transforms weigh as much as the multiplications they
    /// save), and at least `winogradMinTiles` tiles of 2x2 outputs. On fewer (ResNet-18's 7x7 stage: 16)
    /// each transformed weight serves too few tiles: the weights, 16/9 the size of the direct
    /// kernel's, stream from memory for little work, and two threads ran no faster than the direct
    /// loop (docs/performance.md). The same rule on every path, forced or not, so the parity runs
    /// test it.
    func runsWinograd(oh: Int, ow: Int) -> Bool {
        mode == .threeByThree && cin >= Self.winogradMinChannels && ((oh + 1) / 2) * ((ow + 1) / 2) >= Self.winogradMinTiles
    }
    static let winogradMinChannels = 32
    static let winogradMinTiles = 32

    /// The weights packed in blocks of 6 output channels for the stride-1 loops, made on first use.
    private var packed: UnsafeMutablePointer<Float> {
        packedOnce(\.packedStorage, floats: tb_packed_size(Int32(cout), Int32(cin * kh * kw))) {
            tb_pack_weights(weight.pointer, Int32(cout), Int32(cin * kh * kw), $0)
        }
    }

    /// The weights packed in blocks of 16 output channels for the strided kernel, made on first use.
    private var stridedPacked: UnsafeMutablePointer<Float> {
        packedOnce(\.stridedStorage, floats: tb_strided_packed_size(Int32(cout), Int32(cin * kh * kw))) {
            tb_strided_pack_weights(weight.pointer, Int32(cout), Int32(cin * kh * kw), $0)
        }
    }

    /// The transformed weights U = G g G^T, packed for the micro-kernel, made on first use.
    private var winogradWeights: UnsafeMutablePointer<Float> {
        packedOnce(\.winogradStorage, floats: tb_wino_weights_floats(Int32(cout), Int32(cin))) {
            tb_wino_pack_weights(weight.pointer, Int32(cout), Int32(cin), $0)
        }
    }

    /// The storage at `slot`, made and filled by `pack` on first use (under the plan's lock: the layouts a plan
    /// may need, each made once).
    private func packedOnce(_ slot: ReferenceWritableKeyPath<DirectConvPlan, TensorStorage?>, floats: Int,
                            _ pack: (UnsafeMutablePointer<Float>) -> Void) -> UnsafeMutablePointer<Float> {
        lock.lock(); defer { lock.unlock() }
        if let p = self[keyPath: slot] { return p.pointer }
        let s = TensorStorage(count: floats)
        pack(s.pointer)
        self[keyPath: slot] = s
        return s.pointer
    }
    private var packedStorage: TensorStorage?, stridedStorage: TensorStorage?, winogradStorage: TensorStorage?

    private static func act(_ a: Activation) -> tb_act {
        switch a {
        case .none: return TB_ACT_NONE
        case .relu: return TB_ACT_RELU
        case .silu: return TB_ACT_SILU
        case .sigmoid: return TB_ACT_SIGMOID
        case .gelu: return TB_ACT_NONE   // never planned (init)
        }
    }

    /// Floats of buffer a work item passes the C kernels for its last partial tile of `positions`
    /// (`tail_buffer`): none where the rows fit the kernel's own stack (TB_TAIL_STACK_ROWS), or
    /// where the positions fill whole tiles.
    static func tailFloats(rows: Int, positions: Int) -> Int {
        rows > Int(TB_TAIL_STACK_ROWS) && positions % Int(TB_TILE) != 0 ? rows * Int(TB_TILE) : 0
    }

    /// How many chunks to cut `units` (tiles) into: chunks of about `target` units, and where the work
    /// items (these chunks times `others`) are fewer than 16 a thread, as many more chunks as make the items a
    /// multiple of the threads: the threads take items as they finish, so an odd last item would leave
    /// one thread waiting for the other. Chunk c is then units [c * units / chunks, (c + 1) * units / chunks).
    static func evenSplit(units: Int, target: Int, others: Int, threads: Int) -> Int {
        var chunks = max(1, min(units, (units + max(1, target) - 1) / max(1, target)))
        let others = max(1, others)
        if threads > 1, chunks * others < 16 * threads {
            while (chunks * others) % threads != 0, chunks < units { chunks += 1 }
        }
        return chunks
    }

    /// Whether a 1x1 of `cin` input channels over `positions` writes past the caches whatever its caller
    /// asks: a thin layer (64 input channels or fewer) on a map of 80 x 80 or more (an output of at least
    /// 400 KiB a 16 channels) does few multiply-adds per float it writes, and its output does not stay in
    /// the 1 MiB L2 for the next layer anyway; streaming stores spare the read of each line before it is
    /// written. Measured in YOLOv5n (docs/performance.md, "Ninth step"): C3's 1x1 layers at 160 x 160 and
    /// 80 x 80 took 20-30 % less time, the layers reading their outputs about the same. The same values either way.
    static func streamsThin(cin: Int, positions: Int) -> Bool { cin <= 64 && positions >= 6400 }

    /// y = conv(x) + bias, activated, for one image: x is cin planes of h x w, y cout planes of
    /// oh x ow. The work items depend only on the shape, and every output is summed in one fixed
    /// order, so 1 and 2 threads give identical bits.
    /// `stream`: a 1x1 writes its output with streaming stores (`Conv2d.streamsOutput`); the 1x1 loop also streams
    /// thin layers on large maps whatever the caller asks (`streamsThin`, decided in `runPointwise`).
    func run(_ k: ConvKernels, x: UnsafeMutablePointer<Float>, h: Int, w: Int, y: UnsafeMutablePointer<Float>, oh: Int, ow: Int,
             bias: UnsafeMutablePointer<Float>?, activation: Activation, stream: Bool = false) {
        let path = k.cKernels, a = Self.act(activation)
        switch self.path(k, oh: oh, ow: ow) {
        case .direct where mode == .pointwise:
            runPointwise(path, x: x, n: h * w, y: y, bias: bias, activation: a, stream: stream)
        case .direct:
            runThreeByThree(path, x: x, h: h, w: w, y: y, oh: oh, ow: ow, bias: bias, activation: a)
        case .subsampled:
            // The input at the stride (a quarter of it at stride 2): im2col of a 1x1 without padding.
            let sub = TensorStorage(count: cin * oh * ow, zeroed: false)
            defer { withExtendedLifetime(sub) {} }   // read below only through raw pointers
            Conv2d.im2col(path, x, channels: cin, h, w, oh, ow, kernel: (1, 1), stride: stride, padding: (0, 0), dilation: (1, 1),
                          sub.pointer, rows: 0..<oh, parallel: true)
            runPointwise(path, x: sub.pointer, n: oh * ow, y: y, bias: bias, activation: a, stream: stream)
        case .winograd:
            runWinograd(path, x: x, h: h, w: w, y: y, oh: oh, ow: ow, bias: bias, activation: a)
        case .strided:
            runStrided(path, x: x, h: h, w: w, y: y, oh: oh, ow: ow, bias: bias, activation: a)
        }
    }
}

extension DirectConvPlan {
    /// The direct 3x3 loop (stride 1, padding 1) for one image: the input with a zero border of one row
    /// and column, rows padded to whole tiles, then row chunks times chunks of 8 channel blocks.
    fileprivate func runThreeByThree(_ path: tb_kernels, x: UnsafeMutablePointer<Float>, h: Int, w: Int, y: UnsafeMutablePointer<Float>,
                                     oh: Int, ow: Int, bias: UnsafeMutablePointer<Float>?, activation a: tb_act) {
        let weights = packed, blockChunk = 8, cbChunks = (blocks + blockChunk - 1) / blockChunk
        let (cin32, cout32, blocks) = (Int32(cin), Int32(cout), blocks)
        // Row chunks of at least 256 positions (the whole map for ResNet's 14x14 and 7x7), so a
        // block's weights are read once per chunk: on small maps with many channels the weights,
        // not the positions, are what streams from memory.
        let rowChunk = min(oh, max((oh + 7) / 8, (256 + ow - 1) / ow)), rChunks = (oh + rowChunk - 1) / rowChunk
        let rows = oh + 2, width = Int(tb_padded_width(Int32(ow), 3)), plane = rows * width
        let padded = TensorStorage(count: cin * plane, zeroed: false)
        defer { withExtendedLifetime(padded) {} }   // read below only through raw pointers
        BorderCopy.run(x, channels: cin, h: h, w: w, border: (1, 1), rows: rows, width: width, into: padded.pointer)
        let xp = padded.pointer
        EngineThreads.parallelFor(rChunks * cbChunks, minWorkPerChunk: rowChunk * ow * cin * kh * kw) { item in
            let rc = item / cbChunks, cc = item % cbChunks
            let oy0 = Int32(rc * rowChunk), oy1 = Int32(min(oh, rc * rowChunk + rowChunk))
            let cb0 = cc * blockChunk, cb1 = Int32(min(blocks, cb0 + blockChunk))
            tb_conv_direct(path, xp, cin32, Int32(rows), Int32(width), weights, bias, cout32, 3, 3, y, Int32(oh), Int32(ow),
                           oy0, oy1, Int32(cb0), cb1, a)
        }
    }

    /// A 1x1 convolution over `n` positions of x (cin planes of n): position chunks of whole tiles,
    /// about 128 KiB of input each, times chunks of 8 blocks or fewer, both as even as whole tiles and
    /// blocks allow, and (where the items are few) a multiple of the threads in number, so that no thread
    /// is left alone with a last item (`Self.evenSplit`).
    fileprivate func runPointwise(_ path: tb_kernels, x: UnsafeMutablePointer<Float>, n: Int, y: UnsafeMutablePointer<Float>,
                                  bias: UnsafeMutablePointer<Float>?, activation a: tb_act, stream: Bool) {
        let stream = stream || Self.streamsThin(cin: cin, positions: n)
        let weights = packed, cbChunks = (blocks + 7) / 8, blockChunk = (blocks + cbChunks - 1) / cbChunks
        let (cin32, cout32, blocks) = (Int32(cin), Int32(cout), blocks)
        let tile = Int(TB_TILE), tiles = (n + tile - 1) / tile
        let pChunks = Self.evenSplit(units: tiles, target: max(1, 32768 / max(1, cin) / tile), others: cbChunks,
                                     threads: EngineThreads.count)
        let chunk = (tiles + pChunks - 1) / pChunks * tile   // the largest chunk, for the threading threshold
        // The last partial tile's zero-padded copy, one per work item, where it is too big for the
        // kernel's stack (over TB_TAIL_STACK_ROWS input channels).
        let tailFloats = Self.tailFloats(rows: cin, positions: n)
        let tails = tailFloats > 0 ? TensorStorage(count: pChunks * cbChunks * tailFloats, zeroed: false) : nil
        defer { withExtendedLifetime(tails) {} }
        EngineThreads.parallelFor(pChunks * cbChunks, minWorkPerChunk: chunk * cin) { item in
            let pc = item / cbChunks, cc = item % cbChunks
            let p0 = pc * tiles / pChunks * tile, p1 = min(n, (pc + 1) * tiles / pChunks * tile)
            let cb0 = cc * blockChunk, cb1 = min(blocks, cb0 + blockChunk)
            tb_gemm_panel(path, x, cin32, Int32(n), weights, bias, cout32, y, n, Int32(p0), Int32(p1), Int32(cb0), Int32(cb1), a,
                          stream ? 1 : 0, tails.map { $0.pointer + item * tailFloats })
        }
    }

    /// The strided kernel for one image, straight from the unpadded input: work items of position
    /// chunks (whole tiles: 6 positions, 7 under AVX-512, whole output rows on AVX-512's phase path:
    /// `tb_strided_item_unit`) whose band of bordered input rows is about 64 Ki floats (each item
    /// copies its band into its work buffer, where it stays in cache while the tiles go by), times
    /// chunks of 16-channel blocks where the bands are fewer than 8 (small maps with many channels).
    /// Every output is summed the same way whatever the split: 1 and 2 threads give identical bits.
    fileprivate func runStrided(_ path: tb_kernels, x: UnsafeMutablePointer<Float>, h: Int, w: Int, y: UnsafeMutablePointer<Float>,
                                oh: Int, ow: Int, bias: UnsafeMutablePointer<Float>?, activation a: tb_act) {
        let weights = stridedPacked, kdim = cin * kh * kw, n = oh * ow, blocks = stridedBlocks
        let tile = Int(tb_strided_item_unit(path, Int32(stride.0), Int32(stride.1), Int32(ow)))
        let bandOut = max(1, ((1 << 16) / max(1, cin * (w + 2 * padding.1)) - kh) / stride.0 + 1)
        let units = (n + tile - 1) / tile, target = max(1, bandOut * ow / tile)
        let bands = (units + target - 1) / target
        let wanted = min(blocks, bands >= 8 ? 1 : (8 + bands - 1) / bands)
        // whole pairs of blocks under AVX-512, whose tiles take two at once
        let pair = path == TB_KERNELS_AVX512 ? 2 : 1, blocksPerItem = ((blocks + wanted - 1) / wanted + pair - 1) / pair * pair
        let cbChunks = (blocks + blocksPerItem - 1) / blocksPerItem   // no empty item (5 blocks in 4 wanted: 3 of 2)
        // the bands as even as whole units allow, and a multiple of the threads in number where the items are few
        let pChunks = Self.evenSplit(units: units, target: target, others: cbChunks, threads: EngineThreads.count)
        let chunk = (units + pChunks - 1) / pChunks * tile   // the largest
        let workFloats = tb_strided_work_floats(Int32(cin), Int32(w), Int32(kh), Int32(kw), Int32(stride.0), Int32(padding.1), Int32(ow),
                                                Int32(chunk))
        let (cin32, cout32) = (Int32(cin), Int32(cout))
        EngineThreads.parallelFor(pChunks * cbChunks, minWorkPerChunk: chunk * kdim * blocksPerItem * Int(TB_STRIDED_BLOCK)) { item in
            let pc = item / cbChunks, cc = item % cbChunks
            let p0 = pc * units / pChunks * tile, p1 = min(n, (pc + 1) * units / pChunks * tile)
            let cb0 = cc * blocksPerItem, cb1 = min(blocks, cb0 + blocksPerItem)
            guard p0 < p1 else { return }
            let work = TensorStorage(count: workFloats, zeroed: false)
            withExtendedLifetime(work) {
                tb_conv_strided(path, x, cin32, Int32(h), Int32(w), weights, bias, cout32, Int32(kh), Int32(kw), Int32(stride.0),
                                Int32(stride.1), Int32(padding.0), Int32(padding.1), y, Int32(oh), Int32(ow), Int32(p0), Int32(p1),
                                Int32(cb0), Int32(cb1), a, work.pointer)
            }
        }
    }
}

extension DirectConvPlan {
    /// Winograd F(2x2, 3x3) for one image: the input with its zero border (one row and column,
    /// the tile rows rounded up), then pairs of 8-tile chunks (16 lanes) on the engine's threads;
    /// where the pairs are too few to keep the threads busy (small maps), the channel blocks are
    /// split too. Every output is computed the same way whatever the split: 1 and 2 threads give
    /// identical bits.
    fileprivate func runWinograd(_ path: tb_kernels, x: UnsafeMutablePointer<Float>, h: Int, w: Int, y: UnsafeMutablePointer<Float>,
                                 oh: Int, ow: Int, bias: UnsafeMutablePointer<Float>?, activation a: tb_act) {
        let u = winogradWeights
        var rows32: Int32 = 0, width32: Int32 = 0, chunks32: Int32 = 0
        tb_wino_layout(Int32(oh), Int32(ow), &rows32, &width32, &chunks32)
        let (rows, width, chunks) = (Int(rows32), Int(width32), Int(chunks32))
        let plane = rows * width
        let padded = TensorStorage(count: cin * plane, zeroed: false)
        defer { withExtendedLifetime(padded) {} }   // read below only through raw pointers
        BorderCopy.run(x, channels: cin, h: h, w: w, border: (1, 1), rows: rows, width: width, into: padded.pointer)
        let xp = padded.pointer
        // Small items balance the threads (each takes the next as it finishes); the blocks are
        // split only where the pairs are too few, as each such item repeats the input transform.
        let threads = max(1, EngineThreads.count), pairs = (chunks + 1) / 2
        let pairsPerItem = max(1, pairs / (16 * threads)), groups = (pairs + pairsPerItem - 1) / pairsPerItem
        let cbChunks = groups >= 2 * threads ? 1 : min(blocks, 4 * threads)
        let blocksPerItem = (blocks + cbChunks - 1) / cbChunks
        let (cin32, cout32, blocks) = (Int32(cin), Int32(cout), blocks)
        let workFloats = tb_wino_work_floats(cin32, Int32(blocksPerItem))
        EngineThreads.parallelFor(groups * cbChunks, minWorkPerChunk: pairsPerItem * 16 * 16 * cin * blocksPerItem * Int(TB_CO_BLOCK)) { item in
            let g = item / cbChunks, c = item % cbChunks
            let q0 = g * pairsPerItem * 2, q1 = min(chunks, q0 + pairsPerItem * 2)
            let cb0 = c * blocksPerItem, cb1 = min(blocks, cb0 + blocksPerItem)
            guard q0 < q1, cb0 < cb1 else { return }
            let work = TensorStorage(count: workFloats, zeroed: false)
            withExtendedLifetime(work) {
                tb_wino_conv(path, xp, cin32, plane, Int32(width), u, bias, cout32, y, Int32(oh), Int32(ow), Int32(q0), Int32(q1),
                             Int32(cb0), Int32(cb1), a, work.pointer)
            }
        }
    }
}

/// The processor's measured multiply-add peak: the yardstick for the kernels' GFLOP/s
/// (`tumorboard bench --model peak` and `--model conv-paths`, docs/performance.md).
public enum MachinePeak {
    /// One run of the C loop (`tb_fma_loop`): the sum of its lanes and the floating-point
    /// operations it did; the sum is flops / 2 exactly while iterations <= 2^24.
    public static func loop(_ k: ConvKernels, iterations: Int) -> (sum: Double, flops: Double) {
        var flops = 0.0
        let sum = tb_fma_loop(k.cKernels, iterations, &flops)
        return (sum, flops)
    }

    /// The instruction set the peak is measured on: that of the best kernels this processor runs
    /// (AVX-512, else AVX2 with FMA, else the portable C).
    public static var instructions: ConvKernels { ConvKernels.best == .blas ? .portable : ConvKernels.best }

    /// GFLOP/s of `threads` threads running the loop at once on `k`'s instruction set (AVX-512, AVX2
    /// with FMA, or the portable C), the best of `rounds` rounds of about 20 ms each.
    public static func gflops(threads: Int, kernels k: ConvKernels = instructions, rounds: Int = 5) -> Double {
        let iterations = 1 << 22
        var best = 0.0
        for _ in 0..<max(1, rounds) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let n = max(1, threads)
            let done = UnsafeMutablePointer<Double>.allocate(capacity: n)
            defer { done.deallocate() }
            EngineThreads.perform(n, width: n) { t in done[t] = loop(k, iterations: iterations).flops }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            best = max(best, (0..<n).reduce(0.0) { $0 + done[$1] } / seconds / 1e9)
        }
        return best
    }
}

/// Copies every channel of an input into its zero-bordered copy (`tb_border_copy`, as the direct 3x3
/// loop and Winograd read it) on the engine's threads, in bands of rows.
enum BorderCopy {
    static func run(_ x: UnsafePointer<Float>, channels: Int, h: Int, w: Int, border: (Int, Int), rows: Int, width: Int,
                    into dst: UnsafeMutablePointer<Float>) {
        let plane = rows * width
        let band = max(1, min(rows, (1 << 16) / max(1, width))), bands = (rows + band - 1) / band
        EngineThreads.parallelFor(channels * bands, minWorkPerChunk: band * width) { item in
            let c = item / bands, i0 = (item % bands) * band, i1 = min(rows, i0 + band)
            tb_border_copy(x + c * h * w, Int32(h), Int32(w), Int32(border.0), Int32(border.1), Int32(width), dst + c * plane + i0 * width,
                           Int32(i0), Int32(i1))
        }
    }
}
