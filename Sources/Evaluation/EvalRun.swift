import Cases
import Diagnosis
import Dispatch
import Foundation
import Imaging

/// A scored box as the report keeps it: [x0, y0, x1, y1] in the radiograph's pixels.
public struct EvalDetection: Codable, Sendable, Equatable {
    public var box: [Double]
    public var score: Double
    public init(box: [Double], score: Double) { self.box = box; self.score = score }
}

/// What the models (or a predictions file) said of one case, kept for the metrics.
public struct CaseOutcome: Codable, Sendable {
    public var id: String
    public var label: DiagnosisLabel
    /// Reference boxes, [x0, y0, x1, y1].
    public var boxes: [[Double]]
    /// Every candidate down to the evaluation's low score (for the full-curve mAP).
    public var candidates: [EvalDetection]
    /// At the operating threshold (what the workstation shows).
    public var detections: [EvalDetection]
    /// The radiograph alone: the lesion encoder's logits (a predictions file gives probabilities instead).
    public var imageLogits: [Float]?
    public var imageProbabilities: [Double]?
    /// Fusion logits by subset mask ("1"..."7"; bit 0 image, 1 pathology, 2 labs).
    public var subsetLogits: [String: [Float]]?
    public var present: [Bool]
    /// Set when the case could not be run (then it is left out of the metrics and named).
    public var error: String?

    public init(id: String, label: DiagnosisLabel, boxes: [[Double]], candidates: [EvalDetection], detections: [EvalDetection],
                imageLogits: [Float]? = nil, imageProbabilities: [Double]? = nil, subsetLogits: [String: [Float]]? = nil,
                present: [Bool], error: String? = nil) {
        self.id = id; self.label = label; self.boxes = boxes; self.candidates = candidates; self.detections = detections
        self.imageLogits = imageLogits; self.imageProbabilities = imageProbabilities; self.subsetLogits = subsetLogits
        self.present = present; self.error = error
    }

    enum CodingKeys: String, CodingKey {
        case id, label, boxes, candidates, detections, present, error
        case imageLogits = "image_logits", imageProbabilities = "image_probabilities", subsetLogits = "subset_logits"
    }
}

public enum EvalRunner {
    /// Runs the pipeline over every case, in order. `progress(done, total)` after each case;
    /// `shouldStop` is asked before each case (Ctrl-C): the outcomes so far come back with
    /// `stopped` set.
    public static func run(_ set: EvalSet, diagnosis: Diagnosis, progress: (Int, Int) -> Void = { _, _ in },
                           shouldStop: () -> Bool = { false }) -> (outcomes: [CaseOutcome], stopped: Bool) {
        var out: [CaseOutcome] = []
        for (k, c) in set.cases.enumerated() {
            if shouldStop() { return (out, true) }
            out.append(outcome(c, diagnosis: diagnosis))
            progress(k + 1, set.cases.count)
        }
        return (out, false)
    }

    static func boxes(_ c: EvalCase) -> [[Double]] { c.boxes.map { [Double($0.x0), Double($0.y0), Double($0.x1), Double($0.y1)] } }

    public static func outcome(_ c: EvalCase, diagnosis: Diagnosis) -> CaseOutcome {
        var o = CaseOutcome(id: c.record.id, label: c.label, boxes: boxes(c), candidates: [], detections: [], present: [false, false, false])
        do {
            let e = try diagnosis.evaluate(DiagnosisInput(record: c.record))
            o.candidates = e.candidates.map { EvalDetection(box: $0.box, score: $0.score) }
            o.detections = e.detections.map { EvalDetection(box: $0.box, score: $0.score) }
            o.imageLogits = e.imageLogits
            o.subsetLogits = e.subsetLogits.map { Dictionary(uniqueKeysWithValues: $0.map { (String($0.key), $0.value) }) }
            o.present = e.present
        } catch {
            o.error = "\(error)"
        }
        return o
    }

    /// Scores predictions made elsewhere: a JSON-lines file in `tumorboard detect`'s format
    /// ({"image", "detections": [{"box", "score"}], "probabilities": {...} or null}), one line
    /// per image, matched to the cases by the image's file name. `threshold` splits candidates
    /// from detections (default: keep all as both). A malformed line is named and left out.
    public static func score(_ set: EvalSet, predictions: URL, threshold: Double?) throws -> (outcomes: [CaseOutcome], leftOut: [String]) {
        guard let text = try? String(contentsOf: predictions, encoding: .utf8) else {
            throw EvalSetError("\(predictions.path): cannot be read as UTF-8 text")
        }
        struct Line: Decodable {
            var image: String
            var detections: [EvalDetection]?
            var probabilities: [String: Double]?
            var error: String?
        }
        var byName: [String: Line] = [:], leftOut: [String] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let l = raw.trimmingCharacters(in: .whitespaces)
            if l.isEmpty { continue }
            guard let line = try? JSONDecoder().decode(Line.self, from: Data(l.utf8)) else {
                leftOut.append("\(predictions.lastPathComponent):\(n + 1): not a detect line ({\"image\", \"detections\": [{\"box\", \"score\"}], ...})")
                continue
            }
            if let e = line.error { leftOut.append("\(predictions.lastPathComponent):\(n + 1): \(line.image): the line is an error (\(e))"); continue }
            guard let dets = line.detections, dets.allSatisfy({ $0.box.count == 4 && $0.score.isFinite }) else {
                leftOut.append("\(predictions.lastPathComponent):\(n + 1): \(line.image): detections need a 4-number box and a finite score")
                continue
            }
            _ = dets
            byName[(line.image as NSString).lastPathComponent] = line
        }
        var out: [CaseOutcome] = []
        for c in set.cases {
            let name = ((c.record.radiographs.first?.file ?? "") as NSString).lastPathComponent
            guard let line = byName[name] else { leftOut.append("\(c.record.id): no line for \(name) in \(predictions.lastPathComponent)"); continue }
            let dets = line.detections ?? []
            var o = CaseOutcome(id: c.record.id, label: c.label, boxes: boxes(c), candidates: dets,
                                detections: threshold.map { t in dets.filter { $0.score >= t } } ?? dets, present: [true, false, false])
            if let p = line.probabilities {
                let v = DiagnosisLabel.tumourClasses.map { p[$0.rawValue] ?? .nan }
                if v.allSatisfy(\.isFinite) { o.imageProbabilities = v }
            }
            out.append(o)
        }
        return (out, leftOut)
    }
}
