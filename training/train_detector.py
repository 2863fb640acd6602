"""Train the YOLOv5n-style lesion detector on BTXRD (grey, 256 letterbox, one class).
python training/train_detector.py --epochs E [--amp] [--bench] [--max-iters N] [--img 384] [--seg 0.5] [--init F]
--img S: the network sees the 256 copies resized to S (small lesions cover more cells of the stride-8 grid);
--seg W: a training-only segmentation head on the P3 features, supervised by BTXRD's lesion masks (weight W)."""
import argparse, copy, json, math, os, sys, time
from pathlib import Path
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
sys.path.insert(0, str(Path(__file__).resolve().parent))
import common, export, metrics, yolo

IMG = 256
PAD = 114


def kmeans_anchors(wh, n=9, iters=300, seed=0):
    """k-means with 1-IoU distance on (w,h) of training boxes; sorted by area."""
    rng = np.random.default_rng(seed)
    wh = wh.astype(np.float64); c = wh[rng.choice(len(wh), n, replace=False)].copy()
    for _ in range(iters):
        inter = np.minimum(wh[:, None, 0], c[None, :, 0]) * np.minimum(wh[:, None, 1], c[None, :, 1])
        iou = inter / (wh[:, None].prod(2) + c[None].prod(2) - inter)
        a = iou.argmax(1)
        nc = np.array([wh[a == k].mean(0) if (a == k).any() else c[k] for k in range(n)])
        if np.allclose(nc, c):
            break
        c = nc
    c = c[np.argsort(c.prod(1))]
    inter = np.minimum(wh[:, None, 0], c[None, :, 0]) * np.minimum(wh[:, None, 1], c[None, :, 1])
    iou = inter / (wh[:, None].prod(2) + c[None].prod(2) - inter)
    r = wh[:, None] / c[None]; ratio = np.maximum(r, 1 / r).max(2).min(1)
    stats = dict(mean_best_iou=float(iou.max(1).mean()), bpr_at_4=float((ratio < 4).mean()))
    return np.round(c, 1), stats


class ModelEMA:
    def __init__(self, model, decay=0.9999, tau=2000):
        self.ema = copy.deepcopy(model).eval(); self.updates = 0
        self.decay = lambda x: decay * (1 - math.exp(-x / tau))
        for p in self.ema.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model):
        """ema = d ema + (1 - d) model, as one multi-tensor op per step (the same arithmetic as a
        per-tensor loop, so the same bits; much less Python per step on a GPU)."""
        self.updates += 1; d = self.decay(self.updates)
        msd = model.state_dict()
        fe, fm = [], []
        for k, v in self.ema.state_dict().items():
            if v.dtype.is_floating_point:
                fe.append(v); fm.append(msd[k].detach())
            else:
                v.copy_(msd[k])
        torch._foreach_mul_(fe, d)
        torch._foreach_add_(fe, fm, alpha=1 - d)


def bbox_ciou(b1, b2, eps=1e-7):
    (x1, y1, w1, h1), (x2, y2, w2, h2) = b1.chunk(4, -1), b2.chunk(4, -1)
    b1x1, b1x2, b1y1, b1y2 = x1 - w1 / 2, x1 + w1 / 2, y1 - h1 / 2, y1 + h1 / 2
    b2x1, b2x2, b2y1, b2y2 = x2 - w2 / 2, x2 + w2 / 2, y2 - h2 / 2, y2 + h2 / 2
    inter = (torch.min(b1x2, b2x2) - torch.max(b1x1, b2x1)).clamp(0) * (torch.min(b1y2, b2y2) - torch.max(b1y1, b2y1)).clamp(0)
    union = w1 * h1 + w2 * h2 - inter + eps
    iou = inter / union
    cw = torch.max(b1x2, b2x2) - torch.min(b1x1, b2x1); ch = torch.max(b1y2, b2y2) - torch.min(b1y1, b2y1)
    c2 = cw ** 2 + ch ** 2 + eps
    rho2 = ((b2x1 + b2x2 - b1x1 - b1x2) ** 2 + (b2y1 + b2y2 - b1y1 - b1y2) ** 2) / 4
    v = (4 / math.pi ** 2) * (torch.atan(w2 / (h2 + eps)) - torch.atan(w1 / (h1 + eps))) ** 2
    with torch.no_grad():
        alpha = v / (v - iou + (1 + eps))
    return (iou - (rho2 / c2 + v * alpha)).squeeze(-1)


