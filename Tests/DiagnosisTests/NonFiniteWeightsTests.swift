import Diagnosis
import Engine
import Foundation
import Models
import XCTest

/// Issue 14: a detector with a NaN weight loaded without a word and then found no lesion on
/// any radiograph. Every checkpoint is now checked for NaN and infinities when it loads.
final class NonFiniteWeightsTests: XCTestCase {
    var dir: URL!
    let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-nonfinite-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// A models folder: the shipped files linked, except `damaged`, rewritten with one value of
    /// `tensor` replaced.
    func modelsFolder(damaged: String, tensor pick: (SafeTensors) -> String?, value: Float) throws -> (URL, String) {
        let models = dir.appendingPathComponent("models-\(damaged)")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        for name in ["detector.safetensors", "lesion_encoder.safetensors", "pathology_encoder.safetensors", "fusion_head.safetensors"] where name != damaged {
            try FileManager.default.createSymbolicLink(at: models.appendingPathComponent(name),
                                                       withDestinationURL: repo.appendingPathComponent("models/\(name)"))
        }
        let original = try SafeTensors(path: repo.appendingPathComponent("models/\(damaged)").path)
        let target = try XCTUnwrap(pick(original))
        var tensors: [String: Tensor] = [:]
        for n in original.names { tensors[n] = try original.tensor(n) }
        let t = try XCTUnwrap(tensors[target])
        let copy = Tensor(uninitialized: t.shape)
        for i in 0..<t.count { copy.pointer[i] = t.pointer[i] }
        copy.pointer[t.count / 2] = value
        tensors[target] = copy
        try SafeTensorsWriter.write(tensors, metadata: original.metadata, to: models.appendingPathComponent(damaged).path)
        return (models, target)
    }

    func testADetectorWithANaNWeightIsRefusedAtLoadNamingFileAndTensor() throws {
        // A convolution weight of the detector's head (the largest-numbered layer).
        let (models, tensor) = try modelsFolder(damaged: "detector.safetensors", tensor: { f in
            f.names.filter { $0.hasSuffix(".weight") && (try? f.shape($0).count) == 4 }.last
        }, value: .nan)
        XCTAssertThrowsError(try ModelSet(directory: models)) { e in
            let m = "\(e)"
            XCTAssert(m.contains("detector.safetensors") && m.contains("'\(tensor)'") && m.contains("holds NaN"), m)
        }
    }

    func testAnInfiniteWeightInAnOptionalModelIsRefusedToo() throws {
        let (models, tensor) = try modelsFolder(damaged: "fusion_head.safetensors", tensor: { f in
            f.names.first { ((try? f.tensor($0))?.count ?? 0) > 1 }
        }, value: -.infinity)
        XCTAssertThrowsError(try ModelSet(directory: models)) { e in
            let m = "\(e)"
            XCTAssert(m.contains("fusion_head.safetensors") && m.contains("'\(tensor)'") && m.contains("holds -infinity"), m)
        }
    }

    func testTheShippedModelsAreFinite() throws {
        XCTAssertNoThrow(try ModelSet(directory: repo.appendingPathComponent("models")))
    }
}
