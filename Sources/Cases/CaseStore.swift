import Foundation
import GRDB

/// The case store: one SQLite file through GRDB, in WAL mode, so several TumorBoard processes
/// (several users over SSH) can read and write it at once. Images stay where they are, as
/// files referenced by absolute path and sha256. Every change to a case is written in the same
/// transaction as an audit row (user from the environment, UTC time), so the trail cannot
/// miss a change nor record one that did not happen.
///
/// Schema versions are kept in `PRAGMA user_version` and applied by `migrations` inside one
/// IMMEDIATE transaction, which makes two processes that open a new store at the same moment
/// safe: the second waits, re-reads the version and finds nothing to do.
public final class CaseStore: Sendable {
    public let path: String
    /// Written into the audit trail.
    public let user: String
    let pool: DatabasePool

    /// The schema, one step per version; a step is never edited once shipped, only appended.
    static let migrations: [(version: Int, name: String, sql: String)] = [
        (1, "cases, images, slides, labs, findings, audit", """
        CREATE TABLE cases (
            id TEXT PRIMARY KEY NOT NULL,
            age INTEGER CHECK (age IS NULL OR (age >= 0 AND age <= 150)),
            sex TEXT CHECK (sex IS NULL OR sex IN ('F', 'M')),
            site TEXT,
            clinical_note TEXT,
            label TEXT CHECK (label IS NULL OR label IN ('normal', 'benign', 'intermediate', 'malignant')),
            subtype TEXT,
            provenance TEXT,
            review_note TEXT,
            signed_off_by TEXT,
            signed_off_at TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        ) STRICT;
        CREATE TABLE radiographs (
            id INTEGER PRIMARY KEY,
            case_id TEXT NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            path TEXT NOT NULL,
            sha256 TEXT,
            view TEXT,
            acquired TEXT,
            boxes TEXT NOT NULL DEFAULT '[]'
        ) STRICT;
        CREATE INDEX radiographs_case ON radiographs(case_id);
        CREATE TABLE slides (
            id INTEGER PRIMARY KEY,
            case_id TEXT NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
            slide_id TEXT NOT NULL,
            block TEXT,
            stain TEXT,
            path TEXT NOT NULL,
            sha256 TEXT,
            entered_by TEXT,
            entered_at TEXT
        ) STRICT;
        CREATE INDEX slides_case ON slides(case_id);
        CREATE TABLE labs (
            id INTEGER PRIMARY KEY,
            case_id TEXT NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
            marker TEXT NOT NULL,
            value REAL NOT NULL,
            unit TEXT NOT NULL,
            date TEXT
        ) STRICT;
        CREATE INDEX labs_case ON labs(case_id);
        CREATE TABLE findings (
            id INTEGER PRIMARY KEY,
            case_id TEXT NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            models TEXT NOT NULL,
            probabilities TEXT NOT NULL,
            boxes TEXT NOT NULL,
            modalities TEXT NOT NULL,
            note TEXT
        ) STRICT;
        CREATE INDEX findings_case ON findings(case_id);
        -- No foreign key: the trail outlives a deleted case.
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            case_id TEXT NOT NULL,
            at TEXT NOT NULL,
            user TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL
        ) STRICT;
        CREATE INDEX audit_case ON audit(case_id);
        """),
        (2, "where each case came from (import source)", """
        ALTER TABLE cases ADD COLUMN source TEXT;
        """),
        (3, "whole diagnosis results, keyed by what the case held and the model digests", """
        ALTER TABLE findings ADD COLUMN input_key TEXT;
        ALTER TABLE findings ADD COLUMN result TEXT;
        CREATE INDEX findings_input ON findings(case_id, input_key);
        """),
        (4, "a version per case for the edit check; who entered each lab result", """
        ALTER TABLE cases ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE labs ADD COLUMN entered_by TEXT;
        ALTER TABLE labs ADD COLUMN entered_at TEXT;
        """),
    ]

    public static var schemaVersion: Int { migrations.last!.version }