class YoloLoss:
    """ultralytics YOLOv5 ComputeLoss (nc=1: no class term), gr=1, anchor_t=4, balance 4/1/0.4."""
    def __init__(self, det, img=IMG, box=0.05, obj=1.0, anchor_t=4.0):
        self.det = det; self.na, self.nl = det.na, det.nl
        self.box = box * 3 / self.nl; self.obj = obj * (img / 640) ** 2 * 3 / self.nl
        self.anchor_t = anchor_t; self.balance = [4.0, 1.0, 0.4]
        self.bce = nn.BCEWithLogitsLoss()

    def build_targets(self, p, targets):
        na, nt, dev = self.na, targets.shape[0], targets.device
        tbox, indices, anch = [], [], []
        gain = torch.ones(7, device=dev)
        ai = torch.arange(na, device=dev).float().view(na, 1).repeat(1, nt)
        targets = torch.cat((targets.repeat(na, 1, 1), ai[..., None]), 2)
        g = 0.5
        off = torch.tensor([[0, 0], [1, 0], [0, 1], [-1, 0], [0, -1]], device=dev).float() * g
        for i in range(self.nl):
            anchors, shape = self.det.anchors[i], p[i].shape
            gain[2:6] = torch.tensor(shape, device=dev)[[3, 2, 3, 2]].float()
            t = targets * gain
            if nt:
                r = t[..., 4:6] / anchors[:, None]
                j = torch.max(r, 1 / r).max(2)[0] < self.anchor_t
                t = t[j]
                gxy = t[:, 2:4]; gxi = gain[[2, 3]] - gxy
                j, k = ((gxy % 1 < g) & (gxy > 1)).T
                l, m = ((gxi % 1 < g) & (gxi > 1)).T
                j = torch.stack((torch.ones_like(j), j, k, l, m))
                t = t.repeat((5, 1, 1))[j]
                offsets = (torch.zeros_like(gxy)[None] + off[:, None])[j]
            else:
                t = targets[0]; offsets = 0
            bc, gxy, gwh, a = t.split((2, 2, 2, 1), 1)
            a, (b, c) = a.long().view(-1), bc.long().T
            gij = (gxy - offsets).long()
            gi = gij[:, 0].clamp(0, shape[3] - 1); gj = gij[:, 1].clamp(0, shape[2] - 1)
            indices.append((b, a, gj, gi))
            tbox.append(torch.cat((gxy - torch.stack((gi, gj), 1), gwh), 1))
            anch.append(anchors[a])
        return tbox, indices, anch

    def __call__(self, raw, targets):
        p = []
        for r in raw:
            bs, _, ny, nx = r.shape
            p.append(r.float().view(bs, self.na, -1, ny, nx).permute(0, 1, 3, 4, 2).contiguous())
        dev = p[0].device
        lbox = torch.zeros((), device=dev); lobj = torch.zeros((), device=dev)
        tbox, indices, anch = self.build_targets(p, targets.to(dev))
        for i, pi in enumerate(p):
            b, a, gj, gi = indices[i]
            tobj = torch.zeros(pi.shape[:4], device=dev)
            if b.shape[0]:
                ps = pi[b, a, gj, gi]
                pxy = ps[:, :2].sigmoid() * 2 - 0.5
                pwh = (ps[:, 2:4].sigmoid() * 2) ** 2 * anch[i]
                iou = bbox_ciou(torch.cat((pxy, pwh), 1), tbox[i])
                lbox = lbox + (1.0 - iou).mean()
                tobj[b, a, gj, gi] = iou.detach().clamp(0)
            lobj = lobj + self.bce(pi[..., 4], tobj) * self.balance[i]
        bs = p[0].shape[0]
        return (lbox * self.box + lobj * self.obj) * bs, torch.stack((lbox * self.box, lobj * self.obj)).detach()


def load_masks(d):
    """image index -> (256,256) uint8 0/1 lesion mask; normal images empty; a tumour image without a mask file: None
    (its segmentation loss is not counted)."""
    from PIL import Image
    out = []
    for i, iid in enumerate(d["ids"]):
        p = common.BTXRD / "masks" / f"{iid}.png"
        if d["label"][i] == "normal":
            out.append(np.zeros((IMG, IMG), np.uint8))
        elif p.exists():
            m = np.array(Image.open(p)).astype(np.uint8)
            out.append(m if m.shape == (IMG, IMG) else None)
        else:
            out.append(None)
    return out


