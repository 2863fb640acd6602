"""Issue 15's detector options, without data: the upsampled input (--img) keeps image, lesion mask and boxes
in register, and a detector with an input side decodes its boxes in 256-letterbox pixels."""
import sys
from pathlib import Path
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not in the test venv (training/requirements.txt installs it)")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import yolo
from train_detector import Augment, IMG


def one_lesion(seed=0):
    """A dark 256 image with one bright rectangle, its box and its mask."""
    img = np.full((IMG, IMG), 20, np.uint8)
    x0, y0, x1, y1 = 90, 60, 130, 112
    img[y0:y1, x0:x1] = 230
    mask = np.zeros((IMG, IMG), np.uint8)
    mask[y0:y1, x0:x1] = 1
    return img, np.array([[x0, y0, x1, y1]], np.float32), mask


@pytest.mark.parametrize("side", [256, 384, 512])
def test_upsampled_input_keeps_image_mask_and_box_in_register(side):
    img, box, mask = one_lesion()
    images = np.stack([img] * 4)
    for seed in range(6):
        aug = Augment(images, [box] * 4, np.random.default_rng(seed), mosaic=0.0, side=side, masks=[mask] * 4)
        x, t, (mk, known) = aug(np.arange(4), np.arange(4))
        assert x.shape == (4, 1, side, side) and mk.shape == (4, 1, side // 8, side // 8) and bool(known.all())
        for j in range(4):
            row = t[t[:, 0] == j]
            assert len(row) == 1
            cx, cy, w, h = (row[0, 2:] * side).tolist()           # the target, in the network's pixels
            bright = (x[j, 0] > 0.5 * (x[j, 0].max() + x[j, 0].min())).nonzero().float()
            ys, xs = bright[:, 0], bright[:, 1]
            # the bright rectangle (after scale, shift, flip and grey jitter) is where the target says
            assert abs(float(xs.min()) - (cx - w / 2)) <= 2.5 and abs(float(xs.max()) + 1 - (cx + w / 2)) <= 2.5
            assert abs(float(ys.min()) - (cy - h / 2)) <= 2.5 and abs(float(ys.max()) + 1 - (cy + h / 2)) <= 2.5
            # the mask's cell shares sum to the lesion's area in cells, centred on the box
            m = mk[j, 0]
            assert abs(float(m.sum()) - w * h / 64) <= 0.08 * w * h / 64 + 1
            gy, gx = torch.meshgrid(torch.arange(side // 8), torch.arange(side // 8), indexing="ij")
            mx, my = float((m * (gx + 0.5)).sum() / m.sum()) * 8, float((m * (gy + 0.5)).sum() / m.sum()) * 8
            assert abs(mx - cx) <= 4 and abs(my - cy) <= 4


def test_a_detector_with_an_input_side_decodes_in_letterbox_pixels():
    torch.manual_seed(0)
    anchors = [[[10, 13], [16, 30], [33, 23]], [[30, 61], [62, 45], [59, 119]], [[116, 90], [156, 198], [373, 326]]]
    base = yolo.YOLOv5n(anchors).eval()
    big = yolo.YOLOv5n(anchors, input_side=384).eval()
    big.load_state_dict({k: v for k, v in base.state_dict().items() if not k.endswith("anchors")}, strict=False)
    x256 = torch.rand(1, 1, 256, 256)
    x384 = torch.nn.functional.interpolate(x256, size=(384, 384), mode="bilinear", align_corners=False)
    with torch.no_grad():
        d_big = big.model[24].decode(big(x256))            # resized inside, decoded in 256 pixels
        d_ref = base.model[24].decode(base(x384))          # the same network on the resized input, in 384 pixels
    assert big.config["input_side"] == 384 and "input_side" not in base.config
    # the same raw maps: boxes differ only by the scale (anchors grow with the input, boxes shrink back)
    scale = torch.tensor([256 / 384] * 4)
    ref = d_ref[..., :4] * scale
    # base decodes with anchors in its own pixels (not grown), so compare centres only, and w/h via the anchor ratio
    assert torch.allclose(d_big[..., :2], ref[..., :2], atol=1e-3)
    assert torch.allclose(d_big[..., 2:4], d_ref[..., 2:4], rtol=1e-4, atol=1e-3)
    assert torch.equal(d_big[..., 4:], d_ref[..., 4:])
    assert float(d_big[..., :2].max()) < 256 + 64 and float(d_big[..., :2].min()) > -64
