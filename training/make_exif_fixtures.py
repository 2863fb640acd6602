"""Writes JPEGs with each EXIF orientation (1-8) and what Pillow shows for them.

    python training/make_exif_fixtures.py OUT

For each orientation N: OUT/exif-N-grey.jpg and OUT/exif-N-rgb.jpg (a 24 x 16 picture with no
symmetry, stored as the camera would, the Orientation tag set to N), and OUT/exif-N-grey.png,
OUT/exif-N-rgb.png: Pillow's `ImageOps.exif_transpose` of the decoded JPEG, saved losslessly.
Tests/ImagingTests/EXIFOrientationTests.swift runs this at test time and checks that
ImageDecoder shows every JPEG as Pillow does. Nothing is committed.
"""
import sys
from pathlib import Path

from PIL import Image, ImageOps


def picture(mode):
    w, h = 24, 16
    im = Image.new("RGB", (w, h))
    # A gradient in x, another in y, and a bright mark near the top-left corner: every
    # rotation and mirror gives a different picture.
    im.putdata([((x * 10) % 256, (y * 15) % 256, 255 if (x < 6 and y < 4) else 40) for y in range(h) for x in range(w)])
    return im if mode == "rgb" else im.convert("L")


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for orientation in range(1, 9):
        for mode in ("grey", "rgb"):
            exif = Image.Exif()
            exif[0x0112] = orientation
            jpg = out / f"exif-{orientation}-{mode}.jpg"
            # 4:4:4 at high quality: chroma subsampling would blur the marks the test compares.
            picture(mode).save(jpg, "JPEG", quality=95, subsampling=0, exif=exif.tobytes())
            with Image.open(jpg) as im:
                shown = ImageOps.exif_transpose(im)
                shown.save(out / f"exif-{orientation}-{mode}.png")


if __name__ == "__main__":
    main()
