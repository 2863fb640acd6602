import ArgumentParser
import Cases
import Diagnosis
import Foundation

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write one stored case's report: Markdown with the annotated radiograph (PNG).",
        discussion: """
        report.md holds the case, the findings, the probabilities and contributions, the labs and \
        the clinical sentence, the model digests, the review and sign-off and the audit trail; \
        radiograph.png the radiograph with the model's boxes and the Grad-CAM heatmap. A result \
        kept in the store for the same case and models is used (the models do not run again) \
        unless --rerun. The folder is created if missing; an earlier report of the same case in it \
        is replaced whole, anything else is refused. Prints the two files. docs/cli.md. \
        Research software, not a medical device.
        """)

    @Argument(help: "The case ID in the store.") var caseID: String
    @Option(help: "The folder for report.md and radiograph.png.") var out: String
    @Option(help: "The case store (default: $TUMORBOARD_STORE, else ~/.local/share/tumorboard/cases.sqlite).") var store: String?
    @Option(help: "The models folder (default: $TUMORBOARD_MODELS, else models/ of this checkout).") var models: String?
    @Flag(help: "Run the models even when a kept result exists.") var rerun = false

    func validate() throws {
        guard !out.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("--out needs a folder, got an empty path") }
        guard !caseID.isEmpty else { throw ValidationError("give the case ID") }
    }

    func run() throws {
        do {
            // Opening creates a store: a mistyped path must not leave an empty one behind.
            let cases = try CaseStore.openExisting(path: store)
            let record = try cases.load(caseID)
            let folder = URL(fileURLWithPath: out)
            // Before the models run: a refused folder should not cost a diagnosis.
            if let why = CaseReport.refusal(toWriteInto: folder, caseID: record.id) { throw CaseReportError(why + "; nothing was written") }
            let set = try ModelSet(directory: Open.modelsDirectory(models))
            let diagnosis = try Diagnosis(models: set)
            let result = try KeptDiagnosis.findings(for: record, modelHashes: set.hashes, archive: StoreFindingsArchive(store: cases),
                                                    rerun: rerun) { try diagnosis.run($0) }
            if let problem = result.keepProblem { Output.err("tumorboard report: \(caseID): the result is \(problem)\n") }
            Output.err("tumorboard report: \(caseID): " + (result.kept ? "kept findings read back (the models did not run)\n" : "findings computed by the models\n"))
            // The record the findings were made from (read once, above).
            let report = CaseReport(record: record, findings: result.findings, audit: try cases.auditTrail(caseID), kept: result.kept)
            let files = try report.write(to: folder)
            try Output.out(Data("\(files.report.path)\n\(files.image.path)\n".utf8))
        } catch {
            Output.err("tumorboard report: \(caseID): \(error)\n")
            throw ExitCode(1)
        }
    }
}
