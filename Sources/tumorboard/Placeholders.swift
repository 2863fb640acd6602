import ArgumentParser
import Foundation

// Subcommands whose issues have not landed yet (moved unchanged from Open.swift).

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Diagnose one case: probabilities, modality contributions, detections (JSON).",
        discussion: "Not built yet: the diagnosis pipeline is issue 5. Exits with status 3.")
    @Option(help: "A case folder.") var `case`: String?
    @Option(help: "A radiograph (PNG, JPEG).") var image: String?
    @Option(help: "A pathology slide image.") var slide: String?
    @Option(help: "A lab panel (JSON).") var labs: String?
    @Option(help: "Age in years.") var age: Int?
    @Option(help: "Sex: F or M.") var sex: String?
    @Flag(help: "Print one JSON object.") var json = false
    func run() throws { fail("predict is not built yet (diagnosis pipeline, issue 5); no output was produced") }
}

struct Detect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Detect lesions on radiographs, one JSON line per image.",
        discussion: "Not built yet: the diagnosis pipeline is issue 5. Exits with status 3.")
    @Argument(help: "Radiographs (PNG, JPEG).") var images: [String] = []
    @Flag(help: "One JSON object per line.") var jsonl = false
    func run() throws { fail("detect is not built yet (diagnosis pipeline, issue 5); no output was produced") }
}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate the models on a dataset split (mAP, precision/recall/F1, AUC, calibration).",
        discussion: "Not built yet: it follows the diagnosis pipeline. Exits with status 3.")
    @Argument(help: "A dataset folder laid out like BTXRD.") var dataset: String?
    func run() throws { fail("eval is not built yet (it follows the diagnosis pipeline, issue 5); no output was produced") }
}
