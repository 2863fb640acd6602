import Engine
import Foundation
import Models
import XCTest

/// A detector trained on an upsampled input (training/train_detector.py --img, issue 15) records
/// `input_side`: the letterbox is resized to it (tested against PyTorch in OpsTests and, with the
/// shipped weights, raw maps and boxes in PipelineTests). A side the network cannot take is refused by name.
final class DetectorConfigTests: XCTestCase {
    func testAnInputSideTheNetworkCannotTakeIsRefusedByName() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-detcfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func config(_ extra: String) -> String {
            #"{"arch": "yolov5n-v6.0", "nc": 1, "ch_in": 1, "strides": [8, 16, 32], "anchors_px": [[[7.7, 11.2], [15.2, 20.1], [29.1, 24.8]], [[19.4, 46.9], [36.4, 41.0], [66.6, 42.5]], [[41.9, 68.2], [81.1, 68.5], [100.2, 103.9]]]"# + extra + "}"
        }
        let path = dir.appendingPathComponent("detector.safetensors").path
        for side in [100, 0, -32, 2080] {
            try SafeTensorsWriter.write([:], metadata: ["config": config(#", "input_side": "# + "\(side)")], to: path)
            XCTAssertThrowsError(try LesionDetector(Weights(path: path))) { error in
                let m = "\(error)"
                XCTAssertTrue(m.contains("detector.safetensors") && m.contains("input_side \(side) is not a multiple of 32"), m)
            }
        }
        // 256, 384, 2048 (or no input_side) pass the check and go on to read the network's tensors.
        for side in [256, 384, 32, 2048] {
            try SafeTensorsWriter.write([:], metadata: ["config": config(#", "input_side": "# + "\(side)")], to: path)
            XCTAssertThrowsError(try LesionDetector(Weights(path: path))) { error in
                XCTAssertFalse("\(error)".contains("input_side"), "\(error)")
            }
        }
    }
}
