"""Regenerates samples/: the case folders that ship with TumorBoard. No patient data.

Each sample is a case folder (docs/case-format.md): case.json next to a radiograph made by a
procedural phantom (below) and, where the case has one, an H&E-like slide tile from the cohort
generator (training/pathology.py `render_tile`). Lab values are invented to show the panel
(normal, raised, low). Every manifest says it is synthetic and not a patient.

The phantom draws a long bone in a limb: soft tissue with a skin edge, a shaft whose cortex is
a bright band, a medullary cavity filled with trabecular texture (band-pass noise, streaked
along the bone), a flared metaphysis and epiphysis (with a growth plate in children), and one
lesion of the kind asked for: an osteochondroma (exostosis continuous with the cortex), a
simple bone cyst (central, well-defined lucency, thinned cortex), a giant cell tumour
(eccentric epiphyseal lucency with septa), an osteosarcoma (mixed lytic/sclerotic metaphyseal
lesion with a sunburst periosteal reaction and a soft-tissue mass), or none. Then blur, a heel-
effect gradient and quantum noise. It is a teaching picture, not a simulation of X-ray physics.

Run:  python3 training/make_samples.py      (numpy, Pillow; about 5 s)
Deterministic: same seeds, same bytes (PNG and JPEG written by Pillow 13).
"""
from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "training"))
from pathology import render_tile  # noqa: E402

OUT = REPO / "samples"
SIZE = 320


