import Cases
import Foundation

extension EvalReport {
    /// A case's boxes, each [x0, y0, x1, y1]; another length is an error naming the case.
    static func evalBoxes(_ b: [[Double]], caseID: String, what: String = "reference box") throws(MetricsError) -> [EvalBox] {
        var out: [EvalBox] = []
        for (k, v) in b.enumerated() {
            guard v.count == 4 else { throw MetricsError(.invalidBox, "detection", "\(caseID): \(what) \(k) has \(v.count) numbers, not [x0, y0, x1, y1]") }
            out.append(EvalBox(v[0], v[1], v[2], v[3]))
        }
        return out
    }

    static func scored(_ d: [EvalDetection], caseID: String) throws(MetricsError) -> [ScoredBox] {
        let boxes = try evalBoxes(d.map(\.box), caseID: caseID, what: "detection")
        return zip(boxes, d).map { ScoredBox($0, score: $1.score) }
    }

    /// Detection over every image (normal ones included: their detections are false positives).
    static func detection(_ ok: [CaseOutcome], threshold: Double?, inputs: String) throws(MetricsError) -> Detection? {
        guard !ok.isEmpty else { return nil }
        var gts: [[EvalBox]] = [], cands: [[ScoredBox]] = [], ops: [[ScoredBox]] = []
        for o in ok {
            gts.append(try evalBoxes(o.boxes, caseID: o.id))
            cands.append(try scored(o.candidates, caseID: o.id))
            ops.append(try scored(o.detections, caseID: o.id))
        }
        let m = try DetectionMetrics.match(detections: cands, groundTruth: gts)
        let tumour = ok.indices.filter { ok[$0].label != .normal }
        let mT = try DetectionMetrics.match(detections: tumour.map { cands[$0] }, groundTruth: tumour.map { gts[$0] })
        let atOp = try DetectionMetrics.at(threshold: threshold ?? -Double.infinity, detections: ops, groundTruth: gts)
        // The precision-recall curve down the candidates' scores (at most about 200 points).
        let order = m.scores.indices.sorted { m.scores[$0] > m.scores[$1] }
        var curve: [[Double]] = [], tp = 0
        let step = max(1, order.count / 200)
        for (k, i) in order.enumerated() {
            if m.truePositive[i] { tp += 1 }
            if k % step == 0 || k == order.count - 1 {
                curve.append([Double(tp) / Double(max(1, m.groundTruthCount)), Double(tp) / Double(k + 1)])
            }
        }
        // Recall by box size: terciles of the reference boxes' areas. Boxes are matched once against
        // every reference box (as for the mAP), then the matched ones are counted per bin: matching
        // within a bin alone would let one detection hit a box that a bigger one took.
        let areas = gts.flatMap { $0.map(\.area) }.sorted()
        var bins: [SizeBin] = []
        if areas.count >= 3 {
            let t1 = areas[areas.count / 3], t2 = areas[2 * areas.count / 3]
            let hitOp = matchedReferences(ops, gts), hitAny = matchedReferences(cands, gts)
            for (lo, hi) in [(0.0, t1), (t1, t2), (t2, Double.infinity)] {
                var n = 0, op = 0, any = 0
                for (i, g) in gts.enumerated() {
                    for (j, b) in g.enumerated() where b.area >= lo && b.area < hi {
                        n += 1
                        if hitOp[i][j] { op += 1 }
                        if hitAny[i][j] { any += 1 }
                    }
                }
                bins.append(SizeBin(area: [lo, hi.isFinite ? hi : -1], boxes: n,
                                    recallAtOperating: n == 0 ? nil : Double(op) / Double(n),
                                    recallAnyScore: n == 0 ? nil : Double(any) / Double(n)))
            }
        }
        let normal = ok.filter { $0.label == .normal }
        let topScores = ok.map { o in o.candidates.map(\.score).max() ?? 0 }
        let imageAUC = try ClassificationReport.binaryAUC(positive: ok.map { $0.label != .normal }, scores: topScores)
        return Detection(
            map50: DetectionMetrics.averagePrecision101(m), map50TumourImagesOnly: DetectionMetrics.averagePrecision101(mT),
            operatingThreshold: threshold, recall: atOp.recall, precision: atOp.precision,
            truePositives: atOp.truePositives, falsePositives: atOp.falsePositives, boxes: atOp.groundTruthCount,
            prCurve: curve, recallBySize: bins, images: ok.count, normalImages: normal.count,
            normalImagesWithADetection: normal.filter { !$0.detections.isEmpty }.count,
            tumourImages: ok.count - normal.count, tumourImagesWithADetection: ok.filter { $0.label != .normal && !$0.detections.isEmpty }.count,
            imageLevelAUC: imageAUC,
            setting: "candidates above 0.001 after NMS at IoU 0.6 (at most 100 an image), one class, COCO 101-point AP at IoU 0.5; precision and recall of the boxes at the operating threshold (the pipeline's NMS)",
            inputs: inputs)
    }

