import Foundation

/// An axis-aligned box in pixels, x1/y1 exclusive (continuous coordinates, as pycocotools).
public struct EvalBox: Sendable, Equatable {
    public var x0, y0, x1, y1: Double
    public init(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double) { (self.x0, self.y0, self.x1, self.y1) = (x0, y0, x1, y1) }

    public var area: Double { (x1 - x0) * (y1 - y0) }

    /// Finite corners, x0 <= x1 and y0 <= y1 (an inverted box has a negative area, and every
    /// IoU with it is meaningless).
    func check(_ metric: String, _ which: String) throws(MetricsError) {
        guard x0.isFinite, y0.isFinite, x1.isFinite, y1.isFinite else {
            throw MetricsError(.notFinite, metric, "\(which): box [\(x0), \(y0), \(x1), \(y1)] is not finite")
        }
        guard x0 <= x1, y0 <= y1 else {
            throw MetricsError(.invalidBox, metric, "\(which): box [\(x0), \(y0), \(x1), \(y1)] has x1 < x0 or y1 < y0")
        }
    }

    public func iou(_ o: EvalBox) -> Double {
        let w = max(0, min(x1, o.x1) - max(x0, o.x0)), h = max(0, min(y1, o.y1) - max(y0, o.y0))
        let inter = w * h
        return inter / (area + o.area - inter + 1e-12)
    }
}

/// A detection: a box and its confidence.
public struct ScoredBox: Sendable, Equatable {
    public var box: EvalBox
    public var score: Double
    public init(_ box: EvalBox, score: Double) { self.box = box; self.score = score }
}

/// One-class detection metrics, COCO style (the rules of training/metrics.py, checked against
/// pycocotools): greedy matching per image in descending score order, a detection matches the
/// unmatched ground-truth box of highest IoU at or above the threshold; AP is the mean of the
/// precision envelope at 101 recall points.
public enum DetectionMetrics {
    public struct Matches: Sendable {
        /// Every detection's score and whether it matched, in image order, then descending score.
        /// Made only by `match` (scores and flags of equal length, every score finite).
        public internal(set) var scores: [Double]
        public internal(set) var truePositive: [Bool]
        public internal(set) var groundTruthCount: Int
    }

    /// Throws a `MetricsError` (never traps) when the lists do not pair up (one detection list
    /// per image), a score is not finite, or a box is not finite with x0 <= x1, y0 <= y1.
    public static func match(detections: [[ScoredBox]], groundTruth: [[EvalBox]], iouThreshold: Double = 0.5) throws(MetricsError) -> Matches {
        let metric = "detection matching"
        guard detections.count == groundTruth.count else {
            throw MetricsError(.lengthMismatch, metric, "\(detections.count) images with detections but \(groundTruth.count) with reference boxes")
        }
        guard iouThreshold.isFinite, (0...1).contains(iouThreshold) else {
            throw MetricsError(.invalidArgument, metric, "IoU threshold \(iouThreshold); it must be in 0-1")
        }
        for (i, dets) in detections.enumerated() {
            for (k, d) in dets.enumerated() {
                guard d.score.isFinite else { throw MetricsError(.notFinite, metric, "image \(i), detection \(k): score \(d.score)") }
                try d.box.check(metric, "image \(i), detection \(k)")
            }
            for (k, g) in groundTruth[i].enumerated() { try g.check(metric, "image \(i), reference box \(k)") }
        }
        var m = Matches(scores: [], truePositive: [], groundTruthCount: 0)
        for (dets, gts) in zip(detections, groundTruth) {
            m.groundTruthCount += gts.count
            let order = stableOrder(dets.map { -$0.score })
            var used = [Bool](repeating: false, count: gts.count)
            for i in order {
                var best = iouThreshold, bestJ = -1
                for (j, g) in gts.enumerated() where !used[j] {
                    let iou = dets[i].box.iou(g)
                    if iou >= best { best = iou; bestJ = j }
                }
                if bestJ >= 0 { used[bestJ] = true }
                m.scores.append(dets[i].score); m.truePositive.append(bestJ >= 0)
            }
        }
        return m
    }

    /// COCO 101-point interpolated average precision; nil when there is no ground truth.
    public static func averagePrecision101(_ m: Matches) -> Double? {
        guard m.groundTruthCount > 0 else { return nil }
        let order = stableOrder(m.scores.map { -$0 })
        var precision: [Double] = [], recall: [Double] = []
        var tp = 0.0, fp = 0.0
        for i in order {
            if m.truePositive[i] { tp += 1 } else { fp += 1 }
            recall.append(tp / Double(m.groundTruthCount))
            precision.append(tp / max(tp + fp, Double.ulpOfOne))
        }
        if precision.count > 1 {
            for i in stride(from: precision.count - 1, to: 0, by: -1) where precision[i] > precision[i - 1] {
                precision[i - 1] = precision[i]
            }
        }
        var sum = 0.0
        for r in 0...100 {
            let threshold = Double(r) / 100
            // first index whose recall reaches the threshold (numpy searchsorted, side "left")
            var lo = 0, hi = recall.count
            while lo < hi { let mid = (lo + hi) / 2; if recall[mid] < threshold { lo = mid + 1 } else { hi = mid } }
            if lo < precision.count { sum += precision[lo] }
        }
        return sum / 101
    }

    /// mAP@0.5 for one class.
    public static func map50(detections: [[ScoredBox]], groundTruth: [[EvalBox]]) throws(MetricsError) -> Double? {
        averagePrecision101(try match(detections: detections, groundTruth: groundTruth, iouThreshold: 0.5))
    }

    public struct AtThreshold: Sendable, Equatable {
        public var recall, precision: Double
        public var truePositives, falsePositives, groundTruthCount: Int
    }

    /// Recall and precision counting only detections scoring at least `threshold`.
    /// `threshold` may be -infinity (every detection counts), never NaN.
    public static func at(threshold: Double, detections: [[ScoredBox]], groundTruth: [[EvalBox]], iouThreshold: Double = 0.5) throws(MetricsError) -> AtThreshold {
        guard !threshold.isNaN else { throw MetricsError(.invalidArgument, "detection at a threshold", "the score threshold is NaN") }
        let m = try match(detections: detections.map { $0.filter { $0.score >= threshold } }, groundTruth: groundTruth, iouThreshold: iouThreshold)
        let tp = m.truePositive.filter { $0 }.count, fp = m.truePositive.count - tp
        return AtThreshold(recall: Double(tp) / Double(max(m.groundTruthCount, 1)), precision: Double(tp) / Double(max(tp + fp, 1)),
                           truePositives: tp, falsePositives: fp, groundTruthCount: m.groundTruthCount)
    }
}

/// Indices that sort `keys` ascending, ties kept in their original order (numpy's mergesort).
func stableOrder(_ keys: [Double]) -> [Int] {
    keys.indices.sorted { keys[$0] != keys[$1] ? keys[$0] < keys[$1] : $0 < $1 }
}
