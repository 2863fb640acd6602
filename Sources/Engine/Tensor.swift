import Foundation

/// Errors from the engine: each names the operation (or file and tensor) and what was wrong.
public enum EngineError: Error, CustomStringConvertible, Equatable {
    case shape(op: String, detail: String)
    case weights(file: String, tensor: String?, problem: String)
    case argument(op: String, detail: String)

    public var description: String {
        switch self {
        case let .shape(op, detail): return "\(op): shape error: \(detail)"
        case let .weights(file, tensor, problem):
            if let tensor { return "\(file): tensor '\(tensor)': \(problem)" }
            return "\(file): \(problem)"
        case let .argument(op, detail): return "\(op): \(detail)"
        }
    }
}

/// Reference-counted, 64-byte aligned Float32 buffer. Tensors share it; ops that write allocate a new
/// one, so a tensor handed to another thread is never written behind its back. The exceptions stay
/// inside one model's forward pass: the `into:` ops write a concatenation's parts in place, and a
/// `channelView` reads a part of one while other parts are written.
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    /// Set when the floats live in memory this storage does not own (a mapped weight file,
    /// kept alive here); nil when the storage allocated them.
    private let owner: AnyObject?

    public init(count: Int, zeroed: Bool = true) {
        self.count = count
        let raw = TensorBufferPool.take(floats: max(count, 1))
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        if zeroed { pointer.initialize(repeating: 0, count: max(count, 1)) }
        owner = nil
    }

    /// Floats in memory owned by `owner` (no copy).
    init(borrowing pointer: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject) {
        self.pointer = pointer; self.count = count; self.owner = owner
    }

    deinit { if owner == nil { TensorBufferPool.give(UnsafeMutableRawPointer(pointer), floats: max(count, 1)) } }
}

/// Freed tensor buffers kept for reuse (public: how much it holds, and a way to give it back).
/// A network allocates the same output sizes on every pass, and a fresh large allocation comes
/// from the system as new pages, each faulted in and zeroed by the kernel on first touch (about
/// 1,300 a YOLOv5n pass before this pool; docs/performance.md). Buffers of at least
/// `minimumBytes` are rounded up to whole 4 KiB pages and kept by that size, up to `capacityBytes`
/// in all: the most recently freed first, and when a new one does not fit, the longest kept go
/// back to the system (so sizes no longer asked for, another model's, do not hold the room).
public enum TensorBufferPool {
    public static let minimumBytes = 64 << 10
    public static let capacityBytes = 128 << 20
    private static let lock = NSLock()
    /// Kept buffers, oldest first.
    nonisolated(unsafe) private static var kept: [(bytes: Int, pointer: UnsafeMutableRawPointer)] = []
    nonisolated(unsafe) private static var held = 0

    /// The bytes an allocation of `floats` takes: whole pages from `minimumBytes` on.
    static func size(floats: Int) -> Int {
        let bytes = floats * MemoryLayout<Float>.stride
        return bytes >= minimumBytes ? (bytes + 4095) / 4096 * 4096 : bytes
    }

    /// A 64-byte aligned buffer for `floats` floats (uninitialised): the most recently kept one
    /// of the same size, or new.
    static func take(floats: Int) -> UnsafeMutableRawPointer {
        let bytes = size(floats: floats)
        if bytes >= minimumBytes {
            lock.lock()
            if let i = kept.lastIndex(where: { $0.bytes == bytes }) {
                let p = kept.remove(at: i).pointer
                held -= bytes
                lock.unlock()
                return p
            }
            lock.unlock()
        }
        return UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
    }

    /// Keeps a buffer `take(floats:)` gave for the next of its size, making room by freeing the
    /// longest kept; one larger than the capacity is freed at once.
    static func give(_ p: UnsafeMutableRawPointer, floats: Int) {
        let bytes = size(floats: floats)
        guard bytes >= minimumBytes, bytes <= capacityBytes else { p.deallocate(); return }
        lock.lock()
        var evicted: [UnsafeMutableRawPointer] = []
        while held + bytes > capacityBytes, !kept.isEmpty {
            let old = kept.removeFirst()
            held -= old.bytes
            evicted.append(old.pointer)
        }
        kept.append((bytes, p))
        held += bytes
        lock.unlock()
        for e in evicted { e.deallocate() }
    }

    /// Bytes kept now.
    public static var heldBytes: Int { lock.lock(); defer { lock.unlock() }; return held }

