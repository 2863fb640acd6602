"""Writes the Swift engine's reference fixtures: inputs and outputs of every op over awkward
shapes, and of three real blocks with random weights (ResNet BasicBlock, YOLOv5 C3 + SPPF,
one BERT encoder layer), computed by PyTorch.

    python training/make_engine_fixtures.py   # writes Tests/EngineTests/Fixtures/ops.safetensors
                                              # and Tests/ModelsTests/Fixtures/blocks.safetensors

Each case is a group of tensors named "<case>/<tensor>"; the safetensors metadata key "cases"
holds a JSON list of {"name", "op", "params"} that the Swift tests read.
"""
from __future__ import annotations

import json
import pathlib

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

import engine_reference as ref

ROOT = pathlib.Path(__file__).resolve().parent.parent
torch.manual_seed(0)
g = torch.Generator().manual_seed(1234)


def rnd(*shape, scale=1.0):
    return (torch.randn(*shape, generator=g) * scale).float()


class Writer:
    def __init__(self):
        self.tensors: dict[str, torch.Tensor] = {}
        self.cases: list[dict] = []

    def case(self, name, op, params, **tensors):
        assert all(c["name"] != name for c in self.cases), name
        self.cases.append({"name": name, "op": op, "params": params})
        for k, v in tensors.items():
            self.tensors[f"{name}/{k}"] = v.detach().clone().contiguous()

    def save(self, path: pathlib.Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(self.tensors, str(path), metadata={"cases": json.dumps(self.cases),
                                                     "torch": torch.__version__})
        print(f"{path.relative_to(ROOT)}: {len(self.cases)} cases, {path.stat().st_size / 1e6:.2f} MB")


def ops() -> Writer:
    w = Writer()
    conv_cases = [
        # name, x shape, (cout, kh, kw), stride, padding, dilation, groups, bias
        ("conv_3x3_pad1_batch2", (2, 3, 7, 9), (5, 3, 3), (1, 1), (1, 1), (1, 1), 1, True),
        ("conv_3x3_stride2", (1, 4, 11, 8), (6, 3, 3), (2, 2), (1, 1), (1, 1), 1, False),
        ("conv_groups3_dilation2", (1, 6, 9, 10), (6, 3, 3), (1, 1), (1, 2), (2, 2), 3, True),
        ("conv_1x1", (2, 8, 5, 7), (4, 1, 1), (1, 1), (0, 0), (1, 1), 1, True),
        ("conv_7x7_stride2_pad3", (1, 3, 17, 15), (8, 7, 7), (2, 2), (3, 3), (1, 1), 1, False),
        ("conv_depthwise_stride2", (1, 4, 6, 6), (4, 3, 3), (2, 2), (1, 1), (1, 1), 4, True),
        ("conv_1x1_stride2", (1, 4, 9, 9), (8, 1, 1), (2, 2), (0, 0), (1, 1), 1, False),
        ("conv_1x3_stride_2x1", (2, 2, 5, 6), (3, 1, 3), (2, 1), (0, 1), (1, 1), 1, True),
        ("conv_6x6_stride2_pad2", (1, 1, 13, 12), (4, 6, 6), (2, 2), (2, 2), (1, 1), 1, False),
        # 3x3 stride 1 with many channels and odd sizes: the Winograd path.
        ("conv_3x3_wide_odd", (2, 40, 9, 11), (36, 3, 3), (1, 1), (1, 1), (1, 1), 1, True),
        ("conv_3x3_nopad_odd", (1, 33, 8, 7), (34, 3, 3), (1, 1), (0, 0), (1, 1), 1, False),
    ]
    for name, xs, (co, kh, kw), s, p, d, gr, has_b in conv_cases:
        x = rnd(*xs)
        wt = rnd(co, xs[1] // gr, kh, kw, scale=0.5)
        b = rnd(co) if has_b else None
        y = F.conv2d(x, wt, b, s, p, d, gr)
        t = dict(x=x, weight=wt, y=y)
        if b is not None:
            t["bias"] = b
        w.case(name, "conv2d", dict(stride=s, padding=p, dilation=d, groups=gr), **t)

    # conv + batch norm (folded on the Swift side) + SiLU, the YOLOv5 Conv unit.
    x = rnd(2, 4, 8, 8); wt = rnd(6, 4, 3, 3, scale=0.4)
    gamma, beta, mean, var = rnd(6).abs() + 0.5, rnd(6), rnd(6) * 0.3, torch.rand(6, generator=g) + 0.3
    y = F.silu(F.batch_norm(F.conv2d(x, wt, None, 1, 1), mean, var, gamma, beta, False, 0.0, 1e-3))
    w.case("conv_bn_silu", "conv_bn", dict(stride=(1, 1), padding=(1, 1), eps=1e-3, activation="silu"),
           x=x, weight=wt, gamma=gamma, beta=beta, mean=mean, var=var, y=y)

    x = rnd(2, 5, 4, 3)
    gamma, beta, mean, var = rnd(5), rnd(5), rnd(5), torch.rand(5, generator=g) + 0.1
    w.case("batchnorm", "batchnorm", dict(eps=1e-5), x=x, gamma=gamma, beta=beta, mean=mean, var=var,
           y=F.batch_norm(x, mean, var, gamma, beta, False, 0.0, 1e-5))

    x = torch.cat([rnd(3, 7, 11, scale=4.0).flatten(), torch.tensor([-100.0, -88.0, -30.0, 0.0, 30.0, 88.0, 100.0])])
    for act, fn in [("relu", F.relu), ("silu", F.silu), ("gelu", F.gelu), ("sigmoid", torch.sigmoid)]:
        w.case(act, "activation", dict(activation=act), x=x, y=fn(x))

    x = rnd(4, 13, scale=10.0)
    w.case("softmax", "softmax", {}, x=x, y=x.softmax(-1))

    x = rnd(2, 3, 9, 11)
    for name, k, s, p in [("maxpool_3_s2_p1", 3, 2, 1), ("maxpool_5_s1_p2", 5, 1, 2), ("maxpool_2_s2", 2, 2, 0)]:
        w.case(name, "maxpool", dict(kernel=k, stride=s, padding=p), x=x, y=F.max_pool2d(x, k, s, p))

    x = rnd(2, 5, 7, 3)
    w.case("global_avg_pool", "gap", {}, x=x, y=x.mean((2, 3)))
    x = rnd(1, 3, 4, 5)
    w.case("upsample_nearest_2", "upsample", dict(factor=2), x=x, y=F.interpolate(x, scale_factor=2, mode="nearest"))
    a, b = rnd(2, 3, 4, 5), rnd(2, 2, 4, 5)
    w.case("concat_axis1", "concat", dict(axis=1), a=a, b=b, y=torch.cat((a, b), 1))
    a, b = rnd(2, 3, 4, 5), rnd(2, 3, 4, 2)
    w.case("concat_axis3", "concat", dict(axis=3), a=a, b=b, y=torch.cat((a, b), 3))

    x, wt, bias = rnd(3, 7), rnd(5, 7), rnd(5)
    w.case("linear_bias", "linear", {}, x=x, weight=wt, bias=bias, y=F.linear(x, wt, bias))
    x, wt = rnd(2, 4, 7), rnd(6, 7)
    w.case("linear_nobias_rank3", "linear", {}, x=x, weight=wt, y=F.linear(x, wt))

    x, gamma, beta = rnd(2, 5, 16, scale=3.0) + 2.0, rnd(16), rnd(16)
    w.case("layernorm", "layernorm", dict(eps=1e-12), x=x, gamma=gamma, beta=beta,
           y=F.layer_norm(x, (16,), gamma, beta, 1e-12))

    table = rnd(50, 8)
    ids = torch.tensor([0, 49, 7, 7, 23], dtype=torch.int64)
    w.case("embedding", "embedding", {}, table=table, ids=ids, y=F.embedding(ids, table))

    d, heads = 16, 4
    att = ref.BertSelfAttention(d, heads).eval()
    with torch.no_grad():
        for p_ in att.parameters():
            p_.copy_(rnd(*p_.shape, scale=0.4))
        wo, bo = rnd(d, d, scale=0.3), rnd(d)
        x = rnd(2, 6, d)
        mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]])
        y = F.linear(att(x, mask), wo, bo)
    w.case("attention_masked", "attention", dict(heads=heads), x=x, mask=mask.to(torch.int64),
           wq=att.query.weight, bq=att.query.bias, wk=att.key.weight, bk=att.key.bias,
           wv=att.value.weight, bv=att.value.bias, wo=wo, bo=bo, y=y)

    x = rnd(2, 6, d)
    m = mask.unsqueeze(-1).float()
    w.case("mean_pool", "mean_pool", {}, x=x, mask=mask.to(torch.int64),
           y=(x * m).sum(1) / m.sum(1).clamp(min=1e-9))
    x = rnd(3, 10)
    x[1] = 0.0
    w.case("l2_normalize", "l2_normalize", {}, x=x, y=F.normalize(x, p=2, dim=-1))
    # bilinear resize, align_corners=False, no antialias: the detector's 256 -> input_side (issue 15); enlarging by
    # 1.5 and by odd ratios (source positions clamped at 0 and at the last row/column), and shrinking
    # (their own generator, added later: the cases above and blocks() keep their numbers)
    g_resize = torch.Generator().manual_seed(4321)
    for name, xs, (oh, ow) in [("resize_up_1_5", (1, 1, 8, 8), (12, 12)), ("resize_odd", (2, 3, 5, 7), (9, 11)),
                               ("resize_down", (1, 2, 9, 10), (4, 6))]:
        x = torch.randn(*xs, generator=g_resize).float()
        w.case(name, "resize", dict(height=oh, width=ow), x=x,
               y=F.interpolate(x, size=(oh, ow), mode="bilinear", align_corners=False, antialias=False))
    return w


