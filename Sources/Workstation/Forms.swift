import Cases
import Foundation

/// A form over the case view: the pathologist's slide reference, a lab result, the review
/// note, the reason for reopening, the sign-off confirmation. Fields are checked as they are
/// typed where that is cheap (required, pattern, unique); the file checks and the save run in
/// the background (`CaseStore.apply`), and their messages come back beside the fields.
public struct FormState: Sendable {
    public enum Kind: Sendable, Equatable {
        case slide, lab, note, reopen, signOff
        /// Tutor mode: a lab value changed in a scratch copy of the case, never saved.
        case scratchLab
        /// Cases into the store (the case list's import screen).
        case importCases
        /// The PACS screen's search.
        case pacsSearch
    }

    public struct Field: Sendable {
        public var name: String
        public var value: String
        /// A choice list (Left / Right cycle it); nil for free text.
        public var choices: [String]?
        public var hint: String
        public var problem: String?
    }

    public var kind: Kind
    public var caseID: String
    /// The case version the form was opened on: a save over a newer one is refused.
    public var version: Int?
    public var title: String
    public var fields: [Field]
    public var focus = 0
    /// The save is on its way to the store.
    public var saving = false
    /// The store's answer when it refused the whole save (a conflict, a signed case).
    public var error: String?

    static func slide(caseID: String, version: Int?) -> FormState {
        FormState(kind: .slide, caseID: caseID, version: version, title: "Add a slide reference to \(caseID)", fields: [
            Field(name: SlideEntry.Field.slideID.rawValue, value: "", hint: "e.g. S26-01234-A1"),
            Field(name: SlideEntry.Field.block.rawValue, value: "", hint: "optional, e.g. A1"),
            Field(name: SlideEntry.Field.stain.rawValue, value: SlideEntry.stains[0], choices: SlideEntry.stains, hint: "← → to choose"),
            Field(name: SlideEntry.Field.file.rawValue, value: "", hint: "PNG or JPEG under ~ or $TUMORBOARD_SLIDE_ROOTS"),
        ])
    }

    static func lab(caseID: String, version: Int?, catalog: BiomarkerCatalog?, scratch: Bool, prefill: LabResult? = nil) -> FormState {
        let markers = catalog?.markers.map(\.id) ?? []
        let marker = prefill?.marker ?? markers.first ?? ""
        var f = FormState(kind: scratch ? .scratchLab : .lab, caseID: caseID, version: version,
                          title: scratch ? "Tutor: change a lab value (a scratch copy, never saved)" : "Add or correct a lab result of \(caseID)",
                          fields: [
            Field(name: LabEntry.Field.marker.rawValue, value: marker, choices: markers.isEmpty ? nil : markers, hint: "← → to choose"),
            Field(name: LabEntry.Field.value.rawValue, value: prefill.map { DiagnosisPanel.formatValue($0.value) } ?? "", hint: "a number, '.' for decimals"),
            Field(name: LabEntry.Field.unit.rawValue, value: prefill?.unit ?? "", choices: nil, hint: "← → to choose"),
            Field(name: LabEntry.Field.date.rawValue, value: prefill?.date ?? "", hint: "YYYY-MM-DD; same date corrects that result"),
        ])
        f.setUnits(catalog: catalog, keep: prefill?.unit)
        if scratch { f.fields.removeLast() }
        f.focus = 1
        return f
    }

    static func note(caseID: String, version: Int?, current: String?) -> FormState {
        FormState(kind: .note, caseID: caseID, version: version, title: "Review note for \(caseID)",
                  fields: [Field(name: "Note", value: current ?? "", hint: "empty removes the note")])
    }

    static func reopen(caseID: String, version: Int?, signedBy: String, at: String) -> FormState {
        FormState(kind: .reopen, caseID: caseID, version: version, title: "Reopen \(caseID), signed off by \(signedBy) at \(at)",
                  fields: [Field(name: "Reason", value: "", hint: "required; goes into the audit trail")])
    }

