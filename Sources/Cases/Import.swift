import Foundation

/// What an import did: which cases were stored, which were there already, which were refused
/// and why (one message per refused file, folder or dataset row, naming the file and field).
public struct ImportReport: Sendable, Equatable {
    public var imported: [String] = []
    public var alreadyStored: [String] = []
    public var refused: [(path: String, message: String)] = []
    /// Lab results added (`--labs`) to cases that were already in the store.
    public var labsAdded: [(caseID: String, count: Int)] = []
    /// Set when the store itself failed part-way (a full disk, a lost lock): the cases after
    /// that were not attempted. Each case before it is whole.
    public var stopped: String?
    /// The store written into.
    public var storePath: String?

    public init() {}

    public static func == (a: ImportReport, b: ImportReport) -> Bool {
        a.imported == b.imported && a.alreadyStored == b.alreadyStored
            && a.refused.map(\.path) == b.refused.map(\.path) && a.refused.map(\.message) == b.refused.map(\.message)
            && a.labsAdded.map(\.caseID) == b.labsAdded.map(\.caseID) && a.labsAdded.map(\.count) == b.labsAdded.map(\.count)
            && a.stopped == b.stopped && a.storePath == b.storePath
    }

    /// One refusal as a line: the message, which names the file, led by the path when it does not.
    public static func line(path: String, message: String) -> String {
        message.contains(path) ? message : "\(path): \(message)"
    }

    /// The summary a person reads: the counts (with the case IDs, up to ten), then one line per
    /// refusal saying why. The command line prints it; an import screen can show the same lines.
    public var summaryLines: [String] {
        func ids(_ list: [String]) -> String {
            guard !list.isEmpty else { return "" }
            let shown = list.prefix(10).joined(separator: ", ")
            return ": " + shown + (list.count > 10 ? " and \(list.count - 10) more" : "")
        }
        var lines = ["imported \(imported.count)\(ids(imported))"]
        lines.append("already present \(alreadyStored.count)"
                     + (alreadyStored.isEmpty ? "" : " (already in the store, unchanged)\(ids(alreadyStored))"))
        for l in labsAdded { lines.append("labs added to \(l.caseID): \(l.count)") }
        lines.append("refused \(refused.count)" + (refused.isEmpty ? "" : ":"))
        for r in refused { lines.append("  " + Self.line(path: r.path, message: r.message)) }
        if let stopped { lines.append("stopped: \(stopped); the cases after it were not imported") }
        if let storePath { lines.append("store: \(storePath)") }
        return lines
    }

    public var summary: String { summaryLines.joined(separator: "\n") }
}

// MARK: - The import command's library side

/// What to import (`tumorboard import`, and the workstation's import screen).
public struct ImportRequest: Sendable, Equatable {
    /// Case folders, folders of case folders, BTXRD-like dataset folders, DICOM files, PNG/JPEG
    /// radiographs. Empty with `labs` and `caseID`: add the labs to a case already stored.
    public var paths: [String]
    /// The case's ID for a DICOM file (else its PatientID) or a PNG/JPEG radiograph.
    public var caseID: String?
    /// For a PNG/JPEG radiograph; for a DICOM file, they must agree with its patient tags.
    public var age: Int?
    public var sex: Sex?
    /// Anatomical site and view (for a DICOM file, in place of BodyPartExamined / ViewPosition).
    public var site: String?
    public var view: String?
    /// A lab file (see `LabPanelFile`) for the one case being imported, or for `caseID` alone.
    public var labs: String?
    public var verification: CaseFolder.Verification

    public init(paths: [String] = [], caseID: String? = nil, age: Int? = nil, sex: Sex? = nil, site: String? = nil,
                view: String? = nil, labs: String? = nil, verification: CaseFolder.Verification = .decodeAndHash) {
        self.paths = paths; self.caseID = caseID; self.age = age; self.sex = sex; self.site = site
        self.view = view; self.labs = labs; self.verification = verification
    }

    /// Options that describe one case.
    var oneCaseOptions: [String] {
        var o: [String] = []
        if caseID != nil { o.append("--case-id") }
        if age != nil { o.append("--age") }
        if sex != nil { o.append("--sex") }
        if site != nil { o.append("--site") }
        if view != nil { o.append("--view") }
        return o
    }
}

/// Why an import did not start: nothing was read into the store nor written.
public enum ImportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The request does not fit together (options for one case with several paths, ...).
    case usage(String)
    /// The store cannot be used: not a store, failed integrity check, newer schema, unwritable.
    case store(file: String, problem: String)

    public var description: String {
        switch self {
        case .usage(let m): return m
        case .store(let file, let problem): return "\(file): case store: \(problem); nothing was imported"
        }
    }
}

extension ImportError: LocalizedError {
    public var errorDescription: String? { description }
}

public struct ImportProgress: Sendable, Equatable {
    /// Cases done (imported, already present or refused) of `total`.
    public var done: Int
    public var total: Int
    public init(done: Int, total: Int) { self.done = done; self.total = total }
}

/// Imports paths into a case store, one transaction per case: a bad file is named and skipped,
/// the others go in, and no case is ever half-written. Cases already stored are left as they are
/// ("already present"); several cases with one ID in one import: the first is imported, each
/// later one refused naming both sources. UI-free: the command line and the workstation call it.
public struct Importer: Sendable {
    public var storePath: String
    /// The audit trail's user (default: the login).
    public var user: String?

