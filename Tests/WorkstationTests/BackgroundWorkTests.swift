import Dispatch
import Engine
import Foundation
import XCTest
@testable import Workstation

/// The engine lane gives the engine's freed buffers (`TensorBufferPool`) back to the system once it
/// has been idle for `engineIdleDrain`, and not while diagnoses keep coming.
final class BackgroundWorkTests: XCTestCase {
    /// An engine job that leaves a 1 MiB buffer in the pool (above its 64 KiB floor), then waits
    /// until it has run.
    static func runEngineJob(_ work: BackgroundWork<Int>) {
        let done = DispatchSemaphore(value: 0)
        work.run(on: .engine) {
            _ = Tensor(zeros: [1 << 18])
            done.signal()
            return nil
        }
        done.wait()
    }

    func testTheEngineLaneGivesItsBuffersBackOnceIdleAndNotBefore() {
        TensorBufferPool.drain()
        let work = BackgroundWork<Int>(wake: WakeUp<Int>(), engineIdleDrain: .seconds(2))
        let start = Date()
        Self.runEngineJob(work)
        XCTAssertGreaterThan(TensorBufferPool.heldBytes, 0, "the freed buffer is kept for the next diagnosis")
        // A second job a second later: the first job's drain (due at 2 s) must not run.
        Thread.sleep(until: start.addingTimeInterval(1))
        Self.runEngineJob(work)
        Thread.sleep(until: start.addingTimeInterval(2.5))
        XCTAssertGreaterThan(TensorBufferPool.heldBytes, 0, "drained 2 s after the first job although a second one followed it")
        // Idle 2 s after the second job: given back.
        let deadline = Date().addingTimeInterval(10)
        while TensorBufferPool.heldBytes > 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        XCTAssertEqual(TensorBufferPool.heldBytes, 0, "the pool still holds buffers 10 s after the engine went idle")
        XCTAssertGreaterThan(Date().timeIntervalSince(start), 2.9, "drained before the second job's idle time was up")
    }

    func testWithoutAnIdleTimeTheBuffersAreKept() {
        TensorBufferPool.drain()
        let work = BackgroundWork<Int>(wake: WakeUp<Int>())
        Self.runEngineJob(work)
        Thread.sleep(forTimeInterval: 0.3)
        XCTAssertGreaterThan(TensorBufferPool.heldBytes, 0)
    }
}
