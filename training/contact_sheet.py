"""Contact sheet of GENERATED tiles per subtype next to the real TCIA Osteosarcoma-UT tiles,
and a colour-statistics comparison (generated vs real).

    python training/contact_sheet.py [--data ../shared/data] [--out training/out] [-n 8]

Writes training/out/contact_sheet.png (not committed: it shows real TCIA tiles) and
training/out/colour_stats.md, and prints the table that docs/cohort.md quotes.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pathology import SUBTYPES, render_tile  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def default_data() -> Path:
    return Path(os.environ.get("TUMORBOARD_DATA", REPO.parent / "shared" / "data"))


def real_tiles(data: Path, size: int) -> list[tuple[str, np.ndarray]]:
    root = data / "osteosarcoma-ut-tiles"
    rows = [l.strip().split(",") for l in open(root / "labels.csv", encoding="utf-8").read().splitlines()[1:] if l.strip()]
    out = []
    for rel, label in sorted(rows):
        im = Image.open(root / rel).convert("RGB").resize((size, size), Image.BILINEAR)
        out.append((label, np.asarray(im)))
    return out


def rgb_to_hsv(a: np.ndarray) -> np.ndarray:
    """Vectorised RGB (0..1) -> HSV (h in 0..1)."""
    r, g, b = a[..., 0], a[..., 1], a[..., 2]
    mx, mn = a.max(-1), a.min(-1)
    d = mx - mn
    h = np.zeros_like(mx)
    nz = d > 1e-6
    rm = nz & (mx == r)
    gm = nz & (mx == g) & ~rm
    bm = nz & ~rm & ~gm
    h[rm] = ((g - b)[rm] / d[rm]) % 6
    h[gm] = (b - r)[gm] / d[gm] + 2
    h[bm] = (r - g)[bm] / d[bm] + 4
    h = h / 6.0
    s = np.where(mx > 1e-6, d / np.maximum(mx, 1e-6), 0)
    return np.stack([h, s, mx], -1)


# Ruifrok-Johnston colour deconvolution (H, E, residual)
_HE = np.array([[0.650, 0.704, 0.286], [0.072, 0.990, 0.105], [0.268, 0.570, 0.776]])
_HE = _HE / np.linalg.norm(_HE, axis=1, keepdims=True)
_HE_INV = np.linalg.inv(_HE)


def he_density(a_uint8: np.ndarray) -> np.ndarray:
    od = -np.log((a_uint8.astype(np.float64) + 1.0) / 256.0)
    return od.reshape(-1, 3) @ _HE_INV  # columns: H, E, residual


def stats(tiles: list[np.ndarray]) -> dict:
    px = np.concatenate([t.reshape(-1, 3) for t in tiles]).astype(np.float64)
    hsv = rgb_to_hsv(px / 255.0)
    he = np.concatenate([he_density(t) for t in tiles])
    tissue = px.mean(1) < 220  # exclude white background / gaps from the stain statistics
    hist = np.stack([np.histogram(px[:, c], bins=32, range=(0, 256))[0] for c in range(3)]).astype(np.float64)
    hist /= hist.sum(1, keepdims=True)
    return {
        "rgb_mean": px.mean(0), "rgb_std": px.std(0),
        "hsv_mean": hsv.mean(0), "hsv_std": hsv.std(0),
        "he_mean": he[tissue, :2].mean(0) if tissue.any() else np.zeros(2),
        "he_std": he[tissue, :2].std(0) if tissue.any() else np.zeros(2),
        "white_frac": 1.0 - tissue.mean(),
        "hist": hist,
    }


def hist_distance(h1: np.ndarray, h2: np.ndarray) -> tuple[float, float]:
    """Mean over RGB channels of the Bhattacharyya distance and the Earth mover's distance
    (in grey levels) between 32-bin histograms."""
    bc = np.sqrt(h1 * h2).sum(1)
    bhatt = float(np.mean(-np.log(np.clip(bc, 1e-12, None))))
    bin_w = 256 / h1.shape[1]
    emd = float(np.mean(np.abs(np.cumsum(h1 - h2, 1)).sum(1) * bin_w))
    return bhatt, emd


def fmt3(v):
    return " / ".join(f"{x:.1f}" for x in v)


def fmt3f(v, d=3):
    return " / ".join(f"{x:.{d}f}" for x in v)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=default_data())
    ap.add_argument("--out", type=Path, default=REPO / "training" / "out")
    ap.add_argument("-n", type=int, default=8, help="generated tiles per subtype on the sheet")
    ap.add_argument("--stats-n", type=int, default=40, help="generated tiles per subtype for the statistics")
    ap.add_argument("--cell", type=int, default=160, help="sheet cell size in pixels")
    ap.add_argument("--seed", type=int, default=1000, help="first slide seed")
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)

    real = real_tiles(a.data, 256)
    c = a.cell
    label_w = 170
    rows = len(SUBTYPES) + 3  # + 3 rows of real tiles
    cols = max(a.n, 20 // 2)
    sheet = Image.new("RGB", (label_w + cols * c, rows * c), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, st in enumerate(SUBTYPES):
        draw.text((6, i * c + c // 2 - 6), st, fill=(0, 0, 0))
        for j in range(a.n):
            t = render_tile(st, a.seed + j, 256)
            sheet.paste(Image.fromarray(t).resize((c, c), Image.BILINEAR), (label_w + j * c, i * c))
    # real tiles: ~cols per row, one row per TCIA class (first `cols` of each)
    for k, lab in enumerate(("viable", "necrotic", "non_tumor")):
        y = (len(SUBTYPES) + k) * c
        draw.text((6, y + c // 2 - 6), f"REAL TCIA {lab}", fill=(160, 0, 0))
        tiles = [t for l, t in real if l == lab][:cols]
        for j, t in enumerate(tiles):
            sheet.paste(Image.fromarray(t).resize((c, c), Image.BILINEAR), (label_w + j * c, y))
    sheet_path = a.out / "contact_sheet.png"
    sheet.save(sheet_path)

    # colour statistics
    gen_all = []
    table = []
    real_stats = stats([t for _, t in real])
    per_class_real = {lab: stats([t for l, t in real if l == lab]) for lab in ("viable", "necrotic", "non_tumor")}
    for st in SUBTYPES:
        tiles = [render_tile(st, a.seed + 10_000 + j, 256) for j in range(a.stats_n)]
        gen_all.extend(tiles)
        table.append((f"generated: {st}", stats(tiles)))
    table.insert(0, ("generated: all subtypes", stats(gen_all)))
    table.insert(0, ("REAL TCIA: all 60", real_stats))
    for lab, s in per_class_real.items():
        table.insert(1, (f"REAL TCIA: {lab}", s))

    head = ("| tiles | RGB mean | RGB std | HSV mean (h/s/v, 0-1) | H&E OD mean (H/E, tissue px) | white px | "
            "hist. dist. to real (Bhattacharyya / EMD grey levels) |")
    lines = [head, "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, s in table:
        b, e = hist_distance(s["hist"], real_stats["hist"])
        lines.append(f"| {name} | {fmt3(s['rgb_mean'])} | {fmt3(s['rgb_std'])} | {fmt3f(s['hsv_mean'])} | "
                     f"{fmt3f(s['he_mean'], 2)} | {s['white_frac']:.2f} | {b:.3f} / {e:.1f} |")
    text = "\n".join(lines)
    note = (f"\nReal: 60 Osteosarcoma-UT tiles (1024 px JPEG, bilinear to 256). Generated: {a.stats_n} tiles "
            f"per subtype, seeds {a.seed + 10_000}..{a.seed + 10_000 + a.stats_n - 1}, 256 px. "
            "White px: mean RGB >= 220. H&E OD: Ruifrok-Johnston deconvolution on tissue pixels.\n")
    print(text + note)
    (a.out / "colour_stats.md").write_text(text + "\n" + note, encoding="utf-8")
    print(f"wrote {sheet_path} and {a.out / 'colour_stats.md'}")


if __name__ == "__main__":
    main()