    public init(storePath: String = CaseStore.defaultPath(), user: String? = nil) {
        self.storePath = storePath
        self.user = user
    }

    /// Checks the request, then the store (it must pass SQLite's quick_check and the foreign-key
    /// check before anything is written), then imports case by case, calling `progress` after
    /// each case. Throws only when nothing was imported (a usage error, an unusable store).
    public func run(_ request: ImportRequest, progress: (ImportProgress) -> Void = { _ in }) throws(ImportError) -> ImportReport {
        let items = request.paths.map(ImportItem.classify)
        try Self.checkUsage(request, items)
        let store = try Self.openChecked(storePath, user: user)
        var run = ImportRun(store: store)
        run.report.storePath = store.path

        // The lab file is read once; when it is bad, the case it belongs to is refused with it.
        var labs: Result<[LabResult], LabFileError>?
        if let path = request.labs {
            do throws(LabFileError) { labs = .success(try LabPanelFile.read(URL(fileURLWithPath: path), name: path)) }
            catch { labs = .failure(error) }
        }
        if request.paths.isEmpty, let id = request.caseID, let path = request.labs, let labs {
            run.addLabsToStoredCase(id, labs, file: path)
            return run.report
        }

        // Datasets are read (their tables only) before the first case, so the total is known.
        var units: [ImportUnit] = []
        for item in items {
            switch item.kind {
            case .unusable(let problem): run.refuse(item.path, problem)
            case .caseFolder: units.append(.caseFolder(item.url))
            case .caseFolders(let subs): units += subs.map { .caseFolder($0) }
            case .dicom: units.append(.dicom(item.url))
            case .image: units.append(.image(item.url))
            case .dataset:
                do throws(CaseError) {
                    let records = try DatasetLayout.read(item.url, hashImages: false) { bad in run.refuse(Self.badRowPath(bad, item.path), "\(bad)") }
                    units += records.map { .datasetRow($0, dataset: item.url.path) }
                } catch { run.refuse(item.path, "\(error)") }
            }
        }
        let total = units.count
        for (i, unit) in units.enumerated() {
            if run.report.stopped != nil { break }
            run.importUnit(unit, request: request, labs: labs)
            progress(ImportProgress(done: i + 1, total: total))
        }
        return run.report
    }

    static func badRowPath(_ e: CaseError, _ fallback: String) -> String {
        if case .dataset(let file, let line, _) = e { return line > 0 ? "\(file):\(line)" : file }
        return fallback
    }

    static func checkUsage(_ r: ImportRequest, _ items: [ImportItem]) throws(ImportError) {
        if let id = r.caseID, !CaseFolder.isValidCaseID(id) {
            throw .usage("--case-id '\(id)' is not a case ID: 1-64 of A-Z a-z 0-9 . _ -, not starting with '.' (a pseudonym, never a name)")
        }
        if let age = r.age, !(0...150).contains(age) { throw .usage("--age must be whole years from 0 to 150, got \(age)") }
        if r.paths.isEmpty {
            guard r.labs != nil else {
                throw .usage("nothing to import: give PATH... (case folders, a dataset folder, DICOM or PNG/JPEG files), or --labs FILE --case-id ID to add labs to a stored case")
            }
            guard r.caseID != nil else { throw .usage("--labs without a PATH adds the labs to a stored case: give its --case-id") }
            let extra = r.oneCaseOptions.filter { $0 != "--case-id" }
            guard extra.isEmpty else { throw .usage("\(extra.joined(separator: ", ")) describe a case being imported; with --labs alone only --case-id is used") }
            return
        }
        let options = r.oneCaseOptions + (r.labs != nil ? ["--labs"] : [])
        guard !options.isEmpty else { return }
        guard items.count == 1 else {
            throw .usage("\(options.joined(separator: ", ")) \(options.count == 1 ? "describes" : "describe") one case: give one PATH with \(options.count == 1 ? "it" : "them") (got \(items.count))")
        }
        switch items[0].kind {
        case .dicom, .image, .unusable: return
        case .caseFolder:
            let notAllowed = r.oneCaseOptions
            guard notAllowed.isEmpty else {
                throw .usage("\(notAllowed.joined(separator: ", ")): a case folder's case.json says these; only --labs can be added to it")
            }
        case .caseFolders, .dataset:
            throw .usage("\(options.joined(separator: ", ")) \(options.count == 1 ? "is" : "are") for one case, but \(items[0].path) holds several; import it without \(options.count == 1 ? "it" : "them")")
        }
    }

