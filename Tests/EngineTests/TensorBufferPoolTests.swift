import Engine
import Foundation
import XCTest

/// The pool of freed tensor buffers (`TensorBufferPool`, docs/performance.md "Third step"): a
/// network's outputs reuse the buffers of the last pass instead of faulting in fresh pages. The
/// pool is process-wide, so the counts below are bounds, not equalities: another test's work
/// freeing a tensor at the same moment must not fail them.
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
        XCTAssertGreaterThanOrEqual(TensorBufferPool.heldBytes, 64 * 80 * 80 * 4)
        let again = Tensor(zeros: [1, 64, 80, 80])
        XCTAssertEqual(again.pointer, first, "the freed buffer of the same size is reused")
        XCTAssertTrue(again.scalars.allSatisfy { $0 == 0 }, "a reused buffer asked for zeros is zeroed")
    }

    /// Small tensors are not kept; when the capacity is reached the longest kept buffers go, so
    /// the newest freed are the ones kept.
    func testSmallTensorsAreNotKeptAndTheOldestMakeRoom() {
        do { _ = Tensor(uninitialized: [1, 1000]) }
        XCTAssertLessThan(TensorBufferPool.heldBytes, TensorBufferPool.minimumBytes, "4 KB is below the pool's minimum")
        let each = 24 << 20   // six of them exceed the 128 MiB capacity
        var pointers: [UnsafeMutablePointer<Float>] = []
        for i in 0..<6 {
            let t = Tensor(uninitialized: [each / 4 + 1024 * i])   // six different sizes
            pointers.append(t.pointer)
        }
        XCTAssertLessThanOrEqual(TensorBufferPool.heldBytes, TensorBufferPool.capacityBytes)
        XCTAssertGreaterThanOrEqual(TensorBufferPool.heldBytes, 5 * each)
        // The newest (the last size) is kept; the first, freed longest ago, made room.
        XCTAssertEqual(Tensor(uninitialized: [each / 4 + 1024 * 5]).pointer, pointers[5])
        TensorBufferPool.drain()
        XCTAssertLessThan(TensorBufferPool.heldBytes, 5 * each)
    }

    /// What the pool is for: a second pass of the same allocations faults in (almost) no new
    /// pages. The first pass touches 8 buffers of 4 MiB (8,192 pages); freed and allocated again,
    /// from the pool, they are already mapped. Counted for this thread only (RUSAGE_THREAD).
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
        getrusage(__rusage_who_t(1), &u)   // RUSAGE_THREAD (Linux)
        return u.ru_minflt
    }
}
