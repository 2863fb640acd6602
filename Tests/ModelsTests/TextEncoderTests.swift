import Engine
import Foundation
import Models
import TestSupport
import XCTest

/// The WordPiece tokenizer against Hugging Face `tokenizers`, and all-MiniLM-L6-v2 on the engine
/// against a plain PyTorch BERT (training/make_text_fixtures.py). Needs the text encoder that
/// scripts/fetch-text-encoder installs in models/text/; skips with a message without it.
final class TextEncoderTests: XCTestCase {
    struct Fixture: Decodable {
        struct Case: Decodable { let text: String; let ids: [Int]; let embedding: [Float]? }
        let cases: [Case]
        let max_length: Int
    }

    var modelDir: URL { Fixtures.repositoryRoot.appendingPathComponent("models/text/all-MiniLM-L6-v2") }

    func fixture() throws -> Fixture {
        try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("text.json"))))
    }

    func requireModel() throws {
        guard FileManager.default.fileExists(atPath: modelDir.appendingPathComponent("model.safetensors").path) else {
            throw XCTSkip("text encoder not installed in \(modelDir.path): run scripts/fetch-text-encoder")
        }
    }

    func testTokenizerMatchesHuggingFaceTokenizers() throws {
        try requireModel()
        let f = try fixture()
        let tok = try WordPieceTokenizer(vocabPath: modelDir.appendingPathComponent("vocab.txt").path, maxLength: f.max_length)
        XCTAssertGreaterThan(f.cases.count, 50)
        for c in f.cases {
            XCTAssertEqual(tok.encode(c.text), c.ids, "text: \(c.text.debugDescription)")
        }
    }

    func testMiniLMSentenceEmbeddingsMatchPyTorch() throws {
        try requireModel()
        let config = try BertConfig.load(path: modelDir.appendingPathComponent("config.json").path)
        let bert = try BertEncoder(Weights(path: modelDir.appendingPathComponent("model.safetensors").path), config: config)
        let cases = try fixture().cases.filter { $0.embedding != nil }
        XCTAssertGreaterThan(cases.count, 4)
        for c in cases {
            let got = try bert.embed(ids: c.ids)
            let ref = try Tensor(shape: [1, config.hiddenSize], values: c.embedding!)
            assertClose(got, ref, "embedding of \(c.text.prefix(40))", rtol: 1e-4)
        }
    }

    func testMissingVocabularyIsAClearError() {
        XCTAssertThrowsError(try WordPieceTokenizer(vocabPath: "/nonexistent/vocab.txt")) { e in
            XCTAssert("\(e)".contains("/nonexistent/vocab.txt"), "\(e)")
        }
    }
}
