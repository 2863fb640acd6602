"""Val split: detector recall by ground-truth box size (terciles of the val box areas), at the operating threshold
and at any score. Explains what limits the detector. python training/detector_by_size.py"""
import sys, json, numpy as np, torch
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent)); import common, metrics, yolo, train_detector as td
torch.set_num_threads(2)
d = common.load_btxrd(); va = np.where(d["split"] == "val")[0]; boxes = [d["boxes"][d["ids"][i]] for i in va]
c = torch.load(common.OUT / "detector" / "best.pt", map_location="cpu", weights_only=False)
m = yolo.YOLOv5n(c["config"]["anchors_px"]); m.load_state_dict(c["model"])
dets = td.predict(m, d["images"][va])
thr = json.loads(__import__("safetensors").safe_open(str(common.MODELS / "detector.safetensors"), "np").metadata()["config"])["operating_threshold"]
areas = np.concatenate([(b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) for b in boxes if len(b)])
t1, t2 = np.quantile(areas, [1 / 3, 2 / 3]); print("val boxes", len(areas), "tercile edges (px^2)", round(t1), round(t2), "sides ~", round(t1 ** .5), round(t2 ** .5))
for name, lo, hi in (("small", 0, t1), ("medium", t1, t2), ("large", t2, 1e9)):
    g = [b[((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) >= lo) & ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) < hi)] if len(b) else b for b in boxes]
    r = metrics.pr_at_threshold(dets, g, thr)
    print(name, "gt", r["n_gt"], "recall@thr", round(r["recall"], 3), "any-score recall", round(metrics.pr_at_threshold(dets, g, 0.001)["recall"], 3))
