import Cases
import Engine
import Foundation
import Models

/// Every network the diagnosis needs, loaded once and shared (immutable, safe to use from any
/// queue). Files in the models folder (docs/method.md, models/README.md):
/// detector.safetensors, lesion_encoder.safetensors, pathology_encoder.safetensors,
/// fusion_head.safetensors, and text/all-MiniLM-L6-v2/ (fetched at setup).
public final class ModelSet: Sendable {
    public let detector: LesionDetector
    public let lesionEncoder: ResNet
    /// The lesion encoder's classification head (required: the image-only answer and Grad-CAM need it).
    public let lesionHead: Linear
    public let lesionTemperature: Float
    public let pathologyEncoder: ResNet?
    public let fusion: FusionHead?
    public let tokenizer: WordPieceTokenizer?
    public let textEncoder: BertEncoder?
    /// File name -> sha256 of every weight file loaded.
    public let hashes: [String: String]
    public let directory: URL

    /// The classifier's outputs in logit order, from the one class type.
    public static let classes = DiagnosisLabel.tumourClasses.map(\.rawValue)

    /// The files loaded, in order: what "loading models 3/5" counts.
    public static let parts = ["detector", "lesion encoder", "pathology encoder", "fusion head", "text encoder"]

    /// Optional parts that were not found, each with the command that fetches or rebuilds it.
    public let missing: [String]

    /// Loads the models in `directory`. The detector and lesion encoder are required; the
    /// pathology encoder, fusion head and text encoder are optional (their modality is then
    /// reported as unavailable, never silently faked). `progress(k, name)` is called before
    /// part k (0-based, of `parts.count`) loads, and with `parts.count` when all are in.
    public init(directory: URL, progress: (Int, String) -> Void = { _, _ in }) throws {
        self.directory = directory
        var hashes: [String: String] = [:]
        var missing: [String] = []
        var step = 0
        func load(_ name: String, required: Bool) throws -> Weights? {
            progress(step, Self.parts[step]); step += 1
            let url = directory.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else {
                if required {
                    throw DiagnosisError.models("\(url.path): missing (train with training/run_all.sh, or check TUMORBOARD_MODELS)")
                }
                missing.append("\(name) (train with training/run_all.sh)")
                return nil
            }
            hashes[name] = try FileDigestCache.shared.hex(ofFile: url)
            return try Weights(path: url.path)
        }
        detector = try LesionDetector(load("detector.safetensors", required: true)!)
        let lesion = try load("lesion_encoder.safetensors", required: true)!
        lesionEncoder = try ResNet(lesion, config: ResNet.Config(blocks: Self.blocks(lesion)))
        guard let head = lesionEncoder.fc else {
            throw DiagnosisError.models("\(directory.appendingPathComponent("lesion_encoder.safetensors").path): no classification head (fc.weight, fc.bias); not a lesion encoder checkpoint (train with training/run_all.sh)")
        }
        lesionHead = head
        lesionTemperature = try lesion.optional("temperature")?.item ?? 1
        if let p = try load("pathology_encoder.safetensors", required: false) {
            pathologyEncoder = try ResNet(p, config: ResNet.Config(blocks: Self.blocks(p)))
        } else { pathologyEncoder = nil }
        fusion = try load("fusion_head.safetensors", required: false).map { try FusionHead($0) }
        if let fusion, fusion.classes != Self.classes.count {
            throw DiagnosisError.models("\(directory.appendingPathComponent("fusion_head.safetensors").path): \(fusion.classes) classes, this program ranks \(Self.classes.count) (\(Self.classes.joined(separator: ", ")))")
        }
        let text = directory.appendingPathComponent("text/all-MiniLM-L6-v2")
        progress(step, Self.parts[step])
        if FileManager.default.fileExists(atPath: text.appendingPathComponent("model.safetensors").path) {
            tokenizer = try WordPieceTokenizer(vocabPath: text.appendingPathComponent("vocab.txt").path)
            let config = try BertConfig.load(path: text.appendingPathComponent("config.json").path)
            hashes["text/all-MiniLM-L6-v2/model.safetensors"] = try FileDigestCache.shared.hex(ofFile: text.appendingPathComponent("model.safetensors"))
            textEncoder = try BertEncoder(Weights(path: text.appendingPathComponent("model.safetensors").path), config: config)
        } else {
            tokenizer = nil; textEncoder = nil
            missing.append("text/all-MiniLM-L6-v2 (fetch with scripts/fetch-text-encoder)")
        }
        self.hashes = hashes
        self.missing = missing
        progress(Self.parts.count, "done")
    }

    /// Blocks per stage, read from the checkpoint's names (layerN.M.conv1.weight).
    static func blocks(_ w: Weights) -> [Int] {
        var blocks: [Int] = []
        while w.has("layer\(blocks.count + 1).0.conv1.weight") {
            var n = 0
            while w.has("layer\(blocks.count + 1).\(n).conv1.weight") { n += 1 }
            blocks.append(n)
        }
        return blocks
    }
}

public enum DiagnosisError: Error, CustomStringConvertible {
    case models(String)
    case input(String)

    public var description: String {
        switch self {
        case .models(let m): return m
        case .input(let m): return m
        }
    }
}

extension ModelSet {
    /// Gives the engine's freed tensor buffers (`TensorBufferPool`, up to 128 MiB after a diagnosis)
    /// back to the system. For the workstation's idle engine lane, which knows Diagnosis, not Engine.
    public static func releaseFreedBuffers() { TensorBufferPool.drain() }
}
