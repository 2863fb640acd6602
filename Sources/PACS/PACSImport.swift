import AtomicFiles
import Cases
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where a PACS import stands, for a progress line or bar.
public struct PACSImportProgress: Sendable, Equatable {
    public enum Stage: Sendable, Equatable {
        /// Asking the server for the study's series.
        case listing
        /// Retrieving series `series` of `seriesTotal` (1-based).
        case retrieving
        /// Writing the files and importing them into the store (no longer cancellable).
        case importing
    }
    public var stage: Stage
    public var series: Int
    public var seriesTotal: Int
    /// Bytes of the current series' answer so far, and in all when the server said.
    public var bytes: Int64
    public var expectedBytes: Int64?
    /// Radiographs retrieved and checked so far.
    public var instances: Int

    /// One line for a person: "retrieving series 1/2: 3.1 of 6.2 MB".
    public var line: String {
        switch stage {
        case .listing: return "asking the server for the study's series"
        case .importing: return "importing \(instances) radiograph\(instances == 1 ? "" : "s") into the store"
        case .retrieving:
            let mb = { (b: Int64) in String(format: "%.1f", Double(b) / 1e6) }
            let amount = expectedBytes.map { "\(mb(bytes)) of \(mb($0)) MB" } ?? "\(mb(bytes)) MB"
            return "retrieving series \(series)/\(seriesTotal): \(amount)"
        }
    }
}

/// What a PACS import did.
public struct PACSImportReport: Sendable, Equatable {
    public var server: String
    public var study: String
    /// The case the study went into (or was already), when one was named.
    public var caseID: String?
    /// Radiographs retrieved and checked.
    public var retrieved: Int = 0
    /// What was left out, one line each ("series 1.2.3 (CT, 34 instances): not a radiograph").
    public var skipped: [String] = []
    /// The folder holding the retrieved files when a case was imported.
    public var folder: String?
    /// The import of the files, as `tumorboard import` reports it.
    public var importReport = ImportReport()

    public var imported: Bool { !importReport.imported.isEmpty }

    public var summaryLines: [String] {
        var lines: [String]
        if retrieved == 0, let id = caseID, importReport.alreadyStored.contains(id) {
            lines = ["\(server): study \(study): case \(id) is already in the store; nothing retrieved"]
        } else {
            lines = ["\(server): study \(study): \(retrieved) radiograph\(retrieved == 1 ? "" : "s") retrieved"]
        }
        for s in skipped { lines.append("  skipped \(s)") }
        if let folder { lines.append("files: \(folder)") }
        return lines + importReport.summaryLines
    }
}

/// Retrieves one study's radiographs over DICOMweb and imports them as one case, through the
/// same import path as files (`Importer.importStudy`, one transaction). UI-free and Sendable:
/// the command line and the workstation's PACS screen call `run` on a background thread.
///
/// The files go to `<store folder>/pacs/<case ID>/<StudyInstanceUID>/<SOPInstanceUID>.dcm`
/// (written atomically into a staging folder that is renamed into place), only after every
/// instance was retrieved and read; a refused or failed import removes them again. The store is
/// checked before the first request and only written by the one import transaction at the end:
/// a server that is down, slow, answers garbage or loses the study leaves it untouched.
public struct PACSStudyImport: Sendable {
    public var client: DICOMwebClient
    public var storePath: String
    /// The audit trail's user (default: the login).
    public var user: String?

    public init(client: DICOMwebClient, storePath: String = CaseStore.defaultPath(), user: String? = nil) {
        self.client = client
        self.storePath = storePath
        self.user = user
    }

