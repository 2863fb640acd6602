import Engine
import Foundation

/// A detected lesion: a box in the detector's input pixels (x1, y1 exclusive) and its score.
public struct Detection: Sendable, Equatable, Codable {
    public var x0: Float, y0: Float, x1: Float, y1: Float
    public var score: Float

    public init(x0: Float, y0: Float, x1: Float, y1: Float, score: Float) {
        self.x0 = x0; self.y0 = y0; self.x1 = x1; self.y1 = y1; self.score = score
    }

    public var area: Float { max(0, x1 - x0) * max(0, y1 - y0) }

    public func iou(_ o: Detection) -> Float {
        let iw = max(0, min(x1, o.x1) - max(x0, o.x0)), ih = max(0, min(y1, o.y1) - max(y0, o.y0))
        let inter = iw * ih
        return inter / (area + o.area - inter + 1e-9)
    }
}

/// The YOLOv5 lesion detector: network, v6.0 head decode, score threshold and greedy NMS, as in
/// training/yolo.py and docs/method.md section 2. Input: one grey letterboxed image
/// [1, 1, S, S] scaled to 0...1 (S = 256 for a detector with `input_side`). Output boxes are in
/// letterbox pixels.
public struct LesionDetector: Sendable {
    public struct Config: Sendable, Decodable {
        public var anchorsPx: [[[Float]]]      // 3 scales x 3 anchors x (w, h), pixels
        public var strides: [Int]
        public var nc: Int
        public var chIn: Int
        public var operatingThreshold: Float?
        public var nmsIou: Float?
        /// The side the 256 letterbox is resized to before the network (training/train_detector.py
        /// --img, issue 15; bilinear, as training/yolo.py); absent: the letterbox as it is.
        public var inputSide: Int?

        enum CodingKeys: String, CodingKey {
            case anchorsPx = "anchors_px", strides, nc, chIn = "ch_in"
            case operatingThreshold = "operating_threshold", nmsIou = "nms_iou", inputSide = "input_side"
        }
    }

    public let network: YOLOv5
    public let config: Config
    /// Boxes scoring at or below this are dropped (chosen on val: max F1).
    public let scoreThreshold: Float
    public let nmsIoU: Float
    /// The letterbox side the pipeline feeds the detector (training/yolo.py's `source_side`).
    public static let letterboxSide = 256
    public let maxCandidates = 1000
    public let maxDetections = 100

    public init(_ w: Weights) throws {
        guard let json = w.metadata["config"], let data = json.data(using: .utf8),
              let config = try? JSONDecoder().decode(Config.self, from: data) else {
            throw EngineError.weights(file: w.fileName, tensor: nil, problem: "no detector config (anchors_px, strides, nc, ch_in) in the metadata")
        }
        guard config.anchorsPx.count == 3, config.strides.count == 3, config.anchorsPx.allSatisfy({ $0.count == 3 && $0.allSatisfy { $0.count == 2 } }) else {
            throw EngineError.weights(file: w.fileName, tensor: nil, problem: "detector config needs 3 scales of 3 anchors")
        }
        if let side = config.inputSide, !(32...2048).contains(side) || side % 32 != 0 {
            throw EngineError.weights(file: w.fileName, tensor: nil,
                                      problem: "input_side \(side) is not a multiple of 32 in 32...2048 (the detector's largest stride is 32)")
        }
        network = try YOLOv5(w)
        self.config = config
        scoreThreshold = config.operatingThreshold ?? 0.25
        nmsIoU = config.nmsIou ?? 0.45
    }

    /// Raw head maps, one per scale. A detector trained on an enlarged input (`input_side`) sees
    /// the 256 letterbox resized to it first, as training/yolo.py's forward does; such a detector
    /// takes only the 256 letterbox (its decode scales back to 256).
    public func raw(_ x: Tensor) throws -> [Tensor] {
        guard let side = config.inputSide else { return try network(x) }
        let l = Self.letterboxSide
        guard x.rank == 4, x.shape[2] == l, x.shape[3] == l else {
            throw EngineError.shape(op: "detector", detail: "a detector with input_side \(side) reads the \(l) x \(l) letterbox, got \(x.shape)")
        }
        return side == l ? try network(x) : try network(Ops.resizeBilinear(x, height: side, width: side))
    }

    /// Network pixels to letterbox pixels: 256 / `input_side` (1 without one). The anchors are in
    /// letterbox pixels already.
    public var outScale: Float { config.inputSide.map { Float(Self.letterboxSide) / Float($0) } ?? 1 }

    /// Decoded candidates above `threshold`, in the reference order (scale, anchor, row, column).
    public func decode(_ raw: [Tensor], threshold: Float) -> [Detection] {
        var out: [Detection] = []
        let no = 5 + config.nc
        for (i, r) in raw.enumerated() {
            let (ny, nx) = (r.shape[2], r.shape[3])
            let s = Float(config.strides[i]), k = outScale
            let plane = ny * nx
            func sig(_ v: Float) -> Float { 1 / (1 + exp(-v)) }
            for a in 0..<3 {
                let base = r.pointer + a * no * plane
                for gy in 0..<ny {
                    for gx in 0..<nx {
                        let o = gy * nx + gx
                        let obj = sig(base[4 * plane + o])
                        let cls = sig(base[5 * plane + o])
                        let score = obj * cls
                        guard score > threshold else { continue }
                        let cx = (sig(base[o]) * 2 - 0.5 + Float(gx)) * s * k
                        let cy = (sig(base[plane + o]) * 2 - 0.5 + Float(gy)) * s * k
                        let w = pow(sig(base[2 * plane + o]) * 2, 2) * config.anchorsPx[i][a][0]
                        let h = pow(sig(base[3 * plane + o]) * 2, 2) * config.anchorsPx[i][a][1]
                        out.append(Detection(x0: cx - w / 2, y0: cy - h / 2, x1: cx + w / 2, y1: cy + h / 2, score: score))
                    }
                }
            }
        }
        return out
    }

    /// Greedy NMS: highest score first (ties by candidate order), drop boxes overlapping a kept
    /// one by more than `iou`, at most `maxDetections`.
    public func nms(_ candidates: [Detection], iou: Float) -> [Detection] {
        var order = candidates.indices.sorted { candidates[$0].score > candidates[$1].score || (candidates[$0].score == candidates[$1].score && $0 < $1) }
        if order.count > maxCandidates { order = Array(order.prefix(maxCandidates)) }
        var keep: [Detection] = []
        var alive = order.map { candidates[$0] }
        while let best = alive.first, keep.count < maxDetections {
            keep.append(best)
            alive = alive.dropFirst().filter { $0.iou(best) <= iou }
        }
        return keep
    }

    /// Boxes after the operating threshold and NMS, best first.
    public func detect(_ x: Tensor, threshold: Float? = nil, iou: Float? = nil) throws -> (raw: [Tensor], boxes: [Detection]) {
        let r = try raw(x)
        return (r, nms(decode(r, threshold: threshold ?? scoreThreshold), iou: iou ?? nmsIoU))
    }
}
