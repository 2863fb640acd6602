import Engine

/// The building blocks of YOLOv5 v6.0, named as ultralytics names them (cv1, cv2, cv3, m, conv, bn).
/// Every `Conv` is conv + batch norm (eps 1e-3) + SiLU, folded at load.
enum YOLOBlocks {
    static func conv(_ w: Weights, stride: Int = 1, eps: Float) throws -> Conv2d {
        let k = try w("conv.weight").shape[2]
        let padding = k / 2
        return try w.convBN(conv: "conv", bn: "bn", stride: stride, padding: padding, eps: eps, activation: .silu)
    }
}

public struct Bottleneck: Sendable {
    let cv1: Conv2d, cv2: Conv2d
    let shortcut: Bool

    init(_ w: Weights, shortcut: Bool, eps: Float) throws {
        cv1 = try YOLOBlocks.conv(w.scoped("cv1"), eps: eps)
        cv2 = try YOLOBlocks.conv(w.scoped("cv2"), eps: eps)
        self.shortcut = shortcut && cv1.inChannels == cv2.outChannels
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        let y = try cv2(cv1(x))
        return shortcut ? try Ops.add(x, y) : y
    }

    /// The same output, written into channels [channel, ...) of `out` (C3's concatenation).
    func callAsFunction(_ x: Tensor, into out: Tensor, channel: Int) throws {
        if shortcut { try Ops.add(x, cv2(cv1(x)), into: out, channel: channel) } else { try cv2(cv1(x), into: out, channel: channel) }
    }
}

/// CSP bottleneck with three convolutions: cv3(cat(m(cv1(x)), cv2(x))).
public struct C3: Sendable {
    let cv1: Conv2d, cv2: Conv2d, cv3: Conv2d
    let m: [Bottleneck]

    public init(_ w: Weights, shortcut: Bool, eps: Float = 1e-3) throws {
        cv1 = try YOLOBlocks.conv(w.scoped("cv1"), eps: eps)
        cv2 = try YOLOBlocks.conv(w.scoped("cv2"), eps: eps)
        cv3 = try YOLOBlocks.conv(w.scoped("cv3"), eps: eps)
        var m: [Bottleneck] = []
        while w.has("m.\(m.count).cv1.conv.weight") {
            m.append(try Bottleneck(w.scoped("m.\(m.count)"), shortcut: shortcut, eps: eps))
        }
        self.m = m
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        guard x.rank == 4 else { throw EngineError.shape(op: "C3", detail: "input \(x.shape) must be [N, C, H, W]") }
        let (oh, ow) = cv2.outputSize(x.shape[2], x.shape[3])
        let y = Tensor(uninitialized: [x.shape[0], cv3.outChannels, max(0, oh), max(0, ow)])
        try self(x, into: y, channel: 0)
        return y
    }

    /// The output written into channels [channel, ...) of `out` (a concatenation of the neck, or a tensor of its
    /// own). The two branches write their halves of cv3's input in place (no copy): cv2's output and the last
    /// bottleneck's (or cv1's, without bottlenecks).
    public func callAsFunction(_ x: Tensor, into out: Tensor, channel: Int) throws {
        guard x.rank == 4 else { throw EngineError.shape(op: "C3", detail: "input \(x.shape) must be [N, C, H, W]") }
        let (oh, ow) = cv2.outputSize(x.shape[2], x.shape[3])
        // The first half is what the bottlenecks (or cv1) end with, so every channel is written.
        let first = m.last?.cv2.outChannels ?? cv1.outChannels
        let cat = Tensor(uninitialized: [x.shape[0], first + cv2.outChannels, max(0, oh), max(0, ow)])
        try cv2(x, into: cat, channel: first)
        if let last = m.last {
            var a = try cv1(x)
            for b in m.dropLast() { a = try b(a) }
            try last(a, into: cat, channel: 0)
        } else {
            try cv1(x, into: cat, channel: 0)
        }
        try cv3(cat, into: out, channel: channel)
    }
}

/// Spatial pyramid pooling, fast: three chained max pools of size k concatenated with the input.
public struct SPPF: Sendable {
    let cv1: Conv2d, cv2: Conv2d
    let k: Int

    public init(_ w: Weights, k: Int = 5, eps: Float = 1e-3) throws {
        cv1 = try YOLOBlocks.conv(w.scoped("cv1"), eps: eps)
        cv2 = try YOLOBlocks.conv(w.scoped("cv2"), eps: eps)
        self.k = k
    }

    /// cv2(cat(a, m(a), m(m(a)), m(m(m(a))))) with a = cv1(x): cv1 writes into the concatenation's first
    /// part and the three pools follow each plane in one pass (`Ops.chainedMaxPools`), nothing copied.
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        guard x.rank == 4 else { throw EngineError.shape(op: "SPPF", detail: "input \(x.shape) must be [N, C, H, W]") }
        let (oh, ow) = cv1.outputSize(x.shape[2], x.shape[3])
        let c = cv1.outChannels
        let cat = Tensor(uninitialized: [x.shape[0], 4 * c, max(0, oh), max(0, ow)])
        try cv1(x, into: cat, channel: 0)
        try Ops.chainedMaxPools(in: cat, channels: c, count: 3, kernel: k)
        return try cv2(cat)
    }
}

/// YOLOv5 v6.0 (backbone, SPPF, PAN neck, three-scale head) in ultralytics' layer numbering
/// (model.0 ... model.24). Returns the raw head maps [N, anchors*(5+classes), H/s, W/s] for
/// strides 8, 16, 32; decoding and NMS belong to the detector that uses it.
public struct YOLOv5: Sendable {
    let layers: [Int: Conv2d]
    let c3: [Int: C3]
    let sppf: SPPF
    let heads: [Conv2d]