def blur(a: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur through the FFT, on a mirror-padded copy so edges do not wrap."""
    pad = int(3 * sigma) + 2
    a = np.pad(a, pad, mode="reflect")
    h, w = a.shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    g = np.exp(-2 * (np.pi ** 2) * (sigma ** 2) * (fx ** 2 + fy ** 2))
    return np.real(np.fft.ifft2(np.fft.fft2(a) * g))[pad:-pad, pad:-pad]


def smoothstep(e0, e1, x):
    t = np.clip((x - e0) / (e1 - e0), 0, 1)
    return t * t * (3 - 2 * t)


def phantom(lesion: str, seed: int, child: bool, joint_at_top: bool = False, bits: int = 8):
    """Returns (image array, [lesion boxes as (x0, y0, x1, y1)])."""
    rng = np.random.default_rng(seed)
    n = SIZE
    y, x = np.mgrid[0:n, 0:n].astype(np.float64)
    if joint_at_top:
        y = n - 1 - y  # draw as if the joint were at the bottom, then flip back
    cx = n / 2 + rng.normal(0, 4)
    # Limb soft tissue: a wide band, slightly wider near the joint.
    limb_half = 105 + 18 * smoothstep(150, 300, y)
    tissue = smoothstep(0, 6, limb_half - np.abs(x - cx))
    # Bone: shaft half-width 26 px, flaring to 62 px at the joint end (y ~ 250..300).
    half = 26 + 36 * smoothstep(170, 265, y) ** 1.5
    end = 300.0
    # Rounded joint end: two condyle-like bulges with a shallow notch between them.
    u = np.clip((x - cx) / half, -1, 1)
    end_y = end - 34 + 34 * np.sqrt(np.clip(1 - u ** 2, 0, 1)) ** 0.6 - 6 * np.exp(-(u / 0.18) ** 2)
    d = np.minimum(half - np.abs(x - cx), end_y - y)  # distance inside the bone edge (approximate)
    bone = smoothstep(-1.5, 1.5, d)
    cortex_t = 9 * (1 - 0.75 * smoothstep(170, 250, y))  # thick shaft cortex, thin at the metaphysis
    cortex_t = np.where(y > end - 40, np.minimum(cortex_t, 3.5), cortex_t)  # thin subchondral plate
    cortex = bone * (1 - smoothstep(cortex_t - 1.5, cortex_t + 1.5, d))
    # Trabecular texture: band-pass noise stretched along the bone.
    noise = rng.normal(0, 1, (n, n))
    trab = blur(noise, 1.2) - blur(noise, 4.0)
    trab = blur(np.repeat(trab[::2, :], 2, axis=0), 0.6)
    trab = (trab - trab.mean()) / (trab.std() + 1e-9)
    medulla = bone * (1 - cortex)
    dens = 0.18 + 0.5 * smoothstep(170, 280, y)    # more cancellous bone towards the joint
    img = 0.06 + 0.22 * tissue + medulla * (0.30 + dens * 0.25 + 0.08 * trab * dens) + cortex * 0.78
    if child:  # growth plate: a dark wavy line across the end of the bone
        plate_y = 268 + 3 * np.sin(x / 9.0)
        img -= 0.22 * bone * np.exp(-((y - plate_y) ** 2) / 6.0)
    boxes = []

    def box(xc, yc, rx, ry):
        yy0, yy1 = yc - ry, yc + ry
        if joint_at_top:
            yy0, yy1 = n - 1 - yy1, n - 1 - yy0
        boxes.append((int(max(0, xc - rx)), int(max(0, yy0)), int(min(n, xc + rx + 1)), int(min(n, yy1 + 1))))

    side = 1 if rng.random() < 0.5 else -1
    if lesion == "osteochondroma":
        # A bony stalk from the metaphyseal cortex, pointing away from the joint.
        base_y = 215.0
        bx = cx + side * (26 + 36 * smoothstep(170, 265, base_y) ** 1.5)
        t = np.linspace(0, 1, 60)
        for ti in t:
            px = bx + side * 38 * ti
            py = base_y - 30 * ti
            r = 9 * (1 - 0.5 * ti) + 5 * ti ** 6
            m = np.exp(-(((x - px) ** 2 + (y - py) ** 2) / (2 * r ** 2)) ** 2)
            img = np.maximum(img, 0.06 + 0.22 * tissue + m * (0.45 + 0.06 * trab))
        cap_m = np.exp(-((x - (bx + side * 40)) ** 2 + (y - (base_y - 32)) ** 2) / (2 * 8.0 ** 2))
        img += 0.12 * cap_m
        box(bx + side * 22, base_y - 18, 28, 26)
    elif lesion == "bone_cyst":
        yc, ry, rx = 185.0, 34.0, 22.0
        r = ((x - cx) / rx) ** 2 + ((y - yc) / ry) ** 2
        m = smoothstep(1.05, 0.85, r)
        img = img - m * medulla * (0.25 + 0.08 * trab * dens) - m * cortex * 0.25
        box(cx, yc, rx + 4, ry + 2)
    elif lesion == "giant_cell_tumor":
        xc, yc = cx + side * 30, 262.0
        r = ((x - xc) / 30) ** 2 + ((y - yc) / 26) ** 2
        m = smoothstep(1.1, 0.8, r) * bone
        septa = 0.5 + 0.5 * np.cos((x - xc) / 3.5 + 2 * np.sin((y - yc) / 7))
        img = img - m * (0.26 + 0.08 * trab) + m * 0.05 * (septa > 0.92)
        box(xc, yc, 31, 27)
    elif lesion == "osteosarcoma":
        xc, yc = cx + side * 6, 228.0
        r = ((x - xc) / 48) ** 2 + ((y - yc) / 38) ** 2
        m = smoothstep(1.2, 0.6, r)
        blotch = blur(rng.normal(0, 1, (n, n)), 3.0)
        blotch = blotch / (blotch.std() + 1e-9)
        img = img + m * bone * (0.22 * blotch - 0.05)
        # Sunburst: spicules radiating from the lesion through a soft-tissue mass.
        ang = np.arctan2(y - yc, x - xc)
        rad = np.hypot((x - xc) / 1.0, (y - yc) / 0.85)
        spic = (np.cos(ang * 38 + rng.uniform(0, 6)) > 0.55) * smoothstep(95, 55, rad) * (rad > 40)
        mass = smoothstep(100, 75, rad) * (1 - bone)
        img = img + 0.08 * mass + 0.18 * spic * (1 - bone) * mass
        box(xc, yc, 70, 60)
    elif lesion == "cortical_lucency":
        # Osteofibrous-dysplasia-like: an eccentric, elongated lucency in the diaphyseal
        # cortex with a sclerotic rim.
        xc, yc = cx + side * 22, 120.0
        r = ((x - xc) / 11) ** 2 + ((y - yc) / 42) ** 2
        inner = smoothstep(1.0, 0.75, r)
        rim = np.exp(-((r - 1.05) ** 2) / 0.02) * bone
        img = img - inner * bone * 0.35 + rim * 0.10
        box(xc, yc, 14, 46)
    elif lesion != "none":
        raise ValueError(lesion)
    img = blur(img, 0.9)
    heel = 1.0 - 0.10 * (y / n)
    img = img * heel
    img = img + rng.normal(0, 0.012, img.shape)
    img = np.clip(img, 0, 1)
    if bits == 16:
        # Keep 12 significant bits (as a detector would), stored in 16-bit samples.
        return (np.round(img * 4095) * 16).astype(np.uint16), boxes
    return np.round(img * 255).astype(np.uint8), boxes


def uid(name: str) -> str:
    """A UUID-derived DICOM UID (2.25.<128-bit integer>), fixed by `name`."""
    return "2.25." + str(int(hashlib.sha256(name.encode()).hexdigest()[:32], 16))


def write_dicom(path: Path, pixels: np.ndarray, tags: dict) -> None:
    """A minimal uncompressed DICOM file (Explicit VR Little Endian), MONOCHROME1, 12 bits
    stored in 16. Enough for TumorBoard's reader and pydicom; not a full IOD."""
    import struct

    def el(group, elem, vr, value: bytes) -> bytes:
        if len(value) % 2:
            value += b"\0" if vr in ("UI", "OB") else b" "
        if vr in ("OB", "OW", "SQ", "UN", "UT"):
            return struct.pack("<HH2sHI", group, elem, vr.encode(), 0, len(value)) + value
        return struct.pack("<HH2sH", group, elem, vr.encode(), len(value)) + value

    def us(v):
        return struct.pack("<H", v)

    sop_class = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation
    instance = uid(tags["id"] + "/instance")
    meta_body = (el(2, 1, "OB", b"\0\1") + el(2, 2, "UI", sop_class.encode()) + el(2, 3, "UI", instance.encode())
                 + el(2, 0x10, "UI", b"1.2.840.10008.1.2.1") + el(2, 0x12, "UI", uid("TumorBoard make_samples").encode()))
    meta = el(2, 0, "UL", struct.pack("<I", len(meta_body))) + meta_body
    rows, cols = pixels.shape
    body = b"".join([
        el(8, 0x16, "UI", sop_class.encode()), el(8, 0x18, "UI", instance.encode()),
        el(8, 0x20, "DA", tags["study_date"].encode()), el(8, 0x60, "CS", b"DX"),
        el(8, 0x70, "LO", b"TumorBoard make_samples.py (synthetic phantom)"),
        el(0x10, 0x10, "PN", tags["name"].encode()), el(0x10, 0x20, "LO", tags["id"].encode()),
        el(0x10, 0x40, "CS", tags["sex"].encode()), el(0x10, 0x1010, "AS", f"{tags['age']:03d}Y".encode()),
        el(0x18, 0x15, "CS", tags["body_part"].encode()), el(0x18, 0x5101, "CS", b"AP"),
        el(0x20, 0xD, "UI", uid(tags["id"] + "/study").encode()), el(0x20, 0xE, "UI", uid(tags["id"] + "/series").encode()),
        el(0x28, 2, "US", us(1)), el(0x28, 4, "CS", b"MONOCHROME1"),
        el(0x28, 0x10, "US", us(rows)), el(0x28, 0x11, "US", us(cols)),
        el(0x28, 0x30, "DS", tags["spacing"].encode()),
        el(0x28, 0x100, "US", us(16)), el(0x28, 0x101, "US", us(12)), el(0x28, 0x102, "US", us(11)),
        el(0x28, 0x103, "US", us(0)),
        el(0x28, 0x1050, "DS", str(tags["window"][0]).encode()), el(0x28, 0x1051, "DS", str(tags["window"][1]).encode()),
        el(0x28, 0x1052, "DS", b"0"), el(0x28, 0x1053, "DS", b"1"),
        el(0x7FE0, 0x10, "OW", pixels.astype("<u2").tobytes()),
    ])
    path.write_bytes(b"\0" * 128 + b"DICM" + meta + body)


SAMPLES = [
    dict(id="SAMPLE-01-OSTEOCHONDROMA", label="benign", subtype="osteochondroma", age=14, sex="M",
         site="femur", lesion="osteochondroma", seed=11, child=True, slide=("osteochondroma", 11),
         labs=[("alp", 390, "U/L"), ("ldh", 210, "U/L"), ("calcium", 9.6, "mg/dL"), ("crp", 1.2, "mg/L")],
         note="Hard painless lump above the knee for a year; no night pain.",
         what="a distal femur with a pedunculated osteochondroma-like exostosis"),
    dict(id="SAMPLE-02-GIANT-CELL-TUMOUR", label="intermediate", subtype="giant cell tumor", age=29, sex="F",
         site="tibia", lesion="giant_cell_tumor", seed=22, child=False, joint_at_top=True,
         slide=("giant cell tumor", 22),
         labs=[("alp", 96, "U/L"), ("calcium", 2.35, "mmol/L"), ("phosphate", 3.4, "mg/dL"), ("wbc", 6.8, "10^9/L")],
         note="Knee pain for four months, worse on weight bearing.",
         what="a proximal tibia with an eccentric epiphyseal lucency like a giant cell tumour"),
    dict(id="SAMPLE-03-OSTEOSARCOMA", label="malignant", subtype="osteosarcoma", age=15, sex="M",
         site="femur", lesion="osteosarcoma", seed=33, child=True, slide=("osteosarcoma", 33), bits=16,
         labs=[("alp", 812, "U/L"), ("ldh", 690, "U/L"), ("calcium", 9.9, "mg/dL"), ("esr", 38, "mm/h"),
               ("haemoglobin", 12.1, "g/dL")],
         note="Night pain and swelling of the distal thigh for six weeks.",
         what="a distal femur with a mixed lytic and sclerotic metaphyseal lesion and a sunburst periosteal reaction like an osteosarcoma (16-bit radiograph)"),
    dict(id="SAMPLE-04-NO-LESION", label="normal", subtype=None, age=31, sex="F", site="tibia",
         lesion="none", seed=44, child=False, joint_at_top=True, slide=None,
         labs=[("alp", 70, "U/L"), ("crp", 3.0, "mg/L"), ("wbc", 5.9, "10^9/L")],
         note="Knee sprain; radiograph to exclude a fracture.",
         what="a proximal tibia without a lesion"),
    dict(id="SAMPLE-05-BONE-CYST-NO-SLIDE", label="benign", subtype="simple bone cyst", age=10, sex="M",
         site="humerus", lesion="bone_cyst", seed=55, child=True, slide=None,
         labs=[("alp", 300, "U/L"), ("calcium", 9.3, "mg/dL"), ("haemoglobin", 12.9, "g/dL")],
         note="Arm pain after a fall at school; no biopsy taken.",
         what="a long bone with a central, well-defined lucency like a simple bone cyst; no slide (none taken)"),
    dict(id="SAMPLE-06-MALIGNANT-NO-LABS", label="malignant", subtype="other mt", age=57, sex="F",
         site="femur", lesion="osteosarcoma", seed=66, child=False, slide=("other mt", 66), labs=[],
         note="Thigh pain and a mass; blood tests not yet back.",
         what="a distal femur with an aggressive lesion; no lab panel yet"),
    dict(id="SAMPLE-07-DICOM-OSTEOFIBROMA", label="benign", subtype="osteofibroma", age=None, sex=None,
         site="tibia", lesion="cortical_lucency", seed=77, child=True, slide=None, dicom=True,
         dicom_tags=dict(name="SYNTHETIC^PHANTOM", age=16, sex="M", study_date="20260115", body_part="TIBIA",
                         spacing="0.2\\0.2", window=(2048, 4096)),
         labs=[("alp", 420, "U/L"), ("calcium", 9.4, "mg/dL")],
         note="Painless anterior bowing of the shin.",
         what=("a tibial shaft with an eccentric cortical lucency like an osteofibrous dysplasia, written as an "
               "uncompressed DICOM file (MONOCHROME1, 12 of 16 bits; age and sex come from its patient tags, "
               "which name a phantom, not a person)")),
]


def sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def main() -> None:
    if OUT.exists():
        for child in OUT.iterdir():
            if child.is_dir() and child.name.startswith("SAMPLE-"):
                shutil.rmtree(child)
    OUT.mkdir(exist_ok=True)
    for s in SAMPLES:
        folder = OUT / s["id"]
        folder.mkdir()
        bits = s.get("bits", 8)
        if s.get("dicom"):
            img, boxes = phantom(s["lesion"], s["seed"], s["child"], s.get("joint_at_top", False), 16)
            stored = 4095 - (img // 16)  # MONOCHROME1: bone (bright on display) has low stored values
            write_dicom(folder / "radiograph.dcm", stored, dict(s["dicom_tags"], id=s["id"]))
            image_name = "radiograph.dcm"
            try:  # cross-check with pydicom when it is installed
                import pydicom
                ds = pydicom.dcmread(folder / image_name)
                assert (ds.pixel_array == stored).all() and ds.PhotometricInterpretation == "MONOCHROME1"
            except ImportError:
                pass
        else:
            img, boxes = phantom(s["lesion"], s["seed"], s["child"], s.get("joint_at_top", False), bits)
            image_name = "radiograph.png"
            Image.fromarray(img).save(folder / image_name, optimize=True)
        desc = (f"Synthetic sample, not a patient. Radiograph: a procedural phantom (training/make_samples.py) of "
                f"{s['what']}.")
        m = {
            "format": "tumorboard-case", "format_version": 1, "id": s["id"], "synthetic": True,
            "site": s["site"], "clinical_note": s["note"],
            "label": s["label"],
            "radiographs": [{"file": image_name, "view": "frontal", "acquired": "2026-01-15",
                             "sha256": sha256(folder / image_name),
                             "boxes": [dict(zip(("x0", "y0", "x1", "y1"), b)) for b in boxes]}],
            "slides": [], "labs": [],
        }
        if s["age"] is not None:
            m["age"], m["sex"] = s["age"], s["sex"]
        if s["subtype"]:
            m["subtype"] = s["subtype"]
        if s["slide"]:
            subtype, seed = s["slide"]
            tile = render_tile(subtype, seed, 256)
            Image.fromarray(tile).save(folder / "slide-A1.jpg", quality=88, optimize=True)
            m["slides"].append({"slide_id": f"{s['id']}-S1", "block": "A1", "stain": "H&E", "file": "slide-A1.jpg",
                                "sha256": sha256(folder / "slide-A1.jpg"),
                                "entered_by": "make_samples.py", "entered_at": "2026-01-20T09:00:00Z"})
            desc += f" Slide: a generated H&E-like tile, training/pathology.py render_tile({subtype!r}, {seed})."
        if s["labs"]:
            m["labs"] = [{"marker": k, "value": v, "unit": u, "date": "2026-01-14"} for k, v, u in s["labs"]]
            desc += " Lab values: invented for the example."
        m["description"] = desc
        (folder / "case.json").write_text(json.dumps(m, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {len(SAMPLES)} samples to {OUT.relative_to(REPO)} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
