"""Final tables on the TEST split (val only for temperatures and the detector threshold).
Writes docs/results.json and docs/RESULTS.md. python training/evaluate.py"""
import json, subprocess, sys, time
from pathlib import Path
import numpy as np
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent))
import common, export, metrics
from det_threshold import predict
from pipeline import DET_IOU
from train_fusion import SUBSETS, mask_of

CLASSES = common.TUMOUR_CLASSES
import os
SPLIT = os.environ.get("EVAL_SPLIT", "test")  # "val" only to smoke-test this script without touching test
PAPER = dict(macro_precision=0.9056, macro_f1=0.8736, macro_auc=0.9759, detection_map50=0.7925)
NAMES = ["image", "pathology", "labs"]
REAL = {0: "radiograph REAL (BTXRD), crop from our detector", 1: "slide tile GENERATED (procedural)",
        2: "clinical text: context sentence (age, sex, site: REAL, BTXRD) + lab panel and sentence GENERATED (cohort generator), encoded by frozen MiniLM"}
CONTEXT = "clinical context (age, sex, site: REAL, BTXRD) as the context sentence, encoded by frozen MiniLM; no labs"
# Rows with the context sentence alone as the text (no labs): the fusion head reads it through its text input
CONTEXT_ROWS = [("fusion: image + real clinical context (no labs)", (0, 2), [REAL[0], CONTEXT]),
                ("fusion: real clinical context alone (no labs)", (2,), [CONTEXT]),
                ("fusion: image + pathology + real clinical context (no labs)", (0, 1, 2), [REAL[0], REAL[1], CONTEXT])]


def cls_row(name, inputs, y_te, lg_te, y_va, lg_va):
    T = metrics.fit_temperature(lg_va, y_va)
    p = metrics.softmax(lg_te); pT = metrics.softmax(lg_te / T)
    r = metrics.classification_report(y_te, p)
    r.update(name=name, inputs=inputs, temperature=T, ece15=metrics.ece(y_te, p), ece15_T=metrics.ece(y_te, pT),
             val_macro_f1=metrics.classification_report(y_va, metrics.softmax(lg_va))["macro_f1"])
    return r