    public init(_ w: Weights, eps: Float = 1e-3) throws {
        let m = w.scoped("model")
        var layers: [Int: Conv2d] = [:]
        for (i, s) in [(0, 2), (1, 2), (3, 2), (5, 2), (7, 2), (10, 1), (14, 1), (18, 2), (21, 2)] {
            layers[i] = try YOLOBlocks.conv(m.scoped("\(i)"), stride: s, eps: eps)
        }
        // The first conv is 6x6 stride 2 padding 2 (k/2 gives 3: set it explicitly).
        let c0 = m.scoped("0")
        layers[0] = try c0.convBN(conv: "conv", bn: "bn", stride: 2, padding: 2, eps: eps, activation: .silu)
        var c3: [Int: C3] = [:]
        for i in [2, 4, 6, 8] { c3[i] = try C3(m.scoped("\(i)"), shortcut: true, eps: eps) }
        for i in [13, 17, 20, 23] { c3[i] = try C3(m.scoped("\(i)"), shortcut: false, eps: eps) }
        self.layers = layers
        self.c3 = c3
        sppf = try SPPF(m.scoped("9"), eps: eps)
        // The heads' maps are read only by the decoding after the pass: written past the caches.
        heads = try (0..<3).map { j in
            try Conv2d(weight: m("24.m.\(j).weight"), bias: m("24.m.\(j).bias"), streamsOutput: true)
        }
    }

    public var outputsPerAnchorSet: Int { heads[0].outChannels }

    public func callAsFunction(_ x: Tensor) throws -> [Tensor] {
        func L(_ i: Int, _ t: Tensor) throws -> Tensor { try layers[i]!(t) }
        func C(_ i: Int, _ t: Tensor) throws -> Tensor { try c3[i]!(t) }
        let (l10, l14, l18, l21) = (layers[10]!, layers[14]!, layers[18]!, layers[21]!)
        // The maps the neck concatenates later (p3, p4, layers 10 and 14's outputs): on one image each is
        // written into its concatenation as it is made and read from there (no copy); on several it is made on
        // its own and copied in when the concatenation is filled.
        let inPlace = x.rank == 4 && x.shape[0] == 1
        func saved(after first: Int, channels: Int, like t: Tensor, _ write: (Tensor, Int) throws -> Void) throws -> SavedMap {
            let (h, w) = (t.shape[2], t.shape[3])
            if inPlace {
                let cat = Tensor(uninitialized: [1, first + channels, h, w])
                try write(cat, first)
                return SavedMap(map: try cat.channelView(first..<(first + channels)), concatenation: cat)
            }
            let map = Tensor(uninitialized: [t.shape[0], channels, h, w])
            try write(map, 0)
            return SavedMap(map: map, concatenation: nil)
        }
        // cat([first, saved], channels): `writeFirst` writes the first `firstChannels` channels.
        func filled(_ s: SavedMap, firstChannels: Int, _ writeFirst: (Tensor) throws -> Void) throws -> Tensor {
            guard let cat = s.concatenation else { return try Self.concatenate(firstChannels, s.map, writeFirst) }
            try writeFirst(cat)
            return cat
        }
        let a3 = try L(3, C(2, L(1, L(0, x))))
        let p3 = try saved(after: l14.outChannels, channels: c3[4]!.cv3.outChannels, like: a3) { try c3[4]!(a3, into: $0, channel: $1) }
        let a5 = try L(5, p3.map)
        let p4 = try saved(after: l10.outChannels, channels: c3[6]!.cv3.outChannels, like: a5) { try c3[6]!(a5, into: $0, channel: $1) }
        let s9 = try sppf(C(8, L(7, p4.map)))
        let h10 = try saved(after: l21.outChannels, channels: l10.outChannels, like: s9) { try l10(s9, into: $0, channel: $1) }
        // The neck's concatenations: the first part (an upsampled map, a strided layer's output) is written
        // in place, after the saved map.
        let o13 = try C(13, filled(p4, firstChannels: l10.outChannels) { try Ops.upsampleNearest(h10.map, factor: 2, into: $0, channel: 0) })
        let h14 = try saved(after: l18.outChannels, channels: l14.outChannels, like: o13) { try l14(o13, into: $0, channel: $1) }
        let o17 = try C(17, filled(p3, firstChannels: l14.outChannels) { try Ops.upsampleNearest(h14.map, factor: 2, into: $0, channel: 0) })
        let o20 = try C(20, filled(h14, firstChannels: l18.outChannels) { try l18(o17, into: $0, channel: 0) })
        let o23 = try C(23, filled(h10, firstChannels: l21.outChannels) { try l21(o20, into: $0, channel: 0) })
        return try [heads[0](o17), heads[1](o20), heads[2](o23)]
    }

    /// A map kept for a later concatenation: `map` is read meanwhile; `concatenation`, where the map was
    /// written into it in place, is that concatenation (nil where the map stands alone).
    struct SavedMap {
        let map: Tensor
        let concatenation: Tensor?
    }

    /// cat([first, second], channels): `writeFirst` writes the first `firstChannels` channels into
    /// the concatenation in place, then `second` is copied after them.
    static func concatenate(_ firstChannels: Int, _ second: Tensor, _ writeFirst: (Tensor) throws -> Void) throws -> Tensor {
        guard second.rank == 4 else { throw EngineError.shape(op: "concat", detail: "\(second.shape) must be [N, C, H, W]") }
        let cat = Tensor(uninitialized: [second.shape[0], firstChannels + second.shape[1], second.shape[2], second.shape[3]])
        try writeFirst(cat)
        try Ops.copy(second, into: cat, channel: firstChannels)
        return cat
    }
}
