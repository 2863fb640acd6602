import Engine
import Foundation
import XCTest

/// OpenBLAS runs single-threaded from the first product on (the engine calls it from several
/// threads at once). Checked in a fresh process whose first engine work is one small product:
/// until session 10 the setting was made when the engine's thread count was first read, so such a
/// product left OpenBLAS on its own threads.
final class GEMMThreadsTests: XCTestCase {
    func testOpenBLASIsSingleThreadedFromTheFirstProduct() throws {
        if ProcessInfo.processInfo.environment["TB_GEMM_FIRST_CHILD"] == "1" {
            var a: [Float] = [1, 2, 3, 4], b: [Float] = [5, 6, 7, 8], c = [Float](repeating: 0, count: 4)
            GEMM.sgemm(m: 2, n: 2, k: 2, a: &a, lda: 2, b: &b, ldb: 2, c: &c, ldc: 2)
            XCTAssertEqual(c, [19, 22, 43, 50])
            XCTAssertEqual(GEMM.blasThreads, 1, "OpenBLAS still on its own threads after the first product")
            return
        }
        guard ProcessInfo.processInfo.activeProcessorCount > 1 else { throw XCTSkip("one processor: OpenBLAS has one thread anyway") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        p.arguments = ["EngineTests.GEMMThreadsTests/testOpenBLASIsSingleThreadedFromTheFirstProduct"]
        var env = ProcessInfo.processInfo.environment
        env["TB_GEMM_FIRST_CHILD"] = "1"; env.removeValue(forKey: "OPENBLAS_NUM_THREADS")
        p.environment = env
        let out = Pipe(); p.standardOutput = out; p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, text)
        XCTAssertTrue(text.contains("Executed 1 test, with 0 failures"), text)
    }
}
