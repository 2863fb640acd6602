"""Grad-CAM reference for the Swift pipeline, by PyTorch autograd (independent of the Swift side's
hand-derived gradient): for each case of Tests/Fixtures/pipeline/pipeline_cases.safetensors, the
lesion encoder's last feature map A on the fixture's crop, the fused logit of the predicted class
(all present modalities, features from the fixture), its gradient with respect to A, and
cam = ReLU(sum_k mean_ij(dy/dA_k) A_k)  (Selvaraju et al. 2017), also for the image-only head.

    python training/make_gradcam_fixture.py   # writes Tests/Fixtures/pipeline/gradcam.safetensors
"""
import json
import sys
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
import export  # noqa: E402
import common, crops, pipeline as P  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "Tests/Fixtures/pipeline/pipeline_cases.safetensors"


def main():
    pl = P.Pipeline(text=False)
    les, fus = pl.les, pl.fus
    d = common.load_btxrd(); pos = {i: n for n, i in enumerate(d["ids"])}
    t = load_file(str(FIX))
    with safe_open(str(FIX), "pt") as f:
        meta = json.loads(f.metadata()["config"])
    out = {}
    for c in meta["cases"]:
        k = c["key"]
        # The crop, recomputed from the real radiograph (never stored in the repository).
        lb, _ = P.letterbox(d["images"][pos[c["image_id"]]])
        _, _, boxes = pl.detect(lb)
        top = boxes[0, :4].numpy() if len(boxes) else None
        with torch.no_grad():
            crop, _, _ = pl.lesion(lb, top)
        # The encoder's last conv feature map, with gradients.
        a = None
        def hook(_m, _i, o):
            nonlocal a
            a = o
            o.retain_grad()
        h = les.layer4.register_forward_hook(hook)
        f_img = les.features(crop)
        h.remove()
        mask = t[f"{k}.mask"].view(1, 3)
        f_path = t[f"{k}.pathology_features"].view(1, -1) if c["has_slide"] else torch.zeros(1, 256)
        feats = [f_img, f_path, t[f"{k}.text_embedding"].view(1, -1)]
        logits = fus(feats, mask)
        cls = int(torch.softmax(logits[0], 0).argmax())
        logits[0, cls].backward()
        alpha = a.grad.mean((2, 3), keepdim=True)
        out[f"{k}.cam_fusion"] = torch.relu((alpha * a).sum(1))[0].detach().contiguous()
        out[f"{k}.cam_fusion_class"] = torch.tensor([cls], dtype=torch.int32)
        # Image-only head.
        les.zero_grad()
        a = None
        h = les.layer4.register_forward_hook(hook)
        lg = les.fc(les.features(crop))
        h.remove()
        ci = int(lg[0].argmax())
        lg[0, ci].backward()
        alpha = a.grad.mean((2, 3), keepdim=True)
        out[f"{k}.cam_image"] = torch.relu((alpha * a).sum(1))[0].detach().contiguous()
        out[f"{k}.cam_image_class"] = torch.tensor([ci], dtype=torch.int32)
    dst = FIX.parent / "gradcam.safetensors"
    save_file(out, str(dst), metadata={"method": "torch autograd Grad-CAM on layer4 output; see training/make_gradcam_fixture.py"})
    print(dst, len(meta["cases"]), "cases")


if __name__ == "__main__":
    main()