    /// Opens the store at `path` for an import, refusing (nothing written) a file that is not an
    /// SQLite database or fails SQLite's quick_check or the foreign-key check. A missing store
    /// is created. The check runs on a plain connection before `CaseStore` opens (and could
    /// migrate) the file.
    public static func openChecked(_ path: String, user: String? = nil) throws(ImportError) -> CaseStore {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        // A PostgreSQL store is checked by its server; the file checks below are SQLite's.
        if !StoreLocation.isURL(path), fm.fileExists(atPath: path, isDirectory: &isDir) {
            guard !isDir.boolValue else { throw .store(file: path, problem: "is a folder; --store takes the store file (e.g. cases.sqlite)") }
            let attributes = try? fm.attributesOfItem(atPath: path)
            guard attributes?[.type] as? FileAttributeType == .typeRegular else {
                throw .store(file: path, problem: "not a regular file")
            }
            // A 0-byte file is refused by CaseStore itself (unless another process is creating it right now).
            if ((attributes?[.size] as? NSNumber)?.intValue ?? 0) > 0 {
                guard let h = FileHandle(forReadingAtPath: path) else { throw .store(file: path, problem: "cannot be read") }
                let head = (try? h.read(upToCount: 16)) ?? Data()
                try? h.close()
                guard head.elementsEqual(Array("SQLite format 3".utf8) + [0]) else {
                    throw .store(file: path, problem: "not an SQLite database (a case store begins with 'SQLite format 3'); give another --store")
                }
                // SQLite reports some damage as an error of the check itself (SQLITE_CORRUPT).
                let problems: String
                do { problems = try SQLiteBackend.quickCheck(path) } catch { problems = "\(error)" }
                guard problems == "ok" else {
                    throw .store(file: path, problem: "the integrity check failed (\(problems.prefix(600))); restore it from a backup, or recover it (sqlite3 \(path) .recover)")
                }
            }
        }
        do { return try CaseStore(path: path, user: user) } catch {
            let named = StoreLocation.isURL(path) ? PostgresURL.redacted(path) : path
            throw .store(file: named, problem: Self.storeProblem(error, named))
        }
    }

    static func storeProblem(_ error: Error, _ path: String) -> String {
        if case .store(let file, let problem)? = error as? CaseError, file == path { return problem }
        return "\(error)"
    }
}

/// One path given to an import, by what it holds.
struct ImportItem: Sendable {
    enum Kind: Sendable {
        case caseFolder
        case caseFolders([URL])
        case dataset
        case dicom
        case image
        case unusable(String)
    }
    let path: String
    let url: URL
    let kind: Kind

    static func classify(_ path: String) -> ImportItem {
        let fm = FileManager.default
        guard !path.trimmingCharacters(in: .whitespaces).isEmpty else {
            return ImportItem(path: path, url: URL(fileURLWithPath: "/"), kind: .unusable("an empty path"))
        }
        let url = URL(fileURLWithPath: path).standardizedFileURL
        func item(_ k: Kind, _ u: URL = url) -> ImportItem { ImportItem(path: path, url: u, kind: k) }
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: url.path, isDirectory: &isDir) else {
            if (try? fm.destinationOfSymbolicLink(atPath: url.path)) != nil {
                return item(.unusable("a symbolic link to nothing, or a loop of links"))
            }
            return item(.unusable("no such file or folder"))
        }
        if isDir.boolValue {
            if fm.fileExists(atPath: url.appendingPathComponent(CaseFolder.manifestName).path) { return item(.caseFolder) }
            if fm.fileExists(atPath: url.appendingPathComponent("cases.csv").path),
               fm.fileExists(atPath: url.appendingPathComponent("images").path) { return item(.dataset) }
            let names: [String]
            do { names = try fm.contentsOfDirectory(atPath: url.path) } catch {
                return item(.unusable("the folder cannot be read (\(error.localizedDescription))"))
            }
            let subs = names.filter { !$0.hasPrefix(".") }.sorted().map { url.appendingPathComponent($0) }
                .filter { fm.fileExists(atPath: $0.appendingPathComponent(CaseFolder.manifestName).path) }
            guard !subs.isEmpty else {
                return item(.unusable("holds no case folder (a folder with case.json), and is not a dataset folder (cases.csv and images/)"))
            }
            return item(.caseFolders(subs))
        }
        if url.lastPathComponent == CaseFolder.manifestName { return item(.caseFolder, url.deletingLastPathComponent()) }
        let type = (try? fm.attributesOfItem(atPath: url.path))?[.type] as? FileAttributeType
        // Before anything opens it: opening a FIFO for reading blocks until a writer comes.
        guard type == .typeRegular else { return item(.unusable("not a regular file")) }
        let ext = url.pathExtension.lowercased()
        if DICOMFile.looksLikeDICOM(url) || ext == "dcm" || ext == "dicom" { return item(.dicom) }
        var head: [UInt8] = []
        if let h = FileHandle(forReadingAtPath: url.path) { head = (try? h.read(upToCount: 4)).map { Array($0) } ?? []; try? h.close() }
        if head.starts(with: [0x89, 0x50, 0x4E, 0x47]) || head.starts(with: [0xFF, 0xD8, 0xFF]) || ["png", "jpg", "jpeg"].contains(ext) {
            return item(.image)
        }
        return item(.unusable("not a case folder, a dataset folder, a DICOM file or a PNG/JPEG radiograph"))
    }
}

/// One case to import.
enum ImportUnit {
    case caseFolder(URL)
    case datasetRow(CaseRecord, dataset: String)
    case dicom(URL)
    case image(URL)
}

/// A refusal with its message as written (the message names the file).
struct ImportRefusal: Error, CustomStringConvertible {
    let description: String
}

/// The state of one import: the report so far and the IDs seen, with where each came from.
struct ImportRun {
    let store: CaseStore
    var report = ImportReport()
    var seen: [String: String] = [:]

    init(store: CaseStore) { self.store = store }

    mutating func refuse(_ path: String, _ message: String) { report.refused.append((path, message)) }