    /// The folder that holds retrieved studies: `$TUMORBOARD_PACS_FOLDER` where it is set (an
    /// absolute path: for a PostgreSQL store that several servers share, a folder each of them
    /// mounts at that same path), else the `pacs` folder beside the store file, else (a PostgreSQL
    /// store, which has no folder) the user's data folder.
    public static func pacsFolder(storePath: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(PACSError) -> URL {
        if let chosen = environment["TUMORBOARD_PACS_FOLDER"], !chosen.isEmpty {
            guard chosen.hasPrefix("/") else {
                throw .files(path: chosen, problem: "TUMORBOARD_PACS_FOLDER must be an absolute path (every server that opens these cases must find the files at the same path)")
            }
            return URL(fileURLWithPath: chosen).standardizedFileURL
        }
        // A PostgreSQL store has no folder of its own: the user's data folder (where the default
        // SQLite store lives). Every server that opens those cases must see the files at that path.
        if StoreLocation.isURL(storePath) {
            return URL(fileURLWithPath: CaseStore.defaultPath(environment: environment.filter { $0.key != "TUMORBOARD_STORE" }))
                .deletingLastPathComponent().appendingPathComponent("pacs")
        }
        return URL(fileURLWithPath: storePath).standardizedFileURL.deletingLastPathComponent().appendingPathComponent("pacs")
    }

    /// A folder this old that no stored case owns is a crash's leftover, replaced; a younger one
    /// is another import at work.
    static let staleFolderSeconds: TimeInterval = 3600

    /// Retrieves study `study` and imports it. `caseID` replaces the PatientID as the case ID.
    /// `progress` is called from background threads; `isCancelled` is polled until the import
    /// transaction starts. Throws when nothing could be imported because of the server, the
    /// request, the files or the store; a refusal by the import itself (a bad image) comes back
    /// in `importReport.refused`, with the retrieved files removed.
    public func run(study: String, caseID: String? = nil,
                    progress: @escaping @Sendable (PACSImportProgress) -> Void = { _ in },
                    isCancelled: @escaping @Sendable () -> Bool = { false }) throws(PACSError) -> PACSImportReport {
        let server = client.server.label
        let what = "the import of study \(study)"
        try DICOMwebClient.checkUID(study, "study")
        if let caseID, !CaseFolder.isValidCaseID(caseID) {
            throw .importer(.usage("--case-id '\(caseID)' is not a case ID: 1-64 of A-Z a-z 0-9 . _ -, not starting with '.' (a pseudonym, never a name)"))
        }
        // An existing store is checked before the first request; a missing one is created only
        // when there is a case to put in it, so a failed retrieve leaves nothing behind.
        var opened: CaseStore?
        func store() throws(PACSError) -> CaseStore {
            if let opened { return opened }
            let s: CaseStore
            do { s = try Importer.openChecked(storePath, user: user) } catch { throw .importer(error) }
            opened = s
            return s
        }
        if StoreLocation.isURL(storePath) || FileManager.default.fileExists(atPath: storePath) { _ = try store() }
        _ = try Self.pacsFolder(storePath: storePath)   // a bad TUMORBOARD_PACS_FOLDER is named before anything is retrieved
        var report = PACSImportReport(server: server, study: study, caseID: caseID)
        report.importReport.storePath = storePath

        // 1. The study's series: radiographs are retrieved, the rest named and skipped.
        progress(PACSImportProgress(stage: .listing, series: 0, seriesTotal: 0, bytes: 0, instances: 0))
        let allSeries = try client.series(ofStudy: study, isCancelled: isCancelled)
        let wanted = allSeries.filter(\.isRadiograph)
        for s in allSeries where !s.isRadiograph {
            report.skipped.append("series \(s.seriesInstanceUID) (\(s.modality ?? "no modality")\(s.numberOfInstances.map { ", \($0) instance\($0 == 1 ? "" : "s")" } ?? "")): not a radiograph (CR, DX)")
        }
        guard !wanted.isEmpty else {
            throw .noRadiographs(server: server, study: study, modalities: Array(Set(allSeries.compactMap(\.modality))).sorted())
        }

        // 2. Known already? Then nothing is retrieved (the case is left as it is).
        if let id = try knownCaseID(study: study, caseID: caseID, isCancelled: isCancelled), let opened, try holds(opened, id) {
            report.caseID = id
            report.importReport.alreadyStored = [id]
            return report
        }

        // 3. Retrieve and read every radiograph before anything is written.
        var instances: [(sop: String, data: Data)] = []
        var patientID: String?
        for (i, s) in wanted.enumerated() {
            let retrieved = instances.count
            let parts: [Data]
            do {
                parts = try client.retrieveSeries(study: study, series: s.seriesInstanceUID, progress: { p in
                    progress(PACSImportProgress(stage: .retrieving, series: i + 1, seriesTotal: wanted.count,
                                                bytes: p.received, expectedBytes: p.expected, instances: retrieved))
                }, isCancelled: isCancelled)
            } catch .http(let label, _, let status, let detail, _) where status >= 400 && status != 404 {
                // Servers answer 406 (as the standard says) or 500 (Orthanc 1.10) when they cannot
                // convert what they hold into the syntax asked for. Name that syntax if it is one
                // TumorBoard cannot decode.
                if let held = client.storedTransferSyntax(study: study, series: s.seriesInstanceUID, isCancelled: isCancelled),
                   held != DICOMFile.explicitVRLittleEndian, held != DICOMFile.implicitVRLittleEndian {
                    throw .compressed(server: label, study: study, uid: held, name: DICOMFile.transferSyntaxName(held),
                                      detail: "the server could not send them uncompressed (HTTP \(status)\(detail.isEmpty ? "" : ": \(detail)"))")
                }
                throw .http(server: label, what: "the retrieve of study \(study) (series \(s.seriesInstanceUID))",
                            status: status, detail: detail, attempts: 1)
            }
            for (j, data) in parts.enumerated() {
                if isCancelled() { throw .cancelled(server: server, what: what) }
                let name = "series \(s.seriesInstanceUID), instance \(j + 1)"
                let file: DICOMFile
                do { file = try DICOMFile(data: data, name: name) } catch {
                    if case .unsupportedTransferSyntax(_, let uid, let tsName) = error {
                        throw .compressed(server: server, study: study, uid: uid, name: tsName,
                                          detail: "the server sent them so though TumorBoard asked for uncompressed Explicit VR Little Endian")
                    }
                    throw .unreadableInstance(server: server, study: study, problem: "\(error)")
                }
                let modality = file.modality?.trimmingCharacters(in: .whitespaces).uppercased() ?? ""
                guard SeriesSummary.radiographModalities.contains(modality) else {
                    report.skipped.append("\(name) (\(modality.isEmpty ? "no modality" : modality)): not a radiograph (CR, DX)")
                    continue
                }
                let bytes = [UInt8](data.prefix(4096))
                var sop = bytes.count > 132 ? DICOMwebClient.metaElement(Array(bytes[132...]), 0x0003) ?? "" : ""
                if !DICOMJSON.isValidUID(sop) { sop = "\(s.seriesInstanceUID).\(j + 1)" }
                if instances.contains(where: { $0.sop == sop }) {
                    report.skipped.append("\(name): the same instance (SOPInstanceUID) again")
                    continue
                }
                if patientID == nil { patientID = file.patient.patientID?.trimmingCharacters(in: .whitespaces) }
                instances.append((sop, data))
            }
        }
        guard !instances.isEmpty else {
            throw .noRadiographs(server: server, study: study, modalities: Array(Set(allSeries.compactMap(\.modality))).sorted())
        }
        report.retrieved = instances.count
        let id: String
        if let caseID { id = caseID } else {
            let pid = patientID ?? ""
            guard CaseFolder.isValidCaseID(pid) else {
                throw .needsCaseID(server: server, study: study, why: pid.isEmpty ? "missing" : "not a case ID (1-64 of A-Z a-z 0-9 . _ -)")
            }
            id = pid
        }
        report.caseID = id
        let cases = try store()
        if try holds(cases, id) {
            report.importReport.alreadyStored = [id]
            return report
        }
        if isCancelled() { throw .cancelled(server: server, what: what) }

        // 4. Files, then the one import transaction.
        progress(PACSImportProgress(stage: .importing, series: wanted.count, seriesTotal: wanted.count, bytes: 0,
                                    instances: instances.count))
        let folder = try writeFiles(instances, caseID: id, study: study, server: server)
        let files = instances.map { folder.appendingPathComponent("\($0.sop).dcm") }
        let result = Importer.importStudy(files, into: cases, caseID: caseID, origin: "\(server) study \(study)",
                                          provenance: "PACS \(client.server.name), study \(study), retrieved \(Self.today())")
        report.importReport = result
        report.importReport.storePath = cases.path
        if result.imported.isEmpty {
            // Refused, already there (another import won), or the store failed: no orphan files.
            Self.remove(folder)
        } else {
            report.folder = folder.path
        }
        return report
    }

    /// The case ID known before retrieving: the caller's, else the study's PatientID from a
    /// QIDO-RS search when it is a case ID.
    func knownCaseID(study: String, caseID: String?, isCancelled: @escaping @Sendable () -> Bool) throws(PACSError) -> String? {
        if let caseID { return caseID }
        let found = try client.searchStudies(StudyQuery(studyInstanceUID: study, limit: 1), isCancelled: isCancelled)
        guard let pid = found.first?.patientID, CaseFolder.isValidCaseID(pid) else { return nil }
        return pid
    }

    func holds(_ store: CaseStore, _ id: String) throws(PACSError) -> Bool {
        do { return try store.containsCase(id) } catch {
            throw .importer(.store(file: store.path, problem: "\(error)"))
        }
    }

    /// Writes the instances into `pacs/<case>/.<study>.partial-...`, each file atomically, then
    /// renames that folder to `pacs/<case>/<study>`. The pacs folder is made readable by the
    /// owner and group only (like the store), whatever the umask.
    func writeFiles(_ instances: [(sop: String, data: Data)], caseID: String, study: String, server: String) throws(PACSError) -> URL {
        let fm = FileManager.default
        let root = try Self.pacsFolder(storePath: storePath)
        let caseFolder = root.appendingPathComponent(caseID)
        let final = caseFolder.appendingPathComponent(study)
        let staging = caseFolder.appendingPathComponent(".\(study).partial-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        do {
            if !fm.fileExists(atPath: root.path) {
                try fm.createDirectory(at: root, withIntermediateDirectories: true)
                chmod(root.path, 0o770)
            }
            try fm.createDirectory(at: caseFolder, withIntermediateDirectories: true)
            if fm.fileExists(atPath: final.path) {
                // No stored case owns it (the case is not in the store): a leftover, unless it is fresh.
                let modified = (try? fm.attributesOfItem(atPath: final.path))?[.modificationDate] as? Date ?? .distantPast
                guard Date().timeIntervalSince(modified) > Self.staleFolderSeconds else {
                    throw PACSError.busy(server: server, study: study, folder: final.path)
                }
                try fm.removeItem(at: final)
            }
            try fm.createDirectory(at: staging, withIntermediateDirectories: false)
        } catch let e as PACSError {
            throw e
        } catch {
            throw .files(path: caseFolder.path, problem: "cannot make the folder for the retrieved files (\(error.localizedDescription))")
        }
        do {
            for (sop, data) in instances {
                try AtomicFile.write(data, to: staging.appendingPathComponent("\(sop).dcm"))
            }
            try fm.moveItem(at: staging, to: final)
            let fd = open(caseFolder.path, O_RDONLY)
            if fd >= 0 { _ = fsync(fd); close(fd) }
        } catch {
            Self.remove(staging)
            throw .files(path: final.path, problem: "the retrieved files could not be written (\(error))")
        }
        return final
    }

    /// Removes a study folder, and its case's folder when that is left empty.
    static func remove(_ folder: URL) {
        let fm = FileManager.default
        try? fm.removeItem(at: folder)
        let parent = folder.deletingLastPathComponent()
        if let left = try? fm.contentsOfDirectory(atPath: parent.path), left.isEmpty { try? fm.removeItem(at: parent) }
    }

    /// The UTC day, from the project's one timestamp.
    static func today() -> String { String(timestampNow().prefix(10)) }
}
