import Cases
import Foundation

/// The paper's figures (Sang et al., J Bone Oncol 2025), quoted beside ours.
public enum PaperFigures {
    public static let detectionMAP50 = 0.7925
    public static let macroPrecision = 0.9056
    public static let macroF1 = 0.8736
    public static let macroAUC = 0.9759
}

/// `tumorboard eval`'s result: what report.json holds (keys in docs/cli.md) and report.md shows.
public struct EvalReport: Codable, Sendable {
    public struct Detection: Codable, Sendable {
        public var map50: Double?
        public var map50TumourImagesOnly: Double?
        public var operatingThreshold: Double?
        public var recall: Double, precision: Double
        public var truePositives: Int, falsePositives: Int, boxes: Int
        /// (recall, precision) down the candidates' scores.
        public var prCurve: [[Double]]
        public var recallBySize: [SizeBin]
        public var images: Int, normalImages: Int, normalImagesWithADetection: Int
        public var tumourImages: Int, tumourImagesWithADetection: Int
        /// Lesion / no lesion per image: the ROC AUC of each image's top candidate score (0 without
        /// one), tumour images against normal ones (nil unless both are present).
        public var imageLevelAUC: Double?
        public var setting: String
        public var inputs: String

        /// Normal images without a detection at the operating threshold, of all normal images
        /// (from the counts above, which report.json carries).
        public var specificityAtOperating: Double? {
            normalImages == 0 ? nil : 1 - Double(normalImagesWithADetection) / Double(normalImages)
        }
        /// Tumour images with a detection at the operating threshold, of all tumour images.
        public var sensitivityAtOperating: Double? {
            tumourImages == 0 ? nil : Double(tumourImagesWithADetection) / Double(tumourImages)
        }
    }

    public struct SizeBin: Codable, Sendable {
        /// Box area range, pixels squared [from, to).
        public var area: [Double]
        public var boxes: Int
        public var recallAtOperating: Double?
        public var recallAnyScore: Double?
    }

    public struct Classification: Codable, Sendable {
        public var name: String
        /// Modalities (image, pathology, labs) the row uses; empty for the lesion encoder's own head.
        public var subset: [String]
        public var inputs: String
        public var cases: Int
        public var precision: [Double], recall: [Double], f1: [Double], auc: [Double?]
        public var macroPrecision: Double, macroRecall: Double, macroF1: Double, macroAUC: Double?
        public var accuracy: Double
        /// Rows: truth, columns: prediction (benign, intermediate, malignant).
        public var confusion: [[Int]]
        /// Expected calibration error, 15 bins, of the softmax of the logits (temperature 1).
        public var ece15: Double
        /// The same of the probabilities the workstation shows (the shipped temperature).
        public var ece15Shown: Double?
        /// Reliability diagram of the shown probabilities: per bin, [confidence, accuracy, count].
        public var reliability: [[Double]]
        /// ROC curve points per class, [false positive rate, true positive rate].
        public var roc: [[[Double]]]
    }

    public struct Miss: Codable, Sendable {
        public var id: String
        public var truth: String
        public var predicted: String
        public var probabilityOfTruth: Double
        public var lesionFound: Bool
        public var note: String
    }

    public var title: String
    public var split: String?
    public var inputs: [String: String]
    public var paper: [String: Double]
    public var cases: Int
    public var casesWithErrors: [String]
    public var leftOut: [String]
    public var models: [String: String]
    public var wallSeconds: Double
    public var source: String
    public var detection: Detection?
    public var classification: [Classification]
    public var mostWrong: [Miss]

    public static let classes = DiagnosisLabel.tumourClasses.map(\.rawValue)
    public static let modalityNames = ["image", "pathology", "labs"]
}

extension EvalReport {
    static func softmax(_ z: [Float], temperature t: Double = 1) -> [Double] {
        let s = z.map { Double($0) / t }
        let m = s.max() ?? 0
        let e = s.map { exp($0 - m) }
        let sum = e.reduce(0, +)
        return e.map { $0 / sum }
    }

