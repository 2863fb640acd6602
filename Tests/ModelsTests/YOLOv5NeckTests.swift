import Engine
import Foundation
import Models
import XCTest

/// YOLOv5's forward on one image writes the maps the neck concatenates later straight into their
/// concatenations and reads them from there (`Tensor.channelView`, no copy); on several images it copies
/// them as before. Both must give the same bits: each image of a two-image batch against that image alone,
/// on random YOLOv5n weights at 64 x 64 and 96 x 64.
final class YOLOv5NeckTests: XCTestCase {
    func testOneImageInPlaceGivesTheBitsOfTheBatchPath() throws {
        let net = try YOLOv5(RandomCheckpoint.yolov5())
        for (i, (h, w)) in [(64, 64), (96, 64)].enumerated() {
            let both = Tensor.random([2, 3, h, w], seed: UInt64(600 + i))
            let batch = try net(both)
            let per = 3 * h * w
            for image in 0..<2 {
                let one = try Tensor(shape: [1, 3, h, w], values: Array(both.scalars[(image * per)..<((image + 1) * per)]))
                let alone = try net(one)
                XCTAssertEqual(alone.count, 3)
                for (k, map) in alone.enumerated() {
                    let m = map.count
                    XCTAssertEqual(map.shape, [1] + Array(batch[k].shape.dropFirst()), "head \(k), \(h)x\(w)")
                    let part = Array(batch[k].scalars[(image * m)..<((image + 1) * m)])
                    XCTAssertEqual(map.scalars.map { $0.bitPattern }, part.map { $0.bitPattern }, "head \(k), image \(image), \(h)x\(w)")
                }
            }
        }
    }

    /// A channel view shares the tensor's memory, and is refused for more than one image or channels it does not have.
    func testChannelViewSharesMemoryAndRefusesWhatItCannotBe() throws {
        let t = Tensor.random([1, 5, 3, 4], seed: 7)
        let v = try t.channelView(2..<4)
        XCTAssertEqual(v.shape, [1, 2, 3, 4])
        XCTAssertEqual(v.scalars, Array(t.scalars[24..<48]))
        XCTAssertEqual(v.pointer, t.pointer + 24)
        XCTAssertThrowsError(try Tensor.random([2, 5, 3, 4], seed: 7).channelView(0..<2))
        XCTAssertThrowsError(try t.channelView(3..<6))
    }
}
