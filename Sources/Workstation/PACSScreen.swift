import Cases
import Foundation
import PACS

/// The PACS screen: the configured DICOMweb servers' studies (searched by patient ID, date and
/// modality), imported with progress into the store and opened. The requests run on the
/// `network` queue; the screen stays responsive, and Esc cancels a running retrieve.
public struct PACSView: Sendable {
    public var servers: [PACSServer]
    /// Why the servers file could not be read, if it could not.
    public var configProblem: String?
    public var configPath: String
    public var server: PACSServer?
    public var results: [StudySummary] = []
    public var selected = 0
    public var top = 0
    public var status = "/ searches the server"
    public var statusIsError = false
    public var searching = false
    public var importing: PACSImportProgress?
    /// An import is running (its progress, once the first arrives, in `importing`).
    public var importRunning = false
    /// The study being imported.
    public var importingStudy: String?

    public init(servers: [PACSServer], configPath: String, configProblem: String? = nil) {
        self.servers = servers; self.configPath = configPath; self.configProblem = configProblem
        server = servers.first
    }

    /// The servers file, read now.
    public static func load(environment: [String: String] = ProcessInfo.processInfo.environment) -> PACSView {
        let path = PACSServersFile.defaultPath(environment: environment)
        do { return PACSView(servers: try PACSServersFile.load(path, environment: environment), configPath: path) } catch {
            return PACSView(servers: [], configPath: path, configProblem: "\(error)")
        }
    }
}

extension FormState {
    static func pacsSearch(_ view: PACSView) -> FormState {
        FormState(kind: .pacsSearch, caseID: "", version: nil, title: "Search the PACS", fields: [
            Field(name: "Server", value: view.server?.name ?? "", choices: view.servers.map(\.name), hint: "← → to choose; servers: \(view.configPath)"),
            Field(name: "Patient ID", value: "", hint: "exact, or with * and ?; empty: any"),
            Field(name: "Since", value: "", hint: "YYYY-MM-DD; empty: any date"),
            Field(name: "Modality", value: "", choices: ["", "CR", "DX"], hint: "← → to choose; empty: any"),
        ])
    }

    /// The server and query to send, or nil when a field is wrong (its problem beside it).
    mutating func pacsQuery(servers: [PACSServer]) -> (PACSServer, StudyQuery)? {
        for i in fields.indices { fields[i].problem = nil }
        func value(_ i: Int) -> String { fields[i].value.trimmingCharacters(in: .whitespaces) }
        guard let server = servers.first(where: { $0.name == value(0) }) else { fields[0].problem = "no such server"; return nil }
        var since: String?
        if !value(2).isEmpty {
            do throws(PACSError) { since = try StudyQuery.dicomDate(value(2)) } catch { fields[2].problem = "\(error)"; return nil }
        }
        return (server, StudyQuery(patientID: value(1).isEmpty ? nil : value(1), modality: value(3).isEmpty ? nil : value(3), since: since))
    }
}

enum PACSScreen {
    static func draw(_ v: PACSView, theme t: Theme, into s: inout Screen) {
        s.fill(CellRect(x: 0, y: 0, width: s.width, height: 1), style: t[.title])
        s.put(" PACS · \(v.server?.label ?? "no server configured")", x: 0, y: 0, style: t[.title], maxWidth: s.width - 8)
        s.put("? help", x: s.width - 7, y: 0, style: t[.title])
        var y = 2
        if v.servers.isEmpty {
            let lines = ["No PACS server configured.", v.configProblem ?? "Put the servers in \(v.configPath) (docs/pacs.md):",
                         "{\"servers\": [{\"name\": \"hospital\", \"url\": \"https://pacs.example.org/dicom-web\"}]}"]
            for (k, l) in lines.enumerated() { s.put(l, x: 2, y: y + k, style: k == 1 && v.configProblem != nil ? t[.error] : t[.text], maxWidth: s.width - 4) }
            s.put("Esc back to the case list", x: 2, y: s.height - 2, style: t[.dim])
            return
        }
        let header = "Date        Patient ID          Modalities  Images  Description"
        s.put(header, x: 1, y: y, style: t[.header], maxWidth: s.width - 2)
        y += 1
        let rows = max(1, s.height - y - 3)
        for (k, study) in v.results.enumerated().dropFirst(v.top).prefix(rows) {
            let line = fit(study.isoDate ?? "-", 11) + " " + fit(DICOMJSON.printable(study.patientID, max: 19), 19) + " "
                + fit(study.modalities.joined(separator: ","), 11) + " " + fit(study.numberOfInstances.map(String.init) ?? "?", 7, right: true)
                + "  " + DICOMJSON.printable(study.description, max: 60)
            let style = k == v.selected ? t[.selection] : t[.text]
            if k == v.selected { s.fill(CellRect(x: 0, y: y, width: s.width, height: 1), style: style) }
            s.put(line, x: 1, y: y, style: style, maxWidth: s.width - 2)
            y += 1
        }
        if v.results.isEmpty, !v.searching {
            s.put("no studies listed yet: / searches", x: 2, y: y, style: t[.dim], maxWidth: s.width - 4)
        }
        let statusLine = v.importRunning ? "\(v.importing?.line ?? "starting the retrieve") · Esc cancels"
            : (v.searching ? "searching \(v.server?.label ?? "")…" : v.status)
        s.put(statusLine, x: 1, y: s.height - 3, style: v.statusIsError && !v.importRunning && !v.searching ? t[.error] : t[.text], maxWidth: s.width - 2)
        s.put("/ search   ↑↓ choose   Enter import and open   Esc back", x: 1, y: s.height - 2, style: t[.dim], maxWidth: s.width - 2)
    }
}
