"""The PyTorch pipeline's answer for every bundled sample -> Tests/Fixtures/samples/sample_answers.json,
so a Swift test checks `predict --case` on the samples (PNG 8 and 16 bit, JPEG slides, a DICOM
radiograph, missing slide, missing labs) without the shared data. The samples are GENERATED (made
by training/make_samples.py); no image is stored, only the answers.

Each input is prepared as the Swift program defines it: a 16-bit PNG maps v -> (v*255 + 32767) // 65535;
a DICOM radiograph is pydicom's default rendering (apply_modality_lut, apply_voi_lut, MONOCHROME1
inverted, 0..255; training/fixtures_dicom.py); labs -> the newest result per marker -> labs.clinical_text with the
case's age, sex and site (the context sentence, then the lab sentence; the text is present without labs too).

    python training/make_sample_fixtures.py
"""
import json, sys
from pathlib import Path
import numpy as np
import torch
from PIL import Image
sys.path.insert(0, str(Path(__file__).resolve().parent))
import common, labs as L  # noqa: E402
from pipeline import Pipeline, letterbox, to_grey  # noqa: E402

SAMPLES = common.REPO / "samples"
OUT = common.REPO / "Tests" / "Fixtures" / "samples" / "sample_answers.json"


def radiograph(path: Path) -> np.ndarray:
    if path.suffix.lower() == ".dcm":
        import pydicom
        from pydicom.pixels import apply_modality_lut, apply_voi_lut
        ds = pydicom.dcmread(path)
        m = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
        if ds.get("WindowCenter") is not None:
            v = apply_voi_lut(m, ds, index=0).astype(np.float64)
            lo, hi = (0.0, float(2 ** int(ds.BitsStored) - 1)) if ds.PixelRepresentation == 0 else \
                (float(-(2 ** (int(ds.BitsStored) - 1))), float(2 ** (int(ds.BitsStored) - 1) - 1))
        else:
            v, lo, hi = m, float(m.min()), float(m.max())
        out = np.clip(np.floor((v - lo) / max(hi - lo, 1e-9) * 255 + 0.5), 0, 255)
        if ds.PhotometricInterpretation == "MONOCHROME1":
            out = 255 - out
        return out.astype(np.uint8)
    im = Image.open(path)
    a = np.asarray(im)
    if a.dtype == np.uint16 or im.mode.startswith("I;16"):
        return ((a.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    return to_grey(a)


@torch.no_grad()
def main():
    torch.set_num_threads(common.threads())
    pl = Pipeline(text=True)
    T_fus = float(pl.fus.extra.get("temperature", 1.0)); T_img = float(pl.les.extra.get("temperature", 1.0))
    answers = {}
    for case in sorted(p for p in SAMPLES.iterdir() if (p / "case.json").exists()):
        c = json.loads((case / "case.json").read_text())
        lb, _ = letterbox(radiograph(case / c["radiographs"][0]["file"]))
        _, _, boxes = pl.detect(lb)
        top = boxes[0, :4].numpy() if len(boxes) else None
        _, f_img, lg_img = pl.lesion(lb, top)
        feats = [f_img, torch.zeros(1, 256), torch.zeros(1, 384)]
        present = [1.0, 0.0, 0.0]
        if c.get("slides"):
            tile = np.asarray(Image.open(case / c["slides"][0]["file"]).convert("RGB"))
            _, feats[1], _ = pl.pathology(tile)
            present[1] = 1.0
        age, sex = c.get("age"), c.get("sex")
        if age is None or sex is None:  # from the DICOM radiograph's patient tags, as the Swift reader does
            rf = case / c["radiographs"][0]["file"]
            if rf.suffix.lower() == ".dcm":
                import pydicom
                ds = pydicom.dcmread(rf)
                age = age if age is not None else int(str(ds.PatientAge).rstrip("Y"))
                sex = sex or str(ds.PatientSex)
        panel = None
        if c.get("labs"):
            newest = {}
            for r in c["labs"]:
                if r["marker"] not in newest or (r.get("date") or "") > (newest[r["marker"]].get("date") or ""):
                    newest[r["marker"]] = r
            panel = {m: {"value": r["value"], "unit": r["unit"]} for m, r in newest.items()}
        # the clinical text: context (age, sex, site of case.json) then the lab sentence; absent when neither
        sentence = L.clinical_text(panel, None if age is None else int(age), sex, c.get("site"))
        if sentence is not None:
            feats[2] = pl.text.encode([sentence]); present[2] = 1.0
        logits = pl.fus(feats, torch.tensor([present]))[0]
        p = torch.softmax(logits / T_fus, 0).tolist(); q = torch.softmax(lg_img[0] / T_img, 0).tolist()
        answers[c["id"]] = dict(probabilities=p, image_only_probabilities=q, predicted=common.TUMOUR_CLASSES[int(np.argmax(p))],
                                detections=int(len(boxes)), present=present, sentence=sentence)
        print(c["id"], [round(x, 4) for x in p], len(boxes), flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(dict(notes="PyTorch pipeline (training/pipeline.py) on the GENERATED samples; classes benign, intermediate, malignant",
                                   models={n: common.sha256(common.MODELS / f"{n}.safetensors") for n in ("detector", "lesion_encoder", "pathology_encoder", "fusion_head")},
                                   answers=answers), indent=1))
    print(OUT)


if __name__ == "__main__":
    main()
