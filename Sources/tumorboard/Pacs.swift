import ArgumentParser
import Cases
import Dispatch
import Foundation
import PACS

struct Pacs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pacs",
        abstract: "Search the hospital's PACS and import a study's radiographs over DICOMweb (QIDO-RS, WADO-RS).",
        discussion: """
        --server is a name from the PACS servers file ($TUMORBOARD_PACS_CONFIG, else \
        ~/.config/tumorboard/pacs.json) or a DICOMweb URL (http://host:8042/dicom-web). A server's \
        password is read from its credentials file (mode 0600), never from the command line. \
        docs/pacs.md has the details.
        """,
        subcommands: [PacsFind.self, PacsImport.self])
}

struct PacsFind: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "find",
        abstract: "List the studies on a PACS that match, newest first: one line each (date, patient ID, modalities, description, instances, StudyInstanceUID).",
        discussion: """
        Exit status: 0 when the search ran (even with no match), 1 when the server failed (down, \
        slow, wrong password, not DICOMweb), 2 for a usage error or a bad servers file.
        """)

    @Option(help: "A server name from the PACS servers file, or a DICOMweb URL.") var server: String
    @Option(help: "Patient ID (the wildcards * and ? allowed).") var patient: String?
    @Option(help: "A modality of the study: CR, DX, ...") var modality: String?
    @Option(help: "Studies on or after this day (YYYY-MM-DD).") var since: String?
    @Option(help: "At most this many studies (default 200).") var limit: Int = 200
    @Flag(help: "A JSON list instead of lines.") var json = false

    func run() throws {
        let client = try PacsCommand.client(server, command: "find")
        let query = StudyQuery(patientID: patient, modality: modality, since: since, limit: limit)
        let studies: [StudySummary]
        do throws(PACSError) {
            // Newest first, as a radiologist reads a worklist; undated studies last.
            studies = try PacsCommand.interruptible { (cancelled) throws(PACSError) in try client.searchStudies(query, isCancelled: cancelled) }
                .enumerated().sorted { a, b in
                    let (da, db) = (a.element.studyDate ?? "", b.element.studyDate ?? "")
                    return da != db ? da > db : a.offset < b.offset
                }.map(\.element)
        } catch {
            Output.err("tumorboard pacs find: \(error)\n")
            throw ExitCode(PacsCommand.exitStatus(error))
        }
        do {
            if json {
                let data = try JSONSerialization.data(withJSONObject: studies.map(\.jsonObject), options: [.prettyPrinted, .sortedKeys])
                try Output.out(data + Data("\n".utf8))
            } else if !studies.isEmpty {
                try Output.out(Data((StudySummary.table(studies).joined(separator: "\n") + "\n").utf8))
            }
        } catch {
            Output.err("tumorboard pacs find: \(error)\n")
            throw ExitCode(1)
        }
        if !json {
            var note = "\(studies.count) stud\(studies.count == 1 ? "y" : "ies") on \(client.server.label)"
            if studies.count == limit { note += " (the first \(limit): narrow the search, or raise --limit)" }
            Output.err(note + "\n")
        }
    }
}