@torch.no_grad()
def main():
    torch.set_num_threads(common.threads()); t0 = time.time()
    d = common.load_btxrd(); te = np.where(d["split"] == SPLIT)[0]; va = np.where(d["split"] == "val")[0]
    det = export.load("detector")
    res = dict(split_note="test split, touched only here; val used for the detector threshold and temperatures",
               paper=PAPER, machine="2-core CPU (shared), torch %s" % torch.__version__)
    # detection
    gts = [d["boxes"][d["ids"][i]] for i in te]
    dets = predict(det, d["images"][te], 0.001, 0.6)
    thr = det.meta["operating_threshold"]
    dets_op = predict(det, d["images"][te], thr, DET_IOU)
    tum = np.array([d["label"][i] != "normal" for i in te])
    res["detection"] = dict(
        map50_101pt=metrics.detection_map50(dets, gts),
        map50_101pt_tumour_images_only=metrics.detection_map50([x for x, t in zip(dets, tum) if t], [g for g, t in zip(gts, tum) if t]),
        operating_threshold=thr, at_operating=metrics.pr_at_threshold(dets_op, gts, thr),
        normal_images_with_a_detection=int(sum(len(x) > 0 for x, t in zip(dets_op, tum) if not t)), n_normal=int((~tum).sum()),
        tumour_images_with_a_detection=int(sum(len(x) > 0 for x, t in zip(dets_op, tum) if t)), n_tumour=int(tum.sum()),
        n_images=len(te), n_boxes=int(sum(len(g) for g in gts)), eval="conf 0.001, NMS IoU 0.6, max 100 det/image, COCO 101-point AP at IoU 0.5",
        inputs="radiographs REAL (BTXRD test split)")
    # image level, lesion / no lesion (issue 15): the top box's score ranks the images (0 where no box scores over
    # 0.001); at the operating threshold an image is called a lesion when any box passes it
    top = np.array([float(x[:, 4].max()) if len(x) else 0.0 for x in dets])
    auc = metrics.binary_auc(tum.astype(int), top)
    res["detection"]["image_level"] = dict(  # None (null) where a class of images is missing
        auc_top_box_score=None if np.isnan(auc) else auc,
        specificity_at_operating=1 - res["detection"]["normal_images_with_a_detection"] / int((~tum).sum()) if (~tum).any() else None,
        sensitivity_at_operating=res["detection"]["tumour_images_with_a_detection"] / int(tum.sum()) if tum.any() else None,
        score="the top box's score (conf 0.001, NMS IoU 0.6); at the operating threshold, any box at the pipeline's NMS")
    print("detection", json.dumps(res["detection"]), flush=True)
    # classification
    F = np.load(common.OUT / "features.npz")
    y, split = F["y"], F["split"]; T_ = split == SPLIT; V_ = split == "val"
    fus = export.load("fusion")
    rows = []
    rows.append(cls_row("image only: lesion encoder head (detector crop) [tumorboard detect]", REAL[0],
                        y[T_], F["img_logits_det"][T_], y[V_], F["img_logits_det"][V_]))
    rows.append(cls_row("image only: lesion encoder head (ground-truth box crop, oracle)", "radiograph REAL, crop from the ground-truth box",
                        y[T_], F["img_logits_gt"][T_], y[V_], F["img_logits_gt"][V_]))
    rows.append(cls_row("pathology only: pathology encoder head", REAL[1], y[T_], F["path_logits"][T_], y[V_], F["path_logits"][V_]))
    feats = lambda m: [torch.from_numpy(F["img_det"][m]), torch.from_numpy(F["path"][m]), torch.from_numpy(F["text"][m])]
    for s in SUBSETS:
        lg = {k: fus(feats(m), torch.from_numpy(mask_of(s, int(m.sum())))).numpy() for k, m in (("te", T_), ("va", V_))}
        rows.append(cls_row("fusion: " + " + ".join(NAMES[i] for i in s), "; ".join(REAL[i] for i in s), y[T_], lg["te"], y[V_], lg["va"]))
        rows[-1]["subset"] = [NAMES[i] for i in s]
    feats_ctx = lambda m: [torch.from_numpy(F["img_det"][m]), torch.from_numpy(F["path"][m]), torch.from_numpy(F["text_ctx"][m])]
    for name, s, inputs in CONTEXT_ROWS:
        lg = {k: fus(feats_ctx(m), torch.from_numpy(mask_of(s, int(m.sum())))).numpy() for k, m in (("te", T_), ("va", V_))}
        rows.append(cls_row(name, "; ".join(inputs), y[T_], lg["te"], y[V_], lg["va"]))
        rows[-1]["subset"] = [NAMES[i] for i in s]; rows[-1]["text"] = "context sentence only (features.npz text_ctx)"
    # ablation of what holds the context row back: the same head with the crop around the ground-truth box (an oracle detector)
    feats_gt = lambda m: [torch.from_numpy(F["img_gt"][m]), torch.from_numpy(F["path"][m]), torch.from_numpy(F["text_ctx"][m])]
    lg = {k: fus(feats_gt(m), torch.from_numpy(mask_of((0, 2), int(m.sum())))).numpy() for k, m in (("te", T_), ("va", V_))}
    rows.append(cls_row("fusion: image (ground-truth box crop, oracle) + real clinical context (no labs)",
                        "radiograph REAL, crop from the ground-truth box; " + CONTEXT, y[T_], lg["te"], y[V_], lg["va"]))
    rows[-1]["subset"] = ["image", "labs"]; rows[-1]["text"] = "context sentence only (features.npz text_ctx)"
    res["classification"] = rows
    res["text_modality"] = ("the fusion head's third input ('labs') is the clinical text of labs.clinical_text: the context sentence "
                            "from BTXRD's REAL age, sex and site, then the GENERATED lab sentence; rows marked (no labs) read the "
                            "context sentence alone. The classifier only ranks tumour images; the detector alone decides lesion / "
                            "no lesion, and BTXRD records no site for normal images.")
    res["n_test_tumour"] = int(T_.sum()); res["test_class_counts"] = np.bincount(y[T_], minlength=3).tolist()
    res["wall_s"] = time.time() - t0
    out = common.REPO / "docs" if SPLIT == "test" else common.OUT / "eval_smoke"; out.mkdir(exist_ok=True)
    json.dump(res, open(out / "results.json", "w"), indent=1)
    write_md(res, out / "RESULTS.md")
    print("wrote docs/results.json, docs/RESULTS.md", time.time() - t0)


def f(x):
    return "n/a" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.4f}"


NOTES = "## What these numbers say"


