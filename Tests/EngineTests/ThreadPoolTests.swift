import Dispatch
import Engine
import Foundation
import XCTest

/// The engine's parallel loop (`EngineThreads.perform` on `tb_parallel_for`, Sources/CKernels/threads.c):
/// every iteration runs exactly once, whatever the count and width; the pool's worker really runs
/// iterations beside the caller, also after it has gone to sleep; each thread starts on its own half; calls from inside a body and from
/// several threads at once (which find the pool busy and run on GCD) complete.
final class ThreadPoolTests: XCTestCase {
    /// Counts of each index, one slot per index (disjoint writes, as the engine's bodies make).
    private func counts(_ n: Int, width: Int, onThePool: Bool = true) -> [Int] {
        var c = [Int](repeating: 0, count: n)
        c.withUnsafeMutableBufferPointer { b in
            let base = b.baseAddress
            let pooled = EngineThreads.perform(n, width: width) { i in base![i] += 1 }
            if onThePool { XCTAssertTrue(pooled, "n \(n), width \(width): a call from one thread must run on the pool, not GCD") }
        }
        return c
    }

    /// `width` iterations that each wait (up to 10 s) until all have started: true only if `width` threads
    /// ran them at once.
    private func allAtOnce(_ width: Int) -> Bool {
        let lock = NSLock()
        var started = 0, met = 0
        EngineThreads.perform(width, width: width) { _ in
            lock.lock(); started += 1; lock.unlock()
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                lock.lock(); let all = started == width; lock.unlock()
                if all { lock.lock(); met += 1; lock.unlock(); return }
                usleep(100)
            }
        }
        return met == width
    }

    func testEveryIterationRunsOnce() {
        for width in [1, 2, 3, 4] {
            for n in [0, 1, 2, 3, 17, 1000, 100_000] {
                let c = counts(n, width: width)
                XCTAssertEqual(c.count, n)
                XCTAssertTrue(c.allSatisfy { $0 == 1 }, "n \(n), width \(width): \(c.filter { $0 != 1 }.count) indices ran other than once")
            }
        }
    }

    /// Two iterations that each wait for the other to have started: they pass only if a second thread
    /// runs one while the caller runs the other. Right after a call (the worker spinning) and after 50 ms
    /// of nothing (the worker asleep, woken by the call).
    /// Workers started by a call join that call (not only the next one): the first call at a width of 6 (no
    /// other test goes past 4) starts two more workers and needs all six threads at once.
    func testNewWorkersJoinTheCallThatStartedThem() {
        XCTAssertTrue(allAtOnce(6), "six iterations never ran at the same time")
        XCTAssertTrue(allAtOnce(2), "and a narrower call after it")
    }

    func testTheWorkerRunsBesideTheCallerAwakeAndAfterSleeping() {
        for pause in [0, 50_000, 0, 50_000] {
            usleep(useconds_t(pause))
            let started = UnsafeMutablePointer<Int>.allocate(capacity: 2)
            started.initialize(repeating: 0, count: 2)
            defer { started.deallocate() }
            let lock = NSLock()
            var met = [false, false]
            EngineThreads.perform(2, width: 2) { i in
                lock.lock(); started[i] = 1; lock.unlock()
                let deadline = Date().addingTimeInterval(10)
                while Date() < deadline {
                    lock.lock(); let both = started[0] + started[1] == 2; lock.unlock()
                    if both { lock.lock(); met[i] = true; lock.unlock(); return }
                    usleep(100)
                }
            }
            XCTAssertEqual(met, [true, true], "after a pause of \(pause) us: the two iterations never ran at the same time")
        }
    }

    /// Each thread starts on its own run of neighbouring items (the caller the first half, the worker the
    /// second), so that from layer to layer a thread keeps to the same part of the map: with items of 50 us, the
    /// first ten are the caller's and the first ten of the second half the worker's. (A worker that joins only
    /// after the caller has done its half, on a busy machine, finds them taken: the call is tried up to five
    /// times. With one counter for all items, as before, the two threads take turns and no try passes.)
    func testEachThreadStartsOnItsOwnHalf() {
        let n = 400
        var passed = false
        for _ in 0..<5 where !passed {
            let caller = pthread_self()
            let mine = UnsafeMutablePointer<Bool>.allocate(capacity: n)
            mine.initialize(repeating: false, count: n)
            defer { mine.deallocate() }
            XCTAssertTrue(EngineThreads.perform(n, width: 2) { i in
                mine[i] = pthread_equal(pthread_self(), caller) != 0
                let t0 = DispatchTime.now().uptimeNanoseconds
                while DispatchTime.now().uptimeNanoseconds - t0 < 50_000 {}
            })
            passed = (0..<10).allSatisfy { mine[$0] } && (n / 2..<(n / 2 + 10)).allSatisfy { !mine[$0] }
        }
        XCTAssertTrue(passed, "the first items were not the caller's, or the first of the second half not the worker's")
    }

    /// A body that calls `perform` (the pool is busy: GCD runs the inner loop), and four threads calling
    /// at once (one gets the pool, the others GCD): every inner iteration runs once.
    func testNestedAndConcurrentCallsComplete() {
        let inner = counts(64, width: 2)
        XCTAssertTrue(inner.allSatisfy { $0 == 1 })
        var nested = [Int](repeating: 0, count: 8 * 50)
        nested.withUnsafeMutableBufferPointer { b in
            let base = b.baseAddress
            EngineThreads.perform(8, width: 2) { i in
                EngineThreads.perform(50, width: 2) { j in base![i * 50 + j] += 1 }
            }
        }
        XCTAssertTrue(nested.allSatisfy { $0 == 1 }, "nested calls")
        nonisolated(unsafe) let results = UnsafeMutablePointer<Int>.allocate(capacity: 4)
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 4) { t in
            var sum = 0
            for _ in 0..<20 {
                var c = [Int](repeating: 0, count: 500)
                c.withUnsafeMutableBufferPointer { b in
                    let base = b.baseAddress
                    EngineThreads.perform(500, width: 2) { i in base![i] += i }
                }
                sum += c.reduce(0, +)
            }
            results[t] = sum
        }
        for t in 0..<4 { XCTAssertEqual(results[t], 20 * (499 * 500 / 2), "caller \(t)") }
    }
}
