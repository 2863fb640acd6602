import Foundation

/// The case store. Images stay where they are, as files referenced by absolute path and
/// sha256. Every change to a case is written in the same transaction as an audit row (the OS
/// login, UTC time), so the trail cannot miss a change nor record one that did not happen.
///
/// Two back ends keep it, with one logic (this type) over both (`StoreBackend`): a path opens
/// one SQLite file in WAL mode (the default: everyone who SSHes into one server), a
/// `postgresql://user@host:port/db` URL a PostgreSQL database (a department with several
/// servers; issue 18, docs/case-format.md).
///
/// Schema versions are applied by `migrations` (SQLite) or `postgresMigrations` inside one
/// transaction that only one process runs at a time, which makes two processes that open a new
/// store at the same moment safe: the second waits, re-reads the version and finds nothing to do.
public final class CaseStore: Sendable {
    /// The store's location as messages name it: the file, or the URL without its options.
    public let path: String
    /// What opens this store again: the file, or the URL as given, with its options (TLS mode,
    /// password file; never a password, which a URL may not hold).
    public let location: String
    /// Written into the audit trail.
    public let user: String
    let backend: any StoreBackend

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

    /// The same schema for PostgreSQL, under the same version numbers. A PostgreSQL store
    /// starts at version 4 (SQLite's versions 1-4 in one step); a later version appends a step to
    /// both lists. Integer columns are BIGINT and row IDs identities; `user` is quoted (a keyword).
    static let postgresMigrations: [(version: Int, name: String, sql: String)] = [
        (4, "cases, images, slides, labs, findings, audit (SQLite's versions 1-4)", """
        CREATE TABLE cases (
            id TEXT PRIMARY KEY NOT NULL,
            age BIGINT CHECK (age IS NULL OR (age >= 0 AND age <= 150)),
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
            updated_at TEXT NOT NULL,
            source TEXT,
            version BIGINT NOT NULL DEFAULT 1
        );
        CREATE TABLE radiographs (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            case_id TEXT NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
            position BIGINT NOT NULL,
            path TEXT NOT NULL,
            sha256 TEXT,
            view TEXT,
            acquired TEXT,
            boxes TEXT NOT NULL DEFAULT '[]'
        );
        CREATE INDEX radiographs_case ON radiographs(case_id);
        CREATE TABLE slides (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            case_id TEXT NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
            slide_id TEXT NOT NULL,
            block TEXT,
            stain TEXT,
            path TEXT NOT NULL,
            sha256 TEXT,
            entered_by TEXT,
            entered_at TEXT
        );
        CREATE INDEX slides_case ON slides(case_id);
        CREATE TABLE labs (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            case_id TEXT NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
            marker TEXT NOT NULL,
            value DOUBLE PRECISION NOT NULL,
            unit TEXT NOT NULL,
            date TEXT,
            entered_by TEXT,
            entered_at TEXT
        );
        CREATE INDEX labs_case ON labs(case_id);
        CREATE TABLE findings (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            case_id TEXT NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            models TEXT NOT NULL,
            probabilities TEXT NOT NULL,
            boxes TEXT NOT NULL,
            modalities TEXT NOT NULL,
            note TEXT,
            input_key TEXT,
            result TEXT
        );
        CREATE INDEX findings_case ON findings(case_id);
        CREATE INDEX findings_input ON findings(case_id, input_key);
        -- No foreign key: the trail outlives a deleted case.
        CREATE TABLE audit (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            case_id TEXT NOT NULL,
            at TEXT NOT NULL,
            "user" TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL
        );
        CREATE INDEX audit_case ON audit(case_id);
        """),
    ]

    public static var schemaVersion: Int { migrations[migrations.count - 1].version }