    /// Stores one case in its own transaction. A failure of the store itself (CaseError.store)
    /// ends the import; anything else refuses this case only.
    mutating func commit(_ record: CaseRecord, origin: String, source: String, ifExists: CaseStore.IfExists = .skip,
                        labs: [LabResult]? = nil, labsFile: String? = nil) {
        if let first = seen[record.id] {
            refuse(origin, "case \(record.id) already came from \(first) in this import; this one is not imported")
            return
        }
        var r = record
        if let labs { r.labs += labs }
        do {
            if labs != nil, let labsFile {
                do { _ = try r.labs.panelForDiagnosis() } catch {
                    throw ImportRefusal(description: "\(labsFile): with these labs, case \(r.id) would have \(error); nothing imported")
                }
            }
            let added = try store.add(r, source: source, ifExists: ifExists)
            seen[r.id] = origin
            if added { report.imported.append(r.id) }
            else if let labs, let labsFile { addLabsToStoredCase(r.id, .success(labs), file: labsFile) }
            else { report.alreadyStored.append(r.id) }
        } catch let e as CaseError {
            if case .store(_, let problem) = e { report.stopped = "\(origin): \(problem)" } else { refuse(origin, "\(e)") }
        } catch {
            refuse(origin, "\(error)")
        }
    }

    mutating func importUnit(_ unit: ImportUnit, request: ImportRequest, labs: Result<[LabResult], LabFileError>?) {
        let origin: String
        switch unit {
        case .caseFolder(let u), .dicom(let u), .image(let u): origin = u.path
        case .datasetRow(let r, _): origin = r.radiographs.first?.file ?? r.id
        }
        do {
            var labList: [LabResult]?
            if let labs { labList = try labs.get() }
            let record: CaseRecord
            var source = origin
            switch unit {
            case .caseFolder(let url): record = try CaseFolder.read(url, verification: request.verification)
            case .datasetRow(let r, let dataset):
                // Known before its image is read: a stored case costs no decoding or hashing.
                if seen[r.id] == nil, try store.containsCase(r.id) {
                    seen[r.id] = origin
                    report.alreadyStored.append(r.id)
                    return
                }
                record = try Self.checkedDatasetRow(r, verification: request.verification)
                source = dataset
            case .dicom(let url): record = try Self.dicomRecord(url, request)
            case .image(let url): record = try Self.imageRecord(url, request)
            }
            commit(record, origin: origin, source: source, labs: labList, labsFile: request.labs)
        } catch CaseError.store(_, let problem) {
            report.stopped = "\(origin): \(problem)"
        } catch {
            refuse(origin, "\(error)")
        }
    }

    /// Adds to a stored case the lab results it does not hold yet (same marker, value, unit and
    /// date), in one transaction: a second import of the same file changes nothing.
    mutating func addLabsToStoredCase(_ id: String, _ labs: Result<[LabResult], LabFileError>, file: String) {
        do {
            let list = try labs.get()
            let existing: [LabResult]
            do { existing = try store.load(id).labs } catch CaseError.caseNotFound(_) {
                throw ImportRefusal(description: "\(file): no case '\(id)' in the store; import the case first, or give its file with --labs")
            }
            var missing: [LabResult] = []
            for l in list where !existing.contains(l) && !missing.contains(l) { missing.append(l) }
            if missing.isEmpty { report.alreadyStored.append(id); return }
            do { _ = try (existing + missing).panelForDiagnosis() } catch {
                throw ImportRefusal(description: "\(file): with these labs, case \(id) would have \(error); nothing added")
            }
            try store.addLabs(id, missing)
            report.labsAdded.append((id, missing.count))
        } catch let e as CaseError {
            if case .store(_, let problem) = e { report.stopped = "\(file): \(problem)" } else { refuse(file, "\(e)") }
        } catch {
            refuse(file, "\(error)")
        }
    }

    /// A dataset row's radiograph, hashed (and decoded, as a case folder's) now: one at a time,
    /// so the import shows progress and a bad image costs its case only.
    static func checkedDatasetRow(_ record: CaseRecord, verification: CaseFolder.Verification) throws(CaseError) -> CaseRecord {
        var r = record
        for i in r.radiographs.indices {
            let url = URL(fileURLWithPath: r.radiographs[i].file)
            if verification == .decodeAndHash { _ = try CaseFolder.decodeImage(url, field: "image") }
            if verification != .existence {
                do { r.radiographs[i].sha256 = try SHA256Digest.hex(ofFile: url) } catch {
                    throw .image(field: "image", .unreadable(file: url.path, reason: error.localizedDescription))
                }
            }
        }
        return r
    }

