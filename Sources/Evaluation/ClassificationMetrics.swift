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

    /// Throws a `MetricsError` naming the metric, the item and the problem when the inputs do
    /// not fit: a label per row, labels in 0..<classes, rows of `classes` finite values.
    public init(labels: [Int], probabilities: [[Double]], classes: Int) throws(MetricsError) {
        let metric = "classification report"
        try MetricsError.check(labels: labels, rows: probabilities, classes: classes, metric: metric)
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
        var auc: [Double?] = []
        for c in 0..<classes { auc.append(try Self.binaryAUC(positive: labels.map { $0 == c }, scores: probabilities.map { $0[c] })) }
        self.auc = auc
        confusion = cm
        count = labels.count
        accuracy = Double(zip(labels, predicted).filter { $0 == $1 }.count) / Double(max(labels.count, 1))
    }

    /// ROC AUC by the Mann-Whitney rank statistic, tied scores sharing their mean rank.
    public static func binaryAUC(positive: [Bool], scores: [Double]) throws(MetricsError) -> Double? {
        let metric = "ROC AUC"
        guard positive.count == scores.count else {
            throw MetricsError(.lengthMismatch, metric, "\(positive.count) labels but \(scores.count) scores")
        }
        if let i = scores.firstIndex(where: { !$0.isFinite }) { throw MetricsError(.notFinite, metric, "score \(i) is \(scores[i])") }
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
    public static func expectedCalibrationError(labels: [Int], probabilities: [[Double]], bins: Int = 15) throws(MetricsError) -> Double {
        let metric = "expected calibration error"
        guard bins >= 1 else { throw MetricsError(.invalidArgument, metric, "\(bins) bins; at least 1") }
        try MetricsError.check(labels: labels, rows: probabilities, classes: nil, metric: metric, probabilities: true)
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
    public static func negativeLogLikelihood(logits: [[Double]], labels: [Int], temperature t: Double) throws(MetricsError) -> Double {
        let metric = "negative log-likelihood"
        guard t.isFinite, t > 0 else { throw MetricsError(.invalidArgument, metric, "temperature \(t); it must be finite and above 0") }
        try MetricsError.check(labels: labels, rows: logits, classes: nil, metric: metric)
        return nll(logits: logits, labels: labels, temperature: t)
    }

    /// The NLL on inputs already checked.
    static func nll(logits: [[Double]], labels: [Int], temperature t: Double) -> Double {
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
    public static func fitTemperature(logits: [[Double]], labels: [Int], tolerance: Double = 1e-7) throws(MetricsError) -> Double {
        let metric = "temperature fit"
        guard tolerance.isFinite, tolerance > 0 else { throw MetricsError(.invalidArgument, metric, "tolerance \(tolerance); it must be finite and above 0") }
        try MetricsError.check(labels: labels, rows: logits, classes: nil, metric: metric)
        let f = { (u: Double) in nll(logits: logits, labels: labels, temperature: exp(u)) }
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

/// Why a metric refused its inputs: which metric, what kind of problem, and where (the item,
/// the row, the value). The metrics never trap on data: `eval` feeds them what files say.
public struct MetricsError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
    public enum Kind: String, Sendable, Equatable {
        /// Two lists that go together (labels and rows, images and boxes) differ in length.
        case lengthMismatch
        /// A class label outside 0..<classes.
        case labelOutOfRange
        /// A probability or logit row of the wrong length (or empty).
        case rowLength
        /// NaN or an infinity where a number is needed.
        case notFinite
        /// A box that is not [x0, y0, x1, y1] with finite x0 <= x1, y0 <= y1.
        case invalidBox
        /// A parameter out of its range (bins, temperature, IoU threshold).
        case invalidArgument
    }
    public let kind: Kind
    public let metric: String
    public let problem: String

    public init(_ kind: Kind, _ metric: String, _ problem: String) {
        self.kind = kind; self.metric = metric; self.problem = problem
    }

    public var description: String { "\(metric): \(problem)" }
    public var errorDescription: String? { description }

    /// One label per row, each label a valid index, rows of `classes` (or, when nil, of one
    /// common non-zero length) finite values; with `probabilities`, each in 0-1.
    static func check(labels: [Int], rows: [[Double]], classes: Int?, metric: String, probabilities: Bool = false) throws(MetricsError) {
        guard labels.count == rows.count else {
            throw MetricsError(.lengthMismatch, metric, "\(labels.count) labels but \(rows.count) rows of scores")
        }
        let width = classes ?? rows.first?.count ?? 0
        guard classes == nil || width >= 1 else { throw MetricsError(.invalidArgument, metric, "\(width) classes; at least 1") }
        for (i, row) in rows.enumerated() {
            guard row.count == width, width > 0 else {
                throw MetricsError(.rowLength, metric, "row \(i) has \(row.count) values, expected \(width)")
            }
            if let j = row.firstIndex(where: { !$0.isFinite }) {
                throw MetricsError(.notFinite, metric, "row \(i), class \(j) is \(row[j])")
            }
            if probabilities, let j = row.firstIndex(where: { !(0...1).contains($0) }) {
                throw MetricsError(.invalidArgument, metric, "row \(i), class \(j) is \(row[j]), not a probability (0-1)")
            }
            guard (0..<width).contains(labels[i]) else {
                throw MetricsError(.labelOutOfRange, metric, "label \(labels[i]) of item \(i) is not a class (0-\(width - 1))")
            }
        }
    }
}
