"""A compact copy of BTXRD's TRAIN split for a detector run on the GPU machine, which reaches nothing outside and
takes at most 64 MiB of working tree (../shared/notes/gpu-training.md). Never committed: the folder it writes is
ignored (.gitignore: /.gpu/) and carried by the device tool only.

    python training/gpu_data.py pack .gpu      # here: cases/splits/boxes CSVs, train masks, train images as JPEG
    python training/gpu_data.py unpack .gpu    # there: decodes the images into $TUMORBOARD_CACHE/btxrd_grey.npy

Only the train split travels (val and test stay here; the checkpoints are chosen on the real val PNGs
afterwards, `training/det_choose.py`). The radiographs travel as JPEG quality 90 (measured on a twentieth of
them: mean absolute error 1.2 grey levels), so the GPU run trains on slightly altered copies of the same images;
the masks travel as the original 1-bit PNGs. The unpacked array holds zeros for every image outside the
train split, and a marker file says so: `unpack` refuses to write the repository's own cache where ../shared
is present (it would shadow the real images), and `common.load_btxrd` refuses such a cache unless its caller reads
the train split alone (train_detector.py with --val-every 0)."""
import io, shutil, sys
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

QUALITY = 90


def pack(dest: Path):
    from PIL import Image
    d = common.load_btxrd()
    dest = Path(dest); (dest / "btxrd" / "masks").mkdir(parents=True, exist_ok=True)
    for name in ("cases.csv", "splits.csv", "boxes.csv"):
        shutil.copyfile(common.BTXRD / name, dest / "btxrd" / name)
    train = [i for i, s in enumerate(d["split"]) if s == "train"]
    blobs, offsets = [], [0]
    for i in train:
        b = io.BytesIO(); Image.fromarray(d["images"][i]).save(b, "JPEG", quality=QUALITY)
        blobs.append(b.getvalue()); offsets.append(offsets[-1] + b.tell())
        m = common.BTXRD / "masks" / f"{d['ids'][i]}.png"
        if m.exists():
            shutil.copyfile(m, dest / "btxrd" / "masks" / m.name)
    np.savez(dest / "train_jpeg.npz", index=np.array(train, np.int32), offsets=np.array(offsets, np.int64),
             data=np.frombuffer(b"".join(blobs), np.uint8), n=np.int32(len(d["ids"])))
    size = sum(f.stat().st_size for f in dest.rglob("*") if f.is_file())
    print(f"packed {len(train)} train images of {len(d['ids'])} into {dest}: {size / 1e6:.1f} MB", flush=True)


def unpack(src: Path):
    from PIL import Image
    if (common.REPO.parent / "shared" / "data").exists() and common.CACHE.resolve() == (common.REPO / "training" / "cache").resolve():
        sys.exit("gpu_data.py unpack: ../shared/data is here and would be shadowed; set TUMORBOARD_CACHE to another folder")
    z = np.load(Path(src) / "train_jpeg.npz")
    images = np.zeros((int(z["n"]), 256, 256), np.uint8)
    data, off = z["data"].tobytes(), z["offsets"]
    for k, i in enumerate(z["index"]):
        images[i] = np.array(Image.open(io.BytesIO(data[off[k]:off[k + 1]])).convert("L"))
    common.CACHE.mkdir(parents=True, exist_ok=True)
    np.save(common.CACHE / "btxrd_grey.npy", images)
    (common.CACHE / "TRAIN_SPLIT_ONLY").write_text("images outside the train split are zeros; train with --val-every 0\n")
    print(f"unpacked {len(z['index'])} train images into {common.CACHE}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("pack", "unpack"):
        sys.exit(__doc__)
    (pack if sys.argv[1] == "pack" else unpack)(Path(sys.argv[2]))