    /// A case from one DICOM file: ID from --case-id, else PatientID when it is a valid case ID;
    /// age and sex from the patient tags (options must agree with them); site, view and date from
    /// BodyPartExamined, ViewPosition and StudyDate unless given. The name is never copied, and
    /// no message repeats a patient tag's value.
    static func dicomRecord(_ url: URL, _ request: ImportRequest) throws -> CaseRecord {
        let d = try DICOMFile(contentsOf: url)
        let id: String
        if let given = request.caseID { id = given } else {
            let pid = d.patient.patientID?.trimmingCharacters(in: .whitespaces) ?? ""
            guard CaseFolder.isValidCaseID(pid) else {
                throw ImportRefusal(description: "\(url.path): no usable case ID: its PatientID is \(pid.isEmpty ? "missing" : "not a case ID (1-64 of A-Z a-z 0-9 . _ -)"); give one with --case-id")
            }
            id = pid
        }
        if let a = request.age, let tag = d.patient.age, a != tag {
            throw ImportRefusal(description: "\(url.path): --age \(a), but the file's patient tags give \(tag); leave --age out, or correct the file")
        }
        if let s = request.sex, let tag = d.patient.sex, s != tag {
            throw ImportRefusal(description: "\(url.path): --sex \(s.rawValue), but the file's PatientSex is \(tag.rawValue); leave --sex out, or correct the file")
        }
        // What the models and the workstation will show must be computable now, not at diagnosis.
        do { _ = try d.displayImage() } catch { throw ImportRefusal(description: ImportReport.line(path: url.path, message: "\(error)")) }
        let acquired = ISODate.fromDICOM(d.studyDate)
        let sha: String
        do { sha = try SHA256Digest.hex(ofFile: url) } catch {
            throw DICOMError.unreadable(file: url.path, reason: error.localizedDescription)
        }
        return CaseRecord(id: id, age: d.patient.age ?? request.age, sex: d.patient.sex ?? request.sex,
                          site: request.site ?? d.bodyPart?.lowercased(),
                          provenance: "DICOM \(url.lastPathComponent)",
                          radiographs: [Radiograph(file: url.path, view: request.view ?? d.viewPosition, acquired: acquired, sha256: sha)])
    }

    /// A case from one PNG/JPEG radiograph, which carries no case data: --case-id, --age, --sex
    /// and --site are required.
    static func imageRecord(_ url: URL, _ request: ImportRequest) throws -> CaseRecord {
        var missing: [String] = []
        if request.caseID == nil { missing.append("--case-id") }
        if request.age == nil { missing.append("--age") }
        if request.sex == nil { missing.append("--sex") }
        if request.site == nil { missing.append("--site") }
        guard missing.isEmpty, let id = request.caseID else {
            throw ImportRefusal(description: "\(url.path): a PNG/JPEG radiograph carries no case data; import it alone with \(missing.joined(separator: ", ")) (and --view if known)")
        }
        _ = try CaseFolder.decodeImage(url, field: "radiograph")
        let sha: String
        do { sha = try SHA256Digest.hex(ofFile: url) } catch {
            throw CaseError.image(field: "radiograph", .unreadable(file: url.path, reason: error.localizedDescription))
        }
        return CaseRecord(id: id, age: request.age, sex: request.sex, site: request.site,
                          provenance: "radiograph \(url.lastPathComponent)",
                          radiographs: [Radiograph(file: url.path, view: request.view, sha256: sha)])
    }
}

extension CaseStore {
    /// True when a case with this ID is stored.
    public func containsCase(_ id: String) throws -> Bool {
        try read { db in try db.exists("SELECT 1 FROM cases WHERE id = ?", [id]) }
    }
}

// MARK: - Lab files

/// Why a lab file was refused: the file as named by the caller, and the problem.
public struct LabFileError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
    public let file: String
    public let problem: String
    public var description: String { "\(file): \(problem)" }
    public var errorDescription: String? { description }
}

/// A loose lab panel file: a JSON list of {"marker", "value", "unit"[, "date"]}, or an object
/// holding that list under "labs". Every marker and unit is checked against biomarkers.json.
/// `predict --labs` (Diagnosis's `LabFile`) and `import --labs` read it here.
public enum LabPanelFile {
    /// Larger than any lab file: a wrong file.
    public static let maxBytes = 4 << 20

    /// `name` is how messages name the file (default: its last path component).
    public static func read(_ url: URL, name: String? = nil, catalog: BiomarkerCatalog? = nil) throws(LabFileError) -> [LabResult] {
        let name = name ?? url.lastPathComponent
        let fm = FileManager.default
        let type = (try? fm.attributesOfItem(atPath: url.path))?[.type] as? FileAttributeType
        guard type == .typeRegular else {
            throw LabFileError(file: url.path, problem: "cannot be read (missing or not a file)")
        }
        // An empty file is refused before it is read (Foundation leaks a page reading one).
        if ((try? fm.attributesOfItem(atPath: url.path))?[.size] as? NSNumber)?.intValue == 0 {
            throw LabFileError(file: name, problem: "empty file (expected a JSON list of {\"marker\", \"value\", \"unit\"})")
        }
        guard let data = fm.contents(atPath: url.path) else {
            throw LabFileError(file: url.path, problem: "cannot be read (missing or not a file)")
        }
        guard data.count <= maxBytes else {
            throw LabFileError(file: name, problem: "\(data.count) bytes, more than the \(maxBytes) a lab file may have")
        }
        guard let root = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else {
            throw LabFileError(file: name, problem: "not JSON (expected a list of {\"marker\", \"value\", \"unit\"})")
        }
        // A file saying two things ({"value": 1, "value": 9}) is refused, as case.json is.
        if let duplicate = data.withUnsafeBytes({ JSONDuplicateKeys.first(in: $0.bindMemory(to: UInt8.self)) }) {
            throw LabFileError(file: name, problem: "field '\(duplicate.field)': the key \"\(duplicate.key)\" appears twice; keep one")
        }
        let list: [Any]
        if let l = root as? [Any] { list = l }
        else if let o = root as? [String: Any], let l = o["labs"] as? [Any] { list = l }
        else { throw LabFileError(file: name, problem: "not a lab panel (expected a JSON list of {\"marker\", \"value\", \"unit\"}, or an object with it under \"labs\")") }
        let labCatalog: BiomarkerCatalog
        if let catalog { labCatalog = catalog } else {
            do { labCatalog = try BiomarkerCatalog.bundled } catch { throw LabFileError(file: "biomarkers.json", problem: "\(error)") }
        }
        var results: [LabResult] = []
        for (i, item) in list.enumerated() {
            func bad(_ field: String, _ what: String) -> LabFileError { LabFileError(file: name, problem: "entry \(i), \(field): \(what)") }
            guard let o = item as? [String: Any] else { throw bad("the entry", "expected an object {\"marker\", \"value\", \"unit\"}, got \(describe(item))") }
            guard let marker = o["marker"] as? String else { throw bad("marker", "expected a text, got \(describe(o["marker"]))") }
            // NSNumber also holds JSON true/false: refuse those as values.
            guard let value = jsonNumber(o["value"]) else {
                throw bad("value", "expected a number, got \(describe(o["value"]))")
            }
            guard let unit = o["unit"] as? String else { throw bad("unit", "expected a text such as \"U/L\", got \(describe(o["unit"]))") }
            var date: String?
            if let d = o["date"], !(d is NSNull) {
                guard let ds = d as? String, ISODate.isValidDay(ds) else { throw bad("date", "expected a calendar date YYYY-MM-DD, got \(describe(d))") }
                date = ds
            }
            let r = LabResult(marker: marker, value: value, unit: unit, date: date)
            do { try labCatalog.validate(r) } catch { throw LabFileError(file: name, problem: "entry \(i) (\(marker)): \(error)") }
            results.append(r)
        }
        return results
    }

