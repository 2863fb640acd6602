import Foundation

/// What `tumorboard store copy` did: each case copied, already there (identical), or differing
/// (left alone, named); the audit rows of cases that no longer exist; and the verification, by
/// counts and per-case checksums read back from the destination.
public struct StoreCopyReport: Sendable {
    // Copy while no one writes to the source (stop the workstations): a change made after its
    // snapshot is not copied, and a second run then names that case as differing.
    public struct Counts: Sendable, Equatable, CustomStringConvertible {
        public var cases = 0, radiographs = 0, slides = 0, labs = 0, findings = 0, audit = 0
        public var description: String {
            "\(cases) cases, \(radiographs) radiographs, \(slides) slides, \(labs) lab results, \(findings) findings, \(audit) audit rows"
        }
    }
    public var from = "", to = ""
    public var copied: [String] = []
    public var alreadyThere: [String] = []
    /// Cases the destination holds with other content: not touched.
    public var differing: [String] = []
    /// Audit rows of deleted cases (the trail outlives a case), copied this time.
    public var orphanAuditRowsCopied = 0
    /// Audit rows of deleted cases in the source, and in the destination after the copy.
    public var orphanAuditRows = (source: 0, destination: 0)
    /// Cases the destination refused (case ID, the reason); the others were copied.
    public var failed: [(id: String, reason: String)] = []
    public var source = Counts()
    /// The same counts read back from the destination, over the source's cases.
    public var destination = Counts()
    /// Cases whose checksum read back differs from the source's (empty when verified).
    public var mismatches: [String] = []

    public var verified: Bool {
        mismatches.isEmpty && differing.isEmpty && failed.isEmpty && source == destination
            && orphanAuditRows.destination >= orphanAuditRows.source
    }

    public var summary: String {
        var lines = ["store copy \(from) -> \(to)",
                     "  copied \(copied.count) case(s), \(alreadyThere.count) already there and identical, \(differing.count) differing (left alone)",
                     "  source:      \(source)",
                     "  destination: \(destination)"]
        if orphanAuditRows.source > 0 {
            lines.append("  audit rows of deleted cases: \(orphanAuditRows.source) in the source, \(orphanAuditRows.destination) in the destination (\(orphanAuditRowsCopied) copied now)")
        }
        for f in failed { lines.append("  FAILED: \(f.id): \(f.reason)") }
        for id in differing { lines.append("  DIFFERS: \(id) is in the destination with other content; not copied (resolve it by hand)") }
        for id in mismatches { lines.append("  MISMATCH: \(id) reads back differently from the source") }
        lines.append(verified ? "  verified: counts and per-case sha256 checksums match" : "  NOT VERIFIED")
        return lines.joined(separator: "\n")
    }
}

extension CaseStore {
    /// The tables of a case, in the order a case is written (parents first).
    static let caseTables = ["radiographs", "slides", "labs", "findings"]

    /// Every row of the store, grouped by case, read in one snapshot.
    struct Dump {
        var cases: [String: SQLRow] = [:]
        var order: [String] = []
        var children: [String: [String: [SQLRow]]] = [:]   // table -> case -> rows (by id)
        var audit: [String: [SQLRow]] = [:]                // case -> rows (by id)

        /// A checksum of everything a case holds, row IDs aside (they are the database's own).
        func checksum(_ id: String) -> String? {
            guard let c = cases[id] else { return nil }
            var text = "cases\n" + Self.canonical(c)
            for t in CaseStore.caseTables {
                text += "\(t)\n" + (children[t]?[id] ?? []).map(Self.canonical).joined()
            }
            text += "audit\n" + (audit[id] ?? []).map(Self.canonical).joined()
            return SHA256Digest.hex(Data(text.utf8))
        }

        static func canonical(_ row: SQLRow) -> String {
            row.values.filter { $0.key != "id" }.sorted { $0.key < $1.key }.map { k, v in
                switch v {
                case .null: return "\(k)=null;"
                case .integer(let i): return "\(k)=i\(i);"
                case .real(let d): return "\(k)=r\(d.bitPattern);"
                case .text(let s): return "\(k)=t\(s.utf8.count):\(s);"
                }
            }.joined() + "\n"
        }

