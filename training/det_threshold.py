"""Pick the detector's operating threshold on val (max F1 of box matching at IoU 0.5, pipeline NMS 0.45) and
store it in models/detector.safetensors metadata. python training/det_threshold.py"""
import json, sys
from pathlib import Path
import numpy as np
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent))
import common, export, metrics, yolo
from pipeline import DET_IOU


@torch.no_grad()
def predict(det, images, conf, iou, bs=64):
    out = []
    for s in range(0, len(images), bs):
        x = torch.from_numpy(images[s:s + bs]).float().unsqueeze(1) / 255.0
        out += [b.numpy() for b in yolo.postprocess(det.model[24].decode(det(x)), conf, iou)]
    return out


def val_detections(det=None):
    """The shipped detector (or `det`), its val-split detections (score > 0.001, the pipeline's NMS) and the val boxes."""
    torch.set_num_threads(common.threads())
    d = common.load_btxrd(); va = np.where(d["split"] == "val")[0]
    det = det if det is not None else export.load("detector")
    return det, predict(det, d["images"][va], 0.001, DET_IOU), [d["boxes"][d["ids"][i]] for i in va]


def main():
    det, dets, gts = val_detections()
    best = (-1.0, 0.25, None)
    for t in np.arange(0.05, 0.951, 0.025):
        r = metrics.pr_at_threshold(dets, gts, t)
        f1 = 2 * r["precision"] * r["recall"] / max(r["precision"] + r["recall"], 1e-9)
        if f1 > best[0]:
            best = (f1, float(round(t, 3)), r)
    print("operating threshold", best)
    from safetensors.torch import load_file
    p = common.MODELS / "detector.safetensors"
    sd = load_file(str(p)); meta = det.meta
    meta.update(operating_threshold=best[1], operating_threshold_rule="max F1 on val (IoU 0.5), NMS IoU 0.45",
                val_at_operating=dict(f1=best[0], **best[2]), nms_iou=DET_IOU)
    sha = common.save_safetensors(sd, p, meta)
    print(p, sha)


if __name__ == "__main__":
    main()
