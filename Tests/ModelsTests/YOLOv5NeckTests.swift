import Engine
import Foundation
import Models
import XCTest

/// YOLOv5's forward on one image writes the maps the neck concatenates later straight into their
/// concatenations and reads them from there (`Tensor.channelView`, no copy); on several images it copies
/// them as before. Both must give the same bits: each image of a two-image batch against that image alone,
/// on random YOLOv5n weights at 64 x 64, 96 x 64 and 160 x 160 (where the later stages run Winograd); and an input
/// size the neck cannot concatenate (66 x 66) is refused by the same named error on both paths.
final class YOLOv5NeckTests: XCTestCase {
    func testOneImageInPlaceGivesTheBitsOfTheBatchPath() throws {
        let net = try YOLOv5(RandomCheckpoint.yolov5())
        for (i, (h, w)) in [(64, 64), (96, 64), (160, 160)].enumerated() {
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

    func testASizeTheNeckCannotJoinIsRefusedAlikeOnBothPaths() throws {
        let net = try YOLOv5(RandomCheckpoint.yolov5())
        var messages: [String] = []
        for n in [1, 2] {
            XCTAssertThrowsError(try net(Tensor.random([n, 3, 66, 66], seed: 9))) { e in messages.append("\(e)") }
        }
        XCTAssertEqual(messages.count, 2)
        // the same error, but for the batch size in the shapes it names
        XCTAssertEqual(messages.first, messages.last?.replacingOccurrences(of: "[2, ", with: "[1, "), "one image and two: the same error")
        XCTAssertTrue(messages.first?.contains("upsample_nearest") ?? false, messages.first ?? "")
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
        // a view keeps its parent's memory alive
        let orphan = try Tensor.random([1, 4, 2, 2], seed: 3).channelView(1..<3)
        XCTAssertEqual(orphan.scalars, Array(Tensor.random([1, 4, 2, 2], seed: 3).scalars[4..<12]))
    }
}
