"""YOLOv5n v6.0 topology in plain torch (width 0.25, depth 0.33), 1 input channel, 1 class.
Parameter names follow ultralytics: model.<i>.conv.weight, model.<i>.bn.*, model.<i>.cv1.conv.weight, model.24.m.<j>.weight."""
import math
import torch
import torch.nn as nn
import torch.nn.functional as F


class Conv(nn.Module):
    def __init__(self, c1, c2, k=1, s=1, p=None):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2 if p is None else p, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, c1, c2, shortcut=True, e=1.0):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_, c2, 3, 1)
        self.add = shortcut and c1 == c2

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C3(nn.Module):
    def __init__(self, c1, c2, n=1, shortcut=True):
        super().__init__()
        c_ = c2 // 2
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c1, c_, 1, 1)
        self.cv3 = Conv(2 * c_, c2, 1)
        self.m = nn.Sequential(*(Bottleneck(c_, c_, shortcut, e=1.0) for _ in range(n)))

    def forward(self, x):
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class SPPF(nn.Module):
    def __init__(self, c1, c2, k=5):
        super().__init__()
        c_ = c1 // 2
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_ * 4, c2, 1, 1)
        self.m = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x):
        x = self.cv1(x)
        y1 = self.m(x); y2 = self.m(y1)
        return self.cv2(torch.cat((x, y1, y2, self.m(y2)), 1))


class Concat(nn.Module):
    def forward(self, xs):
        return torch.cat(xs, 1)


class Detect(nn.Module):
    def __init__(self, nc, anchors_px, strides, ch, input_side=None, source_side=256):
        super().__init__()
        self.nc, self.no = nc, nc + 5
        # anchors_px are in source (letterbox) pixels; the network sees the source resized to input_side, so the
        # anchors grow by input_side / source_side there and decoded boxes shrink back by out_scale (issue 15)
        self.out_scale = source_side / input_side if input_side else 1.0
        self.nl, self.na = len(anchors_px), len(anchors_px[0])
        self.register_buffer("stride", torch.tensor(strides, dtype=torch.float32))
        a = torch.tensor(anchors_px, dtype=torch.float32).view(self.nl, self.na, 2) / self.out_scale
        # ultralytics convention: anchors in grid units (pixels / stride)
        self.register_buffer("anchors", a / self.stride.view(-1, 1, 1))
        self.m = nn.ModuleList(nn.Conv2d(c, self.no * self.na, 1) for c in ch)

    def forward(self, xs):
        return [self.m[i](xs[i]) for i in range(self.nl)]  # raw head outputs (bs, na*no, ny, nx)

    def decode(self, raw):
        """raw list -> (bs, N, 6) [cx, cy, w, h (pixels), obj, cls] after sigmoid, ultralytics v6 decode."""
        z = []
        for i, r in enumerate(raw):
            bs, _, ny, nx = r.shape
            p = r.float().view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).sigmoid()
            yv, xv = torch.meshgrid(torch.arange(ny), torch.arange(nx), indexing="ij")
            grid = torch.stack((xv, yv), 2).view(1, 1, ny, nx, 2).float()
            ag = (self.anchors[i] * self.stride[i]).view(1, self.na, 1, 1, 2)
            xy = (p[..., :2] * 2 - 0.5 + grid) * self.stride[i]
            wh = (p[..., 2:4] * 2) ** 2 * ag
            if self.out_scale != 1:
                xy, wh = xy * self.out_scale, wh * self.out_scale
            z.append(torch.cat((xy, wh, p[..., 4:]), -1).view(bs, -1, self.no))
        return torch.cat(z, 1)