    /// Frees every kept buffer (a host that wants the memory back between passes; tests).
    public static func drain() {
        lock.lock()
        let all = kept.map(\.pointer)
        kept = []; held = 0
        lock.unlock()
        for p in all { p.deallocate() }
    }
}

/// A dense Float32 tensor, row-major (NCHW for images), contiguous.
public struct Tensor: Sendable, CustomStringConvertible {
    public let shape: [Int]
    public let storage: TensorStorage

    public var count: Int { shape.reduce(1, *) }
    public var rank: Int { shape.count }
    /// The raw elements. Only valid while this tensor (or its storage) is kept alive: never read
    /// through it on a temporary (`f(x).pointer[0]`); use `item` or `scalars` there.
    public var pointer: UnsafeMutablePointer<Float> { storage.pointer }
    public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: storage.pointer, count: count)
    }

    /// A tensor of zeros.
    public init(zeros shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.storage = TensorStorage(count: shape.reduce(1, *))
    }

    /// Uninitialised storage, for ops that overwrite every element.
    public init(uninitialized shape: [Int]) {
        self.shape = shape
        self.storage = TensorStorage(count: shape.reduce(1, *), zeroed: false)
    }

    public init(shape: [Int], values: [Float]) throws {
        let n = shape.reduce(1, *)
        guard shape.allSatisfy({ $0 >= 0 }), n == values.count else {
            throw EngineError.shape(op: "Tensor", detail: "\(values.count) values do not fill shape \(shape)")
        }
        self.init(uninitialized: shape)
        values.withUnsafeBufferPointer { src in
            if n > 0 { pointer.update(from: src.baseAddress!, count: n) }
        }
    }

    init(shape: [Int], storage: TensorStorage) {
        self.shape = shape
        self.storage = storage
    }

    public var scalars: [Float] { Array(buffer) }

    /// The first element. Use this (or `scalars`) rather than `.pointer[0]` on a temporary tensor:
    /// a temporary may be freed as soon as `.pointer` returns, and the read would be use-after-free.
    public var item: Float { count > 0 ? storage.pointer[0] : .nan }

    /// Channels [range) of a one-image tensor ([1, C, ...]) as a tensor of its own that shares this one's
    /// memory (no copy): one image's channels are contiguous. For an op's input that another op wrote into a
    /// concatenation in place (YOLOv5's neck); nothing may write those channels while the view is read.
    package func channelView(_ range: Range<Int>) throws -> Tensor {
        guard rank >= 2, shape[0] == 1, range.lowerBound >= 0, range.upperBound <= shape[1] else {
            throw EngineError.shape(op: "channel view", detail: "channels \(range) of \(shape): needs one image holding them")
        }
        let per = shape[2...].reduce(1, *)
        let viewShape = [1, range.count] + Array(shape[2...])
        return Tensor(shape: viewShape, storage: TensorStorage(borrowing: pointer + range.lowerBound * per, count: range.count * per,
                                                                owner: storage))
    }

    /// Same data, another shape with the same element count (no copy).
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        var shape = newShape
        if let i = shape.firstIndex(of: -1) {
            let known = shape.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            guard known > 0, count % known == 0 else {
                throw EngineError.shape(op: "reshape", detail: "cannot infer -1 in \(newShape) from \(self.shape)")
            }
            shape[i] = count / known
        }
        guard shape.reduce(1, *) == count, shape.allSatisfy({ $0 >= 0 }) else {
            throw EngineError.shape(op: "reshape", detail: "\(self.shape) (\(count) elements) cannot become \(newShape)")
        }
        return Tensor(shape: shape, storage: storage)
    }

    /// A deep copy.
    public func copy() -> Tensor {
        let t = Tensor(uninitialized: shape)
        if count > 0 { t.pointer.update(from: pointer, count: count) }
        return t
    }

    public var description: String { "Tensor\(shape)" }

    /// Requires a given rank, naming the op in the error.
    @inline(__always)
    public func expectRank(_ r: Int, _ op: String) throws {
        guard rank == r else {
            throw EngineError.shape(op: op, detail: "expected rank \(r), got \(shape)")
        }
    }
}

extension Tensor {
    /// Deterministic pseudo-random values (xorshift), for benchmarks and tests.
    public static func random(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
        let t = Tensor(uninitialized: shape)
        var s = seed &* 0x9E3779B97F4A7C15 | 1
        for i in 0..<t.count {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            let u = Float(s >> 40) / Float(1 << 24)  // [0, 1)
            t.pointer[i] = (u * 2 - 1) * scale
        }
        return t
    }
}
