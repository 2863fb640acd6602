import Engine
import Foundation
import Models
import TestSupport
import XCTest

/// Three real blocks with random weights against PyTorch (training/make_engine_fixtures.py):
/// a ResNet BasicBlock, a YOLOv5 C3 + SPPF, one BERT encoder layer. Tolerance as for the ops:
/// |diff| <= 1e-4 * max(1, |ref|).
final class BlocksTests: XCTestCase {
    var file: SafeTensors!

    override func setUpWithError() throws {
        file = try SafeTensors(path: Fixtures.path("blocks.safetensors"))
    }

    private func weights(_ c: String) -> Weights { Weights(file, prefix: "\(c)/w.") }
    private func t(_ c: String, _ k: String) throws -> Tensor { try file.tensor("\(c)/\(k)") }

    func testResNetBasicBlockWithDownsample() throws {
        let block = try ResNetBasicBlock(weights("resnet_basicblock"), stride: 2)
        assertClose(try block(t("resnet_basicblock", "x")), try t("resnet_basicblock", "y"), "resnet_basicblock")
    }

    func testYOLOv5C3ThenSPPF() throws {
        let w = weights("yolov5_c3_sppf")
        let c3 = try C3(w.scoped("c3"), shortcut: true)
        let sppf = try SPPF(w.scoped("sppf"), k: 5)
        assertClose(try sppf(c3(t("yolov5_c3_sppf", "x"))), try t("yolov5_c3_sppf", "y"), "yolov5_c3_sppf")
    }

    func testBertEncoderLayerWithPaddingMask() throws {
        let layer = try BertLayer(weights("bert_layer"), heads: 4)
        let x = try t("bert_layer", "x")
        let ids = try file.integers("bert_layer/mask")
        let l = x.shape[1]
        let mask = ids.chunked(l)
        let y = try layer(x, mask: mask)
        let ref = try t("bert_layer", "y")
        // Padded positions are computed too (as Hugging Face does); compare every position.
        assertClose(y, ref, "bert_layer")
    }

    func testMissingWeightNamesTheTensor() throws {
        XCTAssertThrowsError(try C3(weights("resnet_basicblock"), shortcut: true)) { e in
            XCTAssert("\(e)".contains("resnet_basicblock/w.cv1.conv.weight") && "\(e)".contains("blocks.safetensors"), "\(e)")
        }
    }
}
