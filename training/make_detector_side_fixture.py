"""The detector read with an input side (issue 15: `input_side`, training/train_detector.py --img) against the Swift
pipeline: the shipped detector's weights with `input_side` set to 320 and 384, on three of the pipeline fixture's
test radiographs (REAL, BTXRD test split; not stored, the Swift test reads them from the shared data). Stored: the
raw head maps at that side and the boxes above score 0.05 after the pipeline's NMS, in 256-letterbox pixels. The
network never saw such an input, so the boxes are not meaningful detections; the fixture checks the resize (bilinear,
as F.interpolate) and the decode (anchors in letterbox pixels, centres scaled back) of a detector trained at that side.
python training/make_detector_side_fixture.py -> Tests/Fixtures/pipeline/detector_input_side.safetensors"""
import json, sys
from pathlib import Path
import torch
from safetensors import safe_open
from safetensors.torch import save_file
sys.path.insert(0, str(Path(__file__).resolve().parent))
import common, export, pipeline as P

OUT = common.REPO / "Tests" / "Fixtures" / "pipeline" / "detector_input_side.safetensors"
CASES = [("case01", 384), ("case15", 384), ("case05", 320)]   # keys of pipeline_cases.safetensors
CONF = 0.05


@torch.no_grad()
def main():
    torch.set_num_threads(common.threads())
    with safe_open(str(OUT.parent / "pipeline_cases.safetensors"), "pt") as f:
        cases = {c["key"]: c for c in json.loads(f.metadata()["config"])["cases"]}
    d = common.load_btxrd(); pos = {i: k for k, i in enumerate(d["ids"])}
    models = {side: export.load("detector", config=dict(input_side=side)) for side in {s for _, s in CASES}}
    t, out = {}, []
    for key, side in CASES:
        iid = cases[key]["image_id"]
        lb, _ = P.letterbox(d["images"][pos[iid]])
        _, raw, boxes = P.detect(models[side], lb, CONF)
        for s, r in enumerate(raw):
            t[f"{key}.det_raw{s}"] = r[0].contiguous()
        t[f"{key}.boxes"] = boxes.contiguous() if len(boxes) else torch.full((1, 5), -1.0)
        out.append(dict(key=key, image_id=iid, input_side=side, num_boxes=len(boxes)))
        print(key, iid, side, [tuple(r.shape) for r in raw], len(boxes), "boxes")
    save_file(t, str(OUT), metadata={"config": json.dumps(dict(cases=out, conf=CONF, nms_iou=P.DET_IOU,
              detector=common.sha256(common.MODELS / "detector.safetensors"), torch=torch.__version__))})
    print(OUT, OUT.stat().st_size)


if __name__ == "__main__":
    main()
