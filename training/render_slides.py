"""Writes the GENERATED slide tile of every cohort image with a slide, as 256-pixel PNGs named
<image_id>.png, for `tumorboard eval --slides DIR` (the Swift evaluation cannot run the Python
generator). Deterministic: the same manifest row gives the same bytes (pathology.render_tile).
The tiles are generated, never real slides, and derived from no image; still, write them outside
the repository (they are regenerated in seconds).

    python training/render_slides.py --out DIR [--split test] [--manifest training/cohort_manifest.csv]
"""
import argparse
import sys
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cohort  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--split", default="test", help="a split of the manifest, or 'all'")
    ap.add_argument("--manifest", type=Path, default=None)
    a = ap.parse_args(argv)
    rows = [r for r in cohort.load_manifest(a.manifest) if r["has_slide"] and (a.split == "all" or r["split"] == a.split)]
    a.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time(); written = 0
    for r in rows:
        p = a.out / f"{r['image_id']}.png"
        if p.exists():
            continue
        tmp = p.with_suffix(".png.tmp")
        Image.fromarray(cohort.tile_for(r, size=256)).save(tmp, format="PNG")
        tmp.replace(p)
        written += 1
    print(f"render_slides: {len(rows)} tiles for split {a.split} in {a.out} ({written} written, {time.time() - t0:.1f} s)")


if __name__ == "__main__":
    main()