    static func describe(_ v: Any?) -> String {
        switch v {
        case nil: return "nothing (missing)"
        case is NSNull: return "null"
        case let s as String: return "the text \"\(s)\""
        case let n as NSNumber where isBoolNumber(n): return n.boolValue ? "true" : "false"
        case let n as NSNumber: return "\(n)"
        case is [Any]: return "a list"
        case is [String: Any]: return "an object"
        case let other?: return "\(type(of: other))"
        }
    }
}

// MARK: - Store-level imports (the samples at start-up, tests)

extension CaseStore {
    /// Imports one case folder (see docs/case-format.md). Everything is checked first (fields,
    /// paths, images decode, labs); then the case is written in one transaction.
    @discardableResult
    public func importCaseFolder(_ folder: URL, verification: CaseFolder.Verification = .decodeAndHash,
                                 ifExists: IfExists = .skip) throws -> Bool {
        let record = try CaseFolder.read(folder.standardizedFileURL, verification: verification)
        return try add(record, source: folder.standardizedFileURL.path, ifExists: ifExists)
    }

    /// Imports every case folder (a subfolder holding case.json) in `folder`. A folder that is
    /// refused is reported and the others are still imported; each case is all or nothing.
    public func importCaseFolders(in folder: URL, verification: CaseFolder.Verification = .decodeAndHash,
                                  ifExists: IfExists = .skip) throws -> ImportReport {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: folder.path, isDirectory: &isDir), isDir.boolValue else { throw CaseError.notAFolder(folder.path) }
        let names = ((try? fm.contentsOfDirectory(atPath: folder.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        var run = ImportRun(store: self)
        for name in names {
            let sub = folder.appendingPathComponent(name)
            guard fm.fileExists(atPath: sub.appendingPathComponent(CaseFolder.manifestName).path) else { continue }
            do {
                let record = try CaseFolder.read(sub, verification: verification)
                run.commit(record, origin: sub.path, source: sub.path, ifExists: ifExists)
            } catch {
                run.refuse(sub.path, "\(error)")
            }
            if let stopped = run.report.stopped { throw CaseError.store(file: path, problem: stopped) }
        }
        return run.report
    }

    /// Imports a dataset laid out like BTXRD (images/<image_id>.png, cases.csv, boxes.csv): one
    /// case per image, ID "BTXRD-<image_id>", with label, subtype, age, sex, site, view and the
    /// reference boxes. Each case goes in its own transaction: a bad row is reported (file and
    /// line) and left out, the others are imported. A table that cannot be read at all refuses
    /// the dataset. `limit` takes the first n rows (tests, quick looks); `hashImages` computes each sha256.
    public func importDataset(_ folder: URL, limit: Int? = nil, hashImages: Bool = true,
                              ifExists: IfExists = .skip) throws -> ImportReport {
        var run = ImportRun(store: self)
        let records = try DatasetLayout.read(folder, limit: limit, hashImages: hashImages) { bad in
            run.refuse(Importer.badRowPath(bad, folder.path), "\(bad)")
        }
        let source = folder.standardizedFileURL.path
        for r in records {
            run.commit(r, origin: r.radiographs.first?.file ?? r.id, source: source, ifExists: ifExists)
            if let stopped = run.report.stopped { throw CaseError.store(file: path, problem: stopped) }
        }
        return run.report
    }

    /// Imports `folder` into this store: a folder of case folders, a single case folder, or a
    /// BTXRD-like dataset. Cases already stored are left as they are.
    public func importAny(_ folder: URL, datasetLimit: Int? = nil, hashImages: Bool = true) throws -> ImportReport {
        let fm = FileManager.default
        if fm.fileExists(atPath: folder.appendingPathComponent("cases.csv").path),
           fm.fileExists(atPath: folder.appendingPathComponent("images").path) {
            return try importDataset(folder, limit: datasetLimit, hashImages: hashImages)
        }
        if fm.fileExists(atPath: folder.appendingPathComponent(CaseFolder.manifestName).path) {
            var run = ImportRun(store: self)
            do {
                let record = try CaseFolder.read(folder.standardizedFileURL)
                run.commit(record, origin: folder.path, source: folder.standardizedFileURL.path)
            } catch { run.refuse(folder.path, "\(error)") }
            if let stopped = run.report.stopped { throw CaseError.store(file: path, problem: stopped) }
            return run.report
        }
        return try importCaseFolders(in: folder)
    }
}

/// Reading a BTXRD-like dataset folder into case records.
public enum DatasetLayout {
    public static func table(_ url: URL, required: [String]) throws(CaseError) -> (header: [String: Int], rows: [(line: Int, fields: [String])]) {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw .missingFile(file: url.deletingLastPathComponent().path, field: "dataset", path: url.lastPathComponent)
        }
        let text = try decodeUTF8(data, file: url.path)
        // "\r\n" is one Character in Swift: split on any line break.
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
        while lines.last == "" { lines.removeLast() }
        guard let first = lines.first else { throw .dataset(file: url.path, line: 1, problem: "empty table, expected a header") }
        let names = splitCSV(first)
        var header: [String: Int] = [:]
        for (i, n) in names.enumerated() { header[n] = i }
        for r in required where header[r] == nil {
            throw .dataset(file: url.path, line: 1, problem: "column '\(r)' missing; header is \(first)")
        }
        var rows: [(Int, [String])] = []
        for (i, line) in lines.enumerated().dropFirst() where !line.isEmpty {
            let f = splitCSV(line)
            guard f.count == names.count else {
                throw .dataset(file: url.path, line: i + 1, problem: "\(f.count) fields, the header has \(names.count)")
            }
            rows.append((i + 1, f))
        }
        return (header, rows)
    }

    /// Comma-separated fields of one line (RFC 4180): double quotes around a field allow commas
    /// inside it, and a doubled quote inside quotes is a quote.
    public static func splitCSV(_ line: String) -> [String] {
        var out: [String] = [], field = "", quoted = false
        let chars = Array(line)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if quoted {
                if c == "\"" {
                    if i + 1 < chars.count, chars[i + 1] == "\"" { field.append("\""); i += 1 } else { quoted = false }
                } else { field.append(c) }
            } else if c == "\"" { quoted = true }
            else if c == "," { out.append(field); field = "" }
            else { field.append(c) }
            i += 1
        }
        out.append(field)
        return out
    }

