"""Issue 15, "Real clinical context": the VAL table that chose how the fusion head reads BTXRD's real age, sex
and site (docs/method.md section 5). Val only; the test split is read by training/evaluate.py alone.

    python training/train_fusion.py --text labs --tag fusion_labs     # the head before issue 15 (lab sentence only)
    python training/train_fusion.py --text context --tag fusion       # context + labs in the clinical text
    python training/context_ablation.py [--tags fusion_labs,fusion]   # -> training/out/context_ablation.{md,json}

Rows are fusion-head inputs on the val tumour images: image = lesion encoder feature of the detector crop
(radiograph REAL); context = labs.context_sentence(age, sex, site) (REAL, BTXRD metadata); labs = the GENERATED
panel's sentence; pathology = the GENERATED slide tile. No row reads a normal image: the classifier only ranks
benign / intermediate / malignant for tumour images, the detector alone decides lesion / no lesion."""
import argparse, json, sys
from pathlib import Path
import numpy as np
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent))
import common, metrics
from fusion import FusionHead

IMG = "radiograph REAL (detector crop)"
CTX = "context: age, sex, site REAL (BTXRD)"
CTX_NS = "context: age, sex REAL (BTXRD), site withheld"
LABS = "labs GENERATED"
PATH = "slide GENERATED"
# (row name, text feature key or None, mask (image, pathology, text), inputs)
ROWS = [
    ("image", None, (1, 0, 0), IMG),
    ("context alone", "text_ctx", (0, 0, 1), CTX),
    ("image + context", "text_ctx", (1, 0, 1), f"{IMG}; {CTX}"),
    ("image + context without site", "text_ctx_nosite", (1, 0, 1), f"{IMG}; {CTX_NS}"),
    ("image + labs (no context)", "text_labs", (1, 0, 1), f"{IMG}; {LABS}"),
    ("image + context + labs", "text", (1, 0, 1), f"{IMG}; {CTX}; {LABS}"),
    ("image + pathology + labs (no context)", "text_labs", (1, 1, 1), f"{IMG}; {PATH}; {LABS}"),
    ("full: image + pathology + context + labs", "text", (1, 1, 1), f"{IMG}; {PATH}; {CTX}; {LABS}"),
    ("oracle: image (ground-truth box crop) + context", "text_ctx", (1, 0, 1), f"radiograph REAL (ground-truth box crop); {CTX}"),
]


def load(tag):
    """tag, or tag:attention / tag:product / tag:product1 to read the trained head under another combine rule
    (fusion.py): product fits each modality's temperature on val as training/calibrate.py does for the shipped
    head; product1 leaves them at 1"""
    tag, _, combine = tag.partition(":")
    c = torch.load(common.OUT / tag / "last.pt", map_location="cpu", weights_only=False)
    cfg = c["config"]
    rule = combine or cfg.get("combine", "attention")
    m = FusionHead(dims=tuple(cfg["dims"]), d=cfg["d"], hidden=cfg["hidden"], num_classes=cfg["num_classes"],
                   combine="product" if rule.startswith("product") else rule)
    sd = dict(c["model"])
    if m.combine == "product":
        sd.setdefault("expert_temperature", torch.ones(len(cfg["dims"])))
    m.load_state_dict(sd); m.eval()
    if rule == "product":
        import calibrate
        F = np.load(common.OUT / "features.npz"); va = F["split"] == "val"
        calibrate.fit_expert_temperatures(m, F, va, F["y"][va])
    return m


