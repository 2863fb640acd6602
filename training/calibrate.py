"""Fit temperatures on val (NLL) and store them as a scalar tensor `temperature` in the shipped files:
lesion encoder (image-only head, detector crops) and fusion head (all modalities present). A fusion head that
combines by product (fusion.py, the shipped rule since issue 15) first gets each modality's own temperature
(`expert_temperature`: the head on that modality alone, NLL on val; the text slot on the val text that val and
test read, context + labs), then the temperature of the product.
python training/calibrate.py [lesion_encoder] [fusion_head]     (both when none is named)"""
import json, sys
from pathlib import Path
import numpy as np
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent))
import common, export, metrics
from safetensors import safe_open
from safetensors.torch import load_file


def store(name, T, tensors=None):
    p = common.MODELS / f"{name}.safetensors"
    with safe_open(str(p), "pt") as f:
        meta = json.loads(f.metadata()["config"])
    sd = load_file(str(p)); sd["temperature"] = torch.tensor([T], dtype=torch.float32)
    sd.update(tensors or {})
    meta["temperature_rule"] = "p = softmax(logits / temperature); temperature fitted on val by NLL"
    print(name, T, common.save_safetensors(sd, p, meta))


@torch.no_grad()
def fit_expert_temperatures(fus, F, va, y):
    """each modality's temperature: the head on that modality alone, NLL on val (a product-combining head)"""
    feats = [torch.from_numpy(F["img_det"][va]), torch.from_numpy(F["path"][va]), torch.from_numpy(F["text"][va])]
    t = torch.tensor([metrics.fit_temperature(fus.alone(feats, i).numpy(), y) for i in range(3)], dtype=torch.float32)
    fus.expert_temperature.copy_(t)
    return t


@torch.no_grad()
def main():
    torch.set_num_threads(common.threads())
    F = np.load(common.OUT / "features.npz"); va = F["split"] == "val"; y = F["y"][va]
    names = sys.argv[1:] or ["lesion_encoder", "fusion_head"]
    if "lesion_encoder" in names:
        store("lesion_encoder", metrics.fit_temperature(F["img_logits_det"][va], y))
    if "fusion_head" not in names:
        return
    fus = export.load("fusion")
    extra = None
    if fus.combine == "product":
        t = fit_expert_temperatures(fus, F, va, y); extra = {"expert_temperature": t}
        print("expert temperatures (image, pathology, text):", t.tolist())
    lg = fus([torch.from_numpy(F["img_det"][va]), torch.from_numpy(F["path"][va]), torch.from_numpy(F["text"][va])],
             torch.ones(int(va.sum()), 3)).numpy()
    store("fusion_head", metrics.fit_temperature(lg, y), extra)


if __name__ == "__main__":
    main()
