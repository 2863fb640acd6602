"""Reference networks in plain PyTorch for the Swift engine's tests and benchmarks.

Parameter names follow the checkpoints the field uses, so the Swift side maps them one to one:
torchvision's ResNet (conv1, bn1, layer1.0.conv1, ..., fc), ultralytics YOLOv5 v6.0
(model.N.conv / model.N.bn, C3 cv1/cv2/cv3/m, SPPF, Detect m.0-2) and Hugging Face BERT
(attention.self.query, attention.output.LayerNorm, intermediate.dense, output.dense).
"""
from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F


# ---------------------------------------------------------------- ResNet (torchvision layout)
class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + idt)


class ResNet(nn.Module):
    """ResNet with BasicBlocks; layers=(2,2,2,2), width=64 is ResNet-18."""

    def __init__(self, layers=(2, 2, 2, 2), width=64, in_ch=3, num_classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        c = width
        for i, n in enumerate(layers):
            cout = width * 2 ** i
            blocks = [BasicBlock(c, cout, 1 if i == 0 else 2)] + [BasicBlock(cout, cout) for _ in range(n - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            c = cout
        self.fc = nn.Linear(c, num_classes)
        self.num_stages = len(layers)

    def features(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        for i in range(self.num_stages):
            x = getattr(self, f"layer{i + 1}")(x)
        return x.mean((2, 3))

    def forward(self, x):
        return self.fc(self.features(x))


# ---------------------------------------------------------------- YOLOv5 v6.0 (ultralytics layout)
class Conv(nn.Module):
    def __init__(self, c1, c2, k=1, s=1, p=None):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2 if p is None else p, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)

    def forward(self, x):
        return F.silu(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, c1, c2, shortcut=True, e=1.0):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1)
        self.cv2 = Conv(c_, c2, 3)
        self.add = shortcut and c1 == c2

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C3(nn.Module):
    def __init__(self, c1, c2, n=1, shortcut=True, e=0.5):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1)
        self.cv2 = Conv(c1, c_, 1)
        self.cv3 = Conv(2 * c_, c2, 1)
        self.m = nn.Sequential(*(Bottleneck(c_, c_, shortcut) for _ in range(n)))

    def forward(self, x):
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class SPPF(nn.Module):
    def __init__(self, c1, c2, k=5):
        super().__init__()
        c_ = c1 // 2
        self.cv1 = Conv(c1, c_, 1)
        self.cv2 = Conv(c_ * 4, c2, 1)
        self.k = k

    def forward(self, x):
        x = self.cv1(x)
        y1 = F.max_pool2d(x, self.k, 1, self.k // 2)
        y2 = F.max_pool2d(y1, self.k, 1, self.k // 2)
        y3 = F.max_pool2d(y2, self.k, 1, self.k // 2)
        return self.cv2(torch.cat((x, y1, y2, y3), 1))


class Detect(nn.Module):
    def __init__(self, nc, ch, na=3):
        super().__init__()
        self.m = nn.ModuleList(nn.Conv2d(c, na * (5 + nc), 1) for c in ch)

    def forward(self, xs):
        return [m(x) for m, x in zip(self.m, xs)]


class YOLOv5(nn.Module):
    """YOLOv5 v6.0 topology; width 0.25 and depth 0.33 is YOLOv5n. Returns the raw head maps."""

    def __init__(self, in_ch=3, nc=80, width=0.25, depth=0.33):
        super().__init__()
        ch = lambda c: max(8, int(math.ceil(c * width / 8) * 8))
        dp = lambda n: max(round(n * depth), 1)
        c64, c128, c256, c512, c1024 = ch(64), ch(128), ch(256), ch(512), ch(1024)
        layers = [
            Conv(in_ch, c64, 6, 2, 2), Conv(c64, c128, 3, 2), C3(c128, c128, dp(3)),
            Conv(c128, c256, 3, 2), C3(c256, c256, dp(6)),
            Conv(c256, c512, 3, 2), C3(c512, c512, dp(9)),
            Conv(c512, c1024, 3, 2), C3(c1024, c1024, dp(3)), SPPF(c1024, c1024, 5),
            Conv(c1024, c512, 1, 1), nn.Upsample(None, 2, "nearest"), nn.Identity(),
            C3(2 * c512, c512, dp(3), False),
            Conv(c512, c256, 1, 1), nn.Upsample(None, 2, "nearest"), nn.Identity(),
            C3(2 * c256, c256, dp(3), False),
            Conv(c256, c256, 3, 2), nn.Identity(), C3(2 * c256, c512, dp(3), False),
            Conv(c512, c512, 3, 2), nn.Identity(), C3(2 * c512, c1024, dp(3), False),
            Detect(nc, (c256, c512, c1024)),
        ]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        m = self.model
        x = m[0](x); x = m[1](x); x = m[2](x); x = m[3](x); p3 = m[4](x)
        x = m[5](p3); p4 = m[6](x); x = m[7](p4); x = m[8](x); x = m[9](x)
        h10 = m[10](x); x = torch.cat((m[11](h10), p4), 1); x = m[13](x)
        h14 = m[14](x); x = torch.cat((m[15](h14), p3), 1); o17 = m[17](x)
        x = torch.cat((m[18](o17), h14), 1); o20 = m[20](x)
        x = torch.cat((m[21](o20), h10), 1); o23 = m[23](x)
        return m[24]([o17, o20, o23])


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