class YOLOv5n(nn.Module):
    def __init__(self, anchors_px, nc=1, ch_in=1, width=0.25, depth=0.33, strides=(8, 16, 32), input_side=None):
        super().__init__()
        # None: the network sees its input as given (the 256 letterbox, or any size for the engine fixtures); a side:
        # the 256 letterbox is resized (bilinear, half-pixel centres) to it first (issue 15: small lesions)
        self.input_side = input_side
        w = lambda c: max(int(math.ceil(c * width / 8) * 8), 8) if c * width >= 8 else int(c * width)
        d = lambda n: max(round(n * depth), 1)
        c64, c128, c256, c512, c1024 = (int(c * width) for c in (64, 128, 256, 512, 1024))
        L = [
            Conv(ch_in, c64, 6, 2, 2),          # 0 P1/2
            Conv(c64, c128, 3, 2),              # 1 P2/4
            C3(c128, c128, d(3)),               # 2
            Conv(c128, c256, 3, 2),             # 3 P3/8
            C3(c256, c256, d(6)),               # 4
            Conv(c256, c512, 3, 2),             # 5 P4/16
            C3(c512, c512, d(9)),               # 6
            Conv(c512, c1024, 3, 2),            # 7 P5/32
            C3(c1024, c1024, d(3)),             # 8
            SPPF(c1024, c1024, 5),              # 9
            Conv(c1024, c512, 1, 1),            # 10
            nn.Upsample(None, 2, "nearest"),    # 11
            Concat(),                           # 12 cat 6
            C3(c1024, c512, d(3), False),       # 13
            Conv(c512, c256, 1, 1),             # 14
            nn.Upsample(None, 2, "nearest"),    # 15
            Concat(),                           # 16 cat 4
            C3(c512, c256, d(3), False),        # 17 P3 out
            Conv(c256, c256, 3, 2),             # 18
            Concat(),                           # 19 cat 14
            C3(c512, c512, d(3), False),        # 20 P4 out
            Conv(c512, c512, 3, 2),             # 21
            Concat(),                           # 22 cat 10
            C3(c1024, c1024, d(3), False),      # 23 P5 out
            Detect(nc, anchors_px, strides, (c256, c512, c1024), input_side),  # 24
        ]
        self.model = nn.Sequential(*L)
        self.config = dict(arch="yolov5n-v6.0", width=width, depth=depth, nc=nc, ch_in=ch_in,
                           strides=list(strides), anchors_px=[list(map(list, a)) for a in anchors_px])
        if input_side:
            self.config["input_side"] = input_side
        self._init()

    def _init(self):
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eps, m.momentum = 1e-3, 0.03
        det = self.model[24]
        for mi, s in zip(det.m, det.stride):  # ultralytics _initialize_biases, img size 640 prior scaled to 256
            b = mi.bias.view(det.na, -1)
            b.data[:, 4] += math.log(8 / ((self.input_side or 256) / s) ** 2)
            b.data[:, 5:] += math.log(0.6 / (det.nc - 0.99999))

    def forward(self, x):
        """x: (B, ch_in, S, S) in 0..1; a 256 letterbox is resized here when input_side differs (training feeds
        input_side directly). Raw head maps; decode gives boxes in 256-letterbox pixels either way."""
        if self.input_side and x.shape[-1] != self.input_side:
            x = F.interpolate(x, size=(self.input_side, self.input_side), mode="bilinear", align_corners=False)
        m = self.model
        x0 = m[0](x); x1 = m[1](x0); x2 = m[2](x1); x3 = m[3](x2); x4 = m[4](x3)
        x5 = m[5](x4); x6 = m[6](x5); x7 = m[7](x6); x8 = m[8](x7); x9 = m[9](x8)
        x10 = m[10](x9); x13 = m[13](m[12]([m[11](x10), x6]))
        x14 = m[14](x13); x17 = m[17](m[16]([m[15](x14), x4]))
        x20 = m[20](m[19]([m[18](x17), x14]))
        x23 = m[23](m[22]([m[21](x20), x10]))
        return m[24]([x17, x20, x23])


def box_iou(a, b):
    """a (N,4), b (M,4) xyxy -> (N,M)"""
    area_a = (a[:, 2] - a[:, 0]).clamp(0) * (a[:, 3] - a[:, 1]).clamp(0)
    area_b = (b[:, 2] - b[:, 0]).clamp(0) * (b[:, 3] - b[:, 1]).clamp(0)
    lt = torch.max(a[:, None, :2], b[None, :, :2]); rb = torch.min(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(0).prod(2)
    return inter / (area_a[:, None] + area_b[None] - inter + 1e-9)


def nms(boxes, scores, iou_thres, max_det=100):
    """Greedy NMS, plain torch, deterministic (ties broken by index). Returns kept indices, by score desc."""
    order = torch.argsort(scores, descending=True, stable=True)
    keep = []
    while order.numel() and len(keep) < max_det:
        i = order[0]; keep.append(int(i))
        if order.numel() == 1:
            break
        iou = box_iou(boxes[i:i + 1], boxes[order[1:]])[0]
        order = order[1:][iou <= iou_thres]
    return torch.tensor(keep, dtype=torch.long)


def postprocess(pred, conf_thres=0.001, iou_thres=0.6, max_det=100):
    """pred (bs,N,6) decoded -> list of (k,5) [x0,y0,x1,y1,score] in letterboxed pixel coords. score = obj*cls."""
    out = []
    for p in pred:
        score = p[:, 4] * p[:, 5]
        k = score > conf_thres
        p, score = p[k], score[k]
        b = torch.cat((p[:, :2] - p[:, 2:4] / 2, p[:, :2] + p[:, 2:4] / 2), 1)
        if len(score) > 1000:  # pre-NMS cap: the 1000 best candidates
            top = torch.argsort(score, descending=True, stable=True)[:1000]; b, score = b[top], score[top]
        keep = nms(b, score, iou_thres, max_det) if len(score) else torch.zeros(0, dtype=torch.long)
        out.append(torch.cat((b[keep], score[keep, None]), 1))
    return out
