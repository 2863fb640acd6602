"""Choose among detector checkpoints on the real val images: val mAP@0.5 (COCO 101-point, the trainer's own
validation rule: score > 0.001, NMS IoU 0.6) for each checkpoint named, best first. For runs whose val images did
not travel (scripts/gpu-train-detector: only the train split goes to the GPU machine).
python training/det_choose.py training/out/gpu/*/*.pt|*.safetensors [--json out.json]"""
import json, sys
from pathlib import Path
import numpy as np
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent))
import common, export, metrics
from train_detector import predict


def val_map50(path, images, gts):
    m, c = export.load_checkpoint(path)
    return metrics.detection_map50(predict(m, images), gts), c.get("epoch"), c.get("progress")


def main(argv):
    out = None
    if "--json" in argv:
        k = argv.index("--json"); out = argv[k + 1]; argv = argv[:k] + argv[k + 2:]
    torch.set_num_threads(common.threads())
    d = common.load_btxrd(); va = np.where(d["split"] == "val")[0]
    images, gts = d["images"][va], [d["boxes"][d["ids"][i]] for i in va]
    rows = []
    for p in argv:
        m, ep, prog = val_map50(p, images, gts)
        rows.append(dict(checkpoint=p, val_map50=m, epoch=ep, progress=prog)); print(json.dumps(rows[-1]), flush=True)
    rows.sort(key=lambda r: -r["val_map50"])
    print("best:", rows[0]["checkpoint"], round(rows[0]["val_map50"], 4))
    if out:
        json.dump(rows, open(out, "w"), indent=1)


if __name__ == "__main__":
    main(sys.argv[1:])
