"""Crop rule against an explicit bilinear formula; the committed fixtures against the committed weights."""
import json, sys
from pathlib import Path
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not in the test venv (training/requirements.txt installs it)")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import common, crops

FIX = common.REPO / "Tests" / "Fixtures" / "pipeline" / "pipeline_cases.safetensors"


def explicit_crop(img, cx, cy, side, size):
    H, W = img.shape; out = np.zeros((size, size))
    val = lambda yy, xx: img[yy, xx] if 0 <= yy < H and 0 <= xx < W else crops.PAD
    for i in range(size):
        for j in range(size):
            x = cx + ((j + 0.5) / size - 0.5) * side - 0.5; y = cy + ((i + 0.5) / size - 0.5) * side - 0.5
            x0, y0 = int(np.floor(x)), int(np.floor(y)); fx, fy = x - x0, y - y0
            out[i, j] = ((1 - fy) * ((1 - fx) * val(y0, x0) + fx * val(y0, x0 + 1)) + fy * ((1 - fx) * val(y0 + 1, x0) + fx * val(y0 + 1, x0 + 1)))
    return out / 255


def test_crop_rule_matches_formula():
    rng = np.random.default_rng(0); img = rng.integers(0, 256, (40, 50)).astype(np.float64)
    for cx, cy, side in ((20.0, 15.0, 32.0), (3.0, 38.0, 45.5), (25.0, 20.0, 80.0)):
        got = crops.crop_batch(torch.from_numpy(img).float().view(1, 1, 40, 50), [(cx, cy, side)], 16)[0, 0].numpy()
        np.testing.assert_allclose(got, explicit_crop(img, cx, cy, side, 16), atol=2e-5)


def test_crop_params_rule():
    assert crops.crop_params((10, 20, 30, 60)) == (20.0, 40.0, 60.0)
    assert crops.crop_params((10, 20, 14, 24)) == (12.0, 22.0, 32.0)


@pytest.mark.skipif(not FIX.exists() or not (common.MODELS / "fusion_head.safetensors").exists(), reason="no fixtures/weights")
def test_fixtures_reproduce():
    from safetensors import safe_open
    from safetensors.torch import load_file
    import pipeline as P
    with safe_open(str(FIX), "pt") as f:
        meta = json.loads(f.metadata()["config"])
    t = load_file(str(FIX))
    for name, sha in meta["models"].items():
        assert common.sha256(common.MODELS / f"{name}.safetensors") == sha, f"{name} changed since the fixtures were made"
    pl = P.Pipeline(text=False)
    torch.set_num_threads(2)
    from PIL import Image
    if not (common.BTXRD / "images").exists():
        pytest.skip("no shared data")
    for c in meta["cases"][:5]:
        k = c["key"] + "."
        lb, _ = P.letterbox(np.asarray(Image.open(common.BTXRD / "images" / f"{c['image_id']}.png").convert("L")))
        _, raw, boxes = pl.detect(lb)
        for s in range(3):
            torch.testing.assert_close(raw[s][0], t[k + f"det_raw{s}"], atol=1e-4, rtol=1e-4)
        assert len(boxes) == int(t[k + "num_boxes"][0])
        crop, f_img, lg = pl.lesion(lb, boxes[0, :4].numpy() if len(boxes) else None)
        torch.testing.assert_close(torch.tensor([float(crop.sum()), float(crop.std())]), t[k + "crop_checksum"], atol=1e-3, rtol=1e-5)
        torch.testing.assert_close(f_img[0], t[k + "image_features"], atol=1e-4, rtol=1e-4)
        feats = [f_img, t[k + "pathology_features"][None] if k + "pathology_features" in t else torch.zeros(1, 256), t[k + "text_embedding"][None]]
        lg = pl.fus(feats, t[k + "mask"][None])
        torch.testing.assert_close(lg[0], t[k + "fusion_logits"], atol=1e-4, rtol=1e-4)
