"""Reference outputs of the whole pipeline for 20 test cases -> Tests/Fixtures/pipeline/pipeline_cases.safetensors.
Key layout per case k (two digits): see docs/method.md "Fixtures". python training/make_pipeline_fixtures.py"""
import json, sys
from pathlib import Path
import numpy as np
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent))
import common, cohort, crops, pipeline as P
from features import row_text
from pipeline import Pipeline
from train_fusion import SUBSETS

import os
OUT = common.REPO / "Tests" / "Fixtures" / "pipeline" if os.environ.get("EVAL_SPLIT", "test") == "test" else common.OUT / "fixture_smoke"


@torch.no_grad()
def main():
    torch.set_num_threads(common.threads())
    d = common.load_btxrd(); pos = {i: k for k, i in enumerate(d["ids"])}
    rows = {r["image_id"]: r for r in cohort.load_manifest()}
    import os
    split = os.environ.get("EVAL_SPLIT", "test")
    test = sorted(i for i in d["ids"] if rows[i]["split"] == split)
    rng = np.random.default_rng(20)
    pick = []
    for lab, n in (("benign", 6), ("intermediate", 4), ("malignant", 6), ("normal", 4)):
        c = [i for i in test if rows[i]["label"] == lab]
        pick += sorted(rng.choice(c, n, replace=False).tolist())
    pl = Pipeline(text=True)
    T_fus = float(pl.fus.extra["temperature"]) if "temperature" in pl.fus.extra else 1.0
    T_img = float(pl.les.extra["temperature"]) if "temperature" in pl.les.extra else 1.0
    t, cases = {}, []
    for k, iid in enumerate(pick):
        r = rows[iid]; p = f"case{k:02d}."
        grey = d["images"][pos[iid]]
        lb, (rx, ry, left, top) = P.letterbox(grey)
        x, raw, boxes = pl.detect(lb)
        # No image of the real radiograph is stored (the repository never holds BTXRD images or
        # images derived from them): the Swift tests read it from ../shared/data by image_id.
        for s, rr in enumerate(raw):
            t[p + f"det_raw{s}"] = rr[0]
        nb = len(boxes)
        t[p + "boxes"] = boxes if nb else torch.full((1, 5), -1.0)
        t[p + "num_boxes"] = torch.tensor([nb], dtype=torch.int32)
        top_box = boxes[0, :4].numpy() if nb else None
        cp = crops.crop_params(top_box) if nb else crops.full_image_params()
        t[p + "crop_params"] = torch.tensor(cp, dtype=torch.float32)
        c, f_img, lg_img = pl.lesion(lb, top_box)
        t[p + "crop_checksum"] = torch.tensor([float(c.sum()), float(c.std())])  # not the image
        t[p + "image_features"] = f_img[0]; t[p + "image_logits"] = lg_img[0]
        t[p + "image_probabilities"] = torch.softmax(lg_img[0] / T_img, 0)
        feats = [f_img, torch.zeros(1, 256), None]
        has_slide = bool(r["has_slide"])
        if has_slide:
            tile = cohort.tile_for(r, size=256)
            xs, f_p, lg_p = pl.pathology(tile)
            t[p + "slide_u8"] = (xs[0].permute(1, 2, 0) * 255).round().to(torch.uint8)
            t[p + "pathology_features"] = f_p[0]; t[p + "pathology_logits"] = lg_p[0]
            feats[1] = f_p
        # the text the encoder reads: the REAL context (age, sex, site) then the GENERATED lab sentence (labs.clinical_text)
        text = row_text(r)
        ids = pl.text.tok.encode(text)
        t[p + "token_ids"] = torch.tensor(ids, dtype=torch.int32)
        emb = pl.text.encode([text])
        t[p + "text_embedding"] = emb[0]; feats[2] = emb
        mask = torch.tensor([[1.0, 1.0 if has_slide else 0.0, 1.0]])
        logits, attn = pl.fus(feats, mask, return_attn=True)
        t[p + "mask"] = mask[0]; t[p + "fusion_logits"] = logits[0]; t[p + "fusion_attention"] = attn[0]
        t[p + "probabilities"] = torch.softmax(logits[0] / T_fus, 0)
        # all 8 subsets (bit i of the row index = modality i present; row 0 = none) for the Shapley check
        sub = []
        for bits in range(8):
            m = torch.tensor([[float(bits >> i & 1) for i in range(3)]])
            sub.append(pl.fus(feats, m)[0])
        t[p + "subset_logits"] = torch.stack(sub)
        # the same case without labs: the text modality is the context sentence alone (`predict --age --sex --site`)
        context = row_text(r, labs_sentence=False)
        ctx_emb = pl.text.encode([context])
        t[p + "context_text_embedding"] = ctx_emb[0]
        t[p + "context_probabilities"] = torch.softmax(pl.fus([feats[0], feats[1], ctx_emb], mask)[0] / T_fus, 0)
        cases.append(dict(key=p[:-1], image_id=iid, label=r["label"], subtype=r["subtype"], age=r["age"], sex=r["sex"],
                          site=r["site"] or None, has_slide=has_slide, sentence=text, context=context, lab_sentence=r["sentence"],
                          lab_abnormal=r.get("lab_abnormal") or "",
                          source_size=list(grey.shape[::-1]), letterbox=dict(rx=rx, ry=ry, left=left, top=top), num_boxes=nb))
    meta = dict(cases=cases, detector_conf=pl.conf, nms_iou=P.DET_IOU, temperature_fusion=T_fus, temperature_image=T_img,
                modalities=["image", "pathology", "labs"], text_modality="labs = the clinical text: context (age, sex, site: REAL) then the lab sentence (GENERATED)", classes=common.TUMOUR_CLASSES,
                models={n: common.sha256(common.MODELS / f"{n}.safetensors") for n in ("detector", "lesion_encoder", "pathology_encoder", "fusion_head")},
                notes="The radiographs are not stored: the tests read BTXRD images/<image_id>.png from the shared data and letterbox them (x = u8/255). crop_checksum is (sum, std) of the crop tensor; slide_u8 is the "
                      "pathology encoder input (128x128x3, x = u8/255). Radiographs REAL (BTXRD test split) with their REAL age, sex and site (BTXRD records no site for normal images); slides, labs and lab sentences GENERATED. "
                      "context_probabilities: the same case without labs (text = the context sentence alone).")
    OUT.mkdir(parents=True, exist_ok=True)
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in t.items()}, str(OUT / "pipeline_cases.safetensors"), metadata={"config": json.dumps(meta)})
    print(OUT / "pipeline_cases.safetensors", (OUT / "pipeline_cases.safetensors").stat().st_size)


if __name__ == "__main__":
    main()
