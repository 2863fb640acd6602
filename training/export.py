"""Export trained checkpoints (training/out/<tag>/...) to models/<name>.safetensors (fp32, BN unfused,
names as in the torch modules, plus config JSON in __metadata__), and load them back.
python training/export.py detector|lesion|pathology|fusion"""
import json, os, sys
from pathlib import Path
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent))
import common, yolo
from resnet import ResNet
from fusion import FusionHead

NAMES = {"detector": "detector", "lesion": "lesion_encoder", "pathology": "pathology_encoder", "fusion": "fusion_head"}


def clean(sd):
    return {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}


def export(kind, extra_meta=None, ckpt=None, extra_tensors=None):
    src = Path(ckpt).resolve() if ckpt else common.OUT / kind / ("best.pt" if kind == "detector" else "last.pt")
    c = torch.load(src, map_location="cpu", weights_only=False)
    sd = clean(c["model"])
    if extra_tensors:
        sd.update(extra_tensors)
    meta = dict(c["config"]); meta.update(extra_meta or {})
    if kind == "fusion" and "combine" not in meta:
        # the shipped rule since issue 15: a product of the per-modality passes (fusion.py), with per-modality
        # temperatures that training/calibrate.py fits on val (1 until then)
        meta["combine"] = "product"; sd["expert_temperature"] = torch.ones(len(meta["dims"]))
        print("export: the fusion head's temperatures are 1 until `python training/calibrate.py fusion_head` fits them on val")
    meta["source_checkpoint"] = os.path.relpath(src, common.REPO); meta["epoch"] = c.get("epoch")
    out = common.MODELS / f"{NAMES[kind]}.safetensors"
    sha = common.save_safetensors(sd, out, meta)
    print(out, sha, sum(v.numel() for v in sd.values()), "values")
    return out, sha


def build_detector(meta):
    """An untrained YOLOv5n shaped as a detector config (a shipped file's or a training checkpoint's) says."""
    return yolo.YOLOv5n(meta["anchors_px"], nc=meta["nc"], ch_in=meta["ch_in"], width=meta["width"], depth=meta["depth"],
                        strides=tuple(meta["strides"]), input_side=meta.get("input_side"))


def read_checkpoint(path):
    """A detector's weights and config from a training checkpoint (training/out/TAG/*.pt) or an exported
    .safetensors file: dict(model=state dict, config=..., and the checkpoint's other entries: epoch, ...)."""
    if str(path).endswith(".safetensors"):
        from safetensors import safe_open
        from safetensors.torch import load_file
        with safe_open(str(path), "pt") as f:
            cfg = json.loads(f.metadata()["config"])
        return dict(model=load_file(str(path)), config=cfg, epoch=cfg.get("epoch"))
    return torch.load(path, map_location="cpu", weights_only=False)


def load_checkpoint(path):
    """A detector from a training checkpoint or an exported file (`read_checkpoint`): the model (EMA weights, eval
    mode) and the checkpoint's dict (config, epoch, ...)."""
    if str(path).endswith(".safetensors"):
        m = load("detector", path)
        return m, dict(config=m.meta, epoch=m.meta.get("epoch"))
    c = read_checkpoint(path)
    m = build_detector(c["config"])
    m.load_state_dict(c["model"])
    return m.eval(), c


def load(kind, path=None, config=None):
    """A shipped model (models/<name>.safetensors, or `path`). `config`: entries that override the file's config
    (a detector read with another `input_side`: its anchor buffers are then the model's own, from the config)."""
    from safetensors import safe_open
    from safetensors.torch import load_file
    p = Path(path) if path else common.MODELS / f"{NAMES[kind]}.safetensors"
    with safe_open(str(p), "pt") as f:
        meta = json.loads(f.metadata()["config"])
    sd = load_file(str(p))
    if config:
        meta.update(config)
        if kind == "detector":
            sd = {k: v for k, v in sd.items() if k not in ("model.24.anchors", "model.24.stride")}
    if kind == "detector":
        m = build_detector(meta)
    elif kind in ("lesion", "pathology"):
        m = ResNet(in_ch=meta["in_ch"], widths=tuple(meta["widths"]), blocks=tuple(meta["blocks"]), num_classes=meta["num_classes"])
    else:
        m = FusionHead(dims=tuple(meta["dims"]), d=meta["d"], hidden=meta["hidden"], num_classes=meta["num_classes"],
                       combine=meta.get("combine", "attention"))
    extra = {k: sd.pop(k) for k in list(sd) if k in ("temperature",)}
    missing, unexpected = m.load_state_dict(sd, strict=False)
    rebuilt = ("model.24.anchors", "model.24.stride") if config and kind == "detector" else ()
    assert not unexpected and all(k.endswith("num_batches_tracked") or k in rebuilt for k in missing), (missing, unexpected)
    m.eval(); m.meta = meta; m.extra = extra
    return m


if __name__ == "__main__":
    export(sys.argv[1])
