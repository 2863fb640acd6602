import Foundation
import Imaging

/// The slide-reference form: what a pathologist types, checked field by field. The workstation's
/// form and `tumorboard slide add` both validate through `problems` and save through
/// `CaseStore.addSlide(_:entry:...)`, so the two cannot disagree.
public struct SlideEntry: Sendable, Equatable {
    public var slideID: String
    public var block: String
    public var stain: String
    public var file: String

    public init(slideID: String = "", block: String = "", stain: String = "H&E", file: String = "") {
        self.slideID = slideID; self.block = block; self.stain = stain; self.file = file
    }

    public enum Field: String, CaseIterable, Sendable {
        case slideID = "Slide ID", block = "Block", stain = "Stain", file = "Image file"
    }

    /// The stains a form offers (a choice list, not free text).
    public static let stains = ["H&E", "IHC", "PAS", "Giemsa", "Reticulin", "Masson trichrome", "Toluidine blue", "Other"]

    /// A slide ID: 1-40 letters, digits, '.', '_' or '-', starting with a letter or digit
    /// (accession-style IDs such as S26-01234-A1).
    public static func isValidSlideID(_ s: String) -> Bool { matches(s, maxLength: 40) }
    /// A block: 1-16 letters, digits, '.', '_' or '-' (A1, 2B, B-12).
    public static func isValidBlock(_ s: String) -> Bool { matches(s, maxLength: 16) }

    static func matches(_ s: String, maxLength: Int) -> Bool {
        guard let first = s.utf8.first, (1...maxLength).contains(s.utf8.count) else { return false }
        func alnum(_ c: UInt8) -> Bool { (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) }
        return alnum(first) && s.utf8.allSatisfy { alnum($0) || $0 == 45 || $0 == 46 || $0 == 95 }
    }

    /// Where slide images may come from: the user's home folder and the folders listed in
    /// TUMORBOARD_SLIDE_ROOTS (colon-separated), each with its symbolic links resolved.
    public static func allowedRoots(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        var roots: [String] = []
        if let home = environment["HOME"], home.hasPrefix("/") { roots.append(home) }
        for r in (environment["TUMORBOARD_SLIDE_ROOTS"] ?? "").split(separator: ":") where r.hasPrefix("/") { roots.append(String(r)) }
        return roots.compactMap(realPath)
    }

    /// The file as an absolute path: `~/` is the home folder, a relative path is relative to `directory`.
    public func absoluteFile(directory: String, home: String? = ProcessInfo.processInfo.environment["HOME"]) -> String {
        let f = file.trimmingCharacters(in: .whitespaces)
        if f.hasPrefix("~/"), let home { return home + f.dropFirst(1) }
        if f.hasPrefix("/") { return f }
        return URL(fileURLWithPath: directory).appendingPathComponent(f).standardizedFileURL.path
    }

    /// Every field's problem (empty: the entry can be saved). `existing` are the case's slides now.
    /// `checkingFile: false` leaves out the file's checks beyond "required" (they read and decode it).
    public func problems(existing: [SlideReference], roots: [String], directory: String, checkingFile: Bool = true) -> [Field: String] {
        var out: [Field: String] = [:]
        let id = slideID.trimmingCharacters(in: .whitespaces)
        if id.isEmpty { out[.slideID] = "required" }
        else if !Self.isValidSlideID(id) { out[.slideID] = "1-40 letters, digits, '.', '_' or '-', starting with a letter or digit" }
        else if existing.contains(where: { $0.slideID == id }) { out[.slideID] = "'\(id)' is already a slide of this case" }
        let b = block.trimmingCharacters(in: .whitespaces)
        if !b.isEmpty, !Self.isValidBlock(b) { out[.block] = "1-16 letters, digits, '.', '_' or '-' (e.g. A1)" }
        if !Self.stains.contains(stain) { out[.stain] = "one of: \(Self.stains.joined(separator: ", "))" }
        if file.trimmingCharacters(in: .whitespaces).isEmpty { out[.file] = "required"; return out }
        if !checkingFile { return out }
        let path = absoluteFile(directory: directory)
        guard let real = realPath(path) else {
            out[.file] = FileManager.default.fileExists(atPath: path) ? "cannot be resolved (a link to nothing?)" : "no such file: \(path)"
            return out
        }
        guard roots.contains(where: { real == $0 || real.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }) else {
            out[.file] = "\(real) is outside the allowed folders (\(roots.isEmpty ? "none" : roots.joined(separator: ", "))); add its folder to TUMORBOARD_SLIDE_ROOTS"
            return out
        }
        do { _ = try CaseFolder.decodeSlide(URL(fileURLWithPath: real), field: "slide file") } catch {
            out[.file] = "\(error)"
        }
        return out
    }

