"""Reference networks in plain PyTorch for the Swift engine's tests and benchmarks.

Parameter names follow the checkpoints the field uses, so the Swift side maps them one to one:
torchvision's ResNet (conv1, bn1, layer1.0.conv1, ..., fc) and ultralytics YOLOv5 v6.0
(model.N.conv / model.N.bn, C3 cv1/cv2/cv3/m, SPPF, Detect m.0-2), both from training/resnet.py
and training/yolo.py, and a Hugging Face BERT layer (attention.self.query,
attention.output.LayerNorm, intermediate.dense, output.dense) written here as an independent
reference for the Swift BERT (training/text_encoder.py has the one used in training).
"""
from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F


# ---------------------------------------------------------------- ResNet and YOLOv5: the training code's own
# The convolutional networks are the ones training/ trains (one definition each); these helpers
# build the benchmark sizes from them.
from resnet import BasicBlock, ResNet  # noqa: E402,F401
from yolo import C3, SPPF, Bottleneck, Conv, YOLOv5n  # noqa: E402,F401

# ultralytics' default COCO anchors (pixels); only their shapes matter for benchmarks.
COCO_ANCHORS = [[(10, 13), (16, 30), (33, 23)], [(30, 61), (62, 45), (59, 119)], [(116, 90), (156, 198), (373, 326)]]


def resnet18(in_ch=3, num_classes=1000):
    return ResNet(in_ch=in_ch, widths=(64, 128, 256, 512), blocks=(2, 2, 2, 2), num_classes=num_classes)


def yolov5n(in_ch=3, nc=80):
    """YOLOv5n (v6.0) returning the raw head maps."""
    return YOLOv5n(COCO_ANCHORS, nc=nc, ch_in=in_ch)


# ---------------------------------------------------------------- BERT layer (Hugging Face layout)
class BertSelfAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.query, self.key, self.value = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.heads = heads

    def forward(self, x, mask):
        b, l, d = x.shape
        hd = d // self.heads
        split = lambda t: t.view(b, l, self.heads, hd).transpose(1, 2)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        s = q @ k.transpose(-1, -2) / math.sqrt(hd)
        s = s.masked_fill(mask[:, None, None, :] == 0, float("-inf"))
        return (s.softmax(-1) @ v).transpose(1, 2).reshape(b, l, d)


class BertDenseNorm(nn.Module):
    def __init__(self, din, d, eps):
        super().__init__()
        self.dense = nn.Linear(din, d)
        self.LayerNorm = nn.LayerNorm(d, eps=eps)

    def forward(self, h, residual):
        return self.LayerNorm(self.dense(h) + residual)


class BertAttention(nn.Module):
    def __init__(self, d, heads, eps):
        super().__init__()
        self.self = BertSelfAttention(d, heads)
        self.output = BertDenseNorm(d, d, eps)

    def forward(self, x, mask):
        return self.output(self.self(x, mask), x)


class BertIntermediate(nn.Module):
    def __init__(self, d, inner):
        super().__init__()
        self.dense = nn.Linear(d, inner)

    def forward(self, x):
        return F.gelu(self.dense(x))   # erf form


class BertLayer(nn.Module):
    def __init__(self, d=384, heads=12, inner=1536, eps=1e-12):
        super().__init__()
        self.attention = BertAttention(d, heads, eps)
        self.intermediate = BertIntermediate(d, inner)
        self.output = BertDenseNorm(inner, d, eps)

    def forward(self, x, mask):
        a = self.attention(x, mask)
        return self.output(self.intermediate(a), a)


def randomize_batchnorm(module: nn.Module, gen: torch.Generator) -> None:
    """Gives every batch norm non-trivial running statistics and affine parameters."""
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            with torch.no_grad():
                m.weight.copy_(torch.rand(c, generator=gen) * 1.5 + 0.25)
                m.bias.copy_(torch.randn(c, generator=gen) * 0.2)
                m.running_mean.copy_(torch.randn(c, generator=gen) * 0.2)
                m.running_var.copy_(torch.rand(c, generator=gen) * 1.5 + 0.25)


def state_dict_f32(module: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict without num_batches_tracked, as contiguous float32."""
    return {k: v.detach().float().contiguous() for k, v in module.state_dict().items()
            if not k.endswith("num_batches_tracked")}
