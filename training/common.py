"""Shared helpers: data location, BTXRD loading (cached as one uint8 array), seeds, export."""
import csv, json, os, random, hashlib
from pathlib import Path
import numpy as np

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("TUMORBOARD_DATA", REPO.parent / "shared" / "data"))
BTXRD = DATA / "btxrd"
OUT = Path(os.environ.get("TUMORBOARD_TRAIN_OUT", REPO / "training" / "out"))  # tests point it elsewhere
CACHE = Path(os.environ.get("TUMORBOARD_CACHE", REPO / "training" / "cache"))  # the GPU run unpacks its own copy (training/gpu_data.py)
MODELS = REPO / "models"
LABELS = ["normal", "benign", "intermediate", "malignant"]
TUMOUR_CLASSES = ["benign", "intermediate", "malignant"]


def threads():
    """torch threads for the training scripts: $TORCH_THREADS, else 2 (what run_all.sh and the cards assume)."""
    return int(os.environ.get("TORCH_THREADS", "2"))


def seed_all(seed=0):
    import torch  # here, not at the top: the data helpers (gpu_data.py) run without torch
    random.seed(seed); np.random.seed(seed); torch.manual_seed(seed)


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def load_btxrd(train_split_only_ok=False):
    """Returns dict: ids (list), images (N,256,256) uint8 grey, split, label, boxes (id -> (k,4) float xyxy, x1/y1 exclusive).
    A cache unpacked by training/gpu_data.py holds the train split only (zeros elsewhere): refused unless the caller
    reads nothing else (train_split_only_ok)."""
    cases = read_csv(BTXRD / "cases.csv")
    splits = {r["image_id"]: r["split"] for r in read_csv(BTXRD / "splits.csv")}
    boxes = {}
    for r in read_csv(BTXRD / "boxes.csv"):
        boxes.setdefault(r["image_id"], []).append([float(r[k]) for k in ("x0", "y0", "x1", "y1")])
    ids = [r["image_id"] for r in cases]
    CACHE.mkdir(parents=True, exist_ok=True)
    cache = CACHE / "btxrd_grey.npy"
    if (CACHE / "TRAIN_SPLIT_ONLY").exists() and not train_split_only_ok:
        raise SystemExit(f"{CACHE}: holds the train split only (training/gpu_data.py unpack; val and test are zeros); "
                         "point TUMORBOARD_CACHE elsewhere")
    if cache.exists():
        images = np.load(cache)
    else:
        from PIL import Image
        images = np.stack([np.array(Image.open(BTXRD / "images" / f"{i}.png").convert("L")) for i in ids])
        np.save(cache, images)
    return {
        "ids": ids, "images": images, "cases": cases,
        "split": np.array([splits[i] for i in ids]),
        "label": np.array([r["label"] for r in cases]),
        "boxes": {i: np.array(boxes.get(i, []), dtype=np.float32).reshape(-1, 4) for i in ids},
    }


def save_safetensors(state, path, metadata):
    from safetensors.torch import save_file
    t = {k: v.detach().float().contiguous().cpu() for k, v in state.items()}
    save_file(t, str(path), metadata={"config": json.dumps(metadata)})
    return sha256(path)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()
