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
        --slide, --labs, --age, --sex, --site). Labs: a JSON list of {"marker", "value", "unit"} (or an \
        object with such a list under "labs"). Age, sex and site are the clinical context: the text \
        encoder reads them as a sentence ("A 15-year-old male with a lesion of the femur.") before \
        the lab sentence, for the benign / intermediate / malignant answer only (the detector never \
        sees them). Output schema: docs/cli.md. Research software, not a medical device.
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
            try Output.out(try enc.encode(findings) + Data("\n".utf8))
        } catch let e as ValidationError {
            throw e
        } catch {
            Output.err("tumorboard predict: \(error)\n")
            throw ExitCode(1)
        }
    }

    func makeInput() throws -> DiagnosisInput {
        if let folder = `case` {
            guard !folder.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("--case needs a folder, got an empty path") }
            guard files.image == nil, files.slide == nil, files.labs == nil, files.age == nil, files.sex == nil, files.site == nil else {
                throw ValidationError("--case and --image/--slide/--labs/--age/--sex/--site exclude each other (the case folder carries them)")
            }
            return try DiagnosisInput(record: CaseFolder.read(URL(fileURLWithPath: folder), verification: .existence))
        }
        return try files.input()
    }
}

/// A case from loose files and the models folder (`predict --image ...`, `bench --model case`).
struct LooseFiles: ParsableArguments {
    @Option(help: "A radiograph (PNG, JPEG or uncompressed DICOM).") var image: String?
    @Option(help: "A pathology slide image (PNG or JPEG).") var slide: String?
    @Option(help: "A lab panel (JSON).") var labs: String?
    @Option(help: "Age in years (clinical context; needed with labs).") var age: Int?
    @Option(help: "Sex: F or M (clinical context; needed with labs).") var sex: String?
    @Option(help: "Anatomical site(s) of the lesion, e.g. femur, or tibia;fibula (clinical context).") var site: String?
    @Option(help: "The models folder (default: $TUMORBOARD_MODELS, else models/ of this checkout).") var models: String?

    func input() throws -> DiagnosisInput {
        guard let image else { throw ValidationError("give --case DIR or --image FILE") }
        let radiograph = try CaseFolder.decodeImage(URL(fileURLWithPath: image), field: "--image")
        let slideImage = try slide.map { try CaseFolder.decodeSlide(URL(fileURLWithPath: $0), field: "--slide") }
        let sexValue: Sex? = try sex.map {
            guard let s = Sex(rawValue: $0.uppercased()) else { throw ValidationError("--sex must be F or M, got '\($0)'") }
            return s
        }
        let panel = try labs.map { try LabFile.read($0) }
        if let age, age < 0 { throw ValidationError("--age must be a whole number of years >= 0, got \(age)") }
        return DiagnosisInput(radiograph: radiograph, slide: slideImage, labs: panel, age: age, sex: sexValue, site: site)
    }
}
