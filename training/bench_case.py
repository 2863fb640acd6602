"""One full case (detection, lesion crop and encoder, pathology encoder, labs -> sentence -> MiniLM,
fusion and the 8 subset passes of the Shapley values) in PyTorch and in ONNX Runtime, for
scripts/bench-peers. The Swift side runs `tumorboard bench --model case` on the same files.
The case: a real BTXRD test radiograph when ../shared/data is present (written to a temporary
folder, never to the repository), else the first bundled sample; a GENERATED slide tile and lab
panel from the cohort manifest."""
from __future__ import annotations

import json
import pathlib
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import cohort  # noqa: E402
import crops  # noqa: E402
import labs  # noqa: E402
import pipeline as P  # noqa: E402
import yolo  # noqa: E402


def make_inputs(tmp: pathlib.Path) -> dict:
    rows = [r for r in cohort.load_manifest() if r["split"] == "test" and r["label"] == "malignant" and r["has_slide"]]
    row = rows[0]
    data = cohort.default_data() / "btxrd" / "images" / f"{row['image_id']}.png"
    if not data.exists():
        raise SystemExit(f"case benchmark needs the BTXRD radiograph {data} (developers and CI only)")
    grey = np.asarray(Image.open(data).convert("L"))
    Image.fromarray(grey).save(tmp / "radiograph.png")
    tile = cohort.tile_for(row, size=256)
    Image.fromarray(tile).save(tmp / "slide.png")
    panel = row["panel"]
    (tmp / "labs.json").write_text(json.dumps([{"marker": m, "value": v["value"], "unit": v["unit"]} for m, v in panel.items()]))
    return dict(grey=grey, tile=tile, panel=panel, age=int(row["age"]), sex=row["sex"], files=dict(
        image=str(tmp / "radiograph.png"), slide=str(tmp / "slide.png"), labs=str(tmp / "labs.json"),
        age=str(row["age"]), sex=row["sex"]))


class Encoder(torch.nn.Module):
    """features and class logits of a ResNet encoder."""
    def __init__(self, net, logits=True):
        super().__init__()
        self.net, self.logits = net, logits

    def forward(self, x):
        f = self.net.features(x)
        return (f, self.net.fc(f)) if self.logits else f


class Text(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, ids, mask):
        return self.model.embed(ids, mask)


class Fusion(torch.nn.Module):
    def __init__(self, head):
        super().__init__()
        self.head = head

    def forward(self, a, b, c, m):
        return self.head([a, b, c], m)


class Runners:
    """The same case in eager PyTorch and in ONNX Runtime (the networks exported to ONNX; the few
    non-network steps, NMS and the crop, run in torch for both)."""

    def __init__(self, threads: int, tmp: pathlib.Path):
        import onnxruntime as ort
        self.pl = P.Pipeline(text=True)
        pl = self.pl
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL

        def session(name, module, args, names, dynamic=None):
            # A wrapper is a new module in training mode; export restores that mode on the
            # wrapped networks afterwards, so put everything in eval mode first.
            module.eval()
            path = tmp / f"{name}.onnx"
            torch.onnx.export(module, args, str(path), dynamo=False, opset_version=17, input_names=names,
                              dynamic_axes=dynamic)
            return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])

        x = torch.zeros(1, 1, P.LETTERBOX, P.LETTERBOX)
        self.det = session("detector", pl.det, (x,), ["x"])
        crop = torch.zeros(1, 1, crops.CROP, crops.CROP)
        self.les = session("lesion", Encoder(pl.les), (crop,), ["crop"])
        self.path = session("pathology", Encoder(pl.path, logits=False), (torch.zeros(1, 3, 128, 128),), ["slide"])
        ids = torch.ones(1, 20, dtype=torch.long)
        self.bert = session("minilm", Text(pl.text.model), (ids, ids.clone()), ["ids", "mask"],
                            dynamic={"ids": {1: "t"}, "mask": {1: "t"}})
        f = [torch.zeros(1, 256), torch.zeros(1, 256), torch.zeros(1, 384)]
        self.fus = session("fusion", Fusion(pl.fus), (*f, torch.ones(1, 3)), ["f0", "f1", "f2", "mask"])

        for m in (pl.det, pl.les, pl.path, pl.fus, pl.text.model):
            m.eval()

    @torch.no_grad()
    def torch_case(self, case):
        pl = self.pl
        lb, _ = P.letterbox(case["grey"])
        _, _, boxes = pl.detect(lb)
        top = boxes[0, :4].numpy() if len(boxes) else None
        _, f_img, _ = pl.lesion(lb, top)
        _, f_path, _ = pl.pathology(case["tile"])
        emb = pl.text.encode([labs.clinical_text(case["panel"], case["age"], case["sex"], None)])
        feats = [f_img, f_path, emb]
        out = pl.fus(feats, torch.ones(1, 3))
        for bits in range(8):
            pl.fus(feats, torch.tensor([[float(bits >> i & 1) for i in range(3)]]))
        return torch.softmax(out[0], 0)

    def ort_case(self, case):
        pl = self.pl
        # The few non-network steps below run in torch: one thread, so they do not contend
        # with ONNX Runtime's own threads.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self._ort_case(case)
        finally:
            torch.set_num_threads(threads)

    def _ort_case(self, case):
        pl = self.pl
        lb, _ = P.letterbox(case["grey"])
        raw = self.det.run(None, {"x": (lb.astype(np.float32) / 255.0).reshape(1, 1, P.LETTERBOX, P.LETTERBOX)})
        with torch.no_grad():
            boxes = yolo.postprocess(pl.det.model[24].decode([torch.from_numpy(r) for r in raw]), pl.conf, P.DET_IOU)[0]
            top = boxes[0, :4].numpy() if len(boxes) else None
            prm = crops.crop_params(top) if top is not None else crops.full_image_params()
            c = crops.crop_batch(torch.from_numpy(lb).float().view(1, 1, P.LETTERBOX, P.LETTERBOX), [prm]).numpy()
        f_img, _ = self.les.run(None, {"crop": c})
        t = np.asarray(case["tile"], np.float32).reshape(128, 2, 128, 2, 3).mean((1, 3)).round()
        (f_path,) = self.path.run(None, {"slide": (t.transpose(2, 0, 1)[None] / 255.0).astype(np.float32)})
        toks = pl.text.tok.encode(labs.clinical_text(case["panel"], case["age"], case["sex"], None))
        ids = np.asarray([toks], np.int64)
        (emb,) = self.bert.run(None, {"ids": ids, "mask": np.ones_like(ids)})
        feed = {"f0": f_img.astype(np.float32), "f1": f_path.astype(np.float32), "f2": emb.astype(np.float32)}
        (out,) = self.fus.run(None, dict(feed, mask=np.ones((1, 3), np.float32)))
        for bits in range(8):
            self.fus.run(None, dict(feed, mask=np.asarray([[float(bits >> i & 1) for i in range(3)]], np.float32)))
        e = np.exp(out[0] - out[0].max())
        return e / e.sum()
