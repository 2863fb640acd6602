import Foundation
import XCTest
import Imaging

/// Timings, printed (not asserted: the machine is shared). For numbers worth quoting run
///     swift test -c release --scratch-path .build-imaging --filter ImagingTests.PerformanceTests
final class PerformanceTests: XCTestCase {
    /// (median, fastest) of `runs` runs, in milliseconds.
    private func median(_ runs: Int, _ body: () throws -> Void) rethrows -> (Double, Double) {
        var times: [Double] = []
        for _ in 0..<runs {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        times.sort()
        return (times[runs / 2], times[0])
    }

    /// Prints timings and asserts nothing: opt-in (TUMORBOARD_MEASURE=1), so it is not counted as a test that passes.
    func testTimings() throws {
        guard ProcessInfo.processInfo.environment["TUMORBOARD_MEASURE"] == "1" else {
            throw XCTSkip("set TUMORBOARD_MEASURE=1 to print the decode timings (a measurement, not a test)")
        }
        let decoder = ImageDecoder()
        #if DEBUG
        let runs = 3  // debug timings mean little; keep `swift test` quick
        #else
        let runs = 21
        #endif
        // A 256 x 256 grey radiograph (real BTXRD when present, else a synthetic one).
        let real = RealDataTests.dataFolder.appendingPathComponent("btxrd/images/IMG000001.png")
        let pngBytes: Data
        if let data = try? Data(contentsOf: real) {
            pngBytes = data
        } else {
            let synthetic = try Image(width: 256, height: 256, colour: .grey,
                                      pixels: (0..<65536).map { UInt8(truncatingIfNeeded: ($0 % 256) ^ ($0 / 256) &* 3) })
            pngBytes = try synthetic.pngData()
        }
        let grey = try decoder.decode(pngBytes, name: "radiograph.png")
        let jpegTile = try? Data(contentsOf: RealDataTests.dataFolder
            .appendingPathComponent("osteosarcoma-ut-tiles/viable/Viable___Case-4-C21-25306-21689_120.jpg"))
        let big16 = try Image(width: 2048, height: 2048, colour: .grey,
                              pixels: (0..<2048 * 2048).map { UInt16(truncatingIfNeeded: $0 &* 2654435761 >> 20) })

        var lines: [String] = []
        func report(_ what: String, _ ms: (Double, Double)) {
            lines.append(String(format: "perf: %@: median %.3f ms, fastest %.3f ms", what, ms.0, ms.1))
        }
        report("decode \(grey) PNG (\(pngBytes.count) bytes)", try median(runs) { _ = try decoder.decode(pngBytes, name: "r.png") })
        if let jpegTile {
            let tile = try decoder.decode(jpegTile, name: "tile.jpg")
            report("decode \(tile) JPEG (\(jpegTile.count) bytes)", try median(min(runs, 5)) { _ = try decoder.decode(jpegTile, name: "t.jpg") })
        }
        report("encode \(grey) PNG", try median(runs) { _ = try grey.pngData() })
        report("letterbox 256x256 grey -> 640x640 (bilinear)", try median(runs) { _ = try grey.letterboxed(width: 640, height: 640) })
        report("resize 256x256 grey -> 224x224 antialiased", try median(runs) { _ = try grey.resized(width: 224, height: 224, filter: .bilinearAntialiased) })
        report("window/level 2048x2048 16-bit", try median(min(runs, 5)) { _ = try big16.windowed(Window(center: 2048, width: 4096)) })
        report("resize 2048x2048 16-bit -> 640x640 (bilinear)", try median(min(runs, 5)) { _ = try big16.resized(width: 640, height: 640) })
        print(lines.joined(separator: "\n"))
    }
}