class SegHead(nn.Module):
    """Training-only lesion-mask logits at stride 8 from the P3 neck output (layer 17); never exported."""
    def __init__(self, c):
        super().__init__()
        self.m = nn.Sequential(nn.Conv2d(c, 32, 3, 1, 1), nn.SiLU(), nn.Conv2d(32, 1, 1))

    def forward(self, x):
        return self.m(x)


def seg_loss(logits, target, known):
    """BCE + soft Dice over the images whose mask is known; target is the mask's share of each stride-8 cell."""
    if not known.any():
        return logits.sum() * 0
    lg, tg = logits[known].float(), target[known]
    bce = F.binary_cross_entropy_with_logits(lg, tg)
    p = lg.sigmoid(); inter = (p * tg).sum((1, 2, 3)); den = p.sum((1, 2, 3)) + tg.sum((1, 2, 3))
    has = tg.sum((1, 2, 3)) > 0
    dice = (1 - (2 * inter + 1) / (den + 1))[has].mean() if has.any() else lg.sum() * 0
    return bce + dice


class Augment:
    """Mosaic (4 images on a 2x canvas, a 256 window cut at native scale), random scale/translate,
    horizontal flip, grey gain/offset jitter. Boxes float xyxy in 256 pixels. The output is side x side (the
    256 source resampled in the same pass); with masks, the lesion mask follows the same warp."""
    def __init__(self, images, boxes, rng, mosaic=0.5, scale=0.25, translate=0.1, side=IMG, masks=None):
        self.images, self.boxes, self.rng = images, boxes, rng
        self.mosaic, self.scale, self.translate = mosaic, scale, translate
        self.side, self.masks = side, masks

    def load(self, i):
        return self.images[i], self.boxes[i].copy()

    def mask(self, i):
        return self.masks[i] if self.masks is not None else None

    def mosaic4(self, idx, pool):
        s = IMG; rng = self.rng
        canvas = np.full((2 * s, 2 * s), PAD, np.uint8); bx = []
        mcanvas = np.zeros((2 * s, 2 * s), np.uint8) if self.masks is not None else None; known = True
        ids = [idx] + list(rng.choice(pool, 3))
        for k, i in enumerate(ids):
            im, b = self.load(i)
            ox, oy = (k % 2) * s, (k // 2) * s
            canvas[oy:oy + s, ox:ox + s] = im
            if mcanvas is not None:
                m = self.mask(i)
                if m is None:
                    known = False
                else:
                    mcanvas[oy:oy + s, ox:ox + s] = m
            if len(b):
                bx.append(b + [ox, oy, ox, oy])
        cx, cy = rng.integers(s // 2, 3 * s // 2, 2)
        x0, y0 = cx - s // 2, cy - s // 2
        img = canvas[y0:y0 + s, x0:x0 + s].copy()
        b = np.concatenate(bx) - [x0, y0, x0, y0] if bx else np.zeros((0, 4), np.float32)
        m = mcanvas[y0:y0 + s, x0:x0 + s].copy() if mcanvas is not None and known else None
        return img, b, m

    def __call__(self, batch_idx, pool, device="cpu"):
        """The mosaic in numpy, then the warp and the grey jitter on `device` (the GPU when training there)."""
        rng = self.rng; imgs, bxs, ms = [], [], []
        for i in batch_idx:
            if rng.random() < self.mosaic:
                im, b, m = self.mosaic4(i, pool)
            else:
                (im, b), m = self.load(i), self.mask(i)
            imgs.append(im); bxs.append(b.astype(np.float32).reshape(-1, 4)); ms.append(m)
        x = torch.from_numpy(np.stack(imgs)).to(device).float().unsqueeze(1)  # (B,1,H,W) 0..255
        B = x.shape[0]; S = self.side
        seg = self.masks is not None
        if seg:
            known = torch.tensor([m is not None for m in ms], device=device)
            mk = torch.from_numpy(np.stack([m if m is not None else np.zeros((IMG, IMG), np.uint8) for m in ms])).to(device).float().unsqueeze(1)
        # random scale + translate with one affine per image (grid_sample, pad value PAD)
        sc = torch.from_numpy(rng.uniform(1 - self.scale, 1 + self.scale, B)).float()
        tx = torch.from_numpy(rng.uniform(-self.translate, self.translate, B)).float()
        ty = torch.from_numpy(rng.uniform(-self.translate, self.translate, B)).float()
        flip = torch.from_numpy(rng.random(B) < 0.5)
        sx = torch.where(flip, -1.0, 1.0)
        theta = torch.zeros(B, 2, 3)
        theta[:, 0, 0] = sx / sc; theta[:, 1, 1] = 1 / sc
        theta[:, 0, 2] = -tx * 2 / sc; theta[:, 1, 2] = -ty * 2 / sc
        # output x' = flip(128 + s (x - 128) + 256 t): input_n = (sx u - 2t) / s in normalised coords
        grid = F.affine_grid(theta.to(device), (B, 1, S, S), align_corners=False)
        x = F.grid_sample(x - PAD, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + PAD
        if seg:
            mk = F.grid_sample(mk, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
            mk = F.avg_pool2d(mk, 8)  # the mask's share of each stride-8 cell
        gain = torch.from_numpy(rng.uniform(0.7, 1.3, B)).float().view(B, 1, 1, 1).to(device)
        off = torch.from_numpy(rng.uniform(-20, 20, B)).float().view(B, 1, 1, 1).to(device)
        x = ((x - 128) * gain + 128 + off).clamp(0, 255)
        targets = []
        for j, b in enumerate(bxs):
            if not len(b):
                continue
            s_, t_x, t_y = float(sc[j]), float(tx[j]) * IMG, float(ty[j]) * IMG
            c = IMG / 2
            nb = b.copy()
            nb[:, [0, 2]] = (b[:, [0, 2]] - c) * s_ + c + t_x
            nb[:, [1, 3]] = (b[:, [1, 3]] - c) * s_ + c + t_y
            if flip[j]:
                nb[:, [0, 2]] = IMG - nb[:, [2, 0]]
            area0 = (nb[:, 2] - nb[:, 0]) * (nb[:, 3] - nb[:, 1])
            nb = np.clip(nb, 0, IMG)
            w = nb[:, 2] - nb[:, 0]; h = nb[:, 3] - nb[:, 1]
            keep = (w > 2) & (h > 2) & (w * h > 0.2 * area0)
            nb = nb[keep]
            for bb in nb:
                targets.append([j, 0, (bb[0] + bb[2]) / 2 / IMG, (bb[1] + bb[3]) / 2 / IMG, (bb[2] - bb[0]) / IMG, (bb[3] - bb[1]) / IMG])
        t = torch.tensor(targets, dtype=torch.float32).view(-1, 6)
        if seg:
            return x / 255.0, t, (mk, known)
        return x / 255.0, t


@torch.no_grad()
def predict(model, images, bs=32, conf=0.001, iou=0.6, channels_last=False):
    model.eval(); det = model.model[24]; out = []
    dev = next(model.parameters()).device
    for i in range(0, len(images), bs):
        x = torch.from_numpy(images[i:i + bs]).to(dev).float().unsqueeze(1) / 255.0
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        raw = model(x)
        out += [o.cpu().numpy() for o in yolo.postprocess(det.decode([r.float().cpu() for r in raw]), conf, iou)]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--bs", type=int, default=16)
    ap.add_argument("--lr", type=float, default=0.002)
    ap.add_argument("--amp", action="store_true", help="bf16 autocast + channels_last")
    ap.add_argument("--max-iters", type=int, default=0)
    ap.add_argument("--mosaic", type=float, default=0.5)
    ap.add_argument("--close-mosaic", type=float, default=0.15, help="fraction of final epochs without mosaic")
    ap.add_argument("--val-every", type=int, default=5, help="0: no validation (no best.pt; the tests use it)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tag", default="detector")
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--init", default="", help="start from this checkpoint's (EMA) weights: a second schedule after a first")
    ap.add_argument("--warmup-epochs", type=float, default=3)
    ap.add_argument("--time-budget", type=float, default=0, help="minutes; the schedule ends at whichever of epochs or budget comes first "
                    "(0: none; a budget makes the result depend on the machine's speed, so run_all.sh sets none)")
    ap.add_argument("--device", default="cpu", help="cpu (the default, reproducible path), or cuda when a GPU is at hand: the model, "
                    "the warp and grey jitter, the loss and the EMA run there (../shared/notes/gpu-training.md)")
    ap.add_argument("--img", type=int, default=0, help="network input side: the 256 copies resized to it (0: 256 as given)")
    ap.add_argument("--seg", type=float, default=0.0, help="weight of the training-only mask head (0: none)")
    ap.add_argument("--snapshots", default="", help="comma-separated schedule positions (0..1) at which the EMA weights are also "
                    "saved (ema_p90.pt for 0.9): checkpoints to choose from on val elsewhere, when the run has no val images (--val-every 0)")
    ap.add_argument("--neg-frac", type=float, default=1.0, help="fraction of the normal (negative) images drawn afresh for each epoch; "
                    "every tumour image is used every epoch")
    args = ap.parse_args()
    torch.set_num_threads(common.threads()); common.seed_all(args.seed)
    d = common.load_btxrd(train_split_only_ok=args.val_every == 0)   # with val, the val images must be real
    tr = np.where(d["split"] == "train")[0]; va = np.where(d["split"] == "val")[0]
    boxes = [d["boxes"][i] for i in d["ids"]]
    # training pool: normal images (negatives) + tumour images with >=1 box (51 benign tumour images whose
    # whole mask is under 16 px have no box; they are left out of detector training, kept in evaluation)
    pool = np.array([i for i in tr if d["label"][i] == "normal" or len(boxes[i])])
    neg = np.array([i for i in pool if d["label"][i] == "normal"]); pos = np.array([i for i in pool if d["label"][i] != "normal"])
    n_neg = int(round(len(neg) * min(1.0, max(0.0, args.neg_frac))))
    wh = np.concatenate([boxes[i] for i in tr if len(boxes[i])])
    wh = np.stack((wh[:, 2] - wh[:, 0], wh[:, 3] - wh[:, 1]), 1)
    anchors, astats = kmeans_anchors(wh)
    anchors_px = anchors.astype(np.float64).reshape(3, 3, 2).tolist()
    print("anchors", anchors_px, astats, flush=True)
    side = args.img or IMG
    model = yolo.YOLOv5n(anchors_px, input_side=args.img or None)
    if args.init:
        c = export.read_checkpoint(args.init)
        assert np.allclose(c["config"]["anchors_px"], anchors_px), "anchors differ from the checkpoint's"
        # the anchor buffer is in grid units of the checkpoint's input side: keep this model's
        sd = {k: v for k, v in c["model"].items() if k not in ("model.24.anchors", "model.24.stride")}
        missing, unexpected = model.load_state_dict(sd, strict=False)
        assert not unexpected and all(k.endswith(("num_batches_tracked", "anchors", "stride")) for k in missing), (missing, unexpected)
        print("init from", args.init, "epoch", c.get("epoch"), c.get("val_map50"), "input side", c["config"].get("input_side", IMG), "->", side, flush=True)
    device = torch.device(args.device)
    model = model.to(device)
    det = model.model[24]
    loss_fn = YoloLoss(det, img=side)
    g_bn, g_w, g_b = [], [], []
    for mn, m in model.named_modules():
        if hasattr(m, "bias") and isinstance(m.bias, nn.Parameter):
            g_b.append(m.bias)
        if isinstance(m, nn.BatchNorm2d):
            g_bn.append(m.weight)
        elif hasattr(m, "weight") and isinstance(m.weight, nn.Parameter):
            g_w.append(m.weight)
    opt = torch.optim.AdamW([{"params": g_bn, "weight_decay": 0.0}, {"params": g_w, "weight_decay": 5e-4},
                             {"params": g_b, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.999))
    ema = ModelEMA(model)
    seg_head, feats = None, {}
    if args.seg > 0:
        seg_head = SegHead(model.model[17].cv3.conv.out_channels).to(device)
        opt.add_param_group({"params": list(seg_head.parameters()), "weight_decay": 5e-4})
        model.model[17].register_forward_hook(lambda m, i, o: feats.__setitem__("p3", o))  # after the EMA copy: only the trained model
    if args.amp:
        model = model.to(memory_format=torch.channels_last)
        if seg_head is not None:
            seg_head = seg_head.to(memory_format=torch.channels_last)
    rng = np.random.default_rng(args.seed)
    aug = Augment(d["images"], boxes, rng, mosaic=args.mosaic, side=side, masks=load_masks(d) if args.seg > 0 else None)
    nb = (len(pos) + n_neg) // args.bs
    total = args.epochs * nb if not args.max_iters else args.max_iters
    warm = min(max(int(args.warmup_epochs * nb), 100), total // 5 + 1)
    budget = args.time_budget * 60 or float("inf")
    progress = lambda it: min(1.0, max(it / total, (time.time() - t0) / budget))  # schedule position 0..1
    lf = lambda q: (1 - 0.01) * 0.5 * (1 + math.cos(math.pi * q)) + 0.01
    out = common.OUT / args.tag; out.mkdir(parents=True, exist_ok=True); t0 = time.time()
    it, best, hist = 0, -1.0, []
    snaps = sorted(float(v) for v in args.snapshots.split(",") if v.strip())
    for ep in range(args.epochs):
        model.train()
        if progress(it) >= 1 - args.close_mosaic:
            aug.mosaic = 0.0
        epoch_pool = np.concatenate((pos, rng.choice(neg, n_neg, replace=False))) if n_neg < len(neg) else pool
        perm = rng.permutation(epoch_pool); tl = torch.zeros(2); te = time.time(); seg_sum = 0.0
        for bi in range(nb):
            q = progress(it)
            lr = args.lr * lf(q) * min(1.0, (it + 1) / warm)
            for g in opt.param_groups:
                g["lr"] = lr
            batch = aug(perm[bi * args.bs:(bi + 1) * args.bs], pool, device)
            x, t = batch[0], batch[1].to(device)
            if args.amp:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.amp):
                raw = model(x)
                seg_logits = seg_head(feats["p3"]) if seg_head is not None else None
            loss, items = loss_fn(raw, t)
            if seg_head is not None:
                ls = seg_loss(seg_logits, batch[2][0], batch[2][1])
                loss = loss + args.seg * ls * args.bs; seg_sum += float(ls.detach())
            opt.zero_grad(set_to_none=True); loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            if seg_head is not None:
                torch.nn.utils.clip_grad_norm_(seg_head.parameters(), 10.0)
            opt.step(); ema.update(model); tl += items.cpu(); it += 1
            if args.bench and bi % 10 == 9:
                print(f"it {it} {args.bs * (bi + 1) / (time.time() - te):.1f} img/s loss {float(loss.detach())/args.bs:.4f} {items.tolist()}", flush=True)
            if (args.max_iters and it >= args.max_iters) or progress(it) >= 1:
                break
        el = time.time() - te
        rec = dict(epoch=ep, iters=it, progress=progress(it), mosaic=aug.mosaic, box=float(tl[0] / (bi + 1)), obj=float(tl[1] / (bi + 1)), lr=lr, sec=el,
                   img_s=args.bs * (bi + 1) / el, wall=time.time() - t0)
        if seg_head is not None:
            rec["seg"] = seg_sum / (bi + 1)
        last = ep == args.epochs - 1 or (args.max_iters and it >= args.max_iters) or progress(it) >= 1
        if args.val_every > 0 and ((ep + 1) % args.val_every == 0 or (progress(it) >= 0.8 and ep % 2 == 1) or last):
            dets = predict(ema.ema, d["images"][va])
            rec["val_map50"] = metrics.detection_map50(dets, [boxes[i] for i in va])
            if rec["val_map50"] > best:
                best = rec["val_map50"]
                torch.save({"model": ema.ema.state_dict(), "config": ema.ema.config, "epoch": ep, "val_map50": best,
                            "anchor_stats": astats}, out / "best.pt")
        torch.save({"model": ema.ema.state_dict(), "config": ema.ema.config, "epoch": ep}, out / "last.pt")
        while snaps and rec["progress"] >= snaps[0]:
            torch.save({"model": ema.ema.state_dict(), "config": ema.ema.config, "epoch": ep, "progress": rec["progress"]},
                       out / f"ema_p{round(snaps[0] * 100):02d}.pt")
            snaps.pop(0)
        hist.append(rec); print(json.dumps(rec), flush=True)
        if last:
            break
    json.dump(dict(history=hist, best_val_map50=best, wall_s=time.time() - t0, args=vars(args), anchors_px=anchors_px,
                   anchor_stats=astats, train_images=int(len(pool)),
                   images_per_epoch=int(nb * args.bs), tumour_images=int(len(pos)), normal_images=int(len(neg))), open(out / "train.json", "w"), indent=1)
    print("done wall", time.time() - t0, "best val mAP50", best, flush=True)


if __name__ == "__main__":
    main()
