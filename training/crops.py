"""Lesion crop rule, shared by training, evaluation and the fixtures (mirrored by the Swift pipeline).

Given a box (x0, y0, x1, y1) in pixels of the letterboxed 256x256 grey image (continuous coordinates,
x1/y1 exclusive): centre c = ((x0+x1)/2, (y0+y1)/2), side = max(MIN_SIDE, MARGIN * max(x1-x0, y1-y0)).
The crop is a CROP x CROP image; output pixel (i, j) (row, col) samples the source at
    x = cx + ((j + 0.5) / CROP - 0.5) * side,   y = cy + ((i + 0.5) / CROP - 0.5) * side
(continuous coords, pixel k covers [k, k+1)), bilinearly between pixel centres; any neighbour outside the
image counts as PAD (114). Then value / 255. This equals torch grid_sample(align_corners=False, zeros)
on (image - PAD), plus PAD. No detection: the whole image, c = (128, 128), side = 256."""
import numpy as np
import torch
import torch.nn.functional as F

CROP = 128
MARGIN = 1.5
MIN_SIDE = 32.0
PAD = 114.0


def crop_params(box):
    x0, y0, x1, y1 = [float(v) for v in box]
    return (x0 + x1) / 2, (y0 + y1) / 2, max(MIN_SIDE, MARGIN * max(x1 - x0, y1 - y0))


def crop_batch(images, params, size=CROP):
    """images: (B,1,H,W) float 0..255 tensor; params: (B,3) [cx, cy, side] pixels -> (B,1,size,size) in 0..1."""
    B, _, H, W = images.shape
    p = torch.as_tensor(params, dtype=torch.float32).view(B, 3)
    theta = torch.zeros(B, 2, 3)
    theta[:, 0, 0] = p[:, 2] / W; theta[:, 1, 1] = p[:, 2] / H
    theta[:, 0, 2] = p[:, 0] * 2 / W - 1; theta[:, 1, 2] = p[:, 1] * 2 / H - 1
    grid = F.affine_grid(theta, (B, 1, size, size), align_corners=False)
    out = F.grid_sample(images.float() - PAD, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + PAD
    return out / 255.0


def full_image_params():
    return (128.0, 128.0, 256.0)


def lesion_box(boxes):
    """Training/eval ground-truth box for an image with several boxes: the largest by area (the pipeline
    uses one box, the top detection). None when there is no box."""
    b = np.asarray(boxes).reshape(-1, 4)
    if not len(b):
        return None
    return b[np.argmax((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))]