    static func importCases(store: String) -> FormState {
        var f = FormState(kind: .importCases, caseID: "", version: nil, title: "Import into \(StoreLocation.shortName(store))", fields: [
            Field(name: "Path", value: "", hint: "case folder(s), a dataset folder, a DICOM or PNG/JPEG file"),
            Field(name: "Case ID", value: "", hint: "for a DICOM (else its PatientID) or PNG/JPEG file"),
            Field(name: "Age", value: "", hint: "years, for a PNG/JPEG radiograph"),
            Field(name: "Sex", value: "", choices: ["", "F", "M"], hint: "← → to choose"),
            Field(name: "Site", value: "", hint: "e.g. femur, for a PNG/JPEG radiograph"),
        ])
        f.focus = 0
        return f
    }

    /// The import to run, or nil when a field is wrong (the problem beside it).
    mutating func importRequest(directory: String) -> ImportRequest? {
        for i in fields.indices { fields[i].problem = nil }
        error = nil
        func value(_ i: Int) -> String { fields[i].value.trimmingCharacters(in: .whitespaces) }
        var path = value(0)
        if path.isEmpty { fields[0].problem = "required"; return nil }
        if path.hasPrefix("~/"), let home = ProcessInfo.processInfo.environment["HOME"] { path = home + path.dropFirst(1) }
        if !path.hasPrefix("/") { path = URL(fileURLWithPath: directory).appendingPathComponent(path).standardizedFileURL.path }
        var age: Int?
        if !value(2).isEmpty {
            guard let a = Int(value(2)), (0...150).contains(a) else { fields[2].problem = "a whole number of years, 0-150"; return nil }
            age = a
        }
        return ImportRequest(paths: [path], caseID: value(1).isEmpty ? nil : value(1), age: age,
                             sex: Sex(rawValue: value(3)), site: value(4).isEmpty ? nil : value(4))
    }

    static func signOff(caseID: String, version: Int?, user: String) -> FormState {
        FormState(kind: .signOff, caseID: caseID, version: version, title: "Sign off \(caseID) as \(user)? It becomes read-only.", fields: [])
    }

    /// The lab form's unit choices follow the marker.
    mutating func setUnits(catalog: BiomarkerCatalog?, keep: String? = nil) {
        guard kind == .lab || kind == .scratchLab, fields.count > 2, let c = catalog,
              let m = try? c.marker(fields[0].value) else { return }
        let units = [m.unit] + m.alternateUnits.map(\.unit)
        fields[2].choices = units
        fields[2].value = keep.flatMap { units.contains($0) ? $0 : nil } ?? units[0]
    }

    /// What to save, or nil when a field is wrong (the problems are then set beside the fields).
    mutating func edit(catalog: BiomarkerCatalog?, existingSlides: [SlideReference]) -> CaseEdit? {
        for i in fields.indices { fields[i].problem = nil }
        error = nil
        func value(_ i: Int) -> String { fields.indices.contains(i) ? fields[i].value : "" }
        switch kind {
        case .slide:
            let entry = SlideEntry(slideID: value(0), block: value(1), stain: value(2), file: value(3))
            // The cheap checks now; the file (exists, decodes, allowed folder) with the save.
            let cheap = entry.problems(existing: existingSlides, roots: [], directory: "/", checkingFile: false)
            if !cheap.isEmpty {
                for (k, v) in cheap { if let i = fields.firstIndex(where: { $0.name == k.rawValue }) { fields[i].problem = v } }
                return nil
            }
            return .slide(entry)
        case .lab, .scratchLab:
            guard let catalog else { error = "the biomarker catalogue is unavailable"; return nil }
            switch LabEntry(marker: value(0), value: value(1), unit: value(2), date: value(3)).result(catalog: catalog) {
            case .success(let lab): return .lab(lab)
            case .failure(let p):
                for (k, v) in p.fields { if let i = fields.firstIndex(where: { $0.name == k.rawValue }) { fields[i].problem = v } }
                return nil
            }
        case .note: return .note(value(0))
        case .reopen:
            guard !value(0).trimmingCharacters(in: .whitespaces).isEmpty else { fields[0].problem = "required"; return nil }
            return .reopen(reason: value(0))
        case .signOff: return .signOff
        case .importCases, .pacsSearch: return nil
        }
    }

