import ArgumentParser
import Evaluation
import Foundation

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate the models on labelled cases: detection mAP, classification, the modality ablation, plots.",
        discussion: """
        DATA is a dataset folder laid out like BTXRD (images/, cases.csv, boxes.csv; its split, \
        generated labs and slide seeds from the cohort manifest), a folder of case folders that \
        carry a label, or a case store (.sqlite). Writes report.md, report.json and PNG plots into \
        --out, all at once; Ctrl-C stops without a report (exit 130). Keys of report.json: \
        docs/cli.md. Research software, not a medical device.
        """)

    @Option(help: "The labelled cases: a BTXRD-like dataset folder, a folder of case folders, or a case store.") var data: String
    @Option(help: "The split to evaluate (default: test where the data has splits, else every case).") var split: String?
    @Option(help: "The cohort manifest (default: training/cohort_manifest.csv of this checkout, for BTXRD).") var cohort: String?
    @Option(help: "Generated slide tiles, <image_id>.png (training/render_slides.py); without them pathology is absent.") var slides: String?
    @Option(help: "The report folder (replaced whole when written).") var out: String = "eval-report"
    @Option(help: "Score predictions made elsewhere: tumorboard detect's JSON lines, matched by image file name.") var predictions: String?
    @Option(help: "With --predictions: the score threshold for precision and recall (default: every box counts).") var threshold: Double?
    @Option(help: "The models folder (default: $TUMORBOARD_MODELS, else models/ of this checkout).") var models: String?
    @Option(help: "Only the first N cases (a quick look).") var limit: Int?
    @Flag(help: "Also print report.json on standard output.") var json = false

    func run() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        let command = EvalCommand(
            data: data, split: split, cohort: cohort.map { URL(fileURLWithPath: $0) }, slides: slides.map { URL(fileURLWithPath: $0) },
            out: URL(fileURLWithPath: out), predictions: predictions.map { URL(fileURLWithPath: $0) }, threshold: threshold,
            modelsDirectory: Open.modelsDirectory(models), limit: limit)
        do {
            switch try command.run(log: { Output.err(($0 + "\n")) }) {
            case .written(let report):
                Output.err("eval: report written to \(out) (report.md, report.json, plots)\n")
                if json { try Output.out(try report.json + Data("\n".utf8)) }
            case .stopped(let done, let total):
                Output.err("eval: stopped after \(done) of \(total) cases; no report written\n")
                throw ExitCode(130)
            }
        } catch let e as ExitCode {
            throw e
        } catch {
            Output.err("tumorboard eval: \(error)\n")
            throw ExitCode(1)
        }
    }
}
