"""Train the fusion head on cached features (training/out/features.npz), with modality dropout.
python training/train_fusion.py [--epochs 80] [--text context|labs] [--tag fusion]

--text context (the default since issue 15): the text modality is the clinical text of labs.clinical_text, the
REAL context (age, sex, site) then the GENERATED lab sentence; each training sample reads one of four views
(context + labs, context alone, context without site + labs, context without site alone), so a case with
context but no labs, or no recorded site, is a trained condition. --text labs: the lab sentence alone (the
head shipped before issue 15; kept for the ablation in docs/method.md).
--img-noise 4 (the default since issue 15): Gaussian noise of 4 train standard deviations per dimension on the image
feature, chosen on val (docs/method.md); 0 gives the earlier training."""
import argparse, itertools, json, math, sys, time
from pathlib import Path
import numpy as np
import torch
import torch.nn as nn
sys.path.insert(0, str(Path(__file__).resolve().parent))
import common, metrics
from fusion import FusionHead

SUBSETS = [m for k in (1, 2, 3) for m in itertools.combinations(range(3), k)]  # the 7 non-empty subsets


# features.npz keys of the text views a training sample draws from (the first is the one val and test read)
TEXT_VIEWS = {"context": ("text", "text_ctx", "text_nosite", "text_ctx_nosite"), "labs": ("text_labs",)}
TEXT_NOTE = {"context": "labs.clinical_text: context sentence (age, sex, site) then the lab sentence; either may be absent",
             "labs": "labs.clinical_sentence only"}


def mask_of(subset, n, nmod=3):
    m = np.zeros((n, nmod), np.float32); m[:, list(subset)] = 1; return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=80)
    ap.add_argument("--bs", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--p-full", type=float, default=0.4, help="probability of keeping all modalities; else a uniform non-empty subset")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--text", choices=("context", "labs"), default="context")
    ap.add_argument("--tag", default="fusion", help="output folder under training/out")
    ap.add_argument("--img-noise", type=float, default=4.0,
                    help="Gaussian noise added to the image feature in training, in units of each dimension's train std (the "
                         "lesion encoder has seen the train images: its train features are far cleaner than on new images)")
    ap.add_argument("--no-gt-view", action="store_true", help="leave the ground-truth-box crop out of the image views")
    ap.add_argument("--ctx-vector", action="store_true",
                    help="ablation only (not shipped): the context as a 4th fusion input (features.context_vector) beside the text")
    ap.add_argument("--combine", choices=("attention", "product"), default="attention",
                    help="how the head combines the present modalities, in training and in the shipped file (fusion.py)")
    args = ap.parse_args()
    torch.set_num_threads(common.threads()); common.seed_all(args.seed); rng = np.random.default_rng(args.seed); t0 = time.time()
    F = np.load(common.OUT / "features.npz")
    y, split = F["y"], F["split"]
    tr = np.where(split == "train")[0]; va = np.where(split == "val")[0]
    # training views: image = detector crop, ground-truth crop, 2 jittered crops; pathology = tile + 3 rotations/flips
    img_views = np.concatenate([F["img_det"][:, None]] + ([] if args.no_gt_view else [F["img_gt"][:, None]]) + [F["img_jit"]], 1)
    path_views = np.concatenate([F["path"][:, None], F["path_views"]], 1)
    img_std = F["img_det"][tr].std(0)
    text_views = np.stack([F[k] for k in TEXT_VIEWS[args.text]], 1)
    text = F[TEXT_VIEWS[args.text][0]]
    nmod = 4 if args.ctx_vector else 3
    subsets = [m for k in range(1, nmod + 1) for m in itertools.combinations(range(nmod), k)]
    if args.ctx_vector:
        import cohort, features
        rows = {r["image_id"]: r for r in cohort.load_manifest()}
        ctx_views = np.stack([np.stack([features.context_vector(rows[i], site) for i in F["ids"]]) for site in (True, False)], 1)
    counts = np.bincount(y[tr], minlength=3)
    sw = counts[y[tr]] ** -0.5; sw = sw / sw.sum()
    cw = torch.tensor(counts ** -0.5, dtype=torch.float32); cw = cw / (cw * torch.tensor(counts / counts.sum())).sum()
    model = FusionHead(dims=(256, 256, 384, 19) if args.ctx_vector else (256, 256, 384), combine=args.combine)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)
    crit = nn.CrossEntropyLoss(weight=cw, label_smoothing=0.05)
    nb = len(tr) // args.bs; total = args.epochs * nb; it = 0; hist = []
    val_feats = [torch.from_numpy(F["img_det"][va]), torch.from_numpy(F["path"][va]), torch.from_numpy(text[va])]
    for ep in range(args.epochs):
        model.train(); tl = 0
        for _ in range(nb):
            for g in opt.param_groups:
                g["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * it / total)) * min(1, (it + 1) / nb)
            sel = tr[rng.choice(len(tr), args.bs, p=sw)]; B = len(sel)
            fi = img_views[sel, rng.integers(0, img_views.shape[1], B)]
            if args.img_noise:
                fi = fi + (rng.standard_normal(fi.shape) * args.img_noise * img_std).astype(np.float32)
            fp = path_views[sel, rng.integers(0, path_views.shape[1], B)]
            full = rng.random(B) < args.p_full
            m = np.stack([mask_of(subsets[k], 1, nmod)[0] for k in rng.integers(0, len(subsets), B)])
            m[full] = 1
            ft = text_views[sel, rng.integers(0, text_views.shape[1], B) if text_views.shape[1] > 1 else 0]  # one view: no draw (the pre-issue-15 sequence)
            feats = [torch.from_numpy(fi), torch.from_numpy(fp), torch.from_numpy(ft)]
            if args.ctx_vector:
                feats.append(torch.from_numpy(ctx_views[sel, rng.integers(0, 2, B)]))
            logits = model(feats, torch.from_numpy(m))
            loss = crit(logits, torch.from_numpy(y[sel]))
            opt.zero_grad(); loss.backward(); opt.step(); tl += float(loss); it += 1
        model.eval(); rec = dict(epoch=ep, loss=tl / nb)
        with torch.no_grad():
            for s in ((0, 1, 2), (0,), (1,), (2,)):
                vf = val_feats + ([torch.from_numpy(ctx_views[va, 0])] if args.ctx_vector else [])
                p = metrics.softmax(model(vf, torch.from_numpy(mask_of(s, len(va), nmod))).numpy())
                r = metrics.classification_report(y[va], p)
                rec["val_f1_" + "".join("IPL"[i] for i in s)] = round(r["macro_f1"], 4)
        hist.append(rec)
        if ep % 10 == 9 or ep == args.epochs - 1:
            print(json.dumps(rec), flush=True)
    out = common.OUT / args.tag; out.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict(), "config": dict(model.config, text=TEXT_NOTE[args.text], text_views=list(TEXT_VIEWS[args.text]), img_noise_train_std=args.img_noise), "epoch": args.epochs - 1}, out / "last.pt")
    json.dump(dict(history=hist, wall_s=time.time() - t0, args=vars(args), train_counts=counts.tolist()), open(out / "train.json", "w"), indent=1)
    print("done", time.time() - t0)


if __name__ == "__main__":
    main()
