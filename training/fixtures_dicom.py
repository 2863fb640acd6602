"""Expected DICOM decoding for the Swift Cases tests, computed with pydicom.

Writes Tests/CasesTests/DICOMFixtures.swift (generated; do not edit) from the files that
scripts/fetch-dicom-samples unpacks into .build/dicom-samples/. For each file: geometry, bit
layout, photometric interpretation, rescale, window, pixel spacing, patient age/sex, the sum,
minimum and maximum of pydicom's `pixel_array` (stored values, signed where
PixelRepresentation is 1), the stored value and modality value (`apply_modality_lut`) at 64
fixed positions, and the 8-bit display value there through the linear VOI function of
PS3.3 C.11.2.1.2.1 (inverted afterwards for MONOCHROME1).

Run:  python3 -m pip install pydicom==3.0.2 pydicom-data==1.0.0 numpy
      scripts/fetch-dicom-samples && python3 training/fixtures_dicom.py
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pydicom
from pydicom.pixels import apply_modality_lut, apply_voi_lut

REPO = Path(__file__).resolve().parent.parent
SAMPLES = Path(os.environ.get("TUMORBOARD_DICOM_SAMPLES", REPO / ".build" / "dicom-samples"))
OUT = REPO / "Tests" / "CasesTests" / "DICOMFixtures.swift"
FILES = ["CT_small.dcm", "MR_small.dcm", "MR_small_implicit.dcm", "RG3_UNCR.dcm"]
# The shipped sample (made by the project, not fetched): the DICOM the README's first command shows.
SHIPPED = {"radiograph.dcm": REPO / "samples" / "SAMPLE-07-DICOM-OSTEOFIBROMA" / "radiograph.dcm"}


def pydicom_display(ds, pos) -> list[int]:
    """What a viewer shows by default, by pydicom itself: apply_modality_lut, apply_voi_lut (the
    file's first window; without one, the modality values' own range), MONOCHROME1 inverted,
    then the output range mapped to 0..255 and rounded."""
    m = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
    if ds.get("WindowCenter") is not None and ds.get("WindowWidth") is not None:
        v = apply_voi_lut(m, ds, index=0).astype(np.float64)
        if ds.PixelRepresentation == 0:
            y_min, y_max = 0.0, float(2 ** int(ds.BitsStored) - 1)
        else:
            y_min, y_max = float(-(2 ** (int(ds.BitsStored) - 1))), float(2 ** (int(ds.BitsStored) - 1) - 1)
    else:
        v, y_min, y_max = m, float(m.min()), float(m.max())
    out = np.clip(np.floor((v - y_min) / max(y_max - y_min, 1e-9) * 255 + 0.5), 0, 255)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        out = 255 - out
    return [int(out[y, x]) for x, y in pos]


def positions(rows: int, cols: int) -> list[tuple[int, int]]:
    return [((k * 53 + 7) % cols, (k * 37 + 3) % rows) for k in range(64)]


def display(x: float, c: float, w: float, invert: bool) -> int:
    lo, hi = c - 0.5 - (w - 1) / 2, c - 0.5 + (w - 1) / 2
    if x <= lo:
        y = 0
    elif x > hi:
        y = 255
    else:
        y = int(math.floor(((x - (c - 0.5)) / (w - 1) + 0.5) * 255 + 0.5))
    y = min(max(y, 0), 255)
    return 255 - y if invert else y


def first(v):
    if v is None:
        return None
    if isinstance(v, pydicom.multival.MultiValue):
        return float(v[0])
    return float(v)


def entry(name: str) -> str:
    ds = pydicom.dcmread(SHIPPED.get(name, SAMPLES / name))
    arr = ds.pixel_array.astype(np.int64)
    modality = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    wc, ww = first(ds.get("WindowCenter")), first(ds.get("WindowWidth"))
    if wc is None or ww is None:
        lo, hi = float(modality.min()), float(modality.max())
        wc, ww = (lo + hi + 1) / 2, max(1.0, hi - lo + 1)
    invert = ds.PhotometricInterpretation == "MONOCHROME1"
    pos = positions(int(ds.Rows), int(ds.Columns))
    stored = [int(arr[y, x]) for x, y in pos]
    mod = [float(modality[y, x]) for x, y in pos]
    disp = [display(m, wc, ww, invert) for m in mod]
    spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
    sex = ds.get("PatientSex") or ""
    return f"""        DICOMExpected(
            file: "{name}", transferSyntax: "{ds.file_meta.TransferSyntaxUID}",
            rows: {ds.Rows}, columns: {ds.Columns}, bitsAllocated: {ds.BitsAllocated}, bitsStored: {ds.BitsStored},
            pixelRepresentation: {ds.PixelRepresentation}, photometric: "{ds.PhotometricInterpretation}",
            slope: {slope!r}, intercept: {intercept!r}, windowCenter: {wc!r}, windowWidth: {ww!r},
            spacing: {"nil" if spacing is None else f"[{float(spacing[0])!r}, {float(spacing[1])!r}]"},
            sex: {'"' + sex + '"' if sex in ("F", "M") else "nil"},
            storedSum: {int(arr.sum())}, storedMin: {int(arr.min())}, storedMax: {int(arr.max())},
            positions: {[list(p) for p in pos]},
            stored: {stored},
            modality: {mod},
            display: {disp},
            pydicomDisplay: {pydicom_display(ds, pos)}),
"""


def main() -> None:
    missing = [f for f in FILES if not (SAMPLES / f).exists()]
    if missing:
        raise SystemExit(f"missing {missing} in {SAMPLES}: run scripts/fetch-dicom-samples first")
    body = "".join(entry(f) for f in FILES + list(SHIPPED))
    OUT.write_text(f"""// Generated by training/fixtures_dicom.py (pydicom {pydicom.__version__}, numpy {np.__version__}); do not edit.
// Expected decoding of the DICOM files that scripts/fetch-dicom-samples fetches.

struct DICOMExpected {{
    let file: String
    let transferSyntax: String
    let rows: Int, columns: Int, bitsAllocated: Int, bitsStored: Int, pixelRepresentation: Int
    let photometric: String
    let slope: Double, intercept: Double, windowCenter: Double, windowWidth: Double
    let spacing: [Double]?
    let sex: String?
    let storedSum: Int, storedMin: Int, storedMax: Int
    /// (x, y)
    let positions: [[Int]]
    let stored: [Int]
    let modality: [Double]
    let display: [Int]
    /// pydicom's own rendering (apply_modality_lut, apply_voi_lut, MONOCHROME1 inverted) mapped to 0...255.
    let pydicomDisplay: [Int]
}}

/// The fetched files, then the shipped sample (samples/SAMPLE-07-DICOM-OSTEOFIBROMA/radiograph.dcm, always present).
let dicomExpected: [DICOMExpected] = [
{body}]
""")
    print(f"wrote {OUT.relative_to(REPO)} ({len(FILES)} files)")


if __name__ == "__main__":
    main()
