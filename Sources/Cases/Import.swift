import Foundation
import GRDB

/// What an import did: which cases were stored, which were there already, which were refused
/// and why (one message per refused case folder or dataset, naming the file and field).
public struct ImportReport: Sendable, Equatable {
    public var imported: [String] = []
    public var alreadyStored: [String] = []
    public var refused: [(path: String, message: String)] = []

    public static func == (a: ImportReport, b: ImportReport) -> Bool {
        a.imported == b.imported && a.alreadyStored == b.alreadyStored
            && a.refused.map(\.path) == b.refused.map(\.path) && a.refused.map(\.message) == b.refused.map(\.message)
    }

    public var summary: String {
        var s = "\(imported.count) imported, \(alreadyStored.count) already stored, \(refused.count) refused"
        for r in refused { s += "\n  \(r.message)" }
        return s
    }
}

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
        var report = ImportReport()
        for name in names {
            let sub = folder.appendingPathComponent(name)
            guard fm.fileExists(atPath: sub.appendingPathComponent(CaseFolder.manifestName).path) else { continue }
            do {
                let record = try CaseFolder.read(sub, verification: verification)
                if try add(record, source: sub.path, ifExists: ifExists) { report.imported.append(record.id) }
                else { report.alreadyStored.append(record.id) }
            } catch {
                report.refused.append((sub.path, "\(error)"))
            }
        }
        return report
    }

    /// Imports a dataset laid out like BTXRD (images/<image_id>.png, cases.csv, boxes.csv): one
    /// case per image, ID "BTXRD-<image_id>", with label, subtype, age, sex, site, view and the
    /// reference boxes. All rows are checked before anything is written, and the whole dataset
    /// goes in one transaction: a bad row refuses the import naming the file and line.
    /// `limit` takes the first n rows (tests, quick looks); `hashImages` computes each sha256.
    public func importDataset(_ folder: URL, limit: Int? = nil, hashImages: Bool = true,
                              ifExists: IfExists = .skip) throws -> ImportReport {
        let records = try DatasetLayout.read(folder, limit: limit, hashImages: hashImages)
        var report = ImportReport()
        let source = folder.standardizedFileURL.path
        try write { db in
            for r in records {
                if try insert(db, r, source: source, ifExists: ifExists) { report.imported.append(r.id) }
                else { report.alreadyStored.append(r.id) }
            }
        }
        return report
    }

    /// Opens the store and imports `folder` into it: a folder of case folders, a single case
    /// folder, or a BTXRD-like dataset. Cases already stored are left as they are.
    public func importAny(_ folder: URL, datasetLimit: Int? = nil, hashImages: Bool = true) throws -> ImportReport {
        let fm = FileManager.default
        if fm.fileExists(atPath: folder.appendingPathComponent("cases.csv").path),
           fm.fileExists(atPath: folder.appendingPathComponent("images").path) {
            return try importDataset(folder, limit: datasetLimit, hashImages: hashImages)
        }
        if fm.fileExists(atPath: folder.appendingPathComponent(CaseFolder.manifestName).path) {
            var report = ImportReport()
            do {
                let id = try CaseFolder.read(folder).id
                if try importCaseFolder(folder) { report.imported.append(id) } else { report.alreadyStored.append(id) }
            } catch { report.refused.append((folder.path, "\(error)")) }
            return report
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
        var acquired: String?
        if let s = d.studyDate, s.count == 8, s.allSatisfy(\.isNumber) {
            acquired = "\(s.prefix(4))-\(s.dropFirst(4).prefix(2))-\(s.suffix(2))"
        }
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
