"""Train the fusion head on cached features (training/out/features.npz), with modality dropout.
python training/train_fusion.py [--epochs 80]"""
import argparse, itertools, json, math, sys, time
from pathlib import Path
import numpy as np
import torch
import torch.nn as nn
sys.path.insert(0, str(Path(__file__).resolve().parent))
import common, metrics
from fusion import FusionHead

SUBSETS = [m for k in (1, 2, 3) for m in itertools.combinations(range(3), k)]  # the 7 non-empty subsets


def mask_of(subset, n):
    m = np.zeros((n, 3), np.float32); m[:, list(subset)] = 1; return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=80)
    ap.add_argument("--bs", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--p-full", type=float, default=0.4, help="probability of keeping all modalities; else a uniform non-empty subset")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(2); common.seed_all(args.seed); rng = np.random.default_rng(args.seed); t0 = time.time()
    F = np.load(common.OUT / "features.npz")
    y, split = F["y"], F["split"]
    tr = np.where(split == "train")[0]; va = np.where(split == "val")[0]
    # training views: image = detector crop, ground-truth crop, 2 jittered crops; pathology = tile + 3 rotations/flips
    img_views = np.concatenate([F["img_det"][:, None], F["img_gt"][:, None], F["img_jit"]], 1)
    path_views = np.concatenate([F["path"][:, None], F["path_views"]], 1)
    text = F["text"]
    counts = np.bincount(y[tr], minlength=3)
    sw = counts[y[tr]] ** -0.5; sw = sw / sw.sum()
    cw = torch.tensor(counts ** -0.5, dtype=torch.float32); cw = cw / (cw * torch.tensor(counts / counts.sum())).sum()
    model = FusionHead()
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
            fp = path_views[sel, rng.integers(0, path_views.shape[1], B)]
            full = rng.random(B) < args.p_full
            m = np.stack([mask_of(SUBSETS[k], 1)[0] for k in rng.integers(0, 7, B)])
            m[full] = 1
            logits = model([torch.from_numpy(fi), torch.from_numpy(fp), torch.from_numpy(text[sel])], torch.from_numpy(m))
            loss = crit(logits, torch.from_numpy(y[sel]))
            opt.zero_grad(); loss.backward(); opt.step(); tl += float(loss); it += 1
        model.eval(); rec = dict(epoch=ep, loss=tl / nb)
        with torch.no_grad():
            for s in ((0, 1, 2), (0,), (1,), (2,)):
                p = metrics.softmax(model(val_feats, torch.from_numpy(mask_of(s, len(va)))).numpy())
                r = metrics.classification_report(y[va], p)
                rec["val_f1_" + "".join("IPL"[i] for i in s)] = round(r["macro_f1"], 4)
        hist.append(rec)
        if ep % 10 == 9 or ep == args.epochs - 1:
            print(json.dumps(rec), flush=True)
    out = common.OUT / "fusion"; out.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict(), "config": model.config, "epoch": args.epochs - 1}, out / "last.pt")
    json.dump(dict(history=hist, wall_s=time.time() - t0, args=vars(args), train_counts=counts.tolist()), open(out / "train.json", "w"), indent=1)
    print("done", time.time() - t0)


if __name__ == "__main__":
    main()
