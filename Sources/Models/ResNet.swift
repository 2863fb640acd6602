import Engine

/// torchvision's BasicBlock: conv3x3-BN-ReLU, conv3x3-BN, plus the identity (or a 1x1
/// conv-BN downsample), then ReLU. Batch norm is folded into the convolutions at load.
public struct ResNetBasicBlock: Sendable {
    let conv1: Conv2d, conv2: Conv2d
    let downsample: Conv2d?

    public init(_ w: Weights, stride: Int, eps: Float = 1e-5) throws {
        conv1 = try w.convBN(conv: "conv1", bn: "bn1", stride: stride, padding: 1, eps: eps, activation: .relu)
        conv2 = try w.convBN(conv: "conv2", bn: "bn2", padding: 1, eps: eps, activation: .none)
        downsample = w.has("downsample.0.weight")
            ? try w.convBN(conv: "downsample.0", bn: "downsample.1", stride: stride, padding: 0, eps: eps, activation: .none)
            : nil
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        let identity = try downsample.map { try $0(x) } ?? x
        return try Ops.add(conv2(conv1(x)), identity, activation: .relu)
    }
}

/// A ResNet of BasicBlocks in torchvision's layout (conv1, bn1, layer1..N, fc): stages of
/// `blocks[i]` blocks, the first block of every stage after the first with stride 2.
public struct ResNet: Sendable {
    public struct Config: Sendable, Codable {
        public var blocks: [Int]
        public var eps: Float
        public init(blocks: [Int] = [2, 2, 2, 2], eps: Float = 1e-5) { self.blocks = blocks; self.eps = eps }
        public static let resnet18 = Config()
    }

    let stem: Conv2d
    let stages: [[ResNetBasicBlock]]
    public let fc: Linear?

    public init(_ w: Weights, config: Config = .resnet18) throws {
        stem = try w.convBN(conv: "conv1", bn: "bn1", stride: 2, padding: 3, eps: config.eps, activation: .relu)
        stages = try config.blocks.enumerated().map { i, n in
            try (0..<n).map { j in
                try ResNetBasicBlock(w.scoped("layer\(i + 1).\(j)"), stride: (i > 0 && j == 0) ? 2 : 1, eps: config.eps)
            }
        }
        fc = w.has("fc.weight") ? try w.linear("fc") : nil
    }

    /// The last convolutional feature map [N, C, h, w] (Grad-CAM reads it).
    public func featureMap(_ x: Tensor) throws -> Tensor {
        var y = try Ops.maxPool2d(stem(x), kernel: 3, stride: 2, padding: 1)
        for stage in stages { for block in stage { y = try block(y) } }
        return y
    }

    /// Globally pooled features [N, C].
    public func features(_ x: Tensor) throws -> Tensor { try Ops.globalAvgPool(featureMap(x)) }

    /// Class logits through `fc`.
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        guard let fc else { throw EngineError.argument(op: "resnet", detail: "this checkpoint has no fc layer") }
        return try fc(features(x))
    }
}
