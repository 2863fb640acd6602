#!/usr/bin/env python3
"""Writes small seed inputs for one fuzz target into a folder (scripts/fuzz calls this).

    make_seeds.py TARGET OUT

The seeds are generated here (Pillow and pydicom when the project venv has them, the standard
library otherwise); scripts/fuzz adds the project's own test files next to them. Nothing here
reads ../shared. Deterministic: the same seeds every run.
"""
import io
import json
import os
import struct
import sys


def write(out, name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


def png_seeds(out):
    try:
        from PIL import Image, PngImagePlugin
    except ImportError:
        print("make_seeds: no Pillow; PNG seeds are the samples only", file=sys.stderr)
        return
    w, h = 7, 5
    grey = [(x * 37 + y * 11) % 256 for y in range(h) for x in range(w)]
    def img(mode, data):
        im = Image.new(mode, (w, h))
        im.putdata(data)
        return im
    cases = {
        "L": img("L", grey),
        "LA": img("LA", [(v, 255 - v) for v in grey]),
        "RGB": img("RGB", [(v, 255 - v, v // 2) for v in grey]),
        "RGBA": img("RGBA", [(v, 255 - v, v // 2, 128) for v in grey]),
        "I16": img("I;16", [v * 257 for v in grey]),
        "1bit": img("1", [v > 127 for v in grey]),
        "P": img("L", grey).convert("P"),
    }
    for name, im in cases.items():
        b = io.BytesIO(); im.save(b, "PNG"); write(out, f"{name}.png", b.getvalue())
    # Adam7 interlaced, tRNS, and text chunks (skipped unread by the decoder).
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "seed"); info.add_text("Software", "x" * 40, zip=True)
    b = io.BytesIO(); cases["L"].save(b, "PNG", pnginfo=info); write(out, "text.png", b.getvalue())
    b = io.BytesIO(); cases["RGB"].save(b, "PNG", transparency=(0, 255, 0)); write(out, "trns.png", b.getvalue())
    # 16-bit RGB and Adam7 are not written by Pillow: build them from raw chunks.
    import zlib
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    sig = b"\x89PNG\r\n\x1a\n"
    raw = b"".join(b"\x00" + b"".join(struct.pack(">HHH", v * 257, 65535 - v * 257, v) for v in grey[y * w:(y + 1) * w]) for y in range(h))
    write(out, "rgb16.png", sig + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    # Adam7: 7 passes of a 2x2 grey image (pass 1 holds pixel (0,0), pass 6 (1,0), pass 7 row 1).
    adam = b"\x00\x10" + b"\x00\x20" + b"\x00\x30\x40"
    write(out, "adam7.png", sig + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 1)) + chunk(b"IDAT", zlib.compress(adam)) + chunk(b"IEND", b""))


def jpeg_seeds(out):
    try:
        from PIL import Image
    except ImportError:
        print("make_seeds: no Pillow; JPEG seeds are the samples only", file=sys.stderr)
        return
    w, h = 24, 16
    rgb = Image.new("RGB", (w, h))
    rgb.putdata([((x * 10) % 256, (y * 15) % 256, ((x + y) * 7) % 256) for y in range(h) for x in range(w)])
    grey = rgb.convert("L")
    def save(name, im, **kw):
        b = io.BytesIO(); im.save(b, "JPEG", **kw); write(out, name, b.getvalue())
    save("grey.jpg", grey, quality=80)
    save("rgb420.jpg", rgb, quality=75)
    save("rgb444.jpg", rgb, quality=95, subsampling=0)
    save("progressive.jpg", rgb, quality=70, progressive=True)
    save("cmyk.jpg", rgb.convert("CMYK"), quality=70)
    for o in range(1, 9):
        exif = Image.Exif(); exif[0x0112] = o
        save(f"exif{o}.jpg", grey, quality=80, exif=exif.tobytes())


def dicom_seeds(out):
    try:
        import numpy as np
        import pydicom
        from pydicom.dataset import Dataset, FileMetaDataset
        from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid
    except ImportError:
        print("make_seeds: no pydicom/numpy; DICOM seeds are the fetched samples only", file=sys.stderr)
        return
    def make(name, bits, signed, photometric, syntax, window=None, rescale=None, samples=1):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"
        meta.MediaStorageSOPInstanceUID = "1.2.3.4.5.6"
        meta.TransferSyntaxUID = syntax
        ds = Dataset(); ds.file_meta = meta
        ds.PatientID = "FUZZ-1"; ds.PatientSex = "F"; ds.PatientAge = "034Y"; ds.Modality = "CR"
        ds.Rows, ds.Columns = 6, 5
        ds.SamplesPerPixel = samples; ds.PhotometricInterpretation = photometric
        ds.BitsAllocated = bits; ds.BitsStored = 12 if bits == 16 else 8; ds.HighBit = ds.BitsStored - 1
        ds.PixelRepresentation = 1 if signed else 0
        ds.PixelSpacing = [0.1, 0.1]
        if samples == 3: ds.PlanarConfiguration = 0
        if window: ds.WindowCenter, ds.WindowWidth = window
        if rescale: ds.RescaleSlope, ds.RescaleIntercept = rescale
        dtype = {(8, False): np.uint8, (16, False): np.uint16, (16, True): np.int16}[(bits, signed)]
        arr = (np.arange(30 * samples) * 97 % (1 << ds.BitsStored)).astype(dtype)
        if signed: arr = arr - 2000
        ds.PixelData = arr.astype(dtype).tobytes()
        b = io.BytesIO()
        pydicom.dcmwrite(b, ds, enforce_file_format=True, implicit_vr=syntax == ImplicitVRLittleEndian, little_endian=True)
        write(out, name, b.getvalue())
    make("mono2-16.dcm", 16, False, "MONOCHROME2", ExplicitVRLittleEndian, window=(2048, 4096))
    make("mono1-16.dcm", 16, False, "MONOCHROME1", ExplicitVRLittleEndian, rescale=(2, -100))
    make("signed-16.dcm", 16, True, "MONOCHROME2", ImplicitVRLittleEndian, window=(0, 400), rescale=(1, -1024))
    make("mono2-8.dcm", 8, False, "MONOCHROME2", ImplicitVRLittleEndian)
    make("rgb-8.dcm", 8, False, "RGB", ExplicitVRLittleEndian, samples=3)


def safetensors_seeds(out):
    def st(tensors, metadata=None):
        header, blob = {}, b""
        if metadata: header["__metadata__"] = metadata
        for name, (dtype, shape, data) in tensors.items():
            header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
            blob += data
        h = json.dumps(header).encode()
        h += b" " * (-(8 + len(h)) % 8)
        return struct.pack("<Q", len(h)) + h + blob
    f32 = struct.pack("<6f", 0.5, -1.0, 2.0, 3.25, 0.0, 1e-3)
    write(out, "f32.safetensors", st({"w": ("F32", [2, 3], f32), "b": ("F32", [3], f32[:12])}, {"format": "pt"}))
    write(out, "f16.safetensors", st({"h": ("F16", [4], struct.pack("<4H", 0x3C00, 0xC000, 0x0001, 0x7BFF))}))
    write(out, "bf16.safetensors", st({"b": ("BF16", [2], struct.pack("<2H", 0x3F80, 0xC040))}))
    write(out, "ints.safetensors", st({"i64": ("I64", [2], struct.pack("<2q", -3, 7)), "i32": ("I32", [1], struct.pack("<i", 9)),
                                       "u8": ("U8", [3], b"\x00\x7f\xff")}))
    write(out, "scalar-empty.safetensors", st({"s": ("F32", [], struct.pack("<f", 1.0)), "e": ("F32", [0, 4], b"")}))
    write(out, "nan.safetensors", st({"n": ("F32", [2], struct.pack("<2f", float("nan"), 1.0))}))


def casejson_seeds(out):
    base = {"format": "tumorboard-case", "format_version": 1, "id": "FUZZ-1", "age": 30, "sex": "F", "site": "femur",
            "label": "benign", "synthetic": True, "description": "fuzz seed",
            "radiographs": [{"file": "r.png", "view": "AP", "acquired": "2024-02-29",
                             "sha256": "0" * 64, "boxes": [{"x0": 1, "y0": 2, "x1": 30, "y1": 40}]}],
            "slides": [{"slide_id": "S1", "block": "A1", "stain": "HE", "file": "s.jpg"}],
            "labs": [{"marker": "alp", "value": 120.5, "unit": "U/L", "date": "2024-01-02"}],
            "findings": [{"created_at": "2024-03-01T10:00:00Z", "models": {"detector": "abc"},
                          "probabilities": {"benign": 0.7, "malignant": 0.3}, "modalities": ["image"], "note": "n"}],
            "review": {"note": "ok", "signed_off_by": "dr", "signed_off_at": "2024-03-02"}}
    write(out, "full.json", json.dumps(base, indent=1).encode())
    write(out, "minimal.json", b'{"format":"tumorboard-case","format_version":1,"id":"A"}')
    write(out, "duplicate.json", b'{"format":"tumorboard-case","format_version":1,"id":"A","id":"B"}')
    write(out, "escapes.json", b'{"format":"tumorboard-case","format_version":1,"id":"A","site":"f\\u00e9mur \\ud83e\\uddb4","clinical_note":"a\\"b\\\\c\\n"}')
    # Regression (session 9): a probability whose digits JSONSerialization's doubleValue read a unit in the last
    # place off, so the manifest round trip changed it (jsonNumber in Cases/CaseFolder.swift); long digit strings on both sides.
    digits = json.dumps(base).replace('"malignant": 0.3', '"malignant": 2222222222222222222222222220.3')
    digits = digits.replace('"value": 120.5', '"value": 0.12345678901234567890123')
    assert "2222222222222222222222222220.3" in digits and "0.12345678901234567890123" in digits
    write(out, "double_digits.json", digits.encode())


def labs_seeds(out):
    labs = [{"marker": "alp", "value": 120, "unit": "U/L", "date": "2024-01-02"},
            {"marker": "ldh", "value": 250.5, "unit": "U/L"},
            {"marker": "calcium", "value": 2.4, "unit": "mmol/L", "date": None}]
    write(out, "list.json", json.dumps(labs).encode())
    write(out, "object.json", json.dumps({"labs": labs}).encode())
    write(out, "wrong.json", b'[{"marker":"alp","value":"812","unit":"U/L"},{"marker":true,"value":null}]')


def main():
    target, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    {"png": png_seeds, "jpeg": jpeg_seeds, "dicom": dicom_seeds, "safetensors": safetensors_seeds,
     "casejson": casejson_seeds, "labs": labs_seeds}[target](out)


if __name__ == "__main__":
    main()
