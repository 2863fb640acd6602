"""Two detectors side by side on BTXRD (REAL radiographs): mAP@0.5 (the trainer's rule: score > 0.001, NMS 0.6) on
val and test, per centre, on every third train image, and the difference B - A with a 95 % bootstrap interval over
each split's images (the same draws for both). For a candidate whose val and test disagree (docs/method.md section
11); it chooses nothing.
python training/det_compare.py A.safetensors|A.pt B.safetensors|B.pt [--draws 300]"""
import argparse, sys
from pathlib import Path
import numpy as np
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent))
import common, export, metrics
from train_detector import predict


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a"); ap.add_argument("b")
    ap.add_argument("--draws", type=int, default=300)
    args = ap.parse_args()
    torch.set_num_threads(common.threads())
    d = common.load_btxrd()
    centre = np.array([r["center"] for r in d["cases"]])
    models = {"A": export.load_checkpoint(args.a)[0], "B": export.load_checkpoint(args.b)[0]}
    gts = lambda ix: [d["boxes"][d["ids"][i]] for i in ix]
    tr = np.where(d["split"] == "train")[0][::3]
    print("train (every third image):", {k: round(metrics.detection_map50(predict(m, d["images"][tr]), gts(tr)), 4) for k, m in models.items()})
    for split in ("val", "test"):
        ix = np.where(d["split"] == split)[0]
        pred = {k: predict(m, d["images"][ix]) for k, m in models.items()}
        g = gts(ix)
        whole = {k: metrics.detection_map50(p, g) for k, p in pred.items()}
        for c in sorted(set(centre[ix])):
            sel = [j for j, i in enumerate(ix) if centre[i] == c]
            gs = [g[j] for j in sel]
            print(f"{split} centre {c}: {sum(len(x) for x in gs)} boxes, A {metrics.detection_map50([pred['A'][j] for j in sel], gs):.3f}, "
                  f"B {metrics.detection_map50([pred['B'][j] for j in sel], gs):.3f}")
        rng = np.random.default_rng(0); diffs = []
        for _ in range(args.draws):
            s = rng.integers(0, len(ix), len(ix)); gb = [g[i] for i in s]
            diffs.append(metrics.detection_map50([pred["B"][i] for i in s], gb) - metrics.detection_map50([pred["A"][i] for i in s], gb))
        lo, hi = np.percentile(diffs, [2.5, 97.5])
        print(f"{split}: A {whole['A']:.4f}, B {whole['B']:.4f}, B - A {whole['B'] - whole['A']:+.4f}, "
              f"95 % bootstrap interval [{lo:+.4f}, {hi:+.4f}], sd {np.std(diffs):.4f} ({args.draws} draws)", flush=True)


if __name__ == "__main__":
    main()
