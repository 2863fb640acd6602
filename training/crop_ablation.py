"""Issue 15, the classifier's crop levers that need no retraining, measured on VAL only (REAL radiographs):
which crop the lesion encoder sees when the detector is unsure. Rows:
  thr      the pipeline today: the top box at the operating threshold, else the whole image
  any      the top box at any score (conf 0.001), so a crop even when nothing passes the threshold
  gt       the ground-truth (largest) box: the oracle
each also with a horizontal-flip test-time average of the logits (+flip). Image-only macro F1 / AUC of the
lesion encoder head (its temperature), split by whether a box passed the operating threshold.
With a whole-image encoder (`train_encoder.py --kind lesion --whole`, checkpoint training/out/whole/last.pt, or
--whole PATH), also its expert alone and in products with the crop expert (each expert's calibrated
log-probabilities summed, temperatures fitted on val, as the fusion head's product rule), and the same with the
REAL clinical context through the fusion head's text pass (features.npz text_ctx):
  X x whole        always both
  X, else whole    the crop expert where a box passed the threshold, the whole-image expert where none did
--models DIR reads the models from DIR instead of models/ (docs/method.md section 13 ran it on the models of commit
360a14e, the last before this lever was shipped: `git archive 360a14e models | tar -x -C /tmp/m360`).
python training/crop_ablation.py [--split val] [--whole PATH] [--models DIR]   (writes training/out/crop_ablation.{json,md})"""
import json, sys
from pathlib import Path
import numpy as np
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent))
import common, crops, metrics, yolo
from pipeline import Pipeline, DET_IOU
from resnet import ResNet

CLASSES = common.TUMOUR_CLASSES


