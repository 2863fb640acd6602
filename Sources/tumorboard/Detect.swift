import ArgumentParser
import Cases
import Diagnosis
import Foundation

struct Detect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Detect lesions on radiographs, one JSON line per image, in order.",
        discussion: """
        Each line: {"image", "width", "height", "detections": [{"box": [x0,y0,x1,y1], "score"}], \
        "probabilities": {benign, intermediate, malignant} or null}, boxes in the image's own \
        pixels (x1, y1 exclusive), probabilities from the radiograph alone for the top lesion. \
        A bad image gets {"image", "error"} on its line and the rest go on; the exit status is \
        then 1. Weights are loaded once. Schema: docs/cli.md.
        """)

    @Argument(help: "Radiographs (PNG, JPEG or uncompressed DICOM).") var images: [String] = []
    @Option(help: "The models folder (default: models/ of this checkout, or $TUMORBOARD_MODELS).") var models: String?
    @Option(help: "Score threshold (default: the detector's operating threshold, chosen on val).") var threshold: Float?
    @Option(help: ArgumentHelp("Every candidate above this score, with the evaluation's NMS (IoU 0.6, at most 100 an image), for a full-curve mAP (tumorboard eval --predictions).", valueName: "S"))
    var minScore: Float?
    @Flag(help: "One JSON object per line (the default and only format).") var jsonl = false

    func run() throws {
        guard !images.isEmpty else { throw ValidationError("give one or more radiographs") }
        guard threshold == nil || minScore == nil else { throw ValidationError("--threshold and --min-score exclude each other") }
        if let s = minScore, !(s >= 0 && s < 1) { throw ValidationError("--min-score must be in [0, 1), got \(s)") }
        if let t = threshold, !(t >= 0 && t <= 1) { throw ValidationError("--threshold must be a score in [0, 1], got \(t)") }
        let diagnosis: Diagnosis
        do {
            diagnosis = try Diagnosis(models: ModelSet(directory: Open.modelsDirectory(models)))
        } catch {
            Output.err("tumorboard detect: \(error)\n")
            throw ExitCode(1)
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        var failures = 0
        for path in images {
            var line: [String: Any] = ["image": path]
            do {
                let image = try CaseFolder.decodeImage(URL(fileURLWithPath: path), field: "image")
                let r = try minScore.map { try diagnosis.detect(image, threshold: $0, nmsIoU: Diagnosis.candidateIoU) }
                    ?? diagnosis.detect(image, threshold: threshold)
                let obj = try JSONSerialization.jsonObject(with: enc.encode(r)) as! [String: Any]
                line.merge(obj) { a, _ in a }
            } catch {
                failures += 1
                line["error"] = "\(error)"
                Output.err("tumorboard detect: \(error)\n")
            }
            let data = try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
            do { try Output.out(data + Data("\n".utf8)) } catch {
                Output.err("tumorboard detect: \(error)\n")
                throw ExitCode(1)
            }
        }
        if failures > 0 { throw ExitCode(1) }
    }
}