def blocks() -> Writer:
    w = Writer()
    with torch.no_grad():
        blk = ref.BasicBlock(8, 16, stride=2)
        ref.randomize_batchnorm(blk, g)
        blk.eval()
        x = rnd(2, 8, 15, 13)
        w.case("resnet_basicblock", "resnet_basicblock", dict(stride=2, eps=1e-5), x=x, y=blk(x),
               **{f"w.{k}": v for k, v in ref.state_dict_f32(blk).items()})

        c3 = torch.nn.Sequential(ref.C3(16, 16, n=2, shortcut=True), ref.SPPF(16, 16, 5))
        ref.randomize_batchnorm(c3, g)
        c3.eval()
        x = rnd(1, 16, 20, 20)
        sd = ref.state_dict_f32(c3)
        names = {k.replace("0.", "c3.", 1) if k.startswith("0.") else k.replace("1.", "sppf.", 1): v for k, v in sd.items()}
        w.case("yolov5_c3_sppf", "yolov5_c3_sppf", dict(n=2, shortcut=True, k=5, eps=1e-3), x=x, y=c3(x),
               **{f"w.{k}": v for k, v in names.items()})

        layer = ref.BertLayer(d=32, heads=4, inner=64).eval()
        for p_ in layer.parameters():
            p_.copy_(rnd(*p_.shape, scale=0.3))
        x = rnd(2, 7, 32)
        mask = torch.tensor([[1] * 7, [1, 1, 1, 1, 1, 0, 0]])
        w.case("bert_layer", "bert_layer", dict(heads=4, eps=1e-12), x=x, mask=mask.to(torch.int64),
               y=layer(x, mask), **{f"w.{k}": v for k, v in ref.state_dict_f32(layer).items()})
    return w


if __name__ == "__main__":
    ops().save(ROOT / "Tests/EngineTests/Fixtures/ops.safetensors")
    blocks().save(ROOT / "Tests/ModelsTests/Fixtures/blocks.safetensors")
