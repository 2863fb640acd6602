"""training/gpu_data.py: the compact train-split copy that travels to the GPU machine, packed and unpacked on a
small synthetic BTXRD folder (made here; no shared data needed): train images come back within JPEG's error, every
other split is zeros (and marked so), only train masks travel, and unpack refuses to shadow the real cache."""
import csv, os, subprocess, sys
from pathlib import Path
import numpy as np
import pytest

PIL = pytest.importorskip("PIL", reason="Pillow is not in the test venv")
from PIL import Image

TRAINING = Path(__file__).resolve().parent.parent
ROWS = [("IMG000001", "train", "benign"), ("IMG000002", "train", "normal"), ("IMG000003", "val", "malignant"),
        ("IMG000004", "test", "benign")]


def fake_btxrd(root: Path):
    b = root / "btxrd"; (b / "images").mkdir(parents=True); (b / "masks").mkdir()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:256, 0:256]
    images = {}
    for k, (iid, split, label) in enumerate(ROWS):
        img = (100 + 60 * np.sin(xx / (9 + k)) * np.cos(yy / 13) + rng.normal(0, 3, (256, 256))).clip(0, 255).astype(np.uint8)
        Image.fromarray(img).save(b / "images" / f"{iid}.png"); images[iid] = img
        if label != "normal":
            Image.fromarray((np.abs(xx - 128) < 20) & (np.abs(yy - 100) < 30)).save(b / "masks" / f"{iid}.png")
    with open(b / "cases.csv", "w", newline="") as f:
        w = csv.writer(f); w.writerow(["image_id", "label", "subtype", "age", "sex", "center", "site", "region", "view"])
        for iid, _, label in ROWS:
            w.writerow([iid, label, "", 30, "F", 1, "femur" if label != "normal" else "", "lower limb", "frontal"])
    with open(b / "splits.csv", "w", newline="") as f:
        w = csv.writer(f); w.writerow(["image_id", "split"]); w.writerows([(iid, s) for iid, s, _ in ROWS])
    with open(b / "boxes.csv", "w", newline="") as f:
        w = csv.writer(f); w.writerow(["image_id", "x0", "y0", "x1", "y1"])
        w.writerows([(iid, 108, 70, 148, 130) for iid, _, label in ROWS if label != "normal"])
    return images


def run(verb, folder, data, cache):
    env = dict(os.environ, TUMORBOARD_DATA=str(data), TUMORBOARD_CACHE=str(cache))
    return subprocess.run([sys.executable, str(TRAINING / "gpu_data.py"), verb, str(folder)], env=env,
                          capture_output=True, text=True, timeout=300)


def test_pack_then_unpack_carries_the_train_split_only(tmp_path):
    images = fake_btxrd(tmp_path / "data")
    pack = tmp_path / "gpu"
    r = run("pack", pack, tmp_path / "data", tmp_path / "cache-here")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (pack / "btxrd" / "masks").iterdir()) == ["IMG000001.png"]   # train tumour masks only
    assert (pack / "btxrd" / "boxes.csv").read_text() == (tmp_path / "data" / "btxrd" / "boxes.csv").read_text()
    r = run("unpack", pack, pack, tmp_path / "cache-there")
    assert r.returncode == 0, r.stderr
    got = np.load(tmp_path / "cache-there" / "btxrd_grey.npy")
    assert got.shape == (4, 256, 256)
    for k, (iid, split, _) in enumerate(ROWS):
        if split == "train":
            assert np.abs(got[k].astype(int) - images[iid]).mean() < 3.0, iid   # JPEG quality 90
        else:
            assert not got[k].any(), f"{iid} ({split}) must not travel"
    assert (tmp_path / "cache-there" / "TRAIN_SPLIT_ONLY").exists()


def test_unpack_refuses_the_repositorys_own_cache_where_the_shared_data_is(tmp_path):
    if not (TRAINING.parent.parent / "shared" / "data").exists():
        pytest.skip("../shared/data is absent here: the refusal only applies where it is present")
    env = {k: v for k, v in os.environ.items() if k != "TUMORBOARD_CACHE"}
    r = subprocess.run([sys.executable, str(TRAINING / "gpu_data.py"), "unpack", str(tmp_path)], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "TUMORBOARD_CACHE" in r.stderr


def test_a_train_split_only_cache_is_refused_where_val_or_test_would_be_read(tmp_path):
    fake_btxrd(tmp_path / "data")
    assert run("pack", tmp_path / "gpu", tmp_path / "data", tmp_path / "c1").returncode == 0
    assert run("unpack", tmp_path / "gpu", tmp_path / "gpu", tmp_path / "c2").returncode == 0
    env = dict(os.environ, TUMORBOARD_DATA=str(tmp_path / "gpu"), TUMORBOARD_CACHE=str(tmp_path / "c2"))
    code = "import sys; sys.path.insert(0, {!r}); import common; d = common.load_btxrd({}); print(len(d['ids']))"
    r = subprocess.run([sys.executable, "-c", code.format(str(TRAINING), "")], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "train split only" in r.stderr, r.stderr
    r = subprocess.run([sys.executable, "-c", code.format(str(TRAINING), "train_split_only_ok=True")], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == "4", r.stderr
