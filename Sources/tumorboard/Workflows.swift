import ArgumentParser
import Cases
import Foundation

/// The store every workflow command works on: --store, else TUMORBOARD_STORE, else the data directory.
struct StoreOption: ParsableArguments {
    @Option(help: "The case store: a file (SQLite) or postgresql://user@host:port/db (default: $TUMORBOARD_STORE, else ~/.local/share/tumorboard/cases.sqlite).")
    var store: String?

    /// Opens an existing store (a workflow command never creates a store file by accident; a
    /// PostgreSQL database must exist on its server).
    func open() throws -> CaseStore {
        try CaseStore.openExisting(path: store)
    }
}

/// Saves one edit through the store's one code path (the workstation's forms take it too);
/// a refusal is thrown with its reason.
func save(_ edit: CaseEdit, _ caseID: String, in store: CaseStore) throws -> String {
    let outcome = store.apply(edit, to: caseID, expectedVersion: nil)
    guard outcome.saved else { throw ValidationRefusal(description: outcome.message) }
    return outcome.message
}

struct ValidationRefusal: Error, CustomStringConvertible { let description: String }

/// Runs a workflow command's body: a refused change prints its reason and exits 1.
func workflow(_ name: String, _ body: () throws -> Void) throws {
    do { try body() } catch let e as ValidationError { throw e } catch let e as ExitCode { throw e } catch {
        Output.err("tumorboard \(name): \(error)\n")
        throw ExitCode(1)
    }
}

struct Slide: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pathology slide references of a case.",
        subcommands: [Add.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a slide reference to a case (the same checks as the workstation's slide form).",
            discussion: """
            The image must be a PNG or JPEG that decodes, under your home folder or a folder listed in \
            TUMORBOARD_SLIDE_ROOTS (colon-separated); it is stored by its resolved path and sha256. \
            The change is audited with your login name; a signed case must be reopened first.
            """)
        @Argument(help: "The case ID.") var caseID: String
        @Option(name: .customLong("slide-id"), help: "The slide's ID (1-40 letters, digits, '.', '_' or '-').") var slideID: String
        @Option(help: "The block (e.g. A1).") var block: String?
        @Option(help: "The stain: \(SlideEntry.stains.joined(separator: ", ")).") var stain: String = "H&E"
        @Option(help: "The slide image (PNG or JPEG).") var file: String
        @OptionGroup var store: StoreOption

        func run() throws {
            try workflow("slide add") {
                let s = try store.open()
                let done = try save(.slide(SlideEntry(slideID: slideID, block: block ?? "", stain: stain, file: file)), caseID, in: s)
                try Output.out(Data("\(caseID): \(done)\n".utf8))
            }
        }
    }
}

struct Labs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Lab results of a case.",
        subcommands: [Set.self])

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a lab result, or correct the one of that marker and date.",
            discussion: """
            The case's result for MARKER on DATE (the undated one without --date) is corrected if there is \
            one, else the result is added. Refused with the reason for an unknown marker or unit, a value \
            that is negative or not a number, or when the case would be left with results whose order is \
            unknown (an undated result beside dated ones: docs/case-format.md). Audited with your login name.
            """)
        @Argument(help: "The case ID.") var caseID: String
        @Option(help: "The marker: its ID (alp, ldh, calcium, phosphate, crp, esr, wbc, haemoglobin), abbreviation or name.") var marker: String
        @Option(help: "The value (a plain number, '.' as the decimal point).") var value: String
        @Option(help: "The unit (e.g. U/L, mmol/L).") var unit: String
        @Option(help: "The date the sample was drawn, YYYY-MM-DD.") var date: String?
        @OptionGroup var store: StoreOption

        func run() throws {
            try workflow("labs set") {
                let s = try store.open()
                let lab = try LabEntry(marker: marker, value: value, unit: unit, date: date ?? "").result(catalog: .bundled).get()
                let done = try save(.lab(lab), caseID, in: s)
                try Output.out(Data("\(caseID): \(done)\n".utf8))
            }
        }
    }
}

struct ReviewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "review",
        abstract: "A case's review note and sign-off.",
        discussion: """
        With no option, prints the case's review state. --note sets the review note; --sign signs the \
        case off in your name (it is then read-only); --reopen REASON reopens a signed case (audited).
        """)
    @Argument(help: "The case ID.") var caseID: String
    @Option(help: "The review note (an empty text removes it).") var note: String?
    @Flag(help: "Sign the case off.") var sign = false
    @Option(help: "Reopen a signed case, giving the reason.") var reopen: String?
    @OptionGroup var store: StoreOption

    func validate() throws {
        if sign && reopen != nil { throw ValidationError("--sign and --reopen exclude each other") }
    }

    func run() throws {
        try workflow("review") {
            let s = try store.open()
            if let reopen { _ = try save(.reopen(reason: reopen), caseID, in: s) }
            if let note { _ = try save(.note(note), caseID, in: s) }
            if sign { _ = try save(.signOff, caseID, in: s) }
            let r = try s.load(caseID).review
            var text = "\(caseID): "
            if let by = r?.signedOffBy { text += "signed off by \(by) at \(r?.signedOffAt ?? "?")" } else { text += "not signed off" }
            text += "\nnote: \(r?.note ?? "(none)")\n"
            try Output.out(Data(text.utf8))
        }
    }
}

struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A case's whole history: every change, who made it and when (oldest first).")
    @Argument(help: "The case ID.") var caseID: String
    @Flag(help: "One JSON object per line.") var jsonl = false
    @OptionGroup var store: StoreOption

    func run() throws {
        try workflow("audit") {
            let s = try store.open()
            let trail = try s.auditTrail(caseID)
            guard !trail.isEmpty else { throw CaseError.caseNotFound(caseID) }
            var out = ""
            for e in trail {
                if jsonl {
                    let obj: [String: String] = ["case": e.caseID, "at": e.at, "user": e.user, "action": e.action, "detail": e.detail]
                    let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .withoutEscapingSlashes])
                    out += String(decoding: data, as: UTF8.self) + "\n"
                } else {
                    out += "\(e.at)  \(e.user)  \(e.action): \(e.detail)\n"
                }
            }
            try Output.out(Data(out.utf8))
        }
    }
}
