"""Train a ResNet encoder + 3-class head (benign / intermediate / malignant).
  lesion:    grey lesion crop of the real radiograph (crops.py rule, jittered), 128x128
  pathology: the cohort's generated slide tile (RGB, 256 -> 128 by 2x2 mean), needs training/cohort.py
python training/train_encoder.py --kind lesion --epochs E [--amp]"""
import argparse, json, math, sys, time
from pathlib import Path
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
sys.path.insert(0, str(Path(__file__).resolve().parent))
import common, crops, metrics
from resnet import ResNet

CLASSES = common.TUMOUR_CLASSES


def lesion_data():
    d = common.load_btxrd()
    idx = np.array([i for i, l in enumerate(d["label"]) if l != "normal"])
    y = np.array([CLASSES.index(d["label"][i]) for i in idx])
    params = np.array([crops.crop_params(b) if (b := crops.lesion_box(d["boxes"][d["ids"][i]])) is not None
                       else crops.full_image_params() for i in idx], np.float32)
    return d, idx, y, params


def pathology_tiles(split_rows):
    """uint8 (N,128,128,3) tiles for the given manifest rows, cached under training/cache."""
    import cohort
    key = common.CACHE / "tiles128.npz"
    cache = dict(np.load(key)) if key.exists() else {}
    missing = [r for r in split_rows if r["image_id"] not in cache]
    for k, r in enumerate(missing):
        t = cohort.tile_for(r, size=256).astype(np.float32)
        cache[r["image_id"]] = t.reshape(128, 2, 128, 2, 3).mean((1, 3)).round().astype(np.uint8)
        if k % 200 == 0:
            print("tiles", k, len(missing), flush=True)
    if missing:
        np.savez(key, **cache)
    return np.stack([cache[r["image_id"]] for r in split_rows])


def tile_tensor(t):
    """uint8 (B,128,128,3) -> float (B,3,128,128) in 0..1 (the pathology encoder's input)."""
    return torch.from_numpy(np.ascontiguousarray(t)).permute(0, 3, 1, 2).float() / 255.0


class LesionBatches:
    def __init__(self, images, idx, params, rng, whole=False):
        self.images, self.idx, self.params, self.rng, self.whole = images, idx, params, rng, whole

    def __call__(self, sel, train=True):
        x = torch.from_numpy(self.images[self.idx[sel]]).float().unsqueeze(1)
        p = self.params[sel].copy()
        if train and self.whole:  # the whole-image branch: mild scale and shift jitter of the whole letterbox
            B = len(sel); r = self.rng
            p[:, 2] *= r.uniform(0.9, 1.1, B)
            p[:, 0] += r.uniform(-0.05, 0.05, B) * p[:, 2]; p[:, 1] += r.uniform(-0.05, 0.05, B) * p[:, 2]
        elif train:
            B = len(sel); r = self.rng
            p[:, 2] *= r.uniform(0.85, 1.3, B)
            p[:, 0] += r.uniform(-0.15, 0.15, B) * p[:, 2]; p[:, 1] += r.uniform(-0.15, 0.15, B) * p[:, 2]
            full = r.random(B) < 0.05  # occasionally the no-detection fallback (whole image)
            p[full] = crops.full_image_params()
        c = crops.crop_batch(x, p)
        if train:
            c = augment_tensor(c, self.rng)
        return c