        func counts(of ids: [String]) -> StoreCopyReport.Counts {
            var n = StoreCopyReport.Counts()
            for id in ids where cases[id] != nil {
                n.cases += 1
                n.radiographs += children["radiographs"]?[id]?.count ?? 0
                n.slides += children["slides"]?[id]?.count ?? 0
                n.labs += children["labs"]?[id]?.count ?? 0
                n.findings += children["findings"]?[id]?.count ?? 0
                n.audit += audit[id]?.count ?? 0
            }
            return n
        }
    }

    func dump() throws -> Dump {
        try read { db in
            var d = Dump()
            for r in try db.rows("SELECT * FROM cases ORDER BY id\(dialect.byteOrder)", table: "cases") {
                let id = try r.required("id", as: String.self)
                d.cases[id] = r
                d.order.append(id)
            }
            for t in Self.caseTables {
                var byCase: [String: [SQLRow]] = [:]
                for r in try db.rows("SELECT * FROM \(t) ORDER BY id", table: t) { byCase[try r.required("case_id"), default: []].append(r) }
                d.children[t] = byCase
            }
            for r in try db.rows("SELECT * FROM audit ORDER BY id", table: "audit") { d.audit[try r.required("case_id"), default: []].append(r) }
            return d
        }
    }

    /// Copies every case of this store, with its findings and its audit trail, into `destination`
    /// (one transaction per case), then reads the destination back and compares counts and
    /// per-case checksums. Idempotent: a case already there with the same content is left as it
    /// is; one there with other content is left alone and reported. Audit rows of deleted cases
    /// are copied when the destination has no trail for that case ID.
    public func copy(to destination: CaseStore, progress: ((Int, Int) -> Void)? = nil) throws -> StoreCopyReport {
        var report = StoreCopyReport(from: path, to: destination.path)
        let src = try dump()
        let before = try destination.dump()
        for (k, id) in src.order.enumerated() {
            progress?(k, src.order.count)
            if before.cases[id] != nil {
                if before.checksum(id) == src.checksum(id) { report.alreadyThere.append(id) } else { report.differing.append(id) }
                continue
            }
            do {
                try destination.write { db in
                    try Self.insertRaw(db, "cases", src.cases[id].map { [$0] } ?? [], keepID: true)
                    for t in Self.caseTables { try Self.insertRaw(db, t, src.children[t]?[id] ?? [], keepID: false) }
                    if before.audit[id] == nil { try Self.insertRaw(db, "audit", src.audit[id] ?? [], keepID: false) }
                    try db.announceChange()
                }
                report.copied.append(id)
            } catch {
                // One case the destination refuses (its transaction rolled back) does not stop the others.
                report.failed.append((id, "\(error)"))
            }
        }
        progress?(src.order.count, src.order.count)
        // The trail of cases that were deleted or replaced away outlives them.
        for (id, rows) in src.audit.sorted(by: { $0.key < $1.key }) where src.cases[id] == nil && before.audit[id] == nil {
            try destination.write { db in try Self.insertRaw(db, "audit", rows, keepID: false) }
            report.orphanAuditRowsCopied += rows.count
        }
        let after = try destination.dump()
        report.orphanAuditRows = (src.audit.filter { src.cases[$0.key] == nil }.values.reduce(0) { $0 + $1.count },
                                  after.audit.filter { src.cases[$0.key] == nil && after.cases[$0.key] == nil }.values.reduce(0) { $0 + $1.count })
        report.source = src.counts(of: src.order)
        report.destination = after.counts(of: src.order)
        let failedIDs = Set(report.failed.map(\.id))
        report.mismatches = src.order.filter { !report.differing.contains($0) && !failedIDs.contains($0) && after.checksum($0) != src.checksum($0) }
        return report
    }

    /// Inserts rows as they were read, column by column; row IDs are the destination's own
    /// (except a case's, which is its case ID).
    static func insertRaw(_ db: any SQLTransaction, _ table: String, _ rows: [SQLRow], keepID: Bool) throws {
        for r in rows {
            let columns = r.values.keys.filter { keepID || $0 != "id" }.sorted()
            let names = columns.map { $0 == "user" ? "\"user\"" : $0 }.joined(separator: ", ")
            let marks = Array(repeating: "?", count: columns.count).joined(separator: ", ")
            try db.execute("INSERT INTO \(table) (\(names)) VALUES (\(marks))", columns.map { r.values[$0] ?? .null })
        }
    }
}