@torch.no_grad()
def main():
    split = sys.argv[sys.argv.index("--split") + 1] if "--split" in sys.argv else "val"
    if split == "test":
        sys.exit("crop_ablation.py: choose on val; the test split is touched once, by evaluate.py")
    torch.set_num_threads(common.threads())
    d = common.load_btxrd()
    ix = np.array([i for i, l in enumerate(d["label"]) if l != "normal" and d["split"][i] == split])
    y = np.array([CLASSES.index(d["label"][i]) for i in ix])
    mdir = sys.argv[sys.argv.index("--models") + 1] if "--models" in sys.argv else None
    pl = Pipeline(mdir, text=False)
    imgs = torch.from_numpy(d["images"][ix]).float().unsqueeze(1)
    top = {c: np.full((len(ix), 5), np.nan, np.float32) for c in ("thr", "any")}
    for s in range(0, len(ix), 64):
        dec = pl.det.model[24].decode(pl.det(imgs[s:s + 64] / 255.0))
        for name, conf in (("thr", pl.conf), ("any", 0.001)):
            for k, b in enumerate(yolo.postprocess(dec, conf, DET_IOU)):
                if len(b):
                    top[name][s + k] = b[0].numpy()
    prm = {n: np.array([crops.crop_params(b[:4]) if not np.isnan(b[0]) else crops.full_image_params() for b in t], np.float32)
           for n, t in top.items()}
    prm["gt"] = np.array([crops.crop_params(b) if (b := crops.lesion_box(d["boxes"][d["ids"][i]])) is not None
                          else crops.full_image_params() for i in ix], np.float32)
    T = float(pl.les.extra["temperature"]) if "temperature" in pl.les.extra else 1.0

    def features(p, flip):
        out = []
        for s in range(0, len(ix), 128):
            c = crops.crop_batch(imgs[s:s + 128], p[s:s + 128])
            out.append(pl.les.features(c.flip(3) if flip else c).numpy())
        return np.concatenate(out)

    passed = ~np.isnan(top["thr"][:, 0])
    rows, res, experts, feats = [], {}, {}, {}
    for n in ("thr", "any", "gt"):
        f0 = features(prm[n], False); f1 = features(prm[n], True)
        # the flip average of the features (the head is linear, so also of the logits)
        feats[n], feats[n + "+flip"] = f0, 0.5 * (f0 + f1)
    for n, f in feats.items():
        experts[n] = pl.les.fc(torch.from_numpy(f)).numpy() / T
    # the fusion head's product with the REAL clinical context (its text pass on the context sentence), per crop
    lp = lambda z: z - z.max(1, keepdims=True) - np.log(np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True))
    F = np.load(common.OUT / "features.npz")
    at = {k: j for j, k in enumerate(F["ids"].tolist())}
    rows_f = np.array([at[d["ids"][i]] for i in ix])
    fus = pl.fus; t_e = fus.expert_temperature.numpy()
    ctx_text = torch.from_numpy(F["text_ctx"][rows_f]); path_f = torch.from_numpy(F["path"][rows_f])
    lc = lp(fus.alone([torch.from_numpy(feats["thr"]), path_f, ctx_text], 2).numpy() / t_e[2])
    ctx = {}
    for n, f in feats.items():
        li = lp(fus.alone([torch.from_numpy(f), path_f, ctx_text], 0).numpy() / t_e[0])
        ctx[f"fusion: image ({n}) + context"] = li + lc
    wpath = Path(sys.argv[sys.argv.index("--whole") + 1]) if "--whole" in sys.argv else common.OUT / "whole" / "last.pt"
    if wpath.exists():
        ck = torch.load(wpath, map_location="cpu", weights_only=False)
        wm = ResNet(in_ch=1, widths=tuple(ck["config"]["widths"])); wm.load_state_dict(ck["model"]); wm.eval()
        full = np.repeat(np.array([crops.full_image_params()], np.float32), len(ix), 0)
        wl = np.concatenate([wm(crops.crop_batch(imgs[s:s + 128], full[s:s + 128])).numpy() for s in range(0, len(ix), 128)])
        tw = metrics.fit_temperature(wl, y); experts["whole"] = wl / tw
        for n in ("thr", "any", "thr+flip", "any+flip"):
            tn = metrics.fit_temperature(experts[n], y)
            experts[f"{n} x whole"] = lp(experts[n] / tn) + lp(experts["whole"])
        experts["thr, else whole"] = np.where(passed[:, None], experts["thr"], experts["whole"])
        experts["thr+flip, else whole"] = np.where(passed[:, None], experts["thr+flip"], experts["whole"])
        for n in ("thr", "any+flip"):
            li = ctx[f"fusion: image ({n}) + context"] - lc
            ctx[f"fusion: image ({n}) + context x whole"] = ctx[f"fusion: image ({n}) + context"] + lp(experts["whole"])
            ctx[f"fusion: (image ({n}), else whole) + context"] = np.where(passed[:, None], li, lp(experts["whole"])) + lc
        ctx["fusion: context x whole"] = lc + lp(experts["whole"])
        print("whole-image expert", wpath, "T", tw, flush=True)
    for name, L in list(experts.items()) + list(ctx.items()):
        r = metrics.classification_report(y, metrics.softmax(L))
        sub = {}
        for part, m in (("passed", passed), ("not_passed", ~passed)):
            if len(set(y[m])) == 3:
                rr = metrics.classification_report(y[m], metrics.softmax(L[m]))
                sub[part] = dict(n=int(m.sum()), macro_f1=rr["macro_f1"], macro_auc=rr["macro_auc"])
        res[name] = dict(macro_f1=r["macro_f1"], macro_auc=r["macro_auc"], **sub)
        rows.append(f"| {name} | {r['macro_f1']:.3f} | {r['macro_auc']:.3f} | "
                    + " | ".join(f"{sub[p]['macro_f1']:.3f} / {sub[p]['macro_auc']:.3f}" if p in sub else "-"
                                 for p in ("passed", "not_passed")) + " |")
    md = (f"Split {split}: {len(ix)} tumour images (REAL radiographs), {int(passed.sum())} with a box at the operating "
          f"threshold {pl.conf:.3f}, {int((~passed).sum())} without.\n\n| crop | macro F1 | macro AUC | F1 / AUC, box passed | "
          f"F1 / AUC, no box passed |\n|---|---:|---:|---|---|\n" + "\n".join(rows) + "\n")
    print(md)
    (common.OUT / "crop_ablation.md").write_text(md)
    json.dump(dict(split=split, temperature=T, passed=int(passed.sum()), n=len(ix), rows=res),
              open(common.OUT / "crop_ablation.json", "w"), indent=1)


if __name__ == "__main__":
    main()
