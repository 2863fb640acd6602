import Cases
import Engine
import Foundation
import Imaging
import Models

/// What `tumorboard eval` needs of one case, from one pass of the networks: the detector's
/// candidates down to a low score (for the full-curve mAP), the boxes at the operating
/// threshold (what the workstation shows), the lesion encoder's own logits, and the fusion
/// head's logits for every subset of the modalities (the ablation), all on cached features.
public struct CaseEvaluation: Sendable {
    /// Candidates above `candidateScore` after NMS at `candidateIoU` (COCO-style evaluation), best first.
    public var candidates: [BoxFinding]
    /// After the operating threshold and the pipeline's NMS, best first (the top one is classified).
    public var detections: [BoxFinding]
    /// The lesion encoder's head on the top detection's crop (the whole image without one).
    public var imageLogits: [Float]
    /// Fusion logits per subset mask (bit 0 image, 1 pathology, 2 labs; 1...7), with the
    /// modalities the case lacks left out of the mask; nil without a fusion head.
    public var subsetLogits: [Int: [Float]]?
    /// Which modalities the case has.
    public var present: [Bool]
    public var lesionTemperature: Float
    public var fusionTemperature: Float?
}

extension Diagnosis {
    /// The COCO-style evaluation settings (training/evaluate.py): every candidate above 0.001,
    /// NMS at IoU 0.6, at most 100 a image.
    public static let candidateScore: Float = 0.001
    public static let candidateIoU: Float = 0.6

    public func evaluate(_ input: DiagnosisInput, candidateScore: Float = Diagnosis.candidateScore,
                         candidateIoU: Float = Diagnosis.candidateIoU) throws -> CaseEvaluation {
        let lb = try Preprocessing.letterbox(input.radiograph)
        let x = try Preprocessing.tensor(lb)
        let det = models.detector
        let raw = try det.raw(x)
        let candidates = det.nms(det.decode(raw, threshold: candidateScore), iou: candidateIoU)
        let boxes = det.nms(det.decode(raw, threshold: det.scoreThreshold), iou: det.nmsIoU)
        let lesion = try models.encodeLesion(lb, box: boxes.first)
        let (imageFeature, imageLogits) = (lesion.feature, lesion.logits)
        let (slideFeature, textFeature, _) = try otherFeatures(input)
        let features: [Tensor?] = [imageFeature, slideFeature, textFeature]
        let present = features.map { $0 != nil }
        var subsets: [Int: [Float]]?
        if let fusion = models.fusion {
            var out: [Int: [Float]] = [:]
            for mask in 1..<8 {
                let m = (0..<3).map { mask & (1 << $0) != 0 && present[$0] }
                guard m.contains(true) else { continue }
                out[mask] = try fusion(features, present: m).logits
            }
            subsets = out
        }
        return CaseEvaluation(candidates: candidates.map { BoxFinding($0, letterbox: lb) },
                              detections: boxes.map { BoxFinding($0, letterbox: lb) },
                              imageLogits: imageLogits, subsetLogits: subsets, present: present,
                              lesionTemperature: models.lesionTemperature, fusionTemperature: models.fusion?.temperature)
    }
}
