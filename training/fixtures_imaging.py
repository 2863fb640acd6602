"""Reference fixtures for Tests/ImagingTests: small images encoded by PIL, PIL's decode of them,
and torch / PIL resize and letterbox outputs.

Writes Tests/ImagingTests/ReferenceFixtures.swift (base64 blobs, so the test target needs no
resource files). Deterministic: rerunning gives the same file for the same PIL/torch versions.

    python3 training/fixtures_imaging.py
"""
import base64, io, math
from pathlib import Path

import numpy as np
import PIL
import PIL.features
from PIL import Image
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "Tests" / "ImagingTests" / "ReferenceFixtures.swift"
rng = np.random.default_rng(20250607)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def smooth(h, w, c, hi=255):
    """A gradient plus noise: exercises every value range without being pure noise (JPEG)."""
    y, x = np.mgrid[0:h, 0:w]
    base = (x * 7 + y * 5)[..., None] + np.arange(c)[None, None, :] * 40
    noise = rng.integers(0, 60, (h, w, c))
    return ((base + noise) % (hi + 1)).astype(np.uint16 if hi > 255 else np.uint8)


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def expected(img_bytes: bytes, convert=None):
    im = Image.open(io.BytesIO(img_bytes))
    if convert:
        im = im.convert(convert)
    a = np.array(im)
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    depth = 16 if a.dtype in (np.uint16, np.int32) else 8
    a = a.astype("<u2" if depth == 16 else np.uint8)
    h, w = a.shape[:2]
    c = 1 if a.ndim == 2 else a.shape[2]
    return w, h, c, depth, a.tobytes()


decode_cases = []  # (name, file bytes, (w, h, c, depth, raw))

grey8 = smooth(13, 17, 1)[..., 0]
png = encode(Image.fromarray(grey8, "L"), "PNG")
decode_cases.append(("png_grey8", png, expected(png)))

grey16 = (smooth(7, 9, 1, hi=65535)[..., 0].astype(np.uint32) * 977 % 65536).astype(np.uint16)
grey16[0, 0], grey16[0, 1] = 0, 65535
png = encode(Image.fromarray(grey16.astype("<u2")), "PNG")
assert Image.open(io.BytesIO(png)).mode == "I;16"
decode_cases.append(("png_grey16", png, expected(png)))

rgb8 = smooth(9, 11, 3)
png = encode(Image.fromarray(rgb8, "RGB"), "PNG")
decode_cases.append(("png_rgb8", png, expected(png)))

rgba = np.concatenate([smooth(4, 5, 3), rng.integers(0, 256, (4, 5, 1)).astype(np.uint8)], axis=2)
png = encode(Image.fromarray(rgba, "RGBA"), "PNG")
decode_cases.append(("png_rgba8_alpha_dropped", png, expected(png, "RGB")))

la = np.stack([smooth(4, 4, 1)[..., 0], np.full((4, 4), 128, np.uint8)], axis=2)
png = encode(Image.fromarray(la, "LA"), "PNG")
decode_cases.append(("png_grey_alpha_dropped", png, expected(png, "L")))

pal = Image.fromarray(smooth(5, 6, 3), "RGB").quantize(colors=7)
png = encode(pal, "PNG", transparency=0)
decode_cases.append(("png_palette_trns", png, expected(png, "RGB")))

bits = Image.fromarray((rng.integers(0, 2, (3, 10)) * 255).astype(np.uint8), "L").convert("1")
png = encode(bits, "PNG")
decode_cases.append(("png_1bit", png, expected(png, "L")))

jpg = encode(Image.fromarray(smooth(16, 16, 1)[..., 0], "L"), "JPEG", quality=90)
decode_cases.append(("jpeg_grey", jpg, expected(jpg)))

jpg = encode(Image.fromarray(smooth(17, 23, 3), "RGB"), "JPEG", quality=85, subsampling=2)
decode_cases.append(("jpeg_rgb_420_odd_size", jpg, expected(jpg)))

jpg = encode(Image.fromarray(smooth(12, 14, 3), "RGB"), "JPEG", quality=92, subsampling=0,
             progressive=True)
decode_cases.append(("jpeg_rgb_444_progressive", jpg, expected(jpg)))

# Greyscale: PIL's convert("L") of the RGB PNG above.
grey_of_rgb = np.array(Image.fromarray(rgb8, "RGB").convert("L")).tobytes()

# Resize references. torch: bilinear, align_corners=False, antialias=False (float32).
# PIL: Image.resize(BILINEAR) on 8-bit (antialiased when shrinking).
resize_src_grey = smooth(13, 19, 1)[..., 0]
resize_src_rgb = smooth(10, 8, 3)
resize_cases = []  # (name, source raw, w, h, c, out w, out h, torch float32 raw, PIL uint8 raw)
for name, src in (("grey", resize_src_grey), ("rgb", resize_src_rgb)):
    c = 1 if src.ndim == 2 else 3
    h, w = src.shape[:2]
    for ow, oh in ((37, 29), (7, 5), (w * 2, h), (5, 11)):
        t = torch.from_numpy(src.astype(np.float32).reshape(h, w, c)).permute(2, 0, 1)[None]
        ref_t = F.interpolate(t, size=(oh, ow), mode="bilinear", align_corners=False)
        ref_t = ref_t[0].permute(1, 2, 0).contiguous().numpy().astype("<f4")
        ref_p = np.array(Image.fromarray(src, "L" if c == 1 else "RGB").resize((ow, oh), Image.BILINEAR))
        resize_cases.append((f"{name}_{w}x{h}_to_{ow}x{oh}", src.tobytes(), w, h, c, ow, oh,
                             ref_t.tobytes(), ref_p.astype(np.uint8).tobytes()))


