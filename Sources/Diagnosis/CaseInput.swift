import Cases
import Foundation
import Imaging

extension DiagnosisInput {
    /// The case as the models see it: its first radiograph, its first slide, the latest result
    /// per marker of its labs, its age, sex and site (the clinical context the text encoder
    /// reads). One path for `predict`, the workstation and eval.
    public init(record: CaseRecord) throws {
        guard let r = record.radiographs.first else {
            throw DiagnosisError.input("\(record.id): the case has no radiograph")
        }
        // One policy wherever a case is diagnosed (predict, the workstation, eval), as import's:
        // a file whose bytes are not those the case recorded is refused, never diagnosed.
        if let expected = r.sha256 { try CaseFiles.check(r.file, expected: expected, field: "radiographs[0]", caseID: record.id) }
        if let s = record.slides.first, let expected = s.sha256 { try CaseFiles.check(s.file, expected: expected, field: "slides[0]", caseID: record.id) }
        let radiograph = try CaseFolder.decodeImage(URL(fileURLWithPath: r.file), field: "radiographs[0].file")
        let slide = try record.slides.first.map { try CaseFolder.decodeSlide(URL(fileURLWithPath: $0.file), field: "slides[0].file") }
        let labs: [LabResult]
        do { labs = try record.labs.panelForDiagnosis() } catch { throw DiagnosisError.input("\(record.id): labs: \(error)") }
        self.init(radiograph: radiograph, slide: slide, labs: labs.isEmpty ? nil : labs, age: record.age, sex: record.sex, site: record.site)
    }
}

/// The recorded digest of a case's file against its bytes now.
public enum CaseFiles {
    public static func digest(_ file: String, field: String) throws -> String {
        do { return try SHA256Digest.hex(ofFile: URL(fileURLWithPath: file)) }
        catch { throw DiagnosisError.input("\(field) \((file as NSString).lastPathComponent): cannot be read (\(error))") }
    }

    public static func check(_ file: String, expected: String, field: String, caseID: String) throws {
        _ = try checkedDigest(file, expected: expected, field: field, caseID: caseID)
    }

    /// The file's digest, refused when the case records another one.
    public static func checkedDigest(_ file: String, expected: String?, field: String, caseID: String) throws -> String {
        let d = try digest(file, field: field)
        guard let expected else { return d }
        guard d == expected.lowercased() else {
            throw DiagnosisError.input("\(caseID): \(field) \((file as NSString).lastPathComponent) has sha256 \(d.prefix(12))…, the case records \(expected.prefix(12))…: the file changed since it was recorded (swapped or edited); it is not diagnosed")
        }
        return d
    }
}

/// A loose lab panel file: a JSON list of {"marker", "value", "unit"[, "date"]}, or an object
/// holding that list under "labs". Every marker and unit is checked against biomarkers.json.
public enum LabFile {
    /// The parsing lives in Cases (`LabPanelFile`), which `tumorboard import --labs` uses too.
    public static func read(_ path: String) throws -> [LabResult] {
        do { return try LabPanelFile.read(URL(fileURLWithPath: path)) } catch { throw DiagnosisError.input(error.description) }
    }
}

/// What a kept result is valid for: a digest of everything the diagnosis reads from the case
/// (the bytes of its radiograph and slide, its latest labs, age, sex and site) and of the model
/// weights. The same key means the same answer; a changed image, a new slide or lab, or a
/// retrained model gives a new key, so the case runs again.
public enum InputKey {
    /// Bumped when `Findings` or the pipeline changes what a result means.
    /// 2: `Findings.subsets` (tutor mode) added.
    /// 3: the clinical context (age, sex, site) is read by the text encoder (issue 15).
    public static let resultFormat = 3

    public static func of(_ record: CaseRecord, modelHashes: [String: String]) throws -> String {
        var lines = ["tumorboard-findings \(resultFormat)"]
        for (name, hash) in modelHashes.sorted(by: { $0.key < $1.key }) { lines.append("model \(name) \(hash)") }
        // The recorded sha256 is checked here too, before any kept result can be read back for it.
        if let r = record.radiographs.first {
            lines.append("radiograph \(try CaseFiles.checkedDigest(r.file, expected: r.sha256, field: "radiographs[0]", caseID: record.id))")
        }
        if let s = record.slides.first {
            lines.append("slide \(try CaseFiles.checkedDigest(s.file, expected: s.sha256, field: "slides[0]", caseID: record.id))")
        }
        let panel: [LabResult]
        do { panel = try record.labs.panelForDiagnosis() } catch { throw DiagnosisError.input("\(record.id): labs: \(error)") }
        for l in panel { lines.append("lab \(l.marker) \(l.value) \(l.unit)") }
        lines.append("age \(record.age.map(String.init) ?? "-") sex \(record.sex?.rawValue ?? "-")")
        // The site as the context sentence reads it (case and spacing that do not change the text do not change the key).
        lines.append("site \(ClinicalSentence.siteParts(record.site).joined(separator: ";"))")
        return SHA256Digest.hex(Data(lines.joined(separator: "\n").utf8))
    }
}
