import Engine
import Foundation
import XCTest

/// The pool of freed tensor buffers (`TensorBufferPool`, docs/performance.md "Memory and start-up"):
/// a network's outputs reuse the buffers of the last pass instead of faulting in fresh pages.
final class TensorBufferPoolTests: XCTestCase {
    override func setUp() { TensorBufferPool.drain() }
    override func tearDown() { TensorBufferPool.drain() }

    func testAFreedBufferServesTheNextTensorOfItsSizeAndZerosAreZeros() {
        var first: UnsafeMutablePointer<Float>?
        do {
            let t = Tensor(uninitialized: [1, 64, 80, 80])
            t.pointer.initialize(repeating: 7, count: t.count)
            first = t.pointer
        }
        XCTAssertEqual(TensorBufferPool.heldBytes, 64 * 80 * 80 * 4)
        let again = Tensor(zeros: [1, 64, 80, 80])
        XCTAssertEqual(again.pointer, first, "the freed buffer of the same size is reused")
        XCTAssertTrue(again.scalars.allSatisfy { $0 == 0 }, "a reused buffer asked for zeros is zeroed")
        XCTAssertEqual(TensorBufferPool.heldBytes, 0)
    }

    func testSmallTensorsAreNotKeptAndTheCapacityHolds() {
        do { _ = Tensor(uninitialized: [1, 1000]) }
        XCTAssertEqual(TensorBufferPool.heldBytes, 0, "4 KB is below the pool's minimum")
        let each = 24 << 20   // 24 MiB: six of them exceed the 128 MiB capacity
        do { _ = (0..<6).map { _ in Tensor(uninitialized: [each / 4]) } }
        XCTAssertLessThanOrEqual(TensorBufferPool.heldBytes, TensorBufferPool.capacityBytes)
        XCTAssertEqual(TensorBufferPool.heldBytes, 5 * each)
        TensorBufferPool.drain()
        XCTAssertEqual(TensorBufferPool.heldBytes, 0)
    }

    /// What the pool is for: a second pass of the same allocations faults in (almost) no new
    /// pages. The first pass touches 8 buffers of 4 MiB (8,192 pages); freed and allocated again,
    /// from the pool, they are already mapped.
    func testASecondPassFaultsInNoFreshPages() {
        func pass() {
            let ts = (0..<8).map { i in Tensor(uninitialized: [1 << 20 + 16 * i]) }
            for t in ts { t.pointer.initialize(repeating: 1, count: t.count) }
        }
        pass()
        let before = Self.minorFaults()
        pass()
        let faults = Self.minorFaults() - before
        XCTAssertLessThan(faults, 200, "minor page faults in the second pass (8,192 pages touched)")
    }

    static func minorFaults() -> Int {
        var u = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
        return u.ru_minflt
    }
}
