import Foundation
import Imaging
import Models

/// A box in the radiograph's own pixels (x1, y1 exclusive) with its detector score.
public struct BoxFinding: Codable, Sendable, Equatable {
    public var box: [Double]
    public var score: Double

    init(_ d: Detection, letterbox lb: Letterbox) {
        let b = lb.boxToSource(x0: Double(d.x0), y0: Double(d.y0), x1: Double(d.x1), y1: Double(d.y1))
        box = [b.x0, b.y0, b.x1, b.y1]
        score = Double(d.score)
    }
}

public struct ClassProbabilities: Codable, Sendable, Equatable {
    public var benign: Double, intermediate: Double, malignant: Double
    init(_ p: [Float]) { benign = Double(p[0]); intermediate = Double(p[1]); malignant = Double(p[2]) }
    public var values: [Double] { [benign, intermediate, malignant] }
}

/// One value per modality; nil (JSON null) where the modality is absent.
public struct ModalityValues<T: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
    public var image: T?, pathology: T?, labs: T?
    init(_ v: [T?]) { image = v[0]; pathology = v[1]; labs = v[2] }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(image, forKey: .image); try c.encode(pathology, forKey: .pathology); try c.encode(labs, forKey: .labs)
    }
}

/// Grad-CAM over the lesion crop: a coarse grid (the encoder's last feature map) covering
/// `box` in radiograph pixels; values >= 0, for the predicted class.
public struct Heatmap: Codable, Sendable, Equatable {
    public var box: [Double]
    public var width: Int, height: Int
    public var values: [Float]
    public var target: String
}

public struct Findings: Codable, Sendable {
    public var width: Int, height: Int
    public var detections: [BoxFinding]
    /// The lesion that was classified (the top detection), or nil: then the whole image was.
    public var lesion: BoxFinding?
    public var probabilities: ClassProbabilities
    /// The radiograph alone (the lesion encoder's own head): the "image only" row.
    public var imageOnlyProbabilities: ClassProbabilities
    public var predicted: String
    public var present: ModalityValues<Bool>
    /// Exact Shapley values for the predicted class's probability; they sum to
    /// p(all present) - p(none present). null for absent modalities.
    public var contributions: ModalityValues<Float>
    public var attention: ModalityValues<Float>?
    public var sentence: String?
    public var heatmap: Heatmap
    public var models: [String: String]
    public var timingsMs: [String: Double]
    /// The fusion head's answer for every subset of the present modalities (the passes the
    /// Shapley values are made of), keyed by `ModalitySubset.name` ("image+labs", "none", ...):
    /// what tutor mode shows when a modality is switched off. nil in results kept before it existed.
    public var subsets: [String: ClassProbabilities]?

    enum CodingKeys: String, CodingKey {
        case width, height, detections, lesion, probabilities, predicted, present, contributions, attention, sentence, heatmap, models, subsets
        case imageOnlyProbabilities = "image_only_probabilities", timingsMs = "timings_ms"
    }
}

/// A subset of the three modalities (image, pathology, labs), as a bit mask: bit 0 image,
/// bit 1 pathology, bit 2 labs.
public struct ModalitySubset: Hashable, Sendable {
    public static let names = ["image", "pathology", "labs"]
    public var mask: Int
    public init(mask: Int) { self.mask = mask & 7 }
    public init(_ on: [Bool]) { mask = on.prefix(3).enumerated().reduce(0) { $0 | ($1.element ? 1 << $1.offset : 0) } }
    public func contains(_ modality: Int) -> Bool { mask & (1 << modality) != 0 }
    /// "image+pathology+labs", "image", "none".
    public var name: String {
        let parts = (0..<3).filter(contains).map { Self.names[$0] }
        return parts.isEmpty ? "none" : parts.joined(separator: "+")
    }
}

/// What `tumorboard detect` prints for one image.
public struct DetectionResult: Codable, Sendable {
    public var width: Int, height: Int
    public var detections: [BoxFinding]
    /// The image-only probabilities of the top-scoring lesion; nil when nothing was found.
    public var probabilities: ClassProbabilities?

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(width, forKey: .width); try c.encode(height, forKey: .height)
        try c.encode(detections, forKey: .detections); try c.encode(probabilities, forKey: .probabilities)
    }
    enum CodingKeys: String, CodingKey { case width, height, detections, probabilities }
}