struct PacsImport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Retrieve a study's radiographs (CR, DX) from a PACS and import them into the case store as one case.",
        discussion: """
        The instances are asked for uncompressed (Explicit VR Little Endian); a compressed syntax \
        TumorBoard cannot decode is named and refused. Other modalities are skipped with a note. \
        The case ID is the study's PatientID when it is a valid case ID, else give --case-id. The \
        files go under the store's folder (pacs/<case>/<study>/) and through the same import as \
        `tumorboard import FILE.dcm`, in one transaction; the patient's name is never stored. \
        Exit status: 0 imported or already present, 1 refused or the server failed (nothing \
        imported, no file left), 2 for a usage error or a store that cannot be used, 130 on Ctrl-C.
        """)

    @Option(help: "A server name from the PACS servers file, or a DICOMweb URL.") var server: String
    @Option(help: "The StudyInstanceUID (from tumorboard pacs find).") var study: String
    @Option(help: "The case store (default: $TUMORBOARD_STORE, else ~/.local/share/tumorboard/cases.sqlite).") var store: String?
    @Option(name: .customLong("case-id"), help: "The case ID instead of the study's PatientID (a pseudonym, never a name).") var caseID: String?

    func run() throws {
        if let store, store.trimmingCharacters(in: .whitespaces).isEmpty {
            Output.err("tumorboard pacs import: --store needs a file, got an empty path\n")
            throw ExitCode(2)
        }
        let client = try PacsCommand.client(server, command: "import")
        let job = PACSStudyImport(client: client, storePath: store ?? CaseStore.defaultPath())
        let line = PacsProgressLine()
        let report: PACSImportReport
        do throws(PACSError) {
            report = try PacsCommand.interruptible { (cancelled) throws(PACSError) in
                try job.run(study: study.trimmingCharacters(in: .whitespaces), caseID: caseID,
                            progress: { line.show($0) }, isCancelled: cancelled)
            }
        } catch {
            line.finish()
            Output.err("tumorboard pacs import: \(error)\n")
            throw ExitCode(PacsCommand.exitStatus(error))
        }
        line.finish()
        do { try Output.out(Data((report.summaryLines.joined(separator: "\n") + "\n").utf8)) } catch {
            Output.err("tumorboard pacs import: \(error)\n")
            throw ExitCode(1)
        }
        if report.importReport.stopped != nil { throw ExitCode(2) }
        if !report.importReport.refused.isEmpty { throw ExitCode(1) }
    }
}

enum PacsCommand {
    /// The client for `--server`; a bad servers file, name, URL or credentials file exits 2.
    static func client(_ server: String, command: String) throws -> DICOMwebClient {
        do { return try DICOMwebClient(server: try PACSServersFile.resolve(server)) } catch {
            Output.err("tumorboard pacs \(command): \(error)\n")
            throw ExitCode(2)
        }
    }

    static func exitStatus(_ error: PACSError) -> Int32 {
        switch error {
        case .cancelled: return 130
        case .usage, .config, .credentials, .unknownServer, .importer: return 2
        default: return 1
        }
    }

    /// Runs `body` with Ctrl-C turned into its cancellation: the request in flight is stopped
    /// and nothing is imported.
    static func interruptible<T>(_ body: (@escaping @Sendable () -> Bool) throws(PACSError) -> T) throws(PACSError) -> T {
        let flag = InterruptFlag()
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { flag.set() }
        source.resume()
        defer { source.cancel(); signal(SIGINT, SIG_DFL) }
        return try body { flag.isSet }
    }
}

final class InterruptFlag: @unchecked Sendable {
    // @unchecked: `value` is only touched while `lock` is held.
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}

/// The import's progress on standard error, rewritten in place on a terminal; elsewhere one
/// line per stage or series.
final class PacsProgressLine: @unchecked Sendable {
    // @unchecked: the fields are only touched while `lock` is held.
    private let lock = NSLock()
    private let terminal = isatty(2) == 1
    private var last = Date.distantPast
    private var shown = false
    private var lastKey = ""

    func show(_ p: PACSImportProgress) {
        lock.lock(); defer { lock.unlock() }
        if terminal {
            let now = Date()
            guard now.timeIntervalSince(last) >= 0.1 || p.stage != .retrieving else { return }
            last = now
            shown = true
            Output.err("\r\u{1B}[K" + p.line)
        } else {
            let key = "\(p.stage) \(p.series)"
            guard key != lastKey else { return }
            lastKey = key
            Output.err(p.line.components(separatedBy: ":").first.map { $0 + "\n" } ?? "")
        }
    }

    func finish() {
        lock.lock(); defer { lock.unlock() }
        if terminal, shown { Output.err("\r\u{1B}[K") }
    }
}
