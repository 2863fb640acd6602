import ArgumentParser
import Diagnosis
import Engine
import Foundation
import Models

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmark the inference engine: ResNet-18 at 224, YOLOv5n at 640, raw sgemm.",
        discussion: """
        Weights are random: generated in-process, or read from --weights (scripts/bench-peers writes \
        the same weights for PyTorch and ONNX Runtime and checks that all three agree).
        Reports the median wall time over --runs runs after --warmup runs, and GFLOP/s \
        (2 x multiply-adds of convolutions, GEMMs and attention).
        """)

    @Option(help: "resnet18, yolov5n, sgemm, conv-paths, peak, case, or all (the first three).") var model = "all"
    @Option(help: "safetensors with the model's weights (names as in PyTorch). Default: random.") var weights: String?
    @Option(help: "safetensors with the input tensor 'x'. Default: random.") var input: String?
    @Option(help: "Write the outputs here (safetensors) for comparison.") var output: String?
    @Option(help: "Timed runs.") var runs = 20
    @Option(help: "Untimed warm-up runs.") var warmup = 3
    @Option(help: "Threads for the engine and OpenBLAS.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Convolution kernels: auto (the default: TUMORBOARD_KERNELS, else the best this processor has, by shape), blas, portable, avx2 or avx512 (forced on every convolution they take).") var kernels = "auto"
    @Flag(help: "Print one JSON object per model.") var json = false
    @Flag(help: "Print the time spent in each layer (one extra run).") var profile = false
    @OptionGroup(title: "The case for --model case") var files: LooseFiles

    func run() throws {
        EngineThreads.set(threads)
        if kernels != "auto" {
            guard let k = ConvKernels(rawValue: kernels) else { throw ValidationError("--kernels \(kernels): use auto, blas, portable, avx2 or avx512") }
            try ConvKernels.force(k)
        }
        let selected = model == "all" ? ["sgemm", "resnet18", "yolov5n"] : [model]
        for m in selected {
            switch m {
            case "sgemm": try report(name: "sgemm_1024", benchSGEMM())
            case "peak": printPeak(measuredPeak())
            case "conv-paths": try convPaths()
            case "case":
                // One full case: detection, both encoders, MiniLM, fusion, the 8 Shapley passes, Grad-CAM.
                let diagnosis = try Diagnosis(models: ModelSet(directory: Open.modelsDirectory(files.models)))
                let input = try files.input()
                var last: Findings?
                try report(name: "case", time { last = try diagnosis.run(input); return [:] })
                if let output, let last {
                    let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
                    try enc.encode(last).write(to: URL(fileURLWithPath: output))
                }
            case "resnet18":
                let w = try weights.map { try Weights(path: $0) } ?? RandomCheckpoint.resnet()
                let net = try ResNet(w)
                let x = try loadInput([1, 3, 224, 224])
                try report(name: "resnet18", time { ["logits": try net(x)] })
            case "yolov5n":
                let w = try weights.map { try Weights(path: $0) } ?? RandomCheckpoint.yolov5()
                let net = try YOLOv5(w)
                let x = try loadInput([1, 3, 640, 640])
                try report(name: "yolov5n", time {
                    let o = try net(x)
                    return ["p3": o[0], "p4": o[1], "p5": o[2]]
                })
            default:
                throw ValidationError("unknown model '\(m)': use resnet18, yolov5n, sgemm, conv-paths, peak, case or all")
            }
        }
    }

    struct Result { var medianMs: Double; var minMs: Double; var flops: Int; var outputs: [String: Tensor] }

    func loadInput(_ shape: [Int]) throws -> Tensor {
        guard let input else { return Tensor.random(shape, seed: 42) }
        let x = try SafeTensors(path: input).tensor("x")
        guard x.shape == shape else { throw ValidationError("\(input): input 'x' is \(x.shape), expected \(shape)") }
        return x
    }

    func time(_ body: () throws -> [String: Tensor]) throws -> Result {
        var outputs: [String: Tensor] = [:]
        for _ in 0..<warmup { outputs = try body() }
        FlopCounter.shared.start()
        if profile { Profiler.shared.start() }
        outputs = try body()
        let flops = FlopCounter.shared.stop()
        if profile {
            let rows = Profiler.shared.stop()
            let total = rows.reduce(0) { $0 + $1.ms }
            print(String(format: "profile (one run, %.2f ms in listed ops):", total))
            for r in rows.prefix(40) { print(String(format: "  %8.3f ms %5.1f%% x%-3d %@", r.ms, 100 * r.ms / total, r.calls, r.key)) }
        }
        var ms: [Double] = []
        for _ in 0..<max(runs, 1) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            outputs = try body()
            ms.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
        }
        ms.sort()
        return Result(medianMs: ms[ms.count / 2], minMs: ms[0], flops: flops, outputs: outputs)
    }

    /// Every 3x3 stride-1 shape of ResNet-18 and YOLOv5n through im2col, Winograd on OpenBLAS and
    /// our kernels, and the 1x1 shapes of YOLOv5n through GEMM and the direct kernels, interleaved;
    /// the minimum of the runs is reported (robust to a busy machine). Guides Conv2d's `.auto`.
    /// Every rate counts the direct convolution's operations, so Winograd's can pass 100 % of peak.
    func convPaths() throws {
        let direct = ConvKernels.forDirectAlgorithm
        let shapes3 = [(64, 56), (128, 28), (256, 14), (512, 7), (16, 160), (32, 80), (64, 40), (128, 20)]
        let shapes1 = [(32, 16, 160), (16, 32, 160), (64, 32, 80), (32, 64, 80), (128, 64, 40), (64, 128, 40), (256, 128, 20), (128, 256, 20), (512, 256, 20), (256, 512, 20)]
        var cases: [(name: String, x: Tensor, gflop: Double, convs: [(String, Conv2d)])] = []
        for (c, s) in shapes3 {
            let w = Tensor.random([c, c, 3, 3], seed: 3, scale: 0.1)
            // Our kernels run Winograd F(2x2, 3x3) where `DirectConvPlan.runsWinograd` takes the
            // shape, else the direct loop; the column is named after what ran.
            let own = try Conv2d(weight: w, padding: (1, 1), activation: .silu, algorithm: .direct)
            let ownName = "\(own.ownPath(h: s, w: s)?.rawValue ?? "direct")-\(direct.rawValue)"
            cases.append(("conv3x3 c=\(c) \(s)x\(s)", Tensor.random([1, c, s, s], seed: 4), 2.0 * Double(c * c * 9 * s * s) / 1e9,
                          try [("im2col", Conv2d(weight: w, padding: (1, 1), activation: .silu, algorithm: .im2col)),
                               ("winograd-blas", Conv2d(weight: w, padding: (1, 1), activation: .silu, algorithm: .winograd)),
                               (ownName, own)]))
        }
        for (ci, co, s) in shapes1 {
            let w = Tensor.random([co, ci, 1, 1], seed: 3, scale: 0.1)
            cases.append(("conv1x1 \(ci)->\(co) \(s)x\(s)", Tensor.random([1, ci, s, s], seed: 4), 2.0 * Double(ci * co * s * s) / 1e9,
                          try [("gemm", Conv2d(weight: w, activation: .silu, algorithm: .im2col)),
                               ("direct-\(direct.rawValue)", Conv2d(weight: w, activation: .silu, algorithm: .direct))]))
        }
        // Strided convolutions and stems (input side, kernel, stride, padding), through im2col + OpenBLAS, our kernels (the
        // strided kernel; the 1x1/2 on the 1x1 loop over its subsampled input) and the default.
        let strided = [(3, 16, 640, 6, 2, 2), (16, 32, 320, 3, 2, 1), (32, 64, 160, 3, 2, 1), (64, 128, 80, 3, 2, 1), (128, 256, 40, 3, 2, 1),
                       (3, 64, 224, 7, 2, 3), (64, 128, 56, 3, 2, 1), (128, 256, 28, 3, 2, 1), (256, 512, 14, 3, 2, 1), (64, 128, 56, 1, 2, 0)]
        for (ci, co, s, k, st, p) in strided {
            let w = Tensor.random([co, ci, k, k], seed: 3, scale: 0.1)
            let o = (s + 2 * p - k) / st + 1
            let own = try Conv2d(weight: w, stride: (st, st), padding: (p, p), activation: .silu, algorithm: .direct)
            cases.append(("conv\(k)x\(k)/\(st) \(ci)->\(co) \(s)x\(s)", Tensor.random([1, ci, s, s], seed: 4), 2.0 * Double(ci * co * k * k * o * o) / 1e9,
                          try [("im2col", Conv2d(weight: w, stride: (st, st), padding: (p, p), activation: .silu, algorithm: .im2col)),
                               ("\(own.ownPath(h: s, w: s)?.rawValue ?? "direct")-\(direct.rawValue)", own),
                               // the default choice: our kernels where AVX2 or AVX-512 is in force (the column before
                               // then; under avx512 the strided kernel runs its AVX2 micro-kernel)
                               ("auto", Conv2d(weight: w, stride: (st, st), padding: (p, p), activation: .silu))]))
        }
        // The peak is measured before and after the shapes, and the higher taken: a moment of
        // other load on this machine lowers one measurement (a share over 100 % once showed it).
        let before = measuredPeak()
        var rows: [(name: String, gflop: Double, best: [(String, Double)])] = []
        for c in cases {
            var best: [String: Double] = [:]
            for _ in 0..<max(runs, 1) {
                for (name, conv) in c.convs {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    _ = try conv(c.x)
                    let ms = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
                    best[name] = min(best[name] ?? .infinity, ms)
                }
            }
            rows.append((c.name, c.gflop, c.convs.map { ($0.0, best[$0.0] ?? .infinity) }))
        }
        let after = measuredPeak()
        let peak = after.gflops > before.gflops ? after : before
        printPeak(peak)
        for r in rows {
            print(r.name + r.best.map { name, ms in
                let rate = r.gflop / ms * 1e3
                return String(format: " %@_min_ms=%.3f (%.0f GFLOP/s, %.0f%%)", name, ms, rate, 100 * rate / peak.gflops)
            }.joined())
        }
    }

    /// The machine's multiply-add peak on this many threads (`MachinePeak`): the yardstick of
    /// conv-paths' percentages (docs/performance.md).
    func measuredPeak() -> (gflops: Double, kernels: ConvKernels) {
        (MachinePeak.gflops(threads: threads), MachinePeak.instructions)
    }

    func printPeak(_ p: (gflops: Double, kernels: ConvKernels)) {
        if json {
            let obj: [String: Any] = ["model": "peak", "gflops_per_s": p.gflops, "threads": threads, "instructions": p.kernels.rawValue]
            if let data = try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]) { print(String(decoding: data, as: UTF8.self)) }
        } else {
            print(String(format: "peak gflops_per_s=%.1f threads=%d instructions=%@", p.gflops, threads, p.kernels.rawValue))
        }
    }

    func benchSGEMM() throws -> Result {
        let n = 1024
        let a = Tensor.random([n, n], seed: 1), b = Tensor.random([n, n], seed: 2)
        let c = Tensor(zeros: [n, n])
        return try time {
            GEMM.sgemm(m: n, n: n, k: n, a: a.pointer, lda: n, b: b.pointer, ldb: n, c: c.pointer, ldc: n)
            return [:]
        }
    }

    func report(name: String, _ r: Result) throws {
        let gflops = Double(r.flops) / (r.medianMs * 1e6)
        if json {
            let obj: [String: Any] = ["model": name, "median_ms": r.medianMs, "min_ms": r.minMs,
                                      "gflop": Double(r.flops) / 1e9, "gflops_per_s": gflops,
                                      "threads": threads, "runs": runs]
            let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(String(format: "%@ median_ms=%.2f min_ms=%.2f gflop=%.3f gflops_per_s=%.1f threads=%d",
                         name, r.medianMs, r.minMs, Double(r.flops) / 1e9, gflops, threads))
        }
        if let output, !r.outputs.isEmpty, name != "case" {
            // With several models, one file each.
            let path = model != "all" ? output : output.replacingOccurrences(of: ".safetensors", with: "-\(name).safetensors")
            try SafeTensorsWriter.write(r.outputs, to: path)
        }
    }
}