    /// The store's answer to a save that was refused: beside the fields where it names them.
    mutating func refused(_ outcome: EditOutcome) {
        saving = false
        var placed = false
        for (name, problem) in outcome.fieldProblems {
            if let i = fields.firstIndex(where: { $0.name == name }) { fields[i].problem = problem; placed = true }
        }
        if !placed { error = outcome.message }
    }

    /// Keys while the form is open. Returns true when Enter asks to save, false otherwise.
    mutating func handle(_ key: Key, catalog: BiomarkerCatalog?) -> Bool {
        switch key {
        case .enter: return true
        case .tab, .down: if !fields.isEmpty { focus = (focus + 1) % fields.count }
        case .backTab, .up: if !fields.isEmpty { focus = (focus + fields.count - 1) % fields.count }
        case .left, .right:
            guard fields.indices.contains(focus), let choices = fields[focus].choices, !choices.isEmpty else { return false }
            let i = choices.firstIndex(of: fields[focus].value) ?? 0
            fields[focus].value = choices[(i + (key == .right ? 1 : choices.count - 1)) % choices.count]
            fields[focus].problem = nil
            if focus == 0 { setUnits(catalog: catalog) }
        case .backspace:
            guard fields.indices.contains(focus), fields[focus].choices == nil, !fields[focus].value.isEmpty else { return false }
            fields[focus].value.removeLast()
            fields[focus].problem = nil
        case .char(let c):
            guard fields.indices.contains(focus), fields[focus].choices == nil, fields[focus].value.count < 400 else { return false }
            fields[focus].value.append(c)
            fields[focus].problem = nil
        default: break
        }
        return false
    }
}

/// Draws the open form in a box over the case view.
enum FormScreen {
    static func draw(_ form: FormState, theme t: Theme, into s: inout Screen) {
        let w = min(s.width - 2, 76)
        let rows = max(1, form.fields.count) * 2 + 5 + (form.error == nil ? 0 : 2)
        let box = CellRect(x: (s.width - w) / 2, y: max(1, (s.height - rows) / 2), width: w, height: min(s.height - 2, rows))
        s.fill(box, style: t[.text])
        s.frame(box, style: t[.key], title: " " + form.title + " ", titleStyle: t[.header])
        let labelW = 12
        var y = box.y + 2
        if form.fields.isEmpty {
            s.put("Enter: yes    Esc: no", x: box.x + 2, y: y, style: t[.text], maxWidth: w - 4)
            y += 2
        }
        for (i, f) in form.fields.enumerated() where y < box.y + box.height - 2 {
            let focused = i == form.focus
            s.put((focused ? "▶ " : "  ") + fit(f.name, labelW), x: box.x + 1, y: y, style: focused ? t[.key] : t[.dim], maxWidth: labelW + 2)
            let fieldX = box.x + labelW + 4, fieldW = w - labelW - 6
            var shown = f.choices != nil ? "‹ \(f.value) ›" : f.value + (focused ? "▏" : "")
            if shown.count > fieldW { shown = "…" + shown.suffix(fieldW - 1) }
            s.fill(CellRect(x: fieldX, y: y, width: fieldW, height: 1), style: focused ? t[.selection] : t[.search])
            s.put(shown, x: fieldX, y: y, style: focused ? t[.selection] : t[.search], maxWidth: fieldW)
            if let p = f.problem {
                // The whole box width: a path or a rule needs it.
                let text = "✗ " + p, room = w - 5
                s.put(text.count > room ? String(text.prefix(room - 1)) + "…" : text, x: box.x + 3, y: y + 1, style: t[.error], maxWidth: room)
            } else {
                s.put(f.hint, x: fieldX, y: y + 1, style: t[.dim], maxWidth: fieldW)
            }
            y += 2
        }
        if let e = form.error {
            for line in DiagnosisPanel.wrap(e, w - 4).prefix(2) where y < box.y + box.height - 1 {
                s.put(line, x: box.x + 2, y: y, style: t[.error], maxWidth: w - 4)
                y += 1
            }
        }
        let help = form.saving ? "saving…" : (form.fields.isEmpty ? "" : "Tab/↑↓ field  ←→ choice  Enter save  Esc cancel")
        s.put(help, x: box.x + 2, y: box.y + box.height - 2, style: t[.dim], maxWidth: w - 4)
    }
}
