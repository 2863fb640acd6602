"""Metrics in numpy: COCO-style 101-point AP at one IoU threshold, classification metrics, ECE."""
import numpy as np


def iou_matrix(a, b):
    a = np.asarray(a, np.float64).reshape(-1, 4); b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2]); rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(2)
    aa = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]); ab = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (aa[:, None] + ab[None] - inter + 1e-12)


def match_detections(dets, gts, iou_thr=0.5):
    """COCO greedy matching per image. dets: list of (k,5) [x0,y0,x1,y1,score]; gts: list of (m,4).
    Returns scores (all dets), tp flags, number of gt."""
    scores, tps, n_gt = [], [], 0
    for d, g in zip(dets, gts):
        d = np.asarray(d, np.float64).reshape(-1, 5); g = np.asarray(g, np.float64).reshape(-1, 4)
        n_gt += len(g)
        order = np.argsort(-d[:, 4], kind="stable"); d = d[order]
        used = np.zeros(len(g), bool)
        ious = iou_matrix(d[:, :4], g) if len(g) and len(d) else np.zeros((len(d), len(g)))
        for i in range(len(d)):
            best, bj = iou_thr, -1
            for j in range(len(g)):
                if not used[j] and ious[i, j] >= best:
                    best, bj = ious[i, j], j
            if bj >= 0:
                used[bj] = True
            tps.append(bj >= 0); scores.append(d[i, 4])
    return np.array(scores), np.array(tps, bool), n_gt


def average_precision_101(scores, tps, n_gt):
    """COCO 101-point interpolated AP (pycocotools' accumulate for one class, one area range)."""
    if n_gt == 0:
        return float("nan")
    order = np.argsort(-scores, kind="mergesort")
    tp = np.cumsum(tps[order]); fp = np.cumsum(~tps[order])
    rc = tp / n_gt; pr = tp / np.maximum(tp + fp, np.spacing(1))
    pr = pr.tolist()
    for i in range(len(pr) - 1, 0, -1):
        if pr[i] > pr[i - 1]:
            pr[i - 1] = pr[i]
    rec_thrs = np.linspace(0, 1, 101)
    inds = np.searchsorted(rc, rec_thrs, side="left")
    q = np.zeros(101)
    for ri, pi in enumerate(inds):
        if pi < len(pr):
            q[ri] = pr[pi]
    return float(q.mean())


def detection_map50(dets, gts):
    s, t, n = match_detections(dets, gts, 0.5)
    return average_precision_101(s, t, n)


def pr_at_threshold(dets, gts, thr, iou_thr=0.5):
    dets = [np.asarray(d).reshape(-1, 5) for d in dets]
    s, t, n = match_detections([d[d[:, 4] >= thr] for d in dets], gts, iou_thr)
    tp = int(t.sum()); fp = int((~t).sum())
    return dict(recall=tp / max(n, 1), precision=tp / max(tp + fp, 1), tp=tp, fp=fp, n_gt=n)


def classification_report(y, prob, n=3):
    y = np.asarray(y); prob = np.asarray(prob, np.float64); pred = prob.argmax(1)
    cm = np.zeros((n, n), int)
    for a, b in zip(y, pred):
        cm[a, b] += 1
    P, R, F = [], [], []
    for c in range(n):
        tp = cm[c, c]; fp = cm[:, c].sum() - tp; fn = cm[c, :].sum() - tp
        p = tp / (tp + fp) if tp + fp else 0.0; r = tp / (tp + fn) if tp + fn else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        P.append(p); R.append(r); F.append(f)
    aucs = [binary_auc((y == c).astype(int), prob[:, c]) for c in range(n)]
    return dict(precision=P, recall=R, f1=F, auc=aucs, macro_precision=float(np.mean(P)),
                macro_recall=float(np.mean(R)), macro_f1=float(np.mean(F)), macro_auc=float(np.mean(aucs)),
                accuracy=float((pred == y).mean()), confusion=cm.tolist(), n=int(len(y)))


def binary_auc(y, s):
    """ROC AUC by the rank statistic with ties averaged."""
    y = np.asarray(y); s = np.asarray(s, np.float64)
    npos = y.sum(); nneg = len(y) - npos
    if npos == 0 or nneg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort"); ranks = np.empty(len(s))
    ss = s[order]; i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and ss[j + 1] == ss[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[y == 1].sum() - npos * (npos + 1) / 2) / (npos * nneg))


def ece(y, prob, bins=15):
    """Expected calibration error of the top-label confidence, equal-width bins on (0,1]."""
    prob = np.asarray(prob, np.float64); conf = prob.max(1); pred = prob.argmax(1); acc = pred == np.asarray(y)
    edges = np.linspace(0, 1, bins + 1); e = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            e += m.mean() * abs(acc[m].mean() - conf[m].mean())
    return float(e)


def fit_temperature(logits, y):
    """Temperature minimising NLL on (val) logits, by a bounded 1-D search on log T."""
    from scipy.optimize import minimize_scalar
    logits = np.asarray(logits, np.float64); y = np.asarray(y)

    def nll(logt):
        z = logits / np.exp(logt); z = z - z.max(1, keepdims=True)
        lp = z - np.log(np.exp(z).sum(1, keepdims=True))
        return -lp[np.arange(len(y)), y].mean()
    r = minimize_scalar(nll, bounds=(-3, 3), method="bounded")
    return float(np.exp(r.x))


def softmax(z):
    z = np.asarray(z, np.float64); z = z - z.max(1, keepdims=True); e = np.exp(z)
    return e / e.sum(1, keepdims=True)
