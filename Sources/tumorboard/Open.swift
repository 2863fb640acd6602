import ArgumentParser
import Foundation

struct Open: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open the workstation on a folder of cases (default: the bundled samples).",
        discussion: """
        The terminal UI is being built (issue 7: terminal layer; issue 6: case store). Until it \
        lands, this lists the case folders it finds.
        """)

    @Argument(help: "A folder of case folders, or a dataset folder laid out like BTXRD (images/, cases.csv, boxes.csv).")
    var path: String?

    func run() throws {
        let folder = path ?? Open.defaultSamples()
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
            print("No cases at \(folder). Put case folders there, or run: tumorboard open PATH")
            throw ExitCode(2)
        }
        let entries = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
            .filter { !$0.hasPrefix(".") }
        let cases = entries.filter {
            var d: ObjCBool = false
            return FileManager.default.fileExists(atPath: folder + "/" + $0, isDirectory: &d) && d.boolValue
        }
        print("TumorBoard: \(cases.count) case folder(s) in \(folder)")
        for c in cases { print("  \(c)") }
        if cases.isEmpty { print("(none yet: the bundled samples arrive with the cases issue)") }
        print("The interactive workstation is not built yet (terminal layer, issue 7).")
    }

    /// samples/ next to the executable's repository checkout, or in the current folder.
    static func defaultSamples() -> String {
        if let env = ProcessInfo.processInfo.environment["TUMORBOARD_SAMPLES"] { return env }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            let candidate = url.appendingPathComponent("samples")
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("../Package.swift").path) {
                return candidate.path
            }
            url.deleteLastPathComponent()
        }
        return FileManager.default.currentDirectoryPath + "/samples"
    }
}

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
