"""The engine against its peers: see scripts/bench-peers."""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
import pathlib

import numpy as np
import torch
from safetensors.torch import save_file, load_file

import engine_reference as ref

MODELS = {
    # name: (constructor, input shape)
    "resnet18": (lambda: ref.resnet18(), (1, 3, 224, 224)),
    "yolov5n": (lambda: ref.yolov5n(in_ch=3, nc=80), (1, 3, 640, 640)),
}


def timed(fn, runs, warmup):
    for _ in range(warmup):
        fn()
    ms = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ms)


def max_scaled_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tumorboard", required=True)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median of the rounds' medians is printed")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default="resnet18,yolov5n,case")
    args = ap.parse_args()

    import onnxruntime as ort

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="tb-bench-"))
    for name in args.models.split(","):
        if name == "case":
            bench_case(args, tmp)
            continue
        build, shape = MODELS[name]
        net = build()
        ref.randomize_batchnorm(net, torch.Generator().manual_seed(5))
        net.eval()
        x = torch.randn(*shape, generator=torch.Generator().manual_seed(6))
        wpath, xpath, opath = tmp / f"{name}.safetensors", tmp / f"{name}-x.safetensors", tmp / f"{name}-out.safetensors"
        save_file(ref.state_dict_f32(net), str(wpath))
        save_file({"x": x.contiguous()}, str(xpath))
        onnx_path = tmp / f"{name}.onnx"
        torch.onnx.export(net, (x,), str(onnx_path), dynamo=False, opset_version=17)
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
        feed = {sess.get_inputs()[0].name: x.numpy()}

        with torch.inference_mode():
            t_out = net(x)
        t_outs = [t_out] if isinstance(t_out, torch.Tensor) else list(t_out)
        o_outs = sess.run(None, feed)

        swift_ms, ort_ms, torch_ms, gflops = [], [], [], None
        for _ in range(args.rounds):
            r = subprocess.run([args.tumorboard, "bench", "--model", name, "--weights", str(wpath), "--input", str(xpath),
                                "--output", str(opath), "--runs", str(args.runs), "--warmup", str(args.warmup),
                                "--threads", str(args.threads), "--json"], check=True, capture_output=True, text=True)
            rep = json.loads(r.stdout.strip().splitlines()[-1])
            swift_ms.append(rep["median_ms"]); gflops = rep["gflop"]
            ort_ms.append(timed(lambda: sess.run(None, feed), args.runs, args.warmup))
            with torch.inference_mode():
                torch_ms.append(timed(lambda: net(x), args.runs, args.warmup))

        s_out = load_file(str(opath))
        s_outs = [s_out["logits"]] if name == "resnet18" else [s_out["p3"], s_out["p4"], s_out["p5"]]
        diff_torch = max(max_scaled_diff(s.numpy(), t.numpy()) for s, t in zip(s_outs, t_outs))
        diff_ort = max(max_scaled_diff(s.numpy(), o) for s, o in zip(s_outs, o_outs))
        agree = diff_torch <= 1e-3 and diff_ort <= 1e-3
        sm, om, tm = statistics.median(swift_ms), statistics.median(ort_ms), statistics.median(torch_ms)
        print(f"{name} swift_ms={sm:.2f} onnxruntime_ms={om:.2f} torch_ms={tm:.2f} ratio_vs_ort={sm / om:.3f} "
              f"ratio_vs_torch={sm / tm:.3f} swift_gflops_per_s={gflops / sm * 1e3:.1f} "
              f"max_diff_vs_torch={diff_torch:.2e} max_diff_vs_ort={diff_ort:.2e} outputs_agree={'yes' if agree else 'NO'}",
              flush=True)
        if not agree:
            raise SystemExit(f"{name}: outputs disagree (tolerance 1e-3 scaled)")


def bench_case(args, tmp):
    """One full case; probabilities compared between the three runtimes (they differ only by the
    temperature, which Swift applies and the peers here do not, so logits' softmax is compared
    at T=1 on the peers and the Swift JSON's are recomputed the same way)."""
    import bench_case as bc
    case = bc.make_inputs(tmp)
    r = bc.Runners(args.threads, tmp)
    f = case["files"]
    out_json = tmp / "case.json"
    swift_ms, ort_ms, torch_ms = [], [], []
    for _ in range(args.rounds):
        res = subprocess.run([args.tumorboard, "bench", "--model", "case", "--image", f["image"], "--slide", f["slide"],
                              "--labs", f["labs"], "--age", f["age"], "--sex", f["sex"], "--runs", str(args.runs),
                              "--warmup", str(args.warmup), "--threads", str(args.threads), "--json", "--output", str(out_json)],
                             check=True, capture_output=True, text=True)
        swift_ms.append(json.loads(res.stdout.strip().splitlines()[-1])["median_ms"])
        ort_ms.append(timed(lambda: r.ort_case(case), args.runs, args.warmup))
        torch_ms.append(timed(lambda: r.torch_case(case), args.runs, args.warmup))
    T = float(r.pl.fus.extra["temperature"]) if "temperature" in r.pl.fus.extra else 1.0
    pt = r.torch_case(case).numpy()
    po = r.ort_case(case)
    # Swift reports softmax(logits / T); bring the peers to the same calibration.
    def calib(p):
        lg = np.log(np.maximum(p, 1e-30))
        e = np.exp(lg / T - (lg / T).max())
        return e / e.sum()
    sw = json.loads(out_json.read_text())["probabilities"]
    ps = np.asarray([sw["benign"], sw["intermediate"], sw["malignant"]])
    d_t, d_o = float(np.abs(ps - calib(pt)).max()), float(np.abs(ps - calib(po)).max())
    agree = d_t <= 1e-3 and d_o <= 1e-3
    sm, om, tm = statistics.median(swift_ms), statistics.median(ort_ms), statistics.median(torch_ms)
    print(f"case swift_ms={sm:.2f} onnxruntime_ms={om:.2f} torch_ms={tm:.2f} ratio_vs_ort={sm / om:.3f} "
          f"ratio_vs_torch={sm / tm:.3f} max_prob_diff_vs_torch={d_t:.2e} max_prob_diff_vs_ort={d_o:.2e} "
          f"outputs_agree={'yes' if agree else 'NO'}", flush=True)
    if not agree:
        raise SystemExit("case: probabilities disagree (tolerance 1e-3)")


if __name__ == "__main__":
    main()
