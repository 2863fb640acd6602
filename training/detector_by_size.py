"""Val split: recall of the shipped detector (models/detector.safetensors, pipeline NMS) by ground-truth box size
(terciles of the val box areas), at its operating threshold and at any score: what limits it. With a training
checkpoint (training/out/TAG/best.pt) it measures that one instead, at the shipped detector's threshold.
python training/detector_by_size.py [CHECKPOINT.pt]"""
import json, sys
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).resolve().parent))
import common, export, metrics
from det_threshold import val_detections
from safetensors import safe_open


def from_checkpoint(path):
    m, c = export.load_checkpoint(path)
    cfg = c["config"]
    with safe_open(str(common.MODELS / "detector.safetensors"), "pt") as f:   # the shipped threshold, without loading the model
        m.meta = dict(cfg, operating_threshold=json.loads(f.metadata()["config"])["operating_threshold"])
    print(f"{path}: epoch {c.get('epoch')}, val mAP@0.5 in training {c.get('val_map50')}, input side {cfg.get('input_side', 256)}")
    return m


def area(b):
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def main():
    det, dets, gts = val_detections(from_checkpoint(sys.argv[1]) if len(sys.argv) > 1 else None)
    thr = det.meta["operating_threshold"]
    print(f"val mAP@0.5 (COCO 101-point, pipeline NMS): {metrics.detection_map50(dets, gts):.4f}")
    t1, t2 = np.quantile(np.concatenate([area(g) for g in gts if len(g)]), [1 / 3, 2 / 3])
    print(f"val boxes: tercile edges {t1:.0f} and {t2:.0f} px^2 (sides about {t1 ** .5:.0f} and {t2 ** .5:.0f} px); threshold {thr}")
    for name, lo, hi in (("small", 0, t1), ("medium", t1, t2), ("large", t2, np.inf)):
        g = [b[(area(b) >= lo) & (area(b) < hi)] if len(b) else b for b in gts]
        at, anyscore = metrics.pr_at_threshold(dets, g, thr), metrics.pr_at_threshold(dets, g, 0.001)
        print(f"{name}: {at['n_gt']} boxes, recall at the threshold {at['recall']:.3f}, at any score {anyscore['recall']:.3f}")


if __name__ == "__main__":
    main()