    /// The message for a whole entry (the CLI prints it): one line per field with a problem.
    public static func describe(_ problems: [Field: String]) -> String {
        Field.allCases.compactMap { f in problems[f].map { "\(f.rawValue): \($0)" } }.joined(separator: "; ")
    }
}

/// A lab value as typed: marker, value, unit, optional date. Refused with a reason for an
/// unknown marker or unit, and for a value that is not a number, not finite, or negative.
public struct LabEntry: Sendable, Equatable {
    public var marker: String
    public var value: String
    public var unit: String
    public var date: String

    public init(marker: String = "", value: String = "", unit: String = "", date: String = "") {
        self.marker = marker; self.value = value; self.unit = unit; self.date = date
    }

    public enum Field: String, CaseIterable, Sendable { case marker = "Marker", value = "Value", unit = "Unit", date = "Date" }

    /// The marker's catalogue ID from its ID, abbreviation or name (any case).
    public static func markerID(_ text: String, catalog: BiomarkerCatalog) -> String? {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        return catalog.markers.first { $0.id == t || $0.abbreviation.lowercased() == t || $0.name.lowercased() == t }?.id
    }

    /// The result to store, or every field's problem. The text is parsed here (required, a
    /// plain number); what a value may be (a known marker, its units, 0 to under a million) is
    /// the catalogue's rule (`BiomarkerCatalog.validate`), the one imports and the store apply.
    public func result(catalog: BiomarkerCatalog) -> Result<LabResult, LabEntryProblems> {
        var out: [Field: String] = [:]
        let id = Self.markerID(marker, catalog: catalog)
        if marker.trimmingCharacters(in: .whitespaces).isEmpty { out[.marker] = "required" }
        else if id == nil {
            do throws(LabError) { _ = try catalog.marker(marker.trimmingCharacters(in: .whitespaces)) } catch { out[.marker] = "\(error)" }
        }
        let v = value.trimmingCharacters(in: .whitespaces)
        var number: Double?
        if v.isEmpty { out[.value] = "required" }
        else if v.contains(",") { out[.value] = "'\(v)': write the decimal point as '.'" }
        // Swift's Double("nan") and Double("inf") parse; a person typing them made a mistake.
        else if let d = Double(v), v.lowercased().allSatisfy({ "0123456789.e+-".contains($0) }) { number = d == 0 ? 0 : d }
        else { out[.value] = "'\(v)' is not a number" }
        let u = unit.trimmingCharacters(in: .whitespaces)
        if u.isEmpty { out[.unit] = "required" }
        let d = date.trimmingCharacters(in: .whitespaces)
        if !d.isEmpty, !ISODate.isValidDay(d) { out[.date] = "'\(d)' is not a date (YYYY-MM-DD)" }
        if let id, let number, !u.isEmpty {
            do throws(LabError) { try catalog.validate(LabResult(marker: id, value: number, unit: u)) } catch {
                switch error {
                case .unknownUnit: out[.unit] = "\(error)"
                case .unknownMarker: out[.marker] = "\(error)"
                default: out[.value] = "\(error)"
                }
            }
        }
        guard out.isEmpty, let id, let number else { return .failure(LabEntryProblems(fields: out)) }
        return .success(LabResult(marker: id, value: number, unit: u, date: d.isEmpty ? nil : d))
    }
}

public struct LabEntryProblems: Error, Sendable, Equatable, CustomStringConvertible {
    public var fields: [LabEntry.Field: String]
    public var description: String {
        LabEntry.Field.allCases.compactMap { f in fields[f].map { "\(f.rawValue.lowercased()): \($0)" } }.joined(separator: "; ")
    }
}

/// The path with every symbolic link resolved (realpath(3)), or nil when it does not exist.
func realPath(_ path: String) -> String? {
    guard let p = realpath(path, nil) else { return nil }
    defer { free(p) }
    return String(cString: p)
}