def letterbox_reference(src, new_w, new_h, pad):
    """YOLOv5 utils.augmentations.letterbox(auto=False) with torch's bilinear in place of cv2's
    INTER_LINEAR (same half-pixel convention)."""
    h, w = src.shape[:2]
    r = min(new_h / h, new_w / w)
    uw, uh = int(round(w * r)), int(round(h * r))
    dw, dh = (new_w - uw) / 2, (new_h - uh) / 2
    t = torch.from_numpy(src.astype(np.float32))[None, None]
    resized = F.interpolate(t, size=(uh, uw), mode="bilinear", align_corners=False)[0, 0].numpy()
    resized = np.floor(resized + 0.5).clip(0, 255).astype(np.uint8)
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    out = np.pad(resized, ((top, bottom), (left, right)), constant_values=pad)
    return out, r, left, top, uw, uh


lb_src = smooth(13, 19, 1)[..., 0]
lb_out, lb_r, lb_left, lb_top, lb_w, lb_h = letterbox_reference(lb_src, 32, 32, 114)
assert lb_out.shape == (32, 32)


def swift_bytes(name, raw):
    return f'    static let {name} = Data(base64Encoded: "{b64(raw)}")!\n'


lines = [
    "// Generated by training/fixtures_imaging.py; do not edit. Regenerate with:\n",
    "//     python3 training/fixtures_imaging.py\n",
    f"// Pillow {PIL.__version__} (libjpeg-turbo {PIL.features.version_feature('libjpeg_turbo')}), torch {torch.__version__.split('+')[0]}, numpy {np.__version__}.\n",
    "import Foundation\n\n",
    "struct DecodeFixture {\n    let name: String\n    let file: Data\n    let width: Int\n    let height: Int\n",
    "    let channels: Int\n    let bitDepth: Int\n    /// PIL's decode: uint8, or uint16 little-endian.\n    let pixels: Data\n}\n\n",
    "struct ResizeFixture {\n    let name: String\n    let source: Data\n    let width: Int\n    let height: Int\n",
    "    let channels: Int\n    let outWidth: Int\n    let outHeight: Int\n",
    "    /// torch F.interpolate(bilinear, align_corners=False), float32 little-endian, HWC.\n    let torchFloat: Data\n",
    "    /// PIL Image.resize(BILINEAR), uint8 HWC.\n    let pil: Data\n}\n\n",
    "enum ReferenceFixtures {\n",
    "    static let decode: [DecodeFixture] = [\n",
]
for name, data, (w, h, c, d, raw) in decode_cases:
    lines.append(f'        DecodeFixture(name: "{name}", file: Data(base64Encoded: "{b64(data)}")!, '
                 f"width: {w}, height: {h}, channels: {c}, bitDepth: {d},\n"
                 f'                      pixels: Data(base64Encoded: "{b64(raw)}")!),\n')
lines.append("    ]\n\n")
lines.append("    /// The RGB of \"png_rgb8\" through PIL's convert(\"L\").\n")
lines.append(swift_bytes("greyOfRGB8", grey_of_rgb))
lines.append("\n    static let resize: [ResizeFixture] = [\n")
for name, src, w, h, c, ow, oh, rt, rp in resize_cases:
    lines.append(f'        ResizeFixture(name: "{name}", source: Data(base64Encoded: "{b64(src)}")!, '
                 f"width: {w}, height: {h}, channels: {c}, outWidth: {ow}, outHeight: {oh},\n"
                 f'                      torchFloat: Data(base64Encoded: "{b64(rt)}")!,\n'
                 f'                      pil: Data(base64Encoded: "{b64(rp)}")!),\n')
lines.append("    ]\n\n")
lines.append("    /// YOLOv5-style letterbox of a 19 x 13 grey image into 32 x 32, pad 114 (torch bilinear).\n")
lines.append(swift_bytes("letterboxSource", lb_src.tobytes()))
lines.append(swift_bytes("letterboxExpected", lb_out.tobytes()))
lines.append(f"    static let letterboxScale = {lb_r!r}\n")
lines.append(f"    static let letterboxOffset = (x: {lb_left}, y: {lb_top})\n")
lines.append(f"    static let letterboxContent = (width: {lb_w}, height: {lb_h})\n")
lines.append("}\n")
OUT.write_text("".join(lines))
print(f"wrote {OUT.relative_to(REPO)}: {len(decode_cases)} decode, {len(resize_cases)} resize fixtures, "
      f"{OUT.stat().st_size} bytes")