    /// TUMORBOARD_STORE, else $XDG_DATA_HOME/tumorboard/cases.sqlite, else
    /// ~/.local/share/tumorboard/cases.sqlite.
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let p = environment["TUMORBOARD_STORE"], !p.isEmpty { return p }
        let base: String
        if let x = environment["XDG_DATA_HOME"], x.hasPrefix("/") { base = x }
        else { base = (environment["HOME"] ?? NSHomeDirectory()) + "/.local/share" }
        return base + "/tumorboard/cases.sqlite"
    }

    /// Opens (creating if needed) the store at `path` (default: `defaultPath()`): a file path
    /// opens SQLite, a postgresql:// URL PostgreSQL (password from a password file, never the
    /// URL). Migrates it to the current schema. `user` defaults to the OS login.
    public init(path: String? = nil, user: String? = nil, busyTimeout: TimeInterval = 30) throws {
        let location = path ?? Self.defaultPath()
        self.location = location
        self.user = user ?? currentUserName()
        switch StoreLocation(location) {
        case .sqlite(let file):
            self.path = file
            backend = try SQLiteBackend(path: file, busyTimeout: busyTimeout)
        case .postgresql(let url):
            #if TUMORBOARD_POSTGRESQL
            let pg: PostgresBackend
            do { pg = try PostgresBackend(url: url, connectTimeout: busyTimeout) } catch let e as CaseError { throw e } catch {
                throw CaseError.store(file: PostgresURL.redacted(url), problem: "\(error)")
            }
            self.path = pg.location
            backend = pg
            #else
            throw CaseError.store(file: PostgresURL.redacted(url), problem: "this TumorBoard was built without PostgreSQL support (TUMORBOARD_POSTGRESQL=0); rebuild it without that setting")
            #endif
        }
        try migrate()
    }

    /// Opens a store that must exist already: a command that reads or edits cases never leaves
    /// an empty store file behind for a mistyped path. A PostgreSQL database must exist on its
    /// server (the administrator makes it); its tables are created on first use.
    public static func openExisting(path: String? = nil, user: String? = nil) throws -> CaseStore {
        let location = path ?? defaultPath()
        guard StoreLocation.isURL(location) || FileManager.default.fileExists(atPath: location) else {
            throw CaseError.store(file: location, problem: "no case store there; import cases first (tumorboard import PATH --store \(location))")
        }
        return try CaseStore(path: location, user: user)
    }

    /// Which database keeps this store.
    public var dialect: SQLDialect { backend.dialect }

    func fail(_ error: Error) -> Error {
        if error is CaseError { return error }
        if let e = error as? StoreBackendError, case .damaged(let what) = e {
            return CaseError.store(file: path, problem: "\(what); the store is damaged")
        }
        return CaseError.store(file: path, problem: "\(error)")
    }

    func migrate() throws {
        do { try backend.migrate(to: backend.dialect == .sqlite ? Self.migrations : Self.postgresMigrations) } catch { throw fail(error) }
    }

    /// The schema version the store holds (SQLite: PRAGMA user_version).
    public func fileSchemaVersion() throws -> Int {
        do { return try backend.schemaVersion() } catch { throw fail(error) }
    }

    /// SQLite's journal mode ("wal"); "postgresql" for a PostgreSQL store.
    public func journalMode() throws -> String {
        guard let sqlite = backend as? SQLiteBackend else { return "postgresql" }
        do { return try sqlite.journalMode() } catch { throw fail(error) }
    }

    /// "ok" when the database's own consistency checks pass (SQLite: integrity_check and the
    /// foreign-key check; PostgreSQL: orphan rows), else what they found.
    public func integrityCheck() throws -> String {
        do { return try backend.integrityCheck() } catch { throw fail(error) }
    }

    // MARK: - Writing

    /// One transaction holding the change and its audit rows.
    func write<T>(_ body: (any SQLTransaction) throws -> T) throws -> T {
        do { return try backend.write(body) } catch { throw fail(error) }
    }

    func read<T>(_ body: (any SQLTransaction) throws -> T) throws -> T {
        do { return try backend.read(body) } catch { throw fail(error) }
    }

    func audit(_ db: any SQLTransaction, _ caseID: String, _ action: String, _ detail: String, at: String) throws {
        try db.execute("INSERT INTO audit (case_id, at, \"user\", action, detail) VALUES (?, ?, ?, ?, ?)",
                       [caseID, at, user, action, detail])
        if action != Self.findingAction { try db.announceChange() }
    }

    /// Every edit of a case goes through here, inside its transaction: the case must exist, must
    /// still be at `expected` (the version the editor read; nil: whatever it is now), and must not
    /// be signed off unless `whileSigned`; then its version goes up by one. On PostgreSQL the
    /// row stays locked until commit, so the check holds across servers.
    func touch(_ db: any SQLTransaction, _ caseID: String, at: String, expected: Int? = nil, whileSigned: Bool = false) throws {
        guard let row = try db.row("SELECT version, signed_off_by, signed_off_at FROM cases WHERE id = ?\(dialect.lockForUpdate)",
                                   [caseID], table: "cases") else { throw CaseError.caseNotFound(caseID) }
        let version = try row.required("version", as: Int.self)
        if let expected, version != expected {
            let last = try db.row("SELECT \"user\", at, action FROM audit WHERE case_id = ? AND action != ? ORDER BY id DESC LIMIT 1",
                                  [caseID, Self.findingAction], table: "audit")
            throw CaseError.conflict(caseID: caseID, by: last?["user"] ?? "someone", at: last?["at"] ?? "?", action: last?["action"] ?? "changed")
        }
        if !whileSigned, let by: String = row["signed_off_by"] {
            throw CaseError.signedOff(caseID: caseID, by: by, at: row["signed_off_at"] ?? "?")
        }
        try db.execute("UPDATE cases SET updated_at = ?, version = version + 1 WHERE id = ?", [at, caseID])
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

    func insert(_ db: any SQLTransaction, _ r: CaseRecord, source: String?, ifExists: IfExists) throws -> Bool {
        guard CaseFolder.isValidCaseID(r.id) else {
            throw CaseError.manifest(file: source ?? path, field: "id", problem: "'\(r.id)' is not a case ID")
        }
        let now = timestampNow()
        if try db.exists("SELECT 1 FROM cases WHERE id = ?\(dialect.lockForUpdate)", [r.id]) {
            switch ifExists {
            case .skip: return false
            case .fail: throw CaseError.duplicateCase(r.id)
            case .replace:
                try db.execute("DELETE FROM cases WHERE id = ?", [r.id])
                try audit(db, r.id, "replaced", "by a new import" + (source.map { " from \($0)" } ?? ""), at: now)
            }
        }
        try db.execute("""
            INSERT INTO cases (id, age, sex, site, clinical_note, label, subtype, provenance, review_note,
                               signed_off_by, signed_off_at, created_at, updated_at, source)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [r.id, r.age, r.sex?.rawValue, r.site, r.clinicalNote, r.label?.rawValue, r.subtype,
                  r.provenance, r.review?.note, r.review?.signedOffBy, r.review?.signedOffAt, now, now, source])
        for (i, g) in r.radiographs.enumerated() {
            try db.execute("INSERT INTO radiographs (case_id, position, path, sha256, view, acquired, boxes) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           [r.id, i, g.file, g.sha256, g.view, g.acquired, jsonText(g.boxes)])
        }
        for s in r.slides { try insertSlide(db, r.id, s) }
        for l in r.labs { try insertLab(db, r.id, l) }
        for f in r.findings { try insertFinding(db, r.id, f) }
        try audit(db, r.id, "created", source.map { "imported from \($0)" } ?? "added", at: now)
        return true
    }

    func insertSlide(_ db: any SQLTransaction, _ id: String, _ s: SlideReference) throws {
        try db.execute("INSERT INTO slides (case_id, slide_id, block, stain, path, sha256, entered_by, entered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       [id, s.slideID, s.block, s.stain, s.file, s.sha256, s.enteredBy, s.enteredAt])
    }
    func insertLab(_ db: any SQLTransaction, _ id: String, _ l: LabResult, by: String? = nil, at: String? = nil) throws {
        try db.execute("INSERT INTO labs (case_id, marker, value, unit, date, entered_by, entered_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       [id, l.marker, l.value, l.unit, l.date, by, at])
    }
    func insertFinding(_ db: any SQLTransaction, _ id: String, _ f: Finding, inputKey: String? = nil, result: String? = nil) throws {
        try db.execute("INSERT INTO findings (case_id, created_at, models, probabilities, boxes, modalities, note, input_key, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       [id, f.createdAt, jsonText(f.models), jsonText(f.probabilities), jsonText(f.boxes),
                        jsonText(f.modalities), f.note, inputKey, result])
    }

    public func setClinicalNote(_ caseID: String, _ note: String?, expectedVersion: Int? = nil) throws {
        try write { db in
            let now = timestampNow()
            try touch(db, caseID, at: now, expected: expectedVersion)
            try db.execute("UPDATE cases SET clinical_note = ? WHERE id = ?", [note, caseID])
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
            if try db.exists("SELECT 1 FROM slides WHERE case_id = ? AND slide_id = ?", [caseID, s.slideID]) {
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
            guard try db.exists("SELECT 1 FROM cases WHERE id = ?", [caseID]) else {
                throw CaseError.caseNotFound(caseID)
            }
            try insertFinding(db, caseID, finding, inputKey: inputKey, result: result)
            try audit(db, caseID, Self.findingAction, jsonText(finding.models), at: now)
        }
    }

    /// The newest whole result kept for this case under `inputKey`, or nil.
    public func storedResult(_ caseID: String, inputKey: String) throws -> String? {
        try read { db in
            try db.value("SELECT result FROM findings WHERE case_id = ? AND input_key = ? AND result IS NOT NULL ORDER BY id DESC LIMIT 1",
                         [caseID, inputKey], as: String.self)
        }
    }

    public func setReviewNote(_ caseID: String, _ note: String?, expectedVersion: Int? = nil) throws {
        let text = note.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
        try write { db in
            let now = timestampNow()
            try touch(db, caseID, at: now, expected: expectedVersion)
            try db.execute("UPDATE cases SET review_note = ? WHERE id = ?", [text, caseID])
            try audit(db, caseID, "review note edited", text ?? "(removed)", at: now)
        }
    }

    /// The reviewer (this store's user) signs the case off now; from then on the case is
    /// read-only until it is reopened with a reason.
    public func signOff(_ caseID: String, expectedVersion: Int? = nil) throws {
        try write { db in
            let now = timestampNow()
            try touch(db, caseID, at: now, expected: expectedVersion)
            try db.execute("UPDATE cases SET signed_off_by = ?, signed_off_at = ? WHERE id = ?", [user, now, caseID])
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
            guard let row = try db.row("SELECT signed_off_by, signed_off_at FROM cases WHERE id = ?\(dialect.lockForUpdate)", [caseID], table: "cases") else {
                throw CaseError.caseNotFound(caseID)
            }
            guard let by: String = row["signed_off_by"] else {
                throw CaseError.manifest(file: caseID, field: "reopen", problem: "the case is not signed off, so there is nothing to reopen")
            }
            try touch(db, caseID, at: now, expected: expectedVersion, whileSigned: true)
            try db.execute("UPDATE cases SET signed_off_by = NULL, signed_off_at = NULL WHERE id = ?", [caseID])
            let at: String = row["signed_off_at"] ?? "?"
            try audit(db, caseID, "reopened", "signed off by \(by) at \(at); reason: \(why)", at: now)
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
            let rows = try db.rows("SELECT id, marker, value, unit, date FROM labs WHERE case_id = ? ORDER BY id", [caseID], table: "labs")
            var labs = try rows.map { LabResult(marker: try $0.required("marker"), value: try $0.required("value"), unit: try $0.required("unit"), date: $0["date"]) }
            let same = rows.indices.filter { labs[$0].marker == lab.marker && labs[$0].date == lab.date }
            let done: String
            if let k = same.first {
                let old = labs[k]
                labs[k] = lab
                try db.execute("UPDATE labs SET value = ?, unit = ?, entered_by = ?, entered_at = ? WHERE id = ?",
                               [lab.value, lab.unit, user, now, try rows[k].required("id", as: Int64.self)])
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
        let source: String? = try read { db in
            guard let row = try db.row("SELECT source FROM cases WHERE id = ?", [id], table: "cases") else {
                throw CaseError.caseNotFound(id)
            }
            return row["source"]
        }
        guard let source, FileManager.default.fileExists(atPath: source + "/" + CaseFolder.manifestName) else { return nil }
        return URL(fileURLWithPath: source)
    }

    /// Writes a stored case as a case folder `into/<id>/` (images copied, manifest last).
    @discardableResult
    public func export(_ id: String, into parent: URL) throws -> URL {
        try CaseFolder.export(try load(id), into: parent)
    }

    public func caseIDs() throws -> [String] {
        try read { db in try db.rows("SELECT id FROM cases ORDER BY id\(dialect.byteOrder)", table: "cases").map { try $0.required("id") } }
    }

    public func count() throws -> Int {
        try read { db in try db.value("SELECT count(*) AS n FROM cases", as: Int.self) ?? 0 }
    }

    /// The case's version: it goes up by one with every edit (not with kept model results).
    /// An editor passes the version it read as `expectedVersion`; a save over a newer one is refused.
    public func version(of id: String) throws -> Int {
        try read { db in
            guard let row = try db.row("SELECT version FROM cases WHERE id = ?", [id], table: "cases") else {
                throw CaseError.caseNotFound(id)
            }
            return try row.required("version", as: Int.self)
        }
    }

    /// Every case's version, by ID (what a workstation compares to see which cases changed).
    public func versions() throws -> [String: Int] {
        try read { db in
            var out: [String: Int] = [:]
            for row in try db.rows("SELECT id, version FROM cases", table: "cases") { out[try row.required("id")] = try row.required("version", as: Int.self) }
            return out
        }
    }

    /// A number that changes whenever a case is created, replaced or edited (every such write
    /// adds an audit row; kept model results are left out, so another workstation's "run all"
    /// does not make everyone re-read the store), cheap enough to poll every half second. SQLite:
    /// the newest such audit row, found by walking the table back from its end. PostgreSQL: the
    /// notifications this store's listener received, which arrive just after the commit (within
    /// a second). Compare a token only with earlier tokens of the same `CaseStore`.
    public func changeToken() throws -> Int64 {
        do {
            return try backend.changeToken { db in
                try db.value("SELECT id FROM audit WHERE action != ? ORDER BY id DESC LIMIT 1", [Self.findingAction], as: Int64.self) ?? 0
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

    func records(where filter: String, caseWhere: String, arguments: SQLArguments) throws
        -> (records: [CaseRecord], versions: [String: Int], problems: [String]) {
        try read { db in
            var order: [String] = []
            var byID: [String: CaseRecord] = [:]
            var versions: [String: Int] = [:]
            var bad: [String: String] = [:]
            func note(_ id: String, _ problem: String) {
                if bad[id] == nil { bad[id] = "case \(id): \(problem); the case is left out until it is repaired" }
            }
            func json<T: Decodable>(_ type: T.Type, _ row: SQLRow, _ column: String, case id: String) -> T? {
                let text: String? = row[column]
                do { return try fromJSON(T.self, text ?? "null") } catch {
                    let rowID: Int64? = row["id"]
                    note(id, "table \(row.table), row \(rowID.map(String.init) ?? "?"): column \(column) is not valid JSON of its kind")
                    return nil
                }
            }
            /// A row's case ID, or nil (and a problem) when the row is damaged; `body` reads the rest.
            func each(_ table: String, _ sql: String, _ body: (SQLRow, String) throws -> Void) throws {
                for row in try db.rows(sql, arguments, table: table) {
                    guard let id: String = row["case_id"] else { continue }  // NOT NULL + foreign key: never
                    do { try body(row, id) } catch let e as StoreBackendError {
                        if case .damaged(let what) = e { note(id, what) } else { throw e }
                    }
                }
            }
            for row in try db.rows("SELECT * FROM cases \(caseWhere) ORDER BY id\(dialect.byteOrder)", arguments, table: "cases") {
                guard let id: String = row["id"] else { continue }
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
            try each("radiographs", "SELECT * FROM radiographs \(filter) ORDER BY case_id, position") { g, id in
                guard let boxes = json([LesionBox].self, g, "boxes", case: id) else { return }
                byID[id]?.radiographs.append(Radiograph(file: try g.required("path"), view: g["view"], acquired: g["acquired"],
                                                        sha256: g["sha256"], boxes: boxes))
            }
            try each("slides", "SELECT * FROM slides \(filter) ORDER BY id") { s, id in
                byID[id]?.slides.append(SlideReference(slideID: try s.required("slide_id"), block: s["block"], stain: s["stain"],
                                                       file: try s.required("path"), sha256: s["sha256"],
                                                       enteredBy: s["entered_by"], enteredAt: s["entered_at"]))
            }
            try each("labs", "SELECT * FROM labs \(filter) ORDER BY id") { l, id in
                byID[id]?.labs.append(LabResult(marker: try l.required("marker"), value: try l.required("value"),
                                                unit: try l.required("unit"), date: l["date"]))
            }
            try each("findings", "SELECT * FROM findings \(filter) ORDER BY id") { f, id in
                guard let models = json([String: String].self, f, "models", case: id),
                      let probabilities = json([String: Double].self, f, "probabilities", case: id),
                      let boxes = json([LesionBox].self, f, "boxes", case: id),
                      let modalities = json([String].self, f, "modalities", case: id) else { return }
                byID[id]?.findings.append(Finding(createdAt: try f.required("created_at"), models: models, probabilities: probabilities,
                                                  boxes: boxes, modalities: modalities, note: f["note"]))
            }
            let good = order.filter { bad[$0] == nil }
            return (good.compactMap { byID[$0] }, versions.filter { bad[$0.key] == nil }, order.compactMap { bad[$0] })
        }
    }

    /// The audit trail of one case, oldest first (or of all cases when `caseID` is nil).
    public func auditTrail(_ caseID: String? = nil) throws -> [AuditEntry] {
        try read { db in
            let rows = caseID == nil
                ? try db.rows("SELECT * FROM audit ORDER BY id", table: "audit")
                : try db.rows("SELECT * FROM audit WHERE case_id = ? ORDER BY id", [caseID], table: "audit")
            return try rows.map {
                AuditEntry(caseID: try $0.required("case_id"), at: try $0.required("at"), user: try $0.required("user"),
                           action: try $0.required("action"), detail: try $0.required("detail"))
            }
        }
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
        try read { db in
            try db.rows("""
                SELECT c.id, c.label, c.subtype, c.age, c.sex, c.site, c.signed_off_at,
                  (SELECT count(*) FROM radiographs WHERE case_id = c.id) AS nr,
                  (SELECT count(*) FROM slides WHERE case_id = c.id) AS ns,
                  (SELECT count(*) FROM labs WHERE case_id = c.id) AS nl
                FROM cases c ORDER BY c.id\(dialect.byteOrder)
                """, table: "cases").map { row in
                Summary(id: try row.required("id"), label: (row["label"] as String?).flatMap(DiagnosisLabel.init(rawValue:)),
                        subtype: row["subtype"], age: row["age"], sex: (row["sex"] as String?).flatMap(Sex.init(rawValue:)),
                        site: row["site"], radiographs: row["nr"] ?? 0, slides: row["ns"] ?? 0, labs: row["nl"] ?? 0,
                        signedOff: (row["signed_off_at"] as String?) != nil)
            }
        }
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
