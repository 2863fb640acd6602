"""Reference inference for one case, in plain torch from the exported models/*.safetensors:
letterbox -> detector -> decode -> threshold -> NMS -> top box -> lesion crop -> lesion encoder;
slide tile -> pathology encoder; sentence -> WordPiece -> MiniLM; fusion. The Swift pipeline mirrors this."""
import sys
from pathlib import Path
import numpy as np
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent))
import crops, export, yolo

LETTERBOX = 256
PAD = 114
DET_IOU = 0.45        # NMS IoU in the pipeline (ultralytics detect default); mAP evaluation uses conf 0.001, IoU 0.6


def to_grey(img):
    """PIL-compatible ITU-R 601-2 luma for RGB uint8: L = (R*299 + G*587 + B*114) / 1000 (rounded as PIL does)."""
    a = np.asarray(img)
    if a.ndim == 2:
        return a.astype(np.uint8)
    from PIL import Image
    return np.asarray(Image.fromarray(a[..., :3].astype(np.uint8)).convert("L"))


def letterbox(grey, size=LETTERBOX):
    """Swift Imaging.letterboxed / YOLOv5 letterbox(auto=False): r = min(size/w, size/h), content round(w r) x round(h r)
    (bilinear, identity when already size x size), left = (size - cw) // 2, top likewise, pad 114.
    Returns (uint8 size x size, (r_x, r_y, left, top))."""
    h, w = grey.shape
    r = min(size / w, size / h)
    cw, ch = min(size, max(1, round(w * r))), min(size, max(1, round(h * r)))
    if (cw, ch) != (w, h):
        from PIL import Image
        grey = np.asarray(Image.fromarray(grey).resize((cw, ch), Image.BILINEAR))
    out = np.full((size, size), PAD, np.uint8); left, top = (size - cw) // 2, (size - ch) // 2
    out[top:top + ch, left:left + cw] = grey
    return out, (cw / w, ch / h, left, top)


@torch.no_grad()
def detect(det, lb, conf, iou=DET_IOU):
    """A detector on one uint8 letterbox: (input tensor, raw maps, boxes above `conf` after NMS `iou`)."""
    x = torch.from_numpy(lb).float().view(1, 1, LETTERBOX, LETTERBOX) / 255.0
    raw = det(x)
    return x, raw, yolo.postprocess(det.model[24].decode(raw), conf, iou)[0]


class Pipeline:
    def __init__(self, models_dir=None, text=True):
        md = Path(models_dir) if models_dir else None
        p = lambda n: (md / f"{export.NAMES[n]}.safetensors") if md else None
        self.det = export.load("detector", p("detector"))
        self.les = export.load("lesion", p("lesion"))
        self.conf = float(self.det.meta.get("operating_threshold", 0.25))
        self.path = export.load("pathology", p("pathology")) if (p("pathology") or export.common.MODELS / "pathology_encoder.safetensors").exists() else None
        self.fus = export.load("fusion", p("fusion")) if (p("fusion") or export.common.MODELS / "fusion_head.safetensors").exists() else None
        self.text = None
        if text:
            import text_encoder
            self.text = text_encoder.TextEncoder()

    @torch.no_grad()
    def detect(self, lb, conf=None, iou=DET_IOU):
        return detect(self.det, lb, self.conf if conf is None else conf, iou)

    @torch.no_grad()
    def lesion(self, lb, box):
        prm = crops.crop_params(box[:4]) if box is not None else crops.full_image_params()
        c = crops.crop_batch(torch.from_numpy(lb).float().view(1, 1, LETTERBOX, LETTERBOX), [prm])
        f = self.les.features(c)
        return c, f, self.les.fc(f)

    @torch.no_grad()
    def pathology(self, tile256):
        t = torch.from_numpy(np.asarray(tile256, np.float32).reshape(128, 2, 128, 2, 3).mean((1, 3)).round())
        x = t.permute(2, 0, 1).unsqueeze(0) / 255.0
        f = self.path.features(x)
        return x, f, self.path.fc(f)
