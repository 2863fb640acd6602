"""ONNX Runtime's own time per node on the engine's benchmark networks, for the layer-by-layer table
of docs/performance.md ("Third step"): the network as training/engine_reference.py builds it (as
training/bench_peers.py does), exported to ONNX, run with SessionOptions.enable_profiling on 2
threads, warm-up 5, 20 timed runs; the node times are summed per op and input shape and divided by
the runs. Compare with `tumorboard bench --model M --threads 2 --profile`.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python training/ort_profile.py resnet18|yolov5n [ROWS]
"""
from __future__ import annotations

import collections
import json
import pathlib
import sys
import tempfile
import time

import torch

import engine_reference as ref

NETWORKS = {
    "resnet18": (lambda: ref.resnet18(), (1, 3, 224, 224)),
    "yolov5n": (lambda: ref.yolov5n(in_ch=3, nc=80), (1, 3, 640, 640)),
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in NETWORKS:
        sys.exit("usage: ort_profile.py resnet18|yolov5n [ROWS]")
    import onnxruntime as ort

    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    torch.manual_seed(0)
    build, shape = NETWORKS[sys.argv[1]]
    net = build().eval()
    x = torch.randn(*shape)
    folder = pathlib.Path(tempfile.mkdtemp(prefix="tb-ort-profile-"))
    onnx_path = folder / "net.onnx"
    torch.onnx.export(net, (x,), str(onnx_path), dynamo=False, opset_version=17)
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = 2, 1
    so.enable_profiling, so.profile_file_prefix = True, str(folder / "profile")
    session = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: x.numpy()}
    warmup, runs = 5, 20
    for _ in range(warmup):
        session.run(None, feed)
    t0 = time.perf_counter()
    for _ in range(runs):
        session.run(None, feed)
    print(f"mean wall ms {(time.perf_counter() - t0) / runs * 1e3:.2f}")
    total = collections.defaultdict(float)
    calls = collections.Counter()
    for event in json.load(open(session.end_profiling())):
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            a = event.get("args", {})
            key = f"{a.get('op_name', '?')} {a.get('input_type_shape', '')}"[:110]
            total[key] += event["dur"] / 1000.0
            calls[key] += 1
    passes = warmup + runs   # the profiler records the warm-up runs too
    print(f"ms per pass in all nodes {sum(total.values()) / passes:.2f}")
    for key, ms in sorted(total.items(), key=lambda kv: -kv[1])[:rows]:
        print(f"{ms / passes:8.3f} ms x{calls[key] // passes} {key}")


if __name__ == "__main__":
    main()
