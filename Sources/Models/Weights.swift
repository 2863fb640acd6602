import Engine
import Foundation

/// Named weights with a key prefix, so a module reads its parameters by the names its
/// checkpoint uses ("layer1.0.conv1.weight") while its parent scopes it ("layer1.0.").
public struct Weights: Sendable {
    private enum Source: Sendable {
        case file(SafeTensors)
        case memory([String: Tensor], name: String)
    }
    private let source: Source
    public let prefix: String

    public init(_ file: SafeTensors, prefix: String = "") { source = .file(file); self.prefix = prefix }
    public init(tensors: [String: Tensor], name: String = "in-memory weights", prefix: String = "") {
        source = .memory(tensors, name: name); self.prefix = prefix
    }
    /// Reads a checkpoint, refusing one with a NaN or infinite weight (named by tensor): every
    /// model the program loads comes through here (ModelSet), so a damaged file is an error at
    /// start, never a network that silently answers nothing.
    public init(path: String, prefix: String = "") throws {
        let file = try SafeTensors(path: path)
        try file.checkFinite()
        self.init(file, prefix: prefix)
    }

    private init(source: Source, prefix: String) { self.source = source; self.prefix = prefix }

    /// The same weights, one level deeper: `w.scoped("layer1.0")` reads "layer1.0.<name>".
    public func scoped(_ p: String) -> Weights {
        Weights(source: source, prefix: prefix + p + (p.hasSuffix(".") ? "" : "."))
    }

    public var fileName: String {
        switch source {
        case .file(let f): return URL(fileURLWithPath: f.path).lastPathComponent
        case .memory(_, let name): return name
        }
    }

    public var metadata: [String: String] {
        if case .file(let f) = source { return f.metadata }
        return [:]
    }

    /// Every tensor name under the prefix, without it, sorted.
    public var names: [String] {
        let all: [String]
        switch source {
        case .file(let f): all = f.names
        case .memory(let t, _): all = Array(t.keys)
        }
        return all.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }.sorted()
    }

    public func has(_ name: String) -> Bool {
        switch source {
        case .file(let f): return f.contains(prefix + name)
        case .memory(let t, _): return t[prefix + name] != nil
        }
    }

    public func callAsFunction(_ name: String, shape: [Int]? = nil) throws -> Tensor {
        let key = prefix + name
        let t: Tensor
        switch source {
        case .file(let f): t = try f.tensor(key)
        case .memory(let m, let file):
            guard let v = m[key] else { throw EngineError.weights(file: file, tensor: key, problem: "not in the file") }
            t = v
        }
        if let shape, t.shape != shape {
            throw EngineError.weights(file: fileName, tensor: key, problem: "shape \(t.shape), expected \(shape)")
        }
        return t
    }

    public func optional(_ name: String) throws -> Tensor? { has(name) ? try self(name) : nil }

    /// Batch-norm parameters under `name` (weight, bias, running_mean, running_var).
    public func batchNorm(_ name: String, eps: Float) throws -> BatchNormParams {
        let w = scoped(name)
        return try BatchNormParams(gamma: w("weight"), beta: w("bias"), mean: w("running_mean"),
                                   variance: w("running_var"), eps: eps)
    }

    /// A convolution `conv` followed by batch norm `bn`, folded into one convolution.
    public func convBN(conv: String, bn: String, stride: Int = 1, padding: Int, eps: Float,
                       activation: Activation) throws -> Conv2d {
        try Conv2d(weight: self(conv + ".weight"), bias: optional(conv + ".bias"),
                   stride: (stride, stride), padding: (padding, padding))
            .folding(batchNorm(bn, eps: eps), activation: activation)
    }

    public func linear(_ name: String, activation: Activation = .none) throws -> Linear {
        try Linear(weight: self(name + ".weight"), bias: optional(name + ".bias"), activation: activation)
    }
}
