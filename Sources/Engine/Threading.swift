import CBLAS
import CKernels
import Dispatch
import Foundation

/// The engine's one threading setting. Ops fan out with `perform`, on the engine's own pool
/// (element-wise work, im2col, blocks of one GEMM, the convolution kernels' work items); OpenBLAS runs
/// single-threaded inside each block, and the engine's loops do not call `perform` from inside one, so a
/// 2-core machine runs 2 threads, not 4. Results do
/// not depend on the count: every parallel loop writes disjoint outputs and reduces in a fixed order.
public enum EngineThreads {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var current: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)

    public static var count: Int {
        lock.lock(); defer { lock.unlock() }
        return current
    }

    /// Sets the thread count of the engine's loops and GEMM blocks (OpenBLAS itself stays at one).
    public static func set(_ n: Int) {
        let n = max(1, n)
        lock.lock(); _ = current; current = n; lock.unlock()
    }

    /// Runs `body(chunk)` for `chunks` chunks, in parallel when worthwhile.
    @inline(__always)
    static func parallelFor(_ chunks: Int, minWorkPerChunk work: Int = 1 << 15, _ body: (Int) -> Void) {
        if chunks <= 1 || count <= 1 || work * chunks < (1 << 16) {
            for c in 0..<chunks { body(c) }
        } else {
            perform(chunks, body)
        }
    }

    /// Splits `0..<n` into about `count` ranges of equal size and runs them in parallel.
    static func parallelRanges(_ n: Int, grain: Int = 4096, _ body: (Range<Int>) -> Void) {
        let parts = min(count, max(1, n / grain))
        if parts <= 1 { body(0..<n); return }
        let step = (n + parts - 1) / parts
        perform(parts) { p in
            let lo = p * step, hi = min(n, lo + step)
            if lo < hi { body(lo..<hi) }
        }
    }

    /// Runs `body(i)` for i in 0..<iterations on up to `width` threads (the engine's count by default), for
    /// bodies that write through raw pointers into disjoint parts of one output. The body only runs during
    /// this call, so it need not be `@Sendable`. The engine's own pool (`tb_parallel_for`, whose workers
    /// spin between calls: GCD's parked threads took about 55 us to start an iteration here), or
    /// `DispatchQueue.concurrentPerform` while another thread's call holds the pool (a call from inside a
    /// body, or from another inference at the same time; that one uses every core, whatever `width`).
    /// Returns whether the pool (or, for one iteration or a width of 1, the calling thread alone) ran it.
    @discardableResult
    public static func perform(_ iterations: Int, width: Int = EngineThreads.count, _ body: (Int) -> Void) -> Bool {
        withoutActuallyEscaping(body) { escapable in
            var closure = escapable
            let ran = withUnsafeMutablePointer(to: &closure) { p in
                tb_parallel_for(iterations, Int32(clamping: width), { ctx, i in
                    ctx!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(i)
                }, p)
            }
            if ran == 0 {
                let box = UncheckedSendable(escapable)
                DispatchQueue.concurrentPerform(iterations: iterations) { box.value($0) }
            }
            return ran != 0
        }
    }
}

struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// Counts floating-point work done by convolutions, GEMMs and attention, for `tumorboard bench`.
public final class FlopCounter: @unchecked Sendable {
    public static let shared = FlopCounter()
    private let lock = NSLock()
    private var total: Int = 0
    private var enabled = false

    public func start() { lock.lock(); total = 0; enabled = true; lock.unlock() }
    public func stop() -> Int { lock.lock(); defer { lock.unlock() }; enabled = false; return total }

    @inline(__always)
    func add(_ flops: Int) {
        lock.lock(); if enabled { total += flops }; lock.unlock()
    }
}

/// Optional per-layer timing for `tumorboard bench --profile`: wall time by op and shape.
public final class Profiler: @unchecked Sendable {
    public static let shared = Profiler()
    private let lock = NSLock()
    private var enabled = false
    private var entries: [String: (ns: UInt64, calls: Int, flops: Int)] = [:]

    public func start() { lock.lock(); entries = [:]; enabled = true; lock.unlock() }
    public func stop() -> [(key: String, ms: Double, calls: Int, flops: Int)] {
        lock.lock(); defer { lock.unlock() }
        enabled = false
        return entries.map { ($0.key, Double($0.value.ns) / 1e6, $0.value.calls, $0.value.flops) }.sorted { $0.ms > $1.ms }
    }

    var isEnabled: Bool { lock.lock(); defer { lock.unlock() }; return enabled }

    /// Times `body` under `key` when profiling is on.
    @inline(__always)
    func measure<T>(_ key: @autoclosure () -> String, flops: Int = 0, _ body: () throws -> T) rethrows -> T {
        guard isEnabled else { return try body() }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let r = try body()
        let dt = DispatchTime.now().uptimeNanoseconds - t0
        let k = key()
        lock.lock()
        let e = entries[k] ?? (0, 0, 0)
        entries[k] = (e.ns + dt, e.calls + 1, e.flops + flops)
        lock.unlock()
        return r
    }
}

/// Single-precision GEMM on OpenBLAS. The engine does its own threading: OpenBLAS runs with one
/// thread, and a large product is split into row (or column) blocks, one per thread. Each block
/// packs only its part of the larger operand, which is what makes thin products (a 512x4608
/// weight against 49 columns, ResNet's last stage) fast; OpenBLAS's own split packs the whole
/// weight matrix in every thread. Every output element is computed by one call with the same
/// K order, so results do not depend on the thread count.
public enum GEMM {
    /// OpenBLAS's own threads off, once, before its first call: the engine splits GEMMs itself and
    /// calls OpenBLAS from several threads at once. (This was done when `EngineThreads` was first
    /// read, so a small product that reached OpenBLAS before any parallel loop ran it with its own
    /// threads, and later concurrent calls into a multithreaded OpenBLAS could crash.)
    private static let singleThreaded: Void = openblas_set_num_threads(1)

    /// The threads OpenBLAS would use for a product now (1 once the engine has called it).
    public static var blasThreads: Int { Int(openblas_get_num_threads()) }

    public static func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                             alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, countFlops: Bool = true,
                             split: Bool = true) {
        _ = singleThreaded
        if countFlops { FlopCounter.shared.add(2 * m * n * k) }
        // The blocks depend only on the shape, never on the thread count, so 1 and N threads make
        // exactly the same OpenBLAS calls and the same bits.
        let splitRows = m >= n
        let dim = splitRows ? m : n
        let parts = !split || m * n * k < 1 << 21 ? 1 : min(4, max(1, dim / 16))
        if parts == 1 {
            call(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            return
        }
        let step = ((dim + parts - 1) / parts + 15) / 16 * 16
        let blocks = (dim + step - 1) / step
        let body: (Int) -> Void = { p in
            let lo = p * step, len = min(dim, lo + step) - lo
            if len <= 0 { return }
            if splitRows {
                // Rows lo..<lo+len of op(A) and of C.
                let aBlock = transA ? a + lo : a + lo * lda
                call(transA, transB, len, n, k, alpha, aBlock, lda, b, ldb, beta, c + lo * ldc, ldc)
            } else {
                // Columns lo..<lo+len of op(B) and of C.
                let bBlock = transB ? b + lo * ldb : b + lo
                call(transA, transB, m, len, k, alpha, a, lda, bBlock, ldb, beta, c + lo, ldc)
            }
        }
        if EngineThreads.count > 1 { EngineThreads.perform(blocks, body) } else { for p in 0..<blocks { body(p) } }
    }

    @inline(__always)
    private static func call(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                             _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                             _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
                    beta, c, blasint(ldc))
    }
}
