"""Feature extraction for the fusion head (after detector, lesion and pathology encoders are exported).
For every tumour image of the cohort: image features from the detector's top box crop (the pipeline's way;
whole image when nothing passes the operating threshold), from the ground-truth (largest) box crop, and for
train rows two jittered crops; pathology features of the tile (train rows also 3 rotated/flipped views);
MiniLM embedding of the clinical sentence. Writes training/out/features.npz.
python training/features.py"""
import json, sys, time
from pathlib import Path
import numpy as np
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent))
import common, crops, cohort, yolo
from pipeline import Pipeline, DET_IOU
from train_encoder import pathology_tiles, tile_tensor

CLASSES = common.TUMOUR_CLASSES


@torch.no_grad()
def main():
    torch.set_num_threads(2); common.seed_all(0); t0 = time.time()
    rng = np.random.default_rng(1)
    d = common.load_btxrd(); pos = {i: k for k, i in enumerate(d["ids"])}
    every = int(sys.argv[sys.argv.index("--every") + 1]) if "--every" in sys.argv else 1  # testing only
    rows = [r for r in cohort.load_manifest() if r["label"] in CLASSES][::every]
    ids = [r["image_id"] for r in rows]; ix = np.array([pos[i] for i in ids])
    y = np.array([CLASSES.index(r["label"]) for r in rows]); split = np.array([r["split"] for r in rows])
    pl = Pipeline(text=True)
    imgs = torch.from_numpy(d["images"][ix]).float().unsqueeze(1)
    # detector top box at the operating threshold
    det_box = np.full((len(ix), 5), np.nan, np.float32)
    for s in range(0, len(ix), 64):
        raw = pl.det(imgs[s:s + 64] / 255.0)
        for k, b in enumerate(yolo.postprocess(pl.det.model[24].decode(raw), pl.conf, DET_IOU)):
            if len(b):
                det_box[s + k] = b[0].numpy()
    det_p = np.array([crops.crop_params(b[:4]) if not np.isnan(b[0]) else crops.full_image_params() for b in det_box], np.float32)
    gt_p = np.array([crops.crop_params(b) if (b := crops.lesion_box(d["boxes"][i])) is not None else crops.full_image_params()
                     for i in ids], np.float32)

    def img_feats(params):
        f, lg = [], []
        for s in range(0, len(ix), 128):
            c = crops.crop_batch(imgs[s:s + 128], params[s:s + 128])
            ft = pl.les.features(c); f.append(ft.numpy()); lg.append(pl.les.fc(ft).numpy())
        return np.concatenate(f), np.concatenate(lg)
    f_det, lg_det = img_feats(det_p)
    f_gt, lg_gt = img_feats(gt_p)
    jit = []
    for _ in range(2):
        p = gt_p.copy(); B = len(p)
        p[:, 2] *= rng.uniform(0.85, 1.3, B)
        p[:, 0] += rng.uniform(-0.15, 0.15, B) * p[:, 2]; p[:, 1] += rng.uniform(-0.15, 0.15, B) * p[:, 2]
        jit.append(img_feats(p)[0])
    print("image features", time.time() - t0, flush=True)
    tiles = pathology_tiles(rows)
    pf, plg, views = [], [], []
    for s in range(0, len(rows), 128):
        x = tile_tensor(tiles[s:s + 128]); ft = pl.path.features(x); pf.append(ft.numpy()); plg.append(pl.path.fc(ft).numpy())
        vv = []
        for k, fl in ((1, False), (2, True), (3, False)):
            xv = torch.rot90(x, k, (2, 3)); xv = xv.flip(3) if fl else xv
            vv.append(pl.path.features(xv).numpy())
        views.append(np.stack(vv, 1))
    print("pathology features", time.time() - t0, flush=True)
    txt = pl.text.encode([r["sentence"] for r in rows]).numpy()
    print("text features", time.time() - t0, flush=True)
    np.savez(common.OUT / "features.npz", ids=np.array(ids), y=y, split=split, det_box=det_box, det_params=det_p, gt_params=gt_p,
             img_det=f_det, img_gt=f_gt, img_jit=np.stack(jit, 1), img_logits_det=lg_det, img_logits_gt=lg_gt,
             path=np.concatenate(pf), path_views=np.concatenate(views), path_logits=np.concatenate(plg), text=txt,
             lab_abnormal=np.array([r.get("lab_abnormal") or "" for r in rows]))
    print("done", time.time() - t0, flush=True)


if __name__ == "__main__":
    main()