    /// Which reference boxes the detections match, by DetectionMetrics.match's greedy rule
    /// (best score first, the unused reference box of highest IoU >= 0.5; ties to the later box).
    static func matchedReferences(_ detections: [[ScoredBox]], _ groundTruth: [[EvalBox]]) -> [[Bool]] {
        zip(detections, groundTruth).map { dets, gts in
            var used = [Bool](repeating: false, count: gts.count)
            let order = dets.indices.sorted { dets[$0].score != dets[$1].score ? dets[$0].score > dets[$1].score : $0 < $1 }
            for i in order {
                var best = 0.5, bestJ = -1
                for (j, g) in gts.enumerated() where !used[j] {
                    let iou = dets[i].box.iou(g)
                    if iou >= best { best = iou; bestJ = j }
                }
                if bestJ >= 0 { used[bestJ] = true }
            }
            return used
        }
    }

    /// Top-label reliability, 15 equal bins on (0, 1]: [mean confidence, accuracy, count] per bin.
    static func reliability(_ y: [Int], _ p: [[Double]], bins: Int = 15) throws(MetricsError) -> [[Double]] {
        guard bins >= 1 else { throw MetricsError(.invalidArgument, "reliability", "\(bins) bins; at least 1") }
        try MetricsError.check(labels: y, rows: p, classes: nil, metric: "reliability", probabilities: true)
        var out = [[Double]](repeating: [0, 0, 0], count: bins)
        for (t, q) in zip(y, p) {
            let k = q.indices.max { q[$0] < q[$1] } ?? 0
            let conf = q[k]
            let b = min(bins - 1, max(0, Int((conf * Double(bins)).rounded(.up)) - 1))
            out[b][0] += conf; out[b][1] += k == t ? 1 : 0; out[b][2] += 1
        }
        return out.map { $0[2] > 0 ? [$0[0] / $0[2], $0[1] / $0[2], $0[2]] : [0, 0, 0] }
    }

    /// ROC points (false positive rate, true positive rate), ties taken together.
    static func roc(positive: [Bool], scores: [Double]) throws(MetricsError) -> [[Double]] {
        guard positive.count == scores.count else {
            throw MetricsError(.lengthMismatch, "ROC curve", "\(positive.count) labels but \(scores.count) scores")
        }
        if let i = scores.firstIndex(where: { !$0.isFinite }) { throw MetricsError(.notFinite, "ROC curve", "score \(i) is \(scores[i])") }
        let P = positive.filter { $0 }.count, N = positive.count - P
        guard P > 0, N > 0 else { return [] }
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var pts: [[Double]] = [[0, 0]], tp = 0, fp = 0
        var k = 0
        while k < order.count {
            let s = scores[order[k]]
            while k < order.count, scores[order[k]] == s {
                if positive[order[k]] { tp += 1 } else { fp += 1 }
                k += 1
            }
            pts.append([Double(fp) / Double(N), Double(tp) / Double(P)])
        }
        return pts
    }

    /// The tumour cases the fullest model got most wrong (lowest probability of the truth, as
    /// shown), and the normal images with the most confident false detection.
    static func mostWrong(_ ok: [CaseOutcome], fusionTemperature: Double?, lesionTemperature: Double?, count: Int = 10) throws(MetricsError) -> [Miss] {
        var misses: [Miss] = []
        for o in ok where o.label != .normal {
            let p: [Double]
            if let full = o.subsetLogits?["7"] { p = softmax(full, temperature: fusionTemperature ?? 1) }
            else if let z = o.imageLogits { p = softmax(z, temperature: lesionTemperature ?? 1) }
            else if let q = o.imageProbabilities { p = q }
            else { continue }
            guard p.count == classes.count, p.allSatisfy(\.isFinite) else {
                throw MetricsError(.rowLength, "most wrong cases", "\(o.id): \(p.count) probabilities \(p), expected \(classes.count) finite ones")
            }
            guard let t = DiagnosisLabel.tumourClasses.firstIndex(of: o.label), let k = p.indices.max(by: { p[$0] < p[$1] }) else { continue }
            guard k != t else { continue }
            misses.append(Miss(id: o.id, truth: o.label.rawValue, predicted: classes[k], probabilityOfTruth: p[t],
                               lesionFound: !o.detections.isEmpty,
                               note: o.detections.isEmpty ? "no lesion found: the whole image was classified" : "wrong class"))
        }
        misses.sort { $0.probabilityOfTruth < $1.probabilityOfTruth }
        var out = Array(misses.prefix(count))
        let alarms = ok.filter { $0.label == .normal && !$0.detections.isEmpty }
            .sorted { ($0.detections.first?.score ?? 0) > ($1.detections.first?.score ?? 0) }
        for o in alarms.prefix(max(3, count / 3)) {
            out.append(Miss(id: o.id, truth: "normal", predicted: "lesion \(String(format: "%.2f", o.detections.first?.score ?? 0))",
                            probabilityOfTruth: 0, lesionFound: true, note: "a lesion found on a normal radiograph"))
        }
        return out
    }
}