def augment_tensor(c, rng):
    B = c.shape[0]
    flip = torch.from_numpy(rng.random(B) < 0.5)
    c = torch.where(flip.view(B, 1, 1, 1), c.flip(3), c)
    g = torch.from_numpy(rng.uniform(0.75, 1.25, B)).float().view(B, 1, 1, 1)
    o = torch.from_numpy(rng.uniform(-0.08, 0.08, B)).float().view(B, 1, 1, 1)
    return ((c - 0.5) * g + 0.5 + o).clamp(0, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", choices=["lesion", "pathology"], required=True)
    ap.add_argument("--whole", action="store_true", help="lesion kind: the whole letterbox instead of the box crop (issue 15's whole-image branch)")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--bs", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--amp", action="store_true")
    ap.add_argument("--max-iters", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--widths", default="32,64,128,256")
    ap.add_argument("--tag", default=None)
    ap.add_argument("--val-every", type=int, default=1)
    ap.add_argument("--time-budget", type=float, default=0, help="minutes; the schedule ends at whichever of epochs or budget comes first")
    args = ap.parse_args()
    torch.set_num_threads(2); common.seed_all(args.seed); rng = np.random.default_rng(args.seed)
    assert not args.whole or args.kind == "lesion", "--whole is a lesion-kind option"
    tag = args.tag or ("whole" if args.whole else args.kind)   # never the shipped encoder's checkpoint folder by default
    if args.kind == "lesion":
        d, idx, y, params = lesion_data()
        if args.whole:
            params[:] = crops.full_image_params()
        split = d["split"][idx]
        gen = LesionBatches(d["images"], idx, params, rng, whole=args.whole)
        get = lambda sel, train: gen(sel, train)
        in_ch = 1
    else:
        import cohort
        rows = [r for r in cohort.load_manifest() if r["label"] in CLASSES]
        y = np.array([CLASSES.index(r["label"]) for r in rows]); split = np.array([r["split"] for r in rows])
        tiles = pathology_tiles(rows)

        def get(sel, train):
            t = tile_tensor(tiles[sel])
            if train:
                B = len(sel)
                k = rng.integers(0, 4, B)
                t = torch.stack([torch.rot90(t[i], int(k[i]), (1, 2)) for i in range(B)])
                fl = torch.from_numpy(rng.random(B) < 0.5).view(B, 1, 1, 1)
                t = torch.where(fl, t.flip(3), t)
            return t
        in_ch = 3
    tr = np.where(split == "train")[0]; va = np.where(split == "val")[0]
    counts = np.bincount(y[tr], minlength=3)
    # imbalance: sample by n_c^-1/2 and weight the loss by n_c^-1/2 (together: class-balanced in expectation)
    sw = counts[y[tr]] ** -0.5; sw = sw / sw.sum()
    cw = torch.tensor(counts ** -0.5, dtype=torch.float32); cw = cw / (cw * torch.tensor(counts / counts.sum())).sum()
    print("train counts", counts.tolist(), "class weights", cw.tolist(), flush=True)
    model = ResNet(in_ch=in_ch, widths=tuple(int(w) for w in args.widths.split(",")))
    if args.amp:
        model = model.to(memory_format=torch.channels_last)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0}], lr=args.lr)
    nb = max(len(tr) // args.bs, 1)
    total = args.max_iters or args.epochs * nb; warm = min(2 * nb, total // 5 + 1)
    crit = nn.CrossEntropyLoss(weight=cw, label_smoothing=0.05)
    out = common.OUT / tag; out.mkdir(parents=True, exist_ok=True)
    it, t0, hist = 0, time.time(), []
    budget = args.time_budget * 60 or float("inf")
    progress = lambda it: min(1.0, max(it / total, (time.time() - t0) / budget))
    for ep in range(args.epochs):
        model.train(); te = time.time(); tl = 0.0
        for bi in range(nb):
            lr = args.lr * 0.5 * (1 + math.cos(math.pi * progress(it))) * min(1, (it + 1) / warm)
            for g in opt.param_groups:
                g["lr"] = lr
            sel = tr[rng.choice(len(tr), args.bs, p=sw)]
            x = get(sel, True)
            if args.amp:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.amp):
                logits = model(x)
            loss = crit(logits.float(), torch.from_numpy(y[sel]))
            opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
            tl += float(loss.detach()); it += 1
            if (args.max_iters and it >= args.max_iters) or progress(it) >= 1:
                break
        el = time.time() - te
        last = (args.max_iters and it >= args.max_iters) or progress(it) >= 1 or ep == args.epochs - 1
        rec = dict(epoch=ep, iters=it, progress=progress(it), loss=tl / (bi + 1), lr=lr, sec=el, img_s=args.bs * (bi + 1) / el,
                   wall=time.time() - t0)
        if (ep + 1) % args.val_every and not last:
            hist.append(rec); continue
        model.eval(); logits = []
        with torch.no_grad():
            for s in range(0, len(va), 128):
                logits.append(model(get(va[s:s + 128], False)).float().numpy())
        logits = np.concatenate(logits); rep = metrics.classification_report(y[va], metrics.softmax(logits))
        rec.update(val_macro_f1=rep["macro_f1"], val_macro_auc=rep["macro_auc"], val_recall=rep["recall"])
        hist.append(rec); print(json.dumps(rec), flush=True)
        torch.save({"model": model.state_dict(), "config": model.config, "epoch": ep}, out / "last.pt")
        if last:
            break
    json.dump(dict(history=hist, wall_s=time.time() - t0, args=vars(args), train_counts=counts.tolist(),
                   class_weights=cw.tolist()), open(out / "train.json", "w"), indent=1)
    print("done wall", time.time() - t0, flush=True)


if __name__ == "__main__":
    main()