    public static func read(_ folder: URL, limit: Int? = nil, hashImages: Bool = true) throws(CaseError) -> [CaseRecord] {
        try read(folder, limit: limit, hashImages: hashImages, skippingBadRows: nil)
    }

    /// As `read`, but a bad row of cases.csv or boxes.csv (or a missing image) is handed to
    /// `skippingBadRows` and left out instead of ending the read, when it is given (evaluation
    /// goes on with the rest and reports what was left out).
    public static func read(_ folder: URL, limit: Int? = nil, hashImages: Bool = true,
                            skippingBadRows: ((CaseError) -> Void)?) throws(CaseError) -> [CaseRecord] {
        let casesURL = folder.appendingPathComponent("cases.csv")
        let boxesURL = folder.appendingPathComponent("boxes.csv")
        let images = folder.appendingPathComponent("images")
        let cases = try table(casesURL, required: ["image_id", "label", "age", "sex"])
        var boxes: [String: [LesionBox]] = [:]
        // A case whose box could not be read is left out whole: its reference would be wrong.
        var badBoxes: Set<String> = []
        func skip(_ e: CaseError) throws(CaseError) {
            guard let skippingBadRows else { throw e }
            skippingBadRows(e)
        }
        if FileManager.default.fileExists(atPath: boxesURL.path) {
            let b = try table(boxesURL, required: ["image_id", "x0", "y0", "x1", "y1"])
            for (line, f) in b.rows {
                let v = ["x0", "y0", "x1", "y1"].map { Int(f[b.header[$0]!].trimmingCharacters(in: .whitespaces)) }
                guard let x0 = v[0], let y0 = v[1], let x1 = v[2], let y1 = v[3], x0 >= 0, y0 >= 0, x1 > x0, y1 > y0 else {
                    try skip(.dataset(file: boxesURL.path, line: line, problem: "box needs whole numbers 0 <= x0 < x1 and 0 <= y0 < y1"))
                    badBoxes.insert(f[b.header["image_id"]!])
                    continue
                }
                boxes[f[b.header["image_id"]!], default: []].append(LesionBox(x0: x0, y0: y0, x1: x1, y1: y1))
            }
        }
        let h = cases.header
        func col(_ f: [String], _ name: String) -> String? {
            guard let i = h[name] else { return nil }
            let v = f[i].trimmingCharacters(in: .whitespaces)
            return v.isEmpty ? nil : v
        }
        var out: [CaseRecord] = []
        for (line, f) in cases.rows.prefix(limit ?? Int.max) {
            guard let imageID = col(f, "image_id"), CaseFolder.isValidCaseID(imageID) else {
                try skip(.dataset(file: casesURL.path, line: line, problem: "image_id '\(f[h["image_id"]!])' is not a valid ID"))
                continue
            }
            guard let labelText = col(f, "label"), let label = DiagnosisLabel(rawValue: labelText) else {
                try skip(.dataset(file: casesURL.path, line: line, problem: "label '\(col(f, "label") ?? "")' is not one of \(DiagnosisLabel.allCases.map(\.rawValue).joined(separator: ", "))"))
                continue
            }
            guard let ageText = col(f, "age"), let age = Int(ageText), (0...150).contains(age) else {
                try skip(.dataset(file: casesURL.path, line: line, problem: "age '\(col(f, "age") ?? "")' is not a whole number of years"))
                continue
            }
            guard let sexText = col(f, "sex"), let sex = Sex(rawValue: sexText) else {
                try skip(.dataset(file: casesURL.path, line: line, problem: "sex '\(col(f, "sex") ?? "")' is not F or M"))
                continue
            }
            var image: URL?
            for ext in ["png", "jpg", "jpeg", "dcm"] {
                let u = images.appendingPathComponent("\(imageID).\(ext)")
                if FileManager.default.fileExists(atPath: u.path) { image = u; break }
            }
            guard let image else {
                try skip(.dataset(file: casesURL.path, line: line, problem: "no image images/\(imageID).png (or .jpg, .jpeg, .dcm)"))
                continue
            }
            if badBoxes.contains(imageID) { continue }
            var sha: String?
            if hashImages {
                do { sha = try SHA256Digest.hex(ofFile: image) } catch {
                    try skip(.dataset(file: image.path, line: 0, problem: "cannot be read (\(error.localizedDescription))"))
                    continue
                }
            }
            out.append(CaseRecord(
                id: "BTXRD-\(imageID)", age: age, sex: sex, site: col(f, "site"), label: label,
                subtype: col(f, "subtype"),
                provenance: "BTXRD \(imageID): a real radiograph (Yao et al., Sci Data 2025; CC BY-NC-ND 4.0; research and education only)",
                radiographs: [Radiograph(file: image.standardizedFileURL.path, view: col(f, "view"), sha256: sha,
                                         boxes: boxes[imageID] ?? [])]))
        }
        return out
    }
}

