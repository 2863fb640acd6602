import ArgumentParser
import Cases
import Diagnosis
import Foundation
import Imaging

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Diagnose one case: class probabilities, modality contributions, detections, heatmap (JSON).",
        discussion: """
        Either a case folder (--case, docs/case-format.md) or loose files (--image, with optional \
        --slide, --labs, --age, --sex). Labs: a JSON list of {"marker", "value", "unit"} (or an \
        object with such a list under "labs"). Output schema: docs/cli.md. Research software, \
        not a medical device.
        """)

    @Option(help: "A case folder (with case.json).") var `case`: String?
    @OptionGroup var files: LooseFiles
    @Flag(help: "Print one JSON object (the default and only format).") var json = false

    func run() throws {
        do {
            let input = try makeInput()
            let set = try ModelSet(directory: Open.modelsDirectory(files.models))
            let findings = try Diagnosis(models: set).run(input)
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys]
            FileHandle.standardOutput.write(try enc.encode(findings) + Data("\n".utf8))
        } catch let e as ValidationError {
            throw e
        } catch {
            FileHandle.standardError.write(Data("tumorboard predict: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    func makeInput() throws -> DiagnosisInput {
        if let folder = `case` {
            guard files.image == nil, files.slide == nil, files.labs == nil else {
                throw ValidationError("--case and --image/--slide/--labs exclude each other")
            }
            let record = try CaseFolder.read(URL(fileURLWithPath: folder), verification: .existence)
            guard let r = record.radiographs.first else {
                throw DiagnosisError.input("\(folder): the case has no radiograph")
            }
            let radiograph = try CaseFolder.decodeImage(URL(fileURLWithPath: r.file), field: "radiographs[0].file")
            let slideImage = try record.slides.first.map { try CaseFolder.decodeImage(URL(fileURLWithPath: $0.file), field: "slides[0].file") }
            return DiagnosisInput(radiograph: radiograph, slide: slideImage,
                                  labs: record.labs.isEmpty ? nil : record.labs, age: record.age, sex: record.sex)
        }
        return try files.input()
    }
}

/// A case from loose files and the models folder (`predict --image ...`, `bench --model case`).
struct LooseFiles: ParsableArguments {
    @Option(help: "A radiograph (PNG, JPEG or uncompressed DICOM).") var image: String?
    @Option(help: "A pathology slide image (PNG or JPEG).") var slide: String?
    @Option(help: "A lab panel (JSON).") var labs: String?
    @Option(help: "Age in years (needed with labs).") var age: Int?
    @Option(help: "Sex: F or M (needed with labs).") var sex: String?
    @Option(help: "The models folder (default: $TUMORBOARD_MODELS, else models/ of this checkout).") var models: String?

    func input() throws -> DiagnosisInput {
        guard let image else { throw ValidationError("give --case DIR or --image FILE") }
        let radiograph = try CaseFolder.decodeImage(URL(fileURLWithPath: image), field: "--image")
        let slideImage = try slide.map { try CaseFolder.decodeImage(URL(fileURLWithPath: $0), field: "--slide") }
        let sexValue: Sex? = try sex.map {
            guard let s = Sex(rawValue: $0.uppercased()) else { throw ValidationError("--sex must be F or M, got '\($0)'") }
            return s
        }
        let panel = try labs.map { try LabFile.read($0) }
        return DiagnosisInput(radiograph: radiograph, slide: slideImage, labs: panel, age: age, sex: sexValue)
    }
}

/// A loose lab panel file: a JSON list of {"marker", "value", "unit"[, "date"]}, or an object
/// holding that list under "labs". Every marker and unit is checked against biomarkers.json.
enum LabFile {
    struct Wrapped: Decodable { let labs: [LabResult] }

    static func read(_ path: String) throws -> [LabResult] {
        let name = (path as NSString).lastPathComponent
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DiagnosisError.input("\(path): cannot be read (missing or not a file)")
        }
        let results: [LabResult]
        if let list = try? JSONDecoder().decode([LabResult].self, from: data) { results = list }
        else if let w = try? JSONDecoder().decode(Wrapped.self, from: data) { results = w.labs }
        else {
            throw DiagnosisError.input("\(name): not a lab panel (expected a JSON list of {\"marker\", \"value\", \"unit\"})")
        }
        let catalog: BiomarkerCatalog
        do { catalog = try BiomarkerCatalog.bundled } catch { throw DiagnosisError.models("biomarkers.json: \(error)") }
        for (i, r) in results.enumerated() {
            do { try catalog.validate(r) } catch { throw DiagnosisError.input("\(name): entry \(i) (\(r.marker)): \(error)") }
        }
        return results
    }
}
