import ArgumentParser
import Cases
import Foundation

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import cases into the case store: case folders, datasets, DICOM and PNG/JPEG radiographs, lab files.",
        discussion: """
        PATH is a case folder (case.json), a folder of case folders, a dataset folder laid out like \
        BTXRD (cases.csv, images/), a DICOM file (case ID from PatientID unless --case-id; age, \
        sex, site, view and date from its tags), or a PNG/JPEG radiograph (with --case-id, --age, \
        --sex, --site). --labs FILE adds a lab file to the one case imported, or, without PATH, \
        to the stored case --case-id.

        Each case is written in its own transaction: a bad file is named and skipped, the others \
        are imported, nothing is half-written. Cases already stored are left unchanged. The store \
        must pass SQLite's quick check first. Exit status: 0 when nothing was refused, 1 when \
        anything was, 2 for a usage error or a store that cannot be used (nothing imported). \
        docs/cli.md has the details.
        """)

    @Argument(help: "Case folders, folders of case folders, dataset folders, DICOM files or PNG/JPEG radiographs.")
    var paths: [String] = []

    @Option(help: "The case store (default: $TUMORBOARD_STORE, else ~/.local/share/tumorboard/cases.sqlite).")
    var store: String?

    @Option(name: .customLong("case-id"), help: "The case ID for a DICOM file (instead of its PatientID) or a PNG/JPEG radiograph; with --labs alone, the stored case.")
    var caseID: String?

    @Option(help: "Age in whole years (a PNG/JPEG radiograph; for DICOM it must agree with the tags).")
    var age: String?

    @Option(help: "Sex, F or M (as --age).")
    var sex: String?

    @Option(help: "Anatomical site, e.g. femur (a PNG/JPEG radiograph; for DICOM instead of BodyPartExamined).")
    var site: String?

    @Option(help: "The radiograph's view, e.g. frontal (instead of DICOM ViewPosition).")
    var view: String?

    @Option(help: "A lab file (JSON list of {marker, value, unit[, date]}) for the one case imported, or for --case-id alone.")
    var labs: String?

    func run() throws {
        let request: ImportRequest
        do { request = try makeRequest() } catch {
            Output.err("tumorboard import: \(error)\nSee 'tumorboard help import'.\n")
            throw ExitCode(2)
        }
        let importer = Importer(storePath: store ?? CaseStore.defaultPath())
        let progress = ProgressLine()
        let report: ImportReport
        do {
            report = try importer.run(request) { progress.show($0) }
        } catch {
            progress.finish()
            Output.err("tumorboard import: \(error)\n")
            throw ExitCode(2)
        }
        progress.finish()
        do {
            try Output.out(Data((report.summaryLines.joined(separator: "\n") + "\n").utf8))
        } catch {
            Output.err("tumorboard import: \(error)\n")
            throw ExitCode(report.stopped != nil ? 2 : 1)
        }
        if report.stopped != nil { throw ExitCode(2) }
        if !report.refused.isEmpty { throw ExitCode(1) }
    }

    func makeRequest() throws -> ImportRequest {
        var ageValue: Int?
        if let age {
            guard let a = Int(age.trimmingCharacters(in: .whitespaces)) else { throw ImportError.usage("--age must be whole years, got '\(age)'") }
            ageValue = a
        }
        var sexValue: Sex?
        if let sex {
            guard let s = Sex(rawValue: sex.uppercased()) else { throw ImportError.usage("--sex must be F or M, got '\(sex)'") }
            sexValue = s
        }
        if let store, store.trimmingCharacters(in: .whitespaces).isEmpty { throw ImportError.usage("--store needs a file, got an empty path") }
        return ImportRequest(paths: paths, caseID: caseID, age: ageValue, sex: sexValue, site: site, view: view, labs: labs)
    }
}

/// Progress on standard error: rewritten in place on a terminal, else a line every 500 cases.
final class ProgressLine {
    let terminal = isatty(2) == 1
    var last = Date.distantPast
    var shown = false

    func show(_ p: ImportProgress) {
        if terminal {
            let now = Date()
            guard p.done == p.total || now.timeIntervalSince(last) >= 0.1 else { return }
            last = now
            shown = true
            Output.err("\rimporting \(p.done)/\(p.total)")
        } else if p.done % 500 == 0 {
            Output.err("importing \(p.done)/\(p.total)\n")
        }
    }

    /// Clears the terminal line so the summary starts on a clean one.
    func finish() {
        if terminal, shown { Output.err("\r\u{1B}[K") }
    }
}
