import Cases
import Foundation
import XCTest
@testable import Diagnosis

/// `predict --case` on every bundled sample against the PyTorch pipeline
/// (Tests/Fixtures/samples/sample_answers.json, training/make_sample_fixtures.py): 8- and 16-bit
/// PNG and DICOM radiographs, JPEG slides, a case without a slide, one without labs. The models
/// ship in the repository, so this runs without the shared data. The samples are GENERATED.
final class SampleAnswersTests: XCTestCase {
    struct Answer: Decodable {
        let probabilities: [Double], image_only_probabilities: [Double], predicted: String, detections: Int
        let present: [Double], sentence: String?
    }
    struct File: Decodable { let answers: [String: Answer] }

    func testEverySampleAgreesWithThePyTorchPipeline() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let file = try JSONDecoder().decode(File.self, from: Data(contentsOf: repo.appendingPathComponent("Tests/Fixtures/samples/sample_answers.json")))
        let diagnosis = try Diagnosis(models: ModelSet(directory: repo.appendingPathComponent("models")))
        guard diagnosis.models.textEncoder != nil else { throw XCTSkip("the text encoder is not fetched (scripts/fetch-text-encoder)") }
        let folders = try FileManager.default.contentsOfDirectory(atPath: repo.appendingPathComponent("samples").path).sorted()
        var checked = 0
        for name in folders {
            let dir = repo.appendingPathComponent("samples/\(name)")
            guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("case.json").path) else { continue }
            let record = try CaseFolder.read(dir, verification: .existence)
            let expected = try XCTUnwrap(file.answers[record.id], "\(record.id): no PyTorch answer (re-run training/make_sample_fixtures.py)")
            let f = try diagnosis.run(DiagnosisInput(record: record))
            // Tolerance: float32 in two engines (the pipeline's layer-by-layer tests hold 1e-4 on logits).
            for (a, b) in zip(f.probabilities.values, expected.probabilities) { XCTAssertEqual(a, b, accuracy: 1e-3, "\(record.id) fused") }
            for (a, b) in zip(f.imageOnlyProbabilities.values, expected.image_only_probabilities) { XCTAssertEqual(a, b, accuracy: 1e-3, "\(record.id) image only") }
            XCTAssertEqual(f.predicted, expected.predicted, record.id)
            XCTAssertEqual(f.detections.count, expected.detections, "\(record.id) detections")
            XCTAssertEqual([f.present.image, f.present.pathology, f.present.labs].map { $0 == true ? 1.0 : 0.0 }, expected.present, record.id)
            XCTAssertEqual(f.sentence, expected.sentence, record.id)
            checked += 1
        }
        XCTAssertEqual(checked, file.answers.count, "every sample with an answer was checked")
    }
}