extension CaseStore {
    /// Adds a slide reference entered in the form or on the command line: validated field by
    /// field against the case as stored now (`SlideEntry.problems`), stored by resolved absolute
    /// path and sha256, audited with the login name. `expectedVersion`: see `version(of:)`.
    public func addSlide(_ caseID: String, entry: SlideEntry, roots: [String] = SlideEntry.allowedRoots(),
                         directory: String = FileManager.default.currentDirectoryPath, expectedVersion: Int? = nil) throws {
        let record = try load(caseID)
        if let r = record.review, let by = r.signedOffBy { throw CaseError.signedOff(caseID: caseID, by: by, at: r.signedOffAt ?? "?") }
        let problems = entry.problems(existing: record.slides, roots: roots, directory: directory)
        guard problems.isEmpty else { throw SlideEntryProblems(caseID: caseID, fields: problems) }
        let path = realPath(entry.absoluteFile(directory: directory)) ?? entry.absoluteFile(directory: directory)
        let block = entry.block.trimmingCharacters(in: .whitespaces)
        try addSlide(caseID, SlideReference(slideID: entry.slideID.trimmingCharacters(in: .whitespaces),
                                            block: block.isEmpty ? nil : block, stain: entry.stain, file: path),
                     expectedVersion: expectedVersion)
    }
}

/// A slide entry refused field by field (each field's problem, for the form to show beside it).
public struct SlideEntryProblems: Error, Sendable, CustomStringConvertible {
    public var caseID: String
    public var fields: [SlideEntry.Field: String]
    public var description: String { "\(caseID): slide: " + SlideEntry.describe(fields) }
}

/// One change a user makes to a case, from a form in the workstation or from the command line;
/// `CaseStore.apply` is the one code path both take.
public enum CaseEdit: Sendable, Equatable {
    case slide(SlideEntry)
    case lab(LabResult)
    case note(String)
    case signOff
    case reopen(reason: String)

    /// What the status line says while it is being saved.
    public var name: String {
        switch self {
        case .slide: "slide reference"
        case .lab: "lab result"
        case .note: "review note"
        case .signOff: "sign-off"
        case .reopen: "reopening"
        }
    }
}

/// What became of an edit: saved (with what was done), or refused (the reason, and for a form
/// each field's problem).
public struct EditOutcome: Sendable, Equatable {
    public var caseID: String
    public var saved: Bool
    public var message: String
    public var fieldProblems: [String: String]
    public init(caseID: String, saved: Bool, message: String, fieldProblems: [String: String] = [:]) {
        self.caseID = caseID; self.saved = saved; self.message = message; self.fieldProblems = fieldProblems
    }
}

extension CaseStore {
    /// Saves `edit` on case `caseID` if the case is still at `expectedVersion` (nil: whatever it
    /// is now). Never throws: a refusal is an outcome with its reason.
    public func apply(_ edit: CaseEdit, to caseID: String, expectedVersion: Int?,
                      roots: [String] = SlideEntry.allowedRoots(),
                      directory: String = FileManager.default.currentDirectoryPath) -> EditOutcome {
        do {
            switch edit {
            case .slide(let entry):
                do { try addSlide(caseID, entry: entry, roots: roots, directory: directory, expectedVersion: expectedVersion) } catch let p as SlideEntryProblems {
                    return EditOutcome(caseID: caseID, saved: false, message: "not saved: " + SlideEntry.describe(p.fields),
                                       fieldProblems: Dictionary(uniqueKeysWithValues: p.fields.map { ($0.key.rawValue, $0.value) }))
                }
                return EditOutcome(caseID: caseID, saved: true, message: "slide \(entry.slideID.trimmingCharacters(in: .whitespaces)) saved")
            case .lab(let lab):
                let done = try setLab(caseID, lab, expectedVersion: expectedVersion)
                return EditOutcome(caseID: caseID, saved: true, message: "lab \(done)")
            case .note(let text):
                try setReviewNote(caseID, text, expectedVersion: expectedVersion)
                return EditOutcome(caseID: caseID, saved: true, message: "review note saved")
            case .signOff:
                try signOff(caseID, expectedVersion: expectedVersion)
                return EditOutcome(caseID: caseID, saved: true, message: "signed off by \(user)")
            case .reopen(let reason):
                try reopen(caseID, reason: reason, expectedVersion: expectedVersion)
                return EditOutcome(caseID: caseID, saved: true, message: "reopened: \(reason)")
            }
        } catch {
            return EditOutcome(caseID: caseID, saved: false, message: "not saved: \(error)")
        }
    }
}