    /// The metrics of `outcomes`. `lesionTemperature`/`fusionTemperature`: the shipped
    /// temperatures (the probabilities the workstation shows), for the shown calibration.
    public static func make(title: String, set: EvalSet, outcomes: [CaseOutcome], leftOut: [String], models: [String: String],
                            operatingThreshold: Double?, lesionTemperature: Double?, fusionTemperature: Double?,
                            wallSeconds: Double, source: String) throws(MetricsError) -> EvalReport {
        let ok = outcomes.filter { $0.error == nil }
        var r = EvalReport(title: title, split: set.split, inputs: set.inputs,
                           paper: ["detection_map50": PaperFigures.detectionMAP50, "macro_precision": PaperFigures.macroPrecision,
                                   "macro_f1": PaperFigures.macroF1, "macro_auc": PaperFigures.macroAUC],
                           cases: ok.count, casesWithErrors: outcomes.compactMap { o in o.error.map { "\(o.id): \($0)" } },
                           leftOut: set.leftOut + leftOut, models: models, wallSeconds: wallSeconds, source: source,
                           detection: try detection(ok, threshold: operatingThreshold, inputs: set.inputs["image"] ?? ""),
                           classification: [], mostWrong: [])
        // Classification on the tumour cases (the classifier knows only tumour classes).
        let tumour = ok.filter { $0.label != .normal }
        let y = tumour.map { DiagnosisLabel.tumourClasses.firstIndex(of: $0.label)! }
        if !tumour.isEmpty {
            if tumour.allSatisfy({ $0.imageLogits != nil }) {
                let logits = tumour.map { $0.imageLogits! }
                r.classification.append(try row(name: "image only: lesion encoder head (detector crop)", subset: [],
                                            inputs: set.inputs["image"] ?? "", y: y, probabilities: logits.map { softmax($0) },
                                            shown: lesionTemperature.map { t in logits.map { softmax($0, temperature: t) } }))
            } else {
                // A predictions file: detect gives no probabilities where it found no lesion.
                let scored = tumour.indices.filter { tumour[$0].imageProbabilities != nil }
                if !scored.isEmpty {
                    var inputs = set.inputs["image"] ?? ""
                    if scored.count < tumour.count { inputs += "; \(tumour.count - scored.count) of \(tumour.count) tumour cases have no probabilities in the file (no lesion found) and are not in this row" }
                    r.classification.append(try row(name: "image only: the predictions file's probabilities", subset: [], inputs: inputs,
                                                y: scored.map { y[$0] }, probabilities: scored.map { tumour[$0].imageProbabilities! }, shown: nil))
                }
            }
            for mask in 1..<8 {
                let names = (0..<3).filter { mask & (1 << $0) != 0 }.map { modalityNames[$0] }
                // The cases that have at least one modality of the subset; a case lacking some of
                // them is scored with the rest. Both are said beside the row.
                let scored = tumour.indices.filter { tumour[$0].subsetLogits?[String(mask)] != nil }
                guard !scored.isEmpty else { continue }
                let logits = scored.map { tumour[$0].subsetLogits![String(mask)]! }
                let lacking = scored.filter { i in (0..<3).contains { mask & (1 << $0) != 0 && !tumour[i].present[$0] } }.count
                var inputs = names.map { set.inputs[$0] ?? "" }.joined(separator: "; ")
                if scored.count < tumour.count { inputs += "; \(tumour.count - scored.count) of \(tumour.count) cases have none of these modalities and are not in this row" }
                if lacking > 0 { inputs += "; \(lacking) cases lack one of them and are scored without it" }
                r.classification.append(try row(name: "fusion: " + names.joined(separator: " + "), subset: names, inputs: inputs,
                                            y: scored.map { y[$0] }, probabilities: logits.map { softmax($0) },
                                            shown: fusionTemperature.map { t in logits.map { softmax($0, temperature: t) } }))
            }
        }
        r.mostWrong = try mostWrong(ok, fusionTemperature: fusionTemperature, lesionTemperature: lesionTemperature)
        return r
    }

    static func row(name: String, subset: [String], inputs: String, y: [Int], probabilities p: [[Double]], shown: [[Double]]?) throws(MetricsError) -> Classification {
        let c = try ClassificationReport(labels: y, probabilities: p, classes: 3)
        let s = shown ?? p
        let ece = try Calibration.expectedCalibrationError(labels: y, probabilities: p, bins: 15)
        let eceShown = try shown.map { (q) throws(MetricsError) in try Calibration.expectedCalibrationError(labels: y, probabilities: q, bins: 15) }
        var rocs: [[[Double]]] = []
        for k in 0..<3 { rocs.append(try roc(positive: y.map { $0 == k }, scores: p.map { $0[k] })) }
        return Classification(name: name, subset: subset, inputs: inputs, cases: y.count, precision: c.precision, recall: c.recall,
                              f1: c.f1, auc: c.auc, macroPrecision: c.macroPrecision, macroRecall: c.macroRecall, macroF1: c.macroF1,
                              macroAUC: c.macroAUC, accuracy: c.accuracy, confusion: c.confusion,
                              ece15: ece, ece15Shown: eceShown, reliability: try reliability(y, s), roc: rocs)
    }
}