def vector_rows():
    """The rows of a head with the context as a 4th fusion input (train_fusion.py --ctx-vector): (name, text key or
    None, mask (image, pathology, text, context vector), site in the vector, inputs)."""
    CV = "context vector: age, sex, site REAL (BTXRD)"
    return [("image", None, (1, 0, 0, 0), True, IMG),
            ("context alone", None, (0, 0, 0, 1), True, CV),
            ("image + context", None, (1, 0, 0, 1), True, f"{IMG}; {CV}"),
            ("image + context without site", None, (1, 0, 0, 1), False, f"{IMG}; {CV}, site withheld"),
            ("image + labs (no context)", "text_labs", (1, 0, 1, 0), True, f"{IMG}; {LABS}"),
            ("image + context + labs", "text_labs", (1, 0, 1, 1), True, f"{IMG}; {CV}; {LABS}"),
            ("image + pathology + labs (no context)", "text_labs", (1, 1, 1, 0), True, f"{IMG}; {PATH}; {LABS}"),
            ("full: image + pathology + context + labs", "text_labs", (1, 1, 1, 1), True, f"{IMG}; {PATH}; {CV}; {LABS}"),
            ("oracle: image (ground-truth box crop) + context", None, (1, 0, 0, 1), True, f"radiograph REAL (ground-truth box crop); {CV}")]


@torch.no_grad()
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tags", default="fusion_labs,fusion")
    ap.add_argument("--out", default="context_ablation", help="file name (no suffix) under training/out")
    ap.add_argument("--split", default="val", choices=("val",))
    a = ap.parse_args()
    torch.set_num_threads(common.threads())
    F = np.load(common.OUT / "features.npz")
    sel = F["split"] == a.split; y = F["y"][sel]; n = int(sel.sum())
    out = dict(split=a.split, n=n, class_counts=np.bincount(y, minlength=3).tolist(), rows=[])
    lesion = metrics.classification_report(y, metrics.softmax(F["img_logits_det"][sel]))
    out["rows"].append(dict(head="lesion encoder", name="image only (lesion encoder head)", inputs=IMG,
                            **{k: lesion[k] for k in ("macro_precision", "macro_recall", "macro_f1", "macro_auc", "accuracy")}))
    for tag in a.tags.split(","):
        m = load(tag)
        vec = len(m.proj) == 4
        if vec:
            import cohort, features
            man = {r["image_id"]: r for r in cohort.load_manifest()}
            ids = F["ids"][sel]
        for name, tkey, mask, *rest in (vector_rows() if vec else [(*r[:3], True, r[3]) for r in ROWS]):
            site, inputs = rest
            img = F["img_gt" if name.startswith("oracle") else "img_det"][sel]
            feats = [torch.from_numpy(img), torch.from_numpy(F["path"][sel]),
                     torch.from_numpy(F[tkey][sel] if tkey else np.zeros((n, 384), np.float32))]
            if vec:
                feats.append(torch.from_numpy(np.stack([features.context_vector(man[i], site) for i in ids])))
            lg = m(feats, torch.tensor([mask] * n, dtype=torch.float32)).numpy()
            r = metrics.classification_report(y, metrics.softmax(lg))
            out["rows"].append(dict(head=tag, name=name, inputs=inputs,
                                    **{k: r[k] for k in ("macro_precision", "macro_recall", "macro_f1", "macro_auc", "accuracy")},
                                    auc=r["auc"], f1=r["f1"]))
    L = [f"VAL tumour images, n = {n} (benign, intermediate, malignant: {out['class_counts']})", "",
         "| head | inputs to the head | macro P | macro R | macro F1 | macro AUC | acc | AUC per class (b / i / m) | data |",
         "|---|---|---:|---:|---:|---:|---:|---|---|"]
    for r in out["rows"]:
        per = " / ".join(f"{x:.3f}" for x in r["auc"]) if "auc" in r else ""
        L.append(f"| {r['head']} | {r['name']} | {r['macro_precision']:.4f} | {r['macro_recall']:.4f} | {r['macro_f1']:.4f} | "
                 f"{r['macro_auc']:.4f} | {r['accuracy']:.4f} | {per} | {r['inputs']} |")
    (common.OUT / f"{a.out}.md").write_text("\n".join(L) + "\n")
    json.dump(out, open(common.OUT / f"{a.out}.json", "w"), indent=1)
    print("\n".join(L))


if __name__ == "__main__":
    main()