extension CaseRecord {
    /// A case made from one DICOM file: age and sex from its patient tags (the name and
    /// patient ID are not copied: the case ID is the caller's pseudonym), view from
    /// ViewPosition, acquisition date from StudyDate, site from BodyPartExamined.
    public static func fromDICOM(_ url: URL, caseID: String) throws(CaseError) -> CaseRecord {
        let d: DICOMFile
        do { d = try DICOMFile(contentsOf: url) } catch { throw .dicom(field: "file", error) }
        guard CaseFolder.isValidCaseID(caseID) else {
            throw .manifest(file: url.path, field: "id", problem: "'\(caseID)' is not a case ID")
        }
        let acquired = ISODate.fromDICOM(d.studyDate)
        let sha: String
        do { sha = try SHA256Digest.hex(ofFile: url) } catch {
            throw .dicom(field: "file", .unreadable(file: url.path, reason: error.localizedDescription))
        }
        return CaseRecord(id: caseID, age: d.patient.age, sex: d.patient.sex, site: d.bodyPart?.lowercased(),
                          provenance: "DICOM \(url.lastPathComponent)",
                          radiographs: [Radiograph(file: url.standardizedFileURL.path, view: d.viewPosition,
                                                   acquired: acquired, sha256: sha)])
    }
}

// MARK: - One study's DICOM files as one case (a PACS retrieve)

extension Importer {
    /// Imports the DICOM files of one study (a PACS retrieve) as one case, one radiograph per
    /// file, in one transaction, after the checks of `tumorboard import FILE.dcm` on each file
    /// (`ImportRun.dicomRecord`: it decodes for display, takes age, sex, site, view and date
    /// from the tags, never the name). The case ID is `caseID`, else the files' PatientID, which
    /// must be a case ID and the same in every file. A case already stored is left as it is.
    /// `origin` names the study in the report; `provenance` is kept with the case. The store is
    /// one already opened with `openChecked` (the PACS import opens it before its first request).
    public static func importStudy(_ files: [URL], into store: CaseStore, caseID: String?, origin: String,
                                   provenance: String) -> ImportReport {
        var run = ImportRun(store: store)
        run.report.storePath = store.path
        guard !files.isEmpty else {
            run.refuse(origin, "\(origin): no DICOM file to import")
            return run.report
        }
        var records: [CaseRecord] = []
        for file in files {
            do { records.append(try ImportRun.dicomRecord(file, ImportRequest(paths: [file.path], caseID: caseID))) } catch {
                // One bad image refuses the study: a case is all or nothing.
                run.refuse(origin, "\(origin): \(ImportReport.line(path: file.path, message: "\(error)"))")
                return run.report
            }
        }
        // Patient tags are compared, never repeated in a message.
        guard Set(records.map(\.id)).count == 1 else {
            run.refuse(origin, "\(origin): the files carry different PatientIDs; a case is one patient (give --case-id only when they are one person)")
            return run.report
        }
        guard Set(records.compactMap(\.age)).count <= 1, Set(records.compactMap(\.sex)).count <= 1 else {
            run.refuse(origin, "\(origin): the files' patient tags disagree on age or sex; correct them on the PACS, then import again")
            return run.report
        }
        var record = records[0]
        record.age = records.lazy.compactMap(\.age).first
        record.sex = records.lazy.compactMap(\.sex).first
        record.site = records.lazy.compactMap(\.site).first
        record.provenance = provenance
        record.radiographs = records.flatMap(\.radiographs)
        run.commit(record, origin: origin, source: origin)
        return run.report
    }
}
