"""The PyTorch peer of `tumorboard eval`: the same models (models/*.safetensors), the same split,
the same work per case (read the PNG, detector once with the evaluation's candidates and the
operating boxes, the lesion crop and encoder, the generated slide tile and the pathology encoder,
the clinical text (context and lab sentence) and MiniLM, the fusion head for the seven subsets), one case at a time on
2 threads; then the headline figures with training/metrics.py. Prints its wall time beside them,
so the two can be timed back to back (docs/evaluation.md).

    python training/eval_reference.py --slides DIR [--split test] [--json OUT.json]
"""
import argparse, json, sys, time
from pathlib import Path
import numpy as np
import torch
from PIL import Image
sys.path.insert(0, str(Path(__file__).resolve().parent))
import cohort, common, crops, metrics, yolo  # noqa: E402
from pipeline import DET_IOU, LETTERBOX, Pipeline, letterbox, to_grey  # noqa: E402
from train_fusion import SUBSETS, mask_of  # noqa: E402
from features import row_text  # noqa: E402

CLASSES = common.TUMOUR_CLASSES


@torch.no_grad()
def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--slides", required=True, type=Path)
    ap.add_argument("--split", default="test")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    torch.set_num_threads(common.threads())
    data = common.BTXRD
    rows = {r["image_id"]: r for r in cohort.load_manifest()}
    cases = list(csvrows(data / "cases.csv"))
    boxes = {}
    for b in csvrows(data / "boxes.csv"):
        boxes.setdefault(b["image_id"], []).append([float(b[k]) for k in ("x0", "y0", "x1", "y1")])
    ids = [c["image_id"] for c in cases if rows.get(c["image_id"], {}).get("split") == a.split]
    label = {c["image_id"]: c["label"] for c in cases}
    t0 = time.time()
    pl = Pipeline()
    cands, ops, gts, y, img_lg, full_lg = [], [], [], [], [], []
    for i in ids:
        grey = to_grey(Image.open(data / "images" / f"{i}.png"))
        lb, _ = letterbox(grey)
        x = torch.from_numpy(lb).float().view(1, 1, LETTERBOX, LETTERBOX) / 255.0
        dec = pl.det.model[24].decode(pl.det(x))
        cands.append(yolo.postprocess(dec, 0.001, 0.6)[0].numpy())
        op = yolo.postprocess(dec, pl.conf, DET_IOU)[0]
        ops.append(op.numpy()); gts.append(np.array(boxes.get(i, []), np.float32).reshape(-1, 4))
        _, f_img, lg = pl.lesion(lb, op[0].numpy() if len(op) else None)
        r = rows[i]
        feats = [f_img, torch.zeros(1, 256), torch.zeros(1, 384)]
        present = [1, 0, 0]
        if r["has_slide"]:
            _, feats[1], _ = pl.pathology(np.asarray(Image.open(a.slides / f"{i}.png").convert("RGB")))
            present[1] = 1
        text = row_text(r)  # the REAL context (age, sex, site; none recorded for normal images) then the GENERATED lab sentence
        if text:
            feats[2] = pl.text.encode([text]); present[2] = 1
        if label[i] != "normal":
            y.append(CLASSES.index(label[i])); img_lg.append(lg.numpy()[0])
            sub = [pl.fus(feats, torch.from_numpy(mask_of(s, 1) * np.array(present, np.float32))).numpy()[0] for s in SUBSETS]
            full_lg.append(sub[-1])
    wall = time.time() - t0
    img = metrics.classification_report(y, metrics.softmax(np.array(img_lg)))
    full = metrics.classification_report(y, metrics.softmax(np.array(full_lg)))
    out = dict(wall_s=wall, cases=len(ids), map50=metrics.detection_map50(cands, gts),
               at_operating=metrics.pr_at_threshold(ops, gts, pl.conf),
               image_only=dict(macro_f1=img["macro_f1"], macro_auc=img["macro_auc"]),
               trimodal=dict(macro_precision=full["macro_precision"], macro_f1=full["macro_f1"], macro_auc=full["macro_auc"]))
    print(json.dumps(out, indent=1))
    if a.json:
        a.json.write_text(json.dumps(out, indent=1))


def csvrows(p):
    import csv
    with open(p, newline="") as f:
        yield from csv.DictReader(f)


if __name__ == "__main__":
    main()
