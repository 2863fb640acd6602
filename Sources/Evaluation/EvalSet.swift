import Cases
import Foundation

/// One labelled case to evaluate: what the models read and the reference they are scored on.
public struct EvalCase: Sendable {
    public var record: CaseRecord
    /// The reference label (normal, or a tumour class).
    public var label: DiagnosisLabel
    public var split: String?
    /// The reference lesion boxes of the first radiograph, in its pixels.
    public var boxes: [LesionBox] { record.radiographs.first?.boxes ?? [] }
}

public struct EvalSetError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// A labelled dataset for `tumorboard eval`: a BTXRD-like folder (images/, cases.csv,
/// boxes.csv) with the cohort manifest, a folder of case folders that carry a label, or a case
/// store. Bad entries are left out with the reason (`leftOut`); the rest is evaluated.
public struct EvalSet: Sendable {
    public var title: String
    public var cases: [EvalCase]
    /// "file:line: problem" for each entry left out.
    public var leftOut: [String]
    /// Which inputs are real and which generated, by modality (image, pathology, labs).
    public var inputs: [String: String]
    public var split: String?

    /// Reads `path`. `split` keeps the cases of that split (default "test" where the data has
    /// splits, else all). For a dataset folder, `cohort` (default: training/cohort_manifest.csv
    /// of this checkout when it names the folder's images) gives each image its split, generated
    /// labs and slide seed, and `slides` a folder of generated slide tiles (`<image_id>.png`,
    /// written by training/render_slides.py); without them those modalities are absent.
    public static func load(path: String, split: String? = nil, cohort: URL? = nil, slides: URL? = nil) throws -> EvalSet {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if StoreLocation.isURL(path) {  // a PostgreSQL case store
            let store = try CaseStore(path: path)
            return try fromRecords(try store.allRecords(), title: "case store \(store.path)", split: split, origin: store.path)
        }
        guard fm.fileExists(atPath: path, isDirectory: &isDir) else { throw EvalSetError("\(path): no such file or folder") }
        if !isDir.boolValue {
            guard path.hasSuffix(".sqlite") else { throw EvalSetError("\(path): not a folder or a case store (.sqlite)") }
            return try fromRecords(try CaseStore(path: path).allRecords(), title: "case store \(path)", split: split, origin: path)
        }
        if fm.fileExists(atPath: path + "/cases.csv") {
            return try dataset(URL(fileURLWithPath: path), split: split, cohort: cohort, slides: slides)
        }
        var records: [CaseRecord] = [], leftOut: [String] = []
        let names = ((try? fm.contentsOfDirectory(atPath: path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        for name in names {
            let url = URL(fileURLWithPath: path).appendingPathComponent(name)
            guard fm.fileExists(atPath: url.appendingPathComponent(CaseFolder.manifestName).path) else { continue }
            do { records.append(try CaseFolder.read(url, verification: .existence)) } catch { leftOut.append("\(name): \(error)") }
        }
        var set = try fromRecords(records, title: "case folders in \(path)", split: split, origin: path)
        set.leftOut = leftOut + set.leftOut
        return set
    }

    /// Case folders and stores: cases without a label cannot be scored and are left out.
    static func fromRecords(_ records: [CaseRecord], title: String, split: String?, origin: String) throws -> EvalSet {
        if let split { throw EvalSetError("\(origin): --split \(split): case folders and stores carry no split; evaluate all, or a folder of that split's cases") }
        var cases: [EvalCase] = [], leftOut: [String] = []
        for r in records {
            guard let label = r.label else { leftOut.append("\(r.id): no label (a reference diagnosis is needed to score it)"); continue }
            guard !r.radiographs.isEmpty else { leftOut.append("\(r.id): no radiograph"); continue }
            cases.append(EvalCase(record: r, label: label, split: nil))
        }
        let provenance = Set(records.compactMap { $0.provenance.map(describe) }).sorted().joined(separator: "; ")
        let what = provenance.isEmpty ? "as the cases give them (provenance not stated)" : provenance
        return EvalSet(title: title, cases: cases, leftOut: leftOut,
                       inputs: ["image": "radiographs \(what)", "pathology": "slides \(what)", "labs": "labs \(what)"], split: nil)
    }

    /// A provenance line, shortened to what it says of real or generated.
    static func describe(_ provenance: String) -> String {
        let p = provenance.lowercased()
        if p.contains("synthetic") || p.contains("generated") { return "GENERATED (\(provenance.prefix(60)))" }
        if p.contains("real") { return "REAL (\(provenance.prefix(60)))" }
        return String(provenance.prefix(60))
    }

    static func dataset(_ folder: URL, split: String?, cohort: URL?, slides: URL?) throws -> EvalSet {
        var leftOut: [String] = []
        var records = try DatasetLayout.read(folder, hashImages: false) { leftOut.append("\($0)") }
        // The cohort manifest: split, generated labs, slide seed per image.
        let manifestURL = cohort ?? defaultCohort(for: records, folder: folder)
        var manifest: [String: [String: String]] = [:]
        if let manifestURL {
            let t = try DatasetLayout.table(manifestURL, required: ["image_id", "split"])
            for (_, f) in t.rows {
                var row: [String: String] = [:]
                for (k, i) in t.header where i < f.count { row[k] = f[i].trimmingCharacters(in: .whitespaces) }
                if let id = row["image_id"] { manifest[id] = row }
            }
        }
        // Splits: the manifest's, else splits.csv beside cases.csv.
        var splits: [String: String] = manifest.compactMapValues { $0["split"] }
        let splitsURL = folder.appendingPathComponent("splits.csv")
        if splits.isEmpty, FileManager.default.fileExists(atPath: splitsURL.path) {
            let t = try DatasetLayout.table(splitsURL, required: ["image_id", "split"])
            for (_, f) in t.rows { splits[f[t.header["image_id"]!]] = f[t.header["split"]!] }
        }
        let wanted = split ?? (splits.isEmpty ? nil : "test")
        if let wanted, splits.isEmpty { throw EvalSetError("\(folder.path): --split \(wanted): no split information (no cohort manifest, no splits.csv)") }
        let catalog = try BiomarkerCatalog.bundled
        var cases: [EvalCase] = []
        var withLabs = 0, withSlides = 0
        for i in records.indices {
            let imageID = String(records[i].id.dropFirst("BTXRD-".count))
            let s = splits[imageID]
            if let wanted, s != wanted { continue }
            guard let label = records[i].label else { continue }
            if let row = manifest[imageID] {
                var labs: [LabResult] = []
                for m in catalog.markers {
                    guard let v = row["\(m.id)_value"], !v.isEmpty else { continue }
                    guard let value = Double(v), let unit = row["\(m.id)_unit"], !unit.isEmpty else {
                        leftOut.append("\(manifestURL?.lastPathComponent ?? "manifest"): \(imageID): \(m.id) '\(v)' is not a number with a unit")
                        continue
                    }
                    labs.append(LabResult(marker: m.id, value: value, unit: unit))
                }
                records[i].labs = labs
                if !labs.isEmpty { withLabs += 1 }
                if let slides, row["has_slide"] == "1" {
                    let tile = slides.appendingPathComponent("\(imageID).png")
                    if FileManager.default.fileExists(atPath: tile.path) {
                        records[i].slides = [SlideReference(slideID: "GEN-\(imageID)", stain: "H&E (generated)", file: tile.path)]
                        withSlides += 1
                    } else {
                        leftOut.append("\(tile.path): no generated slide tile (render them with training/render_slides.py); evaluated without a slide")
                    }
                }
            }
            cases.append(EvalCase(record: records[i], label: label, split: s))
        }
        let manifestNote = manifestURL.map { ", \($0.lastPathComponent)" } ?? ""
        return EvalSet(
            title: "\(folder.lastPathComponent)\(wanted.map { ", \($0) split" } ?? "")",
            cases: cases, leftOut: leftOut,
            inputs: ["image": "radiographs REAL (\(folder.lastPathComponent))",
                     "pathology": withSlides > 0 ? "slide tiles GENERATED (procedural, seeds of the cohort manifest\(manifestNote))" : "absent (no slide tiles given)",
                     // The text modality: the patient's real age, sex and site (the dataset's), then the labs.
                     "labs": "clinical text: age, sex and site REAL (\(folder.lastPathComponent))"
                        + (withLabs > 0 ? " + lab panels GENERATED (cohort generator\(manifestNote)); sentences by the rules, encoded by MiniLM"
                                        : "; no lab panels (no cohort manifest)")],
            split: wanted)
    }

    /// training/cohort_manifest.csv of the checkout this program was built in (or the current
    /// folder's), when the dataset is BTXRD-like.
    static func defaultCohort(for records: [CaseRecord], folder: URL) -> URL? {
        guard let url = checkoutCohort() else { return nil }
        // Only for the dataset it was made from: nearly all its image IDs are this folder's.
        guard let t = try? DatasetLayout.table(url, required: ["image_id"]) else { return nil }
        let ids = Set(records.map { String($0.id.dropFirst("BTXRD-".count)) })
        let rows = t.rows.map { $0.fields[t.header["image_id"]!] }
        let shared = rows.filter { ids.contains($0) }.count
        return !rows.isEmpty && shared * 10 >= rows.count * 9 ? url : nil
    }

    static func checkoutCohort() -> URL? {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            let c = url.appendingPathComponent("training/cohort_manifest.csv")
            if FileManager.default.fileExists(atPath: c.path), FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return c }
            url.deleteLastPathComponent()
        }
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("training/cohort_manifest.csv")
        return FileManager.default.fileExists(atPath: cwd.path) ? cwd : nil
    }
}
