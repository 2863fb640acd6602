import Foundation

/// Multi-class classification metrics (the rules of training/metrics.py, checked against
/// scikit-learn): the predicted class is the first arg-max; precision, recall and F1 are 0 where
/// undefined (scikit-learn's zero_division=0); AUC is one-vs-rest by the rank statistic with ties
/// averaged, and the macro figures are plain means over the classes.
public struct ClassificationReport: Sendable {
    public var precision: [Double], recall: [Double], f1: [Double]
    /// Per class; nil where the class or its complement is absent.
    public var auc: [Double?]
    /// Rows: true class, columns: predicted class.
    public var confusion: [[Int]]
    public var accuracy: Double
    public var count: Int

    public var macroPrecision: Double { mean(precision) }
    public var macroRecall: Double { mean(recall) }
    public var macroF1: Double { mean(f1) }
    /// nil when any class's AUC is undefined.
    public var macroAUC: Double? {
        let v = auc.compactMap { $0 }
        return v.count == auc.count ? mean(v) : nil
    }

    private func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(max(v.count, 1)) }

    public init(labels: [Int], probabilities: [[Double]], classes: Int) {
        precondition(labels.count == probabilities.count, "one probability row per label")
        let predicted = probabilities.map(argmax)
        var cm = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        for (t, p) in zip(labels, predicted) { cm[t][p] += 1 }
        var P: [Double] = [], R: [Double] = [], F: [Double] = []
        for c in 0..<classes {
            let tp = Double(cm[c][c])
            let fp = Double((0..<classes).map { cm[$0][c] }.reduce(0, +)) - tp
            let fn = Double(cm[c].reduce(0, +)) - tp
            let p = tp + fp > 0 ? tp / (tp + fp) : 0, r = tp + fn > 0 ? tp / (tp + fn) : 0
            P.append(p); R.append(r); F.append(p + r > 0 ? 2 * p * r / (p + r) : 0)
        }
        precision = P; recall = R; f1 = F
        auc = (0..<classes).map { c in Self.binaryAUC(positive: labels.map { $0 == c }, scores: probabilities.map { $0[c] }) }
        confusion = cm
        count = labels.count
        accuracy = Double(zip(labels, predicted).filter { $0 == $1 }.count) / Double(max(labels.count, 1))
    }

    /// ROC AUC by the Mann-Whitney rank statistic, tied scores sharing their mean rank.
    public static func binaryAUC(positive: [Bool], scores: [Double]) -> Double? {
        let nPos = Double(positive.filter { $0 }.count), nNeg = Double(positive.count) - nPos
        guard nPos > 0, nNeg > 0 else { return nil }
        let order = stableOrder(scores)
        var ranks = [Double](repeating: 0, count: scores.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count, scores[order[j + 1]] == scores[order[i]] { j += 1 }
            for k in i...j { ranks[order[k]] = Double(i + j) / 2 + 1 }
            i = j + 1
        }
        let sumPos = zip(positive, ranks).filter { $0.0 }.map { $0.1 }.reduce(0, +)
        return (sumPos - nPos * (nPos + 1) / 2) / (nPos * nNeg)
    }
}

/// The first index of the largest value (numpy's argmax).
func argmax(_ v: [Double]) -> Int {
    var best = 0
    for i in v.indices where v[i] > v[best] { best = i }
    return best
}

/// Calibration: expected calibration error and temperature scaling.
public enum Calibration {
    /// ECE of the top-label confidence over `bins` equal-width bins (lo, hi] of (0, 1].
    public static func expectedCalibrationError(labels: [Int], probabilities: [[Double]], bins: Int = 15) -> Double {
        let n = Double(labels.count)
        let conf = probabilities.map { $0.max() ?? 0 }
        let correct = zip(probabilities, labels).map { argmax($0) == $1 }
        var e = 0.0
        for b in 0..<bins {
            // exactly the edges numpy.linspace(0, 1, bins + 1) gives: i * (1 / bins), the last one 1
            let step = 1 / Double(bins)
            let lo = Double(b) * step, hi = b + 1 == bins ? 1.0 : Double(b + 1) * step
            let members = conf.indices.filter { conf[$0] > lo && conf[$0] <= hi }
            guard !members.isEmpty else { continue }
            let m = Double(members.count)
            let accuracy = Double(members.filter { correct[$0] }.count) / m
            let confidence = members.map { conf[$0] }.reduce(0, +) / m
            e += m / n * abs(accuracy - confidence)
        }
        return e
    }

    /// Mean negative log-likelihood of `labels` under softmax(logits / t).
    public static func negativeLogLikelihood(logits: [[Double]], labels: [Int], temperature t: Double) -> Double {
        var total = 0.0
        for (z, y) in zip(logits, labels) {
            let s = z.map { $0 / t }, m = s.max() ?? 0
            let lse = m + log(s.map { exp($0 - m) }.reduce(0, +))
            total += lse - s[y]
        }
        return total / Double(max(labels.count, 1))
    }

    /// The temperature minimising the NLL, searched on log T in [-3, 3] by golden sections (the
    /// NLL is unimodal in log T); T = exp(±3) at the bounds.
    public static func fitTemperature(logits: [[Double]], labels: [Int], tolerance: Double = 1e-7) -> Double {
        let f = { (u: Double) in negativeLogLikelihood(logits: logits, labels: labels, temperature: exp(u)) }
        let g = (5.0.squareRoot() - 1) / 2
        var a = -3.0, b = 3.0
        var c = b - g * (b - a), d = a + g * (b - a), fc = f(c), fd = f(d)
        while b - a > tolerance {
            if fc < fd { b = d; d = c; fd = fc; c = b - g * (b - a); fc = f(c) }
            else { a = c; c = d; fc = fd; d = a + g * (b - a); fd = f(d) }
        }
        return exp((a + b) / 2)
    }
}