    /// TUMORBOARD_STORE, else $XDG_DATA_HOME/tumorboard/cases.sqlite, else
    /// ~/.local/share/tumorboard/cases.sqlite.
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let p = environment["TUMORBOARD_STORE"], !p.isEmpty { return p }
        let base: String
        if let x = environment["XDG_DATA_HOME"], x.hasPrefix("/") { base = x }
        else { base = (environment["HOME"] ?? NSHomeDirectory()) + "/.local/share" }
        return base + "/tumorboard/cases.sqlite"
    }

    /// Opens (creating if needed) the store at `path` (default: `defaultPath()`), migrating it
    /// to the current schema. `user` defaults to USER / LOGNAME.
    public init(path: String? = nil, user: String? = nil, busyTimeout: TimeInterval = 30) throws {
        let file = path ?? Self.defaultPath()
        self.path = file
        self.user = user ?? currentUserName()
        let folder = URL(fileURLWithPath: file).deletingLastPathComponent()
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw CaseError.store(file: file, problem: "cannot create its folder (\(error.localizedDescription))")
        }
        let fm = FileManager.default
        let existed = fm.fileExists(atPath: file)
        if existed, let a = try? fm.attributesOfItem(atPath: file), (a[.size] as? NSNumber)?.intValue == 0,
           let modified = a[.modificationDate] as? Date, Date().timeIntervalSince(modified) > Self.creationGrace {
            // A store being created by another process right now is younger than this.
            throw CaseError.store(file: file, problem: "an empty (0-byte) file, not a case store; remove it, or give another path")
        }
        var config = Configuration()
        config.busyMode = .timeout(busyTimeout)
        config.foreignKeysEnabled = true
        config.label = "CaseStore"
        config.prepareDatabase { db in
            // Durable against a killed process in WAL mode; a power cut may lose the last commits only.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        // Two processes creating the same new store at once can see SQLITE_BUSY from the switch
        // to WAL mode, which SQLite does not route through the busy handler: retry until the
        // busy timeout, as the busy handler would.
        let deadline = Date().addingTimeInterval(busyTimeout)
        var opened: DatabasePool?
        while opened == nil {
            do {
                opened = try DatabasePool(path: file, configuration: config)
            } catch let e as DatabaseError where (e.resultCode == .SQLITE_BUSY || e.resultCode == .SQLITE_LOCKED) && Date() < deadline {
                usleep(20_000)
            } catch {
                throw CaseError.store(file: file, problem: "cannot be opened (\(error))")
            }
        }
        pool = opened!
        if !existed { Self.restrictToOwnerAndGroup(file) }
        try migrate()
    }

    /// A 0-byte file older than this is refused (younger: another process is creating the store).
    static let creationGrace: TimeInterval = 10

    /// The store holds patient data: a new store and its WAL files are readable and writable by
    /// the owner and the group only (mode 0660, whatever the umask); SQLite gives the WAL and
    /// shared-memory files it creates later the mode of the database file.
    static func restrictToOwnerAndGroup(_ file: String) {
        for f in [file, file + "-wal", file + "-shm"] where FileManager.default.fileExists(atPath: f) {
            _ = chmod(f, 0o660)
        }
    }

    func fail(_ error: Error) -> Error {
        if error is CaseError { return error }
        return CaseError.store(file: path, problem: "\(error)")
    }

    func migrate() throws {
        let latest = Self.schemaVersion
        do {
            try pool.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
                    guard version <= latest else {
                        throw CaseError.store(file: path, problem: "schema version \(version) was written by a newer TumorBoard (this one knows up to \(latest)); update TumorBoard")
                    }
                    for step in Self.migrations where step.version > version {
                        try db.execute(sql: step.sql)
                        try db.execute(sql: "PRAGMA user_version = \(step.version)")
                    }
                    return .commit
                }
            }
        } catch { throw fail(error) }
    }

    /// The schema version of the file (PRAGMA user_version).
    public func fileSchemaVersion() throws -> Int {
        do { return try pool.read { db in try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0 } } catch { throw fail(error) }
    }

    public func journalMode() throws -> String {
        do { return try pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "" } } catch { throw fail(error) }
    }

    /// SQLite's `PRAGMA integrity_check` plus a foreign-key check: "ok" when consistent.
    public func integrityCheck() throws -> String {
        do {
            return try pool.read { db in
                let rows = try String.fetchAll(db, sql: "PRAGMA integrity_check")
                let fk = try Row.fetchAll(db, sql: "PRAGMA foreign_key_check")
                if rows == ["ok"], fk.isEmpty { return "ok" }
                return (rows + fk.map { "foreign key: \($0)" }).joined(separator: "; ")
            }
        } catch { throw fail(error) }
    }

    // MARK: - Writing

    /// One transaction holding the change and its audit rows.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try pool.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .commit
                }
                return result!
            }
        } catch { throw fail(error) }
    }

    func audit(_ db: Database, _ caseID: String, _ action: String, _ detail: String, at: String) throws {
        try db.execute(sql: "INSERT INTO audit (case_id, at, user, action, detail) VALUES (?, ?, ?, ?, ?)",
                       arguments: [caseID, at, user, action, detail])
    }

    /// Every edit of a case goes through here, inside its transaction: the case must exist, must
    /// still be at `expected` (the version the editor read; nil: whatever it is now), and must not
    /// be signed off unless `whileSigned`; then its version goes up by one.
    func touch(_ db: Database, _ caseID: String, at: String, expected: Int? = nil, whileSigned: Bool = false) throws {
        guard let row = try Row.fetchOne(db, sql: "SELECT version, signed_off_by, signed_off_at FROM cases WHERE id = ?",
                                         arguments: [caseID]) else { throw CaseError.caseNotFound(caseID) }
        let version: Int = row["version"]
        if let expected, version != expected {
            let last = try Row.fetchOne(db, sql: "SELECT user, at, action FROM audit WHERE case_id = ? AND action != ? ORDER BY id DESC LIMIT 1",
                                        arguments: [caseID, Self.findingAction])
            throw CaseError.conflict(caseID: caseID, by: last?["user"] ?? "someone", at: last?["at"] ?? "?", action: last?["action"] ?? "changed")
        }
        if !whileSigned, let by: String = row["signed_off_by"] {
            throw CaseError.signedOff(caseID: caseID, by: by, at: row["signed_off_at"] ?? "?")
        }
        try db.execute(sql: "UPDATE cases SET updated_at = ?, version = version + 1 WHERE id = ?", arguments: [at, caseID])
    }

    /// The audit action of a kept model result: not an edit, so it neither needs nor changes the version.
    static let findingAction = "finding added"

    public enum IfExists: Sendable {
        /// Leave the stored case as it is.
        case skip
        /// Delete the stored case (not its audit trail) and store the new one.
        case replace
        case fail
    }

    /// Stores a whole case (images must already be absolute paths). Returns false when the
    /// case existed and `ifExists` is `.skip`.
    @discardableResult
    public func add(_ record: CaseRecord, source: String? = nil, ifExists: IfExists = .fail) throws -> Bool {
        try write { db in try insert(db, record, source: source, ifExists: ifExists) }
    }

    func insert(_ db: Database, _ r: CaseRecord, source: String?, ifExists: IfExists) throws -> Bool {
        guard CaseFolder.isValidCaseID(r.id) else {
            throw CaseError.manifest(file: source ?? path, field: "id", problem: "'\(r.id)' is not a case ID")
        }
        let now = timestampNow()
        if try Bool.fetchOne(db, sql: "SELECT 1 FROM cases WHERE id = ?", arguments: [r.id]) == true {
            switch ifExists {
            case .skip: return false
            case .fail: throw CaseError.duplicateCase(r.id)
            case .replace:
                try db.execute(sql: "DELETE FROM cases WHERE id = ?", arguments: [r.id])
                try audit(db, r.id, "replaced", "by a new import" + (source.map { " from \($0)" } ?? ""), at: now)
            }
        }
        try db.execute(sql: """
            INSERT INTO cases (id, age, sex, site, clinical_note, label, subtype, provenance, review_note,
                               signed_off_by, signed_off_at, created_at, updated_at, source)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [r.id, r.age, r.sex?.rawValue, r.site, r.clinicalNote, r.label?.rawValue, r.subtype,
                             r.provenance, r.review?.note, r.review?.signedOffBy, r.review?.signedOffAt, now, now, source])
        for (i, g) in r.radiographs.enumerated() {
            try db.execute(sql: "INSERT INTO radiographs (case_id, position, path, sha256, view, acquired, boxes) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           arguments: [r.id, i, g.file, g.sha256, g.view, g.acquired, jsonText(g.boxes)])
        }
        for s in r.slides { try insertSlide(db, r.id, s) }
        for l in r.labs { try insertLab(db, r.id, l) }
        for f in r.findings { try insertFinding(db, r.id, f) }
        try audit(db, r.id, "created", source.map { "imported from \($0)" } ?? "added", at: now)
        return true
    }

    func insertSlide(_ db: Database, _ id: String, _ s: SlideReference) throws {
        try db.execute(sql: "INSERT INTO slides (case_id, slide_id, block, stain, path, sha256, entered_by, entered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       arguments: [id, s.slideID, s.block, s.stain, s.file, s.sha256, s.enteredBy, s.enteredAt])
    }
    func insertLab(_ db: Database, _ id: String, _ l: LabResult, by: String? = nil, at: String? = nil) throws {
        try db.execute(sql: "INSERT INTO labs (case_id, marker, value, unit, date, entered_by, entered_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       arguments: [id, l.marker, l.value, l.unit, l.date, by, at])
    }
    func insertFinding(_ db: Database, _ id: String, _ f: Finding, inputKey: String? = nil, result: String? = nil) throws {
        try db.execute(sql: "INSERT INTO findings (case_id, created_at, models, probabilities, boxes, modalities, note, input_key, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       arguments: [id, f.createdAt, jsonText(f.models), jsonText(f.probabilities), jsonText(f.boxes),
                                   jsonText(f.modalities), f.note, inputKey, result])
    }

    public func setClinicalNote(_ caseID: String, _ note: String?, expectedVersion: Int? = nil) throws {
        try write { db in
            let now = timestampNow()
            try touch(db, caseID, at: now, expected: expectedVersion)
            try db.execute(sql: "UPDATE cases SET clinical_note = ? WHERE id = ?", arguments: [note, caseID])
            try audit(db, caseID, "clinical note edited", note ?? "(removed)", at: now)
        }
    }

    /// Adds a slide reference, stored by absolute path and sha256; `enteredBy` / `enteredAt`
    /// default to this store's user and now. A relative path is resolved inside the case's own
    /// folder (the one it was imported from) by the case-folder rules: `..`, or a link leading
    /// out of the folder, is refused. An absolute path (a scanner's file share) must exist.
    public func addSlide(_ caseID: String, _ slide: SlideReference, expectedVersion: Int? = nil) throws {
        var s = slide
        let url: URL
        if s.file.hasPrefix("/") {
            url = URL(fileURLWithPath: s.file).standardizedFileURL
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw CaseError.missingFile(file: caseID, field: "slide.file", path: s.file)
            }
        } else {
            guard let folder = try caseFolder(caseID) else {
                throw CaseError.manifest(file: caseID, field: "slide.file",
                                         problem: "'\(s.file)' is relative but the case has no case folder; give an absolute path")
            }
            url = try CaseFolder.resolveInside(folder, s.file, manifest: folder.path, field: "slide.file")
        }
        s.file = url.path
        if s.sha256 == nil { s.sha256 = try SHA256Digest.hex(ofFile: url) }
        let now = timestampNow()
        s.enteredBy = s.enteredBy ?? user
        s.enteredAt = s.enteredAt ?? now
        try write { db in
            try touch(db, caseID, at: now, expected: expectedVersion)
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM slides WHERE case_id = ? AND slide_id = ?", arguments: [caseID, s.slideID]) == true {
                throw CaseError.manifest(file: caseID, field: "slide ID", problem: "'\(s.slideID)' is already a slide of this case")
            }
            try insertSlide(db, caseID, s)
            try audit(db, caseID, "slide added", "\(s.slideID) \(s.stain ?? "") \(s.file) sha256 \(s.sha256 ?? "")", at: now)
        }
    }

    /// Adds a lab result after checking marker, unit and value against biomarkers.json.
    public func addLab(_ caseID: String, _ lab: LabResult, catalog: BiomarkerCatalog? = nil) throws {
        try (catalog ?? BiomarkerCatalog.bundled).validate(lab)
        try write { db in
            let now = timestampNow()
            try touch(db, caseID, at: now)
            try insertLab(db, caseID, lab, by: user, at: now)
            try audit(db, caseID, "lab added", "\(lab.marker) \(lab.value) \(lab.unit)" + (lab.date.map { " on \($0)" } ?? ""), at: now)
        }
    }

    /// Adds several lab results in one transaction.
    public func addLabs(_ caseID: String, _ labs: [LabResult], catalog: BiomarkerCatalog? = nil) throws {
        let c = try catalog ?? BiomarkerCatalog.bundled
        for l in labs { try c.validate(l) }
        try write { db in
            let now = timestampNow()
            try touch(db, caseID, at: now)
            for l in labs { try insertLab(db, caseID, l, by: user, at: now) }
            try audit(db, caseID, "labs added", labs.map { "\($0.marker) \($0.value) \($0.unit)" }.joined(separator: ", "), at: now)
        }
    }

    /// Keeps a prediction with the models that produced it. `inputKey` (a digest of what the
    /// case held and of the model weights) and `result` (the whole diagnosis as JSON) let a later
    /// session reuse it while neither the case nor the models changed (`storedResult`).
    /// A model result is not an edit: it is kept on a signed case too, and leaves the version as it is.
    public func addFinding(_ caseID: String, _ finding: Finding, inputKey: String? = nil, result: String? = nil) throws {
        try write { db in
            let now = timestampNow()
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM cases WHERE id = ?", arguments: [caseID]) == true else {
                throw CaseError.caseNotFound(caseID)
            }
            try insertFinding(db, caseID, finding, inputKey: inputKey, result: result)
            try audit(db, caseID, Self.findingAction, jsonText(finding.models), at: now)
        }
    }

    /// The newest whole result kept for this case under `inputKey`, or nil.
    public func storedResult(_ caseID: String, inputKey: String) throws -> String? {
        do {
            return try pool.read { db in
                try String.fetchOne(db, sql: "SELECT result FROM findings WHERE case_id = ? AND input_key = ? AND result IS NOT NULL ORDER BY id DESC LIMIT 1",
                                    arguments: [caseID, inputKey])
            }
        } catch { throw fail(error) }
    }

    public func setReviewNote(_ caseID: String, _ note: String?, expectedVersion: Int? = nil) throws {
        let text = note.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
        try write { db in
            let now = timestampNow()
            try touch(db, caseID, at: now, expected: expectedVersion)
            try db.execute(sql: "UPDATE cases SET review_note = ? WHERE id = ?", arguments: [text, caseID])
            try audit(db, caseID, "review note edited", text ?? "(removed)", at: now)
        }
    }

    /// The reviewer (this store's user) signs the case off now; from then on the case is
    /// read-only until it is reopened with a reason.
    public func signOff(_ caseID: String, expectedVersion: Int? = nil) throws {
        try write { db in
            let now = timestampNow()
            try touch(db, caseID, at: now, expected: expectedVersion)
            try db.execute(sql: "UPDATE cases SET signed_off_by = ?, signed_off_at = ? WHERE id = ?", arguments: [user, now, caseID])
            try audit(db, caseID, "signed off", "by \(user)", at: now)
        }
    }

    /// Reopens a signed case for changes; the reason goes into the audit trail.
    public func reopen(_ caseID: String, reason: String, expectedVersion: Int? = nil) throws {
        let why = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !why.isEmpty else {
            throw CaseError.manifest(file: caseID, field: "reason", problem: "reopening a signed case needs a reason (it goes into the audit trail)")
        }
        try write { db in
            let now = timestampNow()
            guard let row = try Row.fetchOne(db, sql: "SELECT signed_off_by, signed_off_at FROM cases WHERE id = ?", arguments: [caseID]) else {
                throw CaseError.caseNotFound(caseID)
            }
            guard let by: String = row["signed_off_by"] else {
                throw CaseError.manifest(file: caseID, field: "reopen", problem: "the case is not signed off, so there is nothing to reopen")
            }
            try touch(db, caseID, at: now, expected: expectedVersion, whileSigned: true)
            try db.execute(sql: "UPDATE cases SET signed_off_by = NULL, signed_off_at = NULL WHERE id = ?", arguments: [caseID])
            try audit(db, caseID, "reopened", "signed off by \(by) at \(row["signed_off_at"] ?? "?"); reason: \(why)", at: now)
        }
    }

    /// Sets a lab result: the case's result for `lab.marker` on `lab.date` (the undated one when
    /// `lab.date` is nil) is corrected when there is one, else the result is added. Refused,
    /// naming the reason, for an unknown marker or unit, an impossible value, or when the
    /// change would leave the case with two results the models could not choose between (the
    /// rule of `panelForDiagnosis`). Returns what was done ("added" or "corrected ...").
    @discardableResult
    public func setLab(_ caseID: String, _ lab: LabResult, expectedVersion: Int? = nil, catalog: BiomarkerCatalog? = nil) throws -> String {
        let c = try catalog ?? BiomarkerCatalog.bundled
        try c.validate(lab)
        if let d = lab.date, !ISODate.isValidDay(d) {
            throw CaseError.manifest(file: caseID, field: "date", problem: "'\(d)' is not a date (YYYY-MM-DD)")
        }
        return try write { db in
            let now = timestampNow()
            try touch(db, caseID, at: now, expected: expectedVersion)
            let rows = try Row.fetchAll(db, sql: "SELECT id, marker, value, unit, date FROM labs WHERE case_id = ? ORDER BY id", arguments: [caseID])
            var labs = rows.map { LabResult(marker: $0["marker"], value: $0["value"], unit: $0["unit"], date: $0["date"]) }
            let same = rows.indices.filter { labs[$0].marker == lab.marker && labs[$0].date == lab.date }
            let done: String
            if let k = same.first {
                let old = labs[k]
                labs[k] = lab
                try db.execute(sql: "UPDATE labs SET value = ?, unit = ?, entered_by = ?, entered_at = ? WHERE id = ?",
                               arguments: [lab.value, lab.unit, user, now, rows[k]["id"] as Int64])
                done = "corrected \(lab.marker) \(old.value) \(old.unit) -> \(lab.value) \(lab.unit)" + (lab.date.map { " on \($0)" } ?? "")
                try audit(db, caseID, "lab corrected", String(done.dropFirst("corrected ".count)), at: now)
            } else {
                labs.append(lab)
                try insertLab(db, caseID, lab, by: user, at: now)
                done = "added \(lab.marker) \(lab.value) \(lab.unit)" + (lab.date.map { " on \($0)" } ?? "")
                try audit(db, caseID, "lab added", String(done.dropFirst("added ".count)), at: now)
            }
            do throws(LabError) { _ = try labs.panelForDiagnosis() } catch {
                throw CaseError.lab(file: caseID, field: lab.marker, error)
            }
            return done
        }
    }

    // MARK: - Reading

    /// The folder a case was imported from, when it was a case folder.
    public func caseFolder(_ id: String) throws -> URL? {
        let source: String?
        do {
            source = try pool.read { db -> String? in
                guard let row = try Row.fetchOne(db, sql: "SELECT source FROM cases WHERE id = ?", arguments: [id]) else {
                    throw CaseError.caseNotFound(id)
                }
                return row["source"]
            }
        } catch { throw fail(error) }
        guard let source, FileManager.default.fileExists(atPath: source + "/" + CaseFolder.manifestName) else { return nil }
        return URL(fileURLWithPath: source)
    }

    /// Writes a stored case as a case folder `into/<id>/` (images copied, manifest last).
    @discardableResult
    public func export(_ id: String, into parent: URL) throws -> URL {
        try CaseFolder.export(try load(id), into: parent)
    }

    public func caseIDs() throws -> [String] {
        do { return try pool.read { db in try String.fetchAll(db, sql: "SELECT id FROM cases ORDER BY id") } } catch { throw fail(error) }
    }

    public func count() throws -> Int {
        do { return try pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM cases") ?? 0 } } catch { throw fail(error) }
    }

    /// The case's version: it goes up by one with every edit (not with kept model results).
    /// An editor passes the version it read as `expectedVersion`; a save over a newer one is refused.
    public func version(of id: String) throws -> Int {
        do {
            return try pool.read { db in
                guard let v = try Int.fetchOne(db, sql: "SELECT version FROM cases WHERE id = ?", arguments: [id]) else {
                    throw CaseError.caseNotFound(id)
                }
                return v
            }
        } catch { throw fail(error) }
    }

    /// Every case's version, by ID (what a workstation compares to see which cases changed).
    public func versions() throws -> [String: Int] {
        do {
            return try pool.read { db in
                var out: [String: Int] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT id, version FROM cases") { out[row["id"]] = row["version"] }
                return out
            }
        } catch { throw fail(error) }
    }

    /// A number that changes whenever a case is created, replaced or edited (every such write
    /// adds an audit row; kept model results are left out, so another workstation's "run all"
    /// does not make everyone re-read the store): the newest such row, found by walking the
    /// audit table back from its end, cheap enough to poll every half second.
    public func changeToken() throws -> Int64 {
        do {
            return try pool.read { db in
                try Int64.fetchOne(db, sql: "SELECT id FROM audit WHERE action != ? ORDER BY id DESC LIMIT 1",
                                   arguments: [Self.findingAction]) ?? 0
            }
        } catch { throw fail(error) }
    }

    public func load(_ id: String) throws -> CaseRecord {
        let found = try records(where: "WHERE case_id = ?", caseWhere: "WHERE id = ?", arguments: [id])
        if let problem = found.problems.first { throw CaseError.store(file: path, problem: problem) }
        guard let r = found.records.first else { throw CaseError.caseNotFound(id) }
        return r
    }

    /// The case and its version, read in one snapshot.
    public func loadVersioned(_ id: String) throws -> (record: CaseRecord, version: Int) {
        let found = try records(where: "WHERE case_id = ?", caseWhere: "WHERE id = ?", arguments: [id])
        if let problem = found.problems.first { throw CaseError.store(file: path, problem: problem) }
        guard let r = found.records.first, let v = found.versions[id] else { throw CaseError.caseNotFound(id) }
        return (r, v)
    }

    /// Every stored case, ordered by ID, read in one snapshot (one query per table). A case with
    /// a row that cannot be read is refused (see `allRecordsReportingProblems`).
    public func allRecords() throws -> [CaseRecord] {
        let found = try records(where: "", caseWhere: "", arguments: [])
        if let problem = found.problems.first { throw CaseError.store(file: path, problem: problem) }
        return found.records
    }

    /// Every case that can be read, with their versions, and one message per case left out
    /// because a row of it is malformed (naming the case, the table, the row and the column),
    /// so one bad row costs one case, not the store.
    public func allRecordsReportingProblems() throws -> (records: [CaseRecord], versions: [String: Int], problems: [String]) {
        try records(where: "", caseWhere: "", arguments: [])
    }

    func records(where filter: String, caseWhere: String, arguments: StatementArguments) throws
        -> (records: [CaseRecord], versions: [String: Int], problems: [String]) {
        do {
            return try pool.read { db in
                var order: [String] = []
                var byID: [String: CaseRecord] = [:]
                var versions: [String: Int] = [:]
                var bad: [String: String] = [:]
                func json<T: Decodable>(_ type: T.Type, _ row: Row, _ column: String, table: String, case id: String) -> T? {
                    let text: String? = row[column]
                    do { return try fromJSON(T.self, text ?? "null") } catch {
                        if bad[id] == nil {
                            let rowID: Int64? = row["id"]
                            bad[id] = "case \(id): table \(table), row \(rowID.map(String.init) ?? "?"): column \(column) is not valid JSON of its kind; the case is left out until it is repaired"
                        }
                        return nil
                    }
                }
                for row in try Row.fetchAll(db, sql: "SELECT * FROM cases \(caseWhere) ORDER BY id", arguments: arguments) {
                    let id: String = row["id"]
                    var r = CaseRecord(id: id, age: row["age"], sex: (row["sex"] as String?).flatMap(Sex.init(rawValue:)),
                                       site: row["site"], clinicalNote: row["clinical_note"],
                                       label: (row["label"] as String?).flatMap(DiagnosisLabel.init(rawValue:)),
                                       subtype: row["subtype"], provenance: row["provenance"])
                    let note: String? = row["review_note"], by: String? = row["signed_off_by"], at: String? = row["signed_off_at"]
                    if note != nil || by != nil || at != nil { r.review = Review(note: note, signedOffBy: by, signedOffAt: at) }
                    order.append(id)
                    byID[id] = r
                    versions[id] = row["version"]
                }
                for g in try Row.fetchAll(db, sql: "SELECT * FROM radiographs \(filter) ORDER BY case_id, position", arguments: arguments) {
                    let id: String = g["case_id"]
                    guard let boxes = json([LesionBox].self, g, "boxes", table: "radiographs", case: id) else { continue }
                    byID[id]?.radiographs.append(Radiograph(file: g["path"], view: g["view"], acquired: g["acquired"],
                                                            sha256: g["sha256"], boxes: boxes))
                }
                for s in try Row.fetchAll(db, sql: "SELECT * FROM slides \(filter) ORDER BY id", arguments: arguments) {
                    byID[s["case_id"]]?.slides.append(SlideReference(slideID: s["slide_id"], block: s["block"], stain: s["stain"],
                                                                     file: s["path"], sha256: s["sha256"],
                                                                     enteredBy: s["entered_by"], enteredAt: s["entered_at"]))
                }
                for l in try Row.fetchAll(db, sql: "SELECT * FROM labs \(filter) ORDER BY id", arguments: arguments) {
                    byID[l["case_id"]]?.labs.append(LabResult(marker: l["marker"], value: l["value"], unit: l["unit"], date: l["date"]))
                }
                for f in try Row.fetchAll(db, sql: "SELECT * FROM findings \(filter) ORDER BY id", arguments: arguments) {
                    let id: String = f["case_id"]
                    guard let models = json([String: String].self, f, "models", table: "findings", case: id),
                          let probabilities = json([String: Double].self, f, "probabilities", table: "findings", case: id),
                          let boxes = json([LesionBox].self, f, "boxes", table: "findings", case: id),
                          let modalities = json([String].self, f, "modalities", table: "findings", case: id) else { continue }
                    byID[id]?.findings.append(Finding(createdAt: f["created_at"], models: models, probabilities: probabilities,
                                                      boxes: boxes, modalities: modalities, note: f["note"]))
                }
                let good = order.filter { bad[$0] == nil }
                return (good.compactMap { byID[$0] }, versions.filter { bad[$0.key] == nil }, order.compactMap { bad[$0] })
            }
        } catch { throw fail(error) }
    }

    /// The audit trail of one case, oldest first (or of all cases when `caseID` is nil).
    public func auditTrail(_ caseID: String? = nil) throws -> [AuditEntry] {
        do {
            return try pool.read { db in
                let rows = caseID == nil
                    ? try Row.fetchAll(db, sql: "SELECT * FROM audit ORDER BY id")
                    : try Row.fetchAll(db, sql: "SELECT * FROM audit WHERE case_id = ? ORDER BY id", arguments: [caseID])
                return rows.map { AuditEntry(caseID: $0["case_id"], at: $0["at"], user: $0["user"], action: $0["action"], detail: $0["detail"]) }
            }
        } catch { throw fail(error) }
    }

    /// Rows for a case list: id, label, subtype, age, sex, site, and counts.
    public struct Summary: Sendable, Equatable {
        public var id: String
        public var label: DiagnosisLabel?
        public var subtype: String?
        public var age: Int?
        public var sex: Sex?
        public var site: String?
        public var radiographs: Int
        public var slides: Int
        public var labs: Int
        public var signedOff: Bool
    }

    public func summaries() throws -> [Summary] {
        do {
            return try pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT c.id, c.label, c.subtype, c.age, c.sex, c.site, c.signed_off_at,
                      (SELECT count(*) FROM radiographs WHERE case_id = c.id) AS nr,
                      (SELECT count(*) FROM slides WHERE case_id = c.id) AS ns,
                      (SELECT count(*) FROM labs WHERE case_id = c.id) AS nl
                    FROM cases c ORDER BY c.id
                    """).map { row in
                    Summary(id: row["id"], label: (row["label"] as String?).flatMap(DiagnosisLabel.init(rawValue:)),
                            subtype: row["subtype"], age: row["age"], sex: (row["sex"] as String?).flatMap(Sex.init(rawValue:)),
                            site: row["site"], radiographs: row["nr"], slides: row["ns"], labs: row["nl"],
                            signedOff: (row["signed_off_at"] as String?) != nil)
                }
            }
        } catch { throw fail(error) }
    }
}

func jsonText<T: Encodable>(_ value: T) -> String {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: (try? e.encode(value)) ?? Data("null".utf8), as: UTF8.self)
}

func fromJSON<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
    try JSONDecoder().decode(T.self, from: Data(text.utf8))
}
