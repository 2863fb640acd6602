"""Feature extraction for the fusion head (after detector, lesion and pathology encoders are exported).
For every tumour image of the cohort: image features from the detector's top box crop (the pipeline's way;
whole image when nothing passes the operating threshold), from the ground-truth (largest) box crop, and for
train rows two jittered crops; pathology features of the tile (train rows also 3 rotated/flipped views);
MiniLM embeddings of the clinical text in its variants (labs.clinical_text): `text` = real context (age, sex,
site: REAL in BTXRD) + the GENERATED lab sentence, `text_ctx` = the context alone, `text_nosite` /
`text_ctx_nosite` the same without the site, `text_labs` = the lab sentence alone (the text before issue 15).
Writes training/out/features.npz.
python training/features.py"""
import json, sys, time
from pathlib import Path
import numpy as np
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent))
import common, crops, cohort, labs, yolo
from pipeline import Pipeline, DET_IOU
from train_encoder import pathology_tiles, tile_tensor

CLASSES = common.TUMOUR_CLASSES


# BTXRD's site vocabulary (../shared/data/README.md); the fusion-input variant of the ablation only
SITES = ["hand", "ulna", "radius", "humerus", "foot", "tibia", "fibula", "femur", "hip bone", "ankle-joint", "knee-joint",
         "hip-joint", "wrist-joint", "elbow-joint", "shoulder-joint"]


def context_vector(r, site=True):
    """(age/50, (age/50)^2, male, female, site multi-hot over SITES): the context as a small fusion input
    (the alternative to the context sentence, measured in training/context_ablation.py; not shipped)."""
    a = int(r["age"]) / 50.0
    parts = set(r["site"].split(";")) if site and r["site"] else set()
    return np.array([a, a * a, r["sex"] == "M", r["sex"] == "F"] + [s in parts for s in SITES], np.float32)


def row_text(r, site=True, labs_sentence=True):
    """The clinical text of a manifest row as the pipeline builds it (labs.clinical_text of the row's REAL age, sex
    and site and its GENERATED panel, whose sentence the manifest holds). BTXRD records no site for normal images."""
    ctx = labs.context_sentence(int(r["age"]), r["sex"], r["site"] if site else None)
    return " ".join(t for t in (ctx, r["sentence"] if labs_sentence else "") if t) or None


def text_variants(rows):
    """The clinical text of each row in the variants the fusion head is trained and measured on (all
    through labs.clinical_text, the pipeline's rule): the manifest's lab sentence is the GENERATED panel's."""
    return dict(text=[row_text(r) for r in rows],
                text_ctx=[row_text(r, labs_sentence=False) for r in rows],
                text_nosite=[row_text(r, site=False) for r in rows],
                text_ctx_nosite=[row_text(r, site=False, labs_sentence=False) for r in rows],
                text_labs=[r["sentence"] for r in rows])


def text_features(rows, pl):
    """{variant: (N, 384) MiniLM embeddings, "sentence_" + variant: the texts} (each distinct text encoded once)."""
    texts = text_variants(rows)
    uniq = sorted({s for v in texts.values() for s in v})
    emb = dict(zip(uniq, pl.text.encode(uniq).numpy()))
    out = {k: np.stack([emb[s] for s in v]) for k, v in texts.items()}
    out.update({"sentence_" + k: np.array(v) for k, v in texts.items()})
    print(len(uniq), "distinct texts", flush=True)
    return out


@torch.no_grad()
def main():
    torch.set_num_threads(common.threads()); common.seed_all(0); t0 = time.time()
    rng = np.random.default_rng(1)
    d = common.load_btxrd(); pos = {i: k for k, i in enumerate(d["ids"])}
    every = int(sys.argv[sys.argv.index("--every") + 1]) if "--every" in sys.argv else 1  # testing only
    rows = [r for r in cohort.load_manifest() if r["label"] in CLASSES][::every]
    ids = [r["image_id"] for r in rows]; ix = np.array([pos[i] for i in ids])
    if "--text-only" in sys.argv:  # recompute only the text features of an existing features.npz (same rows)
        F = dict(np.load(common.OUT / "features.npz"))
        assert F["ids"].tolist() == ids, "features.npz is of other rows: run without --text-only"
        F.update(text_features(rows, Pipeline(text=True)))
        np.savez(common.OUT / "features.npz", **F)
        print("text features only", time.time() - t0, flush=True)
        return
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
    txt = text_features(rows, pl)
    print("text features", time.time() - t0, flush=True)
    np.savez(common.OUT / "features.npz", ids=np.array(ids), y=y, split=split, det_box=det_box, det_params=det_p, gt_params=gt_p,
             img_det=f_det, img_gt=f_gt, img_jit=np.stack(jit, 1), img_logits_det=lg_det, img_logits_gt=lg_gt,
             path=np.concatenate(pf), path_views=np.concatenate(views), path_logits=np.concatenate(plg), **txt,
             lab_abnormal=np.array([r.get("lab_abnormal") or "" for r in rows]))
    print("done", time.time() - t0, flush=True)


if __name__ == "__main__":
    main()