def write_md(res, path):
    D = res["detection"]; L = []
    L += ["# Results", "",
          "Our numbers on the BTXRD **test split** (476 images; 238 tumour images for classification), beside the",
          "paper's (Sang et al., J Bone Oncol 2025). Only the radiographs and their clinical context (age, sex, site,",
          "from BTXRD's metadata) are real. The slides, lab panels and lab sentences are GENERATED by the cohort",
          "generator (issue 3, docs/cohort.md); no patient in this cohort has a real slide or real labs, so every row",
          "that uses pathology or labs measures how separable the generator makes the classes, not a clinical effect.",
          "The paper used real paired data; the comparison is of method, not of evidence.", "",
          "All numbers: `training/run_all.sh` (or `python training/evaluate.py` once models/ and",
          "training/out/features.npz exist). Raw values: docs/results.json.", "",
          "## Detection (one class, lesion)", "",
          "Command: `python training/evaluate.py` (detection part; operating threshold from `python training/det_threshold.py` on val).", "",
          "| metric | ours | paper | inputs |", "|---|---:|---:|---|",
          f"| mAP@0.5 (COCO 101-point), all test images | {f(D['map50_101pt'])} | {PAPER['detection_map50']} | radiographs REAL |",
          f"| mAP@0.5, tumour test images only | {f(D['map50_101pt_tumour_images_only'])} | | radiographs REAL |",
          f"| recall at the operating threshold {D['operating_threshold']} | {f(D['at_operating']['recall'])} | | radiographs REAL |",
          f"| precision at the operating threshold | {f(D['at_operating']['precision'])} | | radiographs REAL |",
          f"| normal test images with any detection at the threshold | {D['normal_images_with_a_detection']} / {D['n_normal']} | | radiographs REAL |",
          f"| tumour test images with any detection at the threshold | {D['tumour_images_with_a_detection']} / {D['n_tumour']} | | radiographs REAL |",
          f"| image level, lesion / no lesion: AUC of the top box's score (tumour vs normal images) | {f(D['image_level']['auc_top_box_score'])} | | radiographs REAL |",
          f"| image level: specificity at the operating threshold (normal images without a box) | {f(D['image_level']['specificity_at_operating'])} | | radiographs REAL |",
          f"| image level: sensitivity at the operating threshold (tumour images with a box) | {f(D['image_level']['sensitivity_at_operating'])} | | radiographs REAL |",
          "", f"Evaluation: {D['eval']}; {D['n_boxes']} ground-truth boxes.", ""]
    L += ["## Classification and ablation (benign / intermediate / malignant, test tumour images)", "",
          f"Test counts (benign, intermediate, malignant): {res['test_class_counts']}. Command: `python training/evaluate.py`.",
          "Image features come from the crop around the detector's top box (the pipeline's way) unless the row says otherwise.",
          "The fusion rows' \"labs\" input is the clinical text: the context sentence from BTXRD's REAL age, sex and site",
          "(\"A 15-year-old male with a lesion of the femur.\"), then the GENERATED lab sentence; rows marked (no labs) read the",
          "context sentence alone. Only tumour images are classified; the detector alone decides lesion / no lesion (BTXRD",
          "records no site for normal images, so the site never reaches that decision).", "",
          "| model / modalities | macro P | macro R | macro F1 | macro AUC (OvR) | acc | ECE15 | ECE15 after T | T | inputs |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in res["classification"]:
        L.append(f"| {r['name']} | {f(r['macro_precision'])} | {f(r['macro_recall'])} | {f(r['macro_f1'])} | {f(r['macro_auc'])} | "
                 f"{f(r['accuracy'])} | {f(r['ece15'])} | {f(r['ece15_T'])} | {r['temperature']:.3f} | {r['inputs']} |")
    L.append(f"| **paper, trimodal** | {PAPER['macro_precision']} | | {PAPER['macro_f1']} | {PAPER['macro_auc']} | | | | | real radiograph, slide, labs |")
    L += ["", "### Per class (precision / recall / F1 / AUC)", "", "| model | benign | intermediate | malignant |", "|---|---|---|---|"]
    for r in res["classification"]:
        L.append(f"| {r['name']} | " + " | ".join(f"{r['precision'][c]:.3f} / {r['recall'][c]:.3f} / {r['f1'][c]:.3f} / {f(r['auc'][c])}" for c in range(3)) + " |")
    L += ["", "### Confusion matrices (rows true, columns predicted: benign, intermediate, malignant)", ""]
    for r in res["classification"]:
        L.append(f"- {r['name']}: `{r['confusion']}`")
    L += ["", "ECE: 15 equal-width bins of top-label confidence. T: temperature fitted on val (NLL) for that row; the",
          "shipped fusion head and lesion encoder carry their trimodal / image-only T in models/*.safetensors.", ""]
    # The hand-written reading of the tables ("## What these numbers say") is kept across re-runs; whoever re-runs
    # must re-read it against the new tables (it quotes them).
    old = Path(path).read_text() if Path(path).exists() else ""
    notes = old[old.index(NOTES):] if NOTES in old else ""
    open(path, "w").write("\n".join(L) + "\n" + ("\n" + notes if notes else ""))


if __name__ == "__main__":
    main()
