import Engine

/// Checkpoints with random weights and the exact parameter names and shapes of the real
/// architectures, so `tumorboard bench` runs without any file; `scripts/bench-peers` writes the
/// same names from PyTorch instead, so all runtimes compute on identical weights.
public enum RandomCheckpoint {
    private struct Builder {
        var tensors: [String: Tensor] = [:]
        var seed: UInt64

        mutating func add(_ name: String, _ shape: [Int], scale: Float, offset: Float = 0) {
            seed &+= 1
            let t = Tensor.random(shape, seed: seed, scale: scale)
            if offset != 0 { for i in 0..<t.count { t.pointer[i] += offset } }
            tensors[name] = t
        }

        mutating func conv(_ name: String, _ cout: Int, _ cin: Int, _ k: Int, bias: Bool = false) {
            // Uniform with the variance of He initialisation, so activations stay in range.
            add(name + ".weight", [cout, cin, k, k], scale: (6 / Float(cin * k * k)).squareRoot())
            if bias { add(name + ".bias", [cout], scale: 0.1) }
        }

        mutating func bn(_ name: String, _ c: Int) {
            add(name + ".weight", [c], scale: 0.2, offset: 1)
            add(name + ".bias", [c], scale: 0.1)
            add(name + ".running_mean", [c], scale: 0.1)
            add(name + ".running_var", [c], scale: 0.2, offset: 1)
        }
    }

    /// The attention-gated fusion head (names as in training/fusion.py) for features of sizes `dims`;
    /// scales chosen so that attention and logits vary visibly between inputs (the tests' head).
    /// With `expertTemperatures`, a head that combines by product (FusionHead.Combine).
    public static func fusionHead(dims: [Int] = [256, 256, 384], d: Int = 128, hidden: Int = 64, classes: Int = 3,
                                  seed: UInt64 = 5, expertTemperatures: [Float]? = nil) -> Weights {
        var b = Builder(seed: seed)
        for (i, din) in dims.enumerated() {
            b.add("proj.\(i).linear.weight", [d, din], scale: 0.5); b.add("proj.\(i).linear.bias", [d], scale: 0.2)
            b.add("proj.\(i).norm.weight", [d], scale: 0.3, offset: 1); b.add("proj.\(i).norm.bias", [d], scale: 0.2)
        }
        b.add("attn.hidden.weight", [hidden, d], scale: 0.6); b.add("attn.hidden.bias", [hidden], scale: 0.2)
        b.add("attn.score.weight", [1, hidden], scale: 0.8); b.add("attn.score.bias", [1], scale: 0.1)
        b.add("head.norm.weight", [d], scale: 0.3, offset: 1); b.add("head.norm.bias", [d], scale: 0.2)
        b.add("head.linear.weight", [classes, d], scale: 0.7); b.add("head.linear.bias", [classes], scale: 0.1)
        if let t = expertTemperatures { b.tensors["expert_temperature"] = try? Tensor(shape: [t.count], values: t) }
        return Weights(tensors: b.tensors, name: "random fusion head")
    }

    /// torchvision ResNet with BasicBlocks (blocks [2,2,2,2], width 64 is ResNet-18).
    public static func resnet(blocks: [Int] = [2, 2, 2, 2], width: Int = 64, inChannels: Int = 3,
                              classes: Int = 1000, seed: UInt64 = 1) -> Weights {
        var b = Builder(seed: seed)
        b.conv("conv1", width, inChannels, 7); b.bn("bn1", width)
        var c = width
        for (i, n) in blocks.enumerated() {
            let cout = width << i
            for j in 0..<n {
                let p = "layer\(i + 1).\(j)", cin = j == 0 ? c : cout
                b.conv(p + ".conv1", cout, cin, 3); b.bn(p + ".bn1", cout)
                b.conv(p + ".conv2", cout, cout, 3); b.bn(p + ".bn2", cout)
                if j == 0 && (i > 0 || cin != cout) {
                    b.conv(p + ".downsample.0", cout, cin, 1); b.bn(p + ".downsample.1", cout)
                }
            }
            c = cout
        }
        b.add("fc.weight", [classes, c], scale: (1 / Float(c)).squareRoot())
        b.add("fc.bias", [classes], scale: 0.01)
        return Weights(tensors: b.tensors, name: "random ResNet")
    }

    /// YOLOv5 v6.0 with ultralytics names; width 0.25 / depth 0.33 is YOLOv5n.
    public static func yolov5(inChannels: Int = 3, classes: Int = 80, width: Double = 0.25, depth: Double = 0.33,
                              anchorsPerScale: Int = 3, seed: UInt64 = 2) -> Weights {
        var b = Builder(seed: seed)
        func ch(_ c: Int) -> Int { max(8, Int((Double(c) * width / 8).rounded(.up)) * 8) }
        func dp(_ n: Int) -> Int { max(Int((Double(n) * depth).rounded(.toNearestOrEven)), 1) }
        func conv(_ i: String, _ c1: Int, _ c2: Int, _ k: Int) { b.conv("model.\(i).conv", c2, c1, k); b.bn("model.\(i).bn", c2) }
        func c3(_ i: Int, _ c1: Int, _ c2: Int, _ n: Int) {
            let c = c2 / 2
            conv("\(i).cv1", c1, c, 1); conv("\(i).cv2", c1, c, 1); conv("\(i).cv3", 2 * c, c2, 1)
            for j in 0..<n { conv("\(i).m.\(j).cv1", c, c, 1); conv("\(i).m.\(j).cv2", c, c, 3) }
        }
        let (c64, c128, c256, c512, c1024) = (ch(64), ch(128), ch(256), ch(512), ch(1024))
        conv("0", inChannels, c64, 6); conv("1", c64, c128, 3); c3(2, c128, c128, dp(3))
        conv("3", c128, c256, 3); c3(4, c256, c256, dp(6))
        conv("5", c256, c512, 3); c3(6, c512, c512, dp(9))
        conv("7", c512, c1024, 3); c3(8, c1024, c1024, dp(3))
        conv("9.cv1", c1024, c1024 / 2, 1); conv("9.cv2", c1024 * 2, c1024, 1)
        conv("10", c1024, c512, 1); c3(13, 2 * c512, c512, dp(3))
        conv("14", c512, c256, 1); c3(17, 2 * c256, c256, dp(3))
        conv("18", c256, c256, 3); c3(20, 2 * c256, c512, dp(3))
        conv("21", c512, c512, 3); c3(23, 2 * c512, c1024, dp(3))
        for (j, c) in [c256, c512, c1024].enumerated() {
            b.conv("model.24.m.\(j)", anchorsPerScale * (5 + classes), c, 1, bias: true)
        }
        return Weights(tensors: b.tensors, name: "random YOLOv5")
    }
}
