"""The semi-synthetic multimodal cohort: REAL BTXRD radiographs, labels, age, sex, site and split,
paired with a GENERATED pathology tile (rendered from a seed) and a GENERATED lab panel.

    python training/cohort.py [--data ../shared/data] [--out training/out/cohort] [--seed 20250101]
                              [--commit-copy]
    python training/cohort.py --rates [MANIFEST]     # per-subtype abnormal-lab rates

Data path: --data, else $TUMORBOARD_DATA, else ../shared/data (beside the repository).
Writes <out>/manifest.csv (one row per BTXRD image, sorted by image_id); --commit-copy also
writes training/cohort_manifest.csv, the committed copy training reads by default.

Per image (all seeded from (--seed, image number), independent of row order):
  * tumour images (benign / intermediate / malignant): has_slide=1 and slide_seed; the tile is
    ``pathology.render_tile(subtype, slide_seed)``, rendered on the fly by ``tile_for(row)``;
  * normal images (no tumour; detector negatives): has_slide=0 and no slide seed (no lesion to
    biopsy), but a lab panel drawn as for a healthy patient, so "normal labs" is not a
    tumour-only signal;
  * every image: lab panel (value and unit per marker of biomarkers.json), the abnormal
    markers, and ``labs.clinical_sentence``.

API used by training: ``load_manifest(path=None) -> list[dict]`` and
``tile_for(row, size=256) -> np.uint8 (size, size, 3)``.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import labs  # noqa: E402
import pathology  # noqa: E402

REPO = HERE.parent
DEFAULT_SEED = 20250101
COMMITTED_MANIFEST = HERE / "cohort_manifest.csv"
DEFAULT_OUT = HERE / "out" / "cohort"
CACHE_DIR = HERE / "out" / "cache"

BASE_COLUMNS = ["image_id", "split", "label", "subtype", "age", "sex", "site",
                "has_slide", "slide_seed"]
LAB_COLUMNS = [c for m in labs.MARKER_IDS for c in (f"{m}_value", f"{m}_unit")]
TAIL_COLUMNS = ["lab_abnormal", "sentence"]
COLUMNS = BASE_COLUMNS + LAB_COLUMNS + TAIL_COLUMNS


def default_data() -> Path:
    env = os.environ.get("TUMORBOARD_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def _read_csv(path: Path) -> list[dict]:
    if not path.exists():
        raise SystemExit(f"{path}: not found (is --data / TUMORBOARD_DATA the shared data folder?)")
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def image_number(image_id: str) -> int:
    if not (image_id.startswith("IMG") and image_id[3:].isdigit()):
        raise ValueError(f"unexpected BTXRD image id {image_id!r} (want IMG + digits)")
    return int(image_id[3:])


def build_rows(data: Path, seed: int = DEFAULT_SEED) -> list[dict]:
    btxrd = data / "btxrd"
    cases = _read_csv(btxrd / "cases.csv")
    splits = {r["image_id"]: r["split"] for r in _read_csv(btxrd / "splits.csv")}
    rows = []
    for c in sorted(cases, key=lambda r: r["image_id"]):
        iid = c["image_id"]
        if iid not in splits:
            raise SystemExit(f"{iid}: in cases.csv but not in splits.csv")
        num = image_number(iid)
        age, sex = int(c["age"]), c["sex"]
        tumour = c["label"] != "normal"
        slide_seed = int(np.random.default_rng([seed, num, 1]).integers(0, 2**31 - 1)) if tumour else ""
        panel = labs.generate_panel(c["subtype"], c["label"], age, sex,
                                    np.random.default_rng([seed, num, 2]))
        findings = labs.abnormal_findings(panel, age, sex)
        row = {
            "image_id": iid, "split": splits[iid], "label": c["label"], "subtype": c["subtype"],
            "age": age, "sex": sex, "site": c["site"], "has_slide": int(tumour),
            "slide_seed": slide_seed,
        }
        for m in labs.MARKER_IDS:
            row[f"{m}_value"] = labs.fmt(panel[m]["value"], labs.unit_spec(m, panel[m]["unit"])["decimals"])
            row[f"{m}_unit"] = panel[m]["unit"]
        row["lab_abnormal"] = ";".join(f"{f['marker']}:{f['direction']}" for f in findings)
        row["sentence"] = labs.clinical_sentence(panel, age, sex)
        rows.append(row)
    return rows


def write_manifest(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: r[k] for k in COLUMNS})


def _typed(r: dict) -> dict:
    row = dict(r)
    row["age"] = int(row["age"])
    row["has_slide"] = int(row["has_slide"])
    row["slide_seed"] = int(row["slide_seed"]) if row["slide_seed"] != "" else None
    row["panel"] = {m: {"value": float(row[f"{m}_value"]), "unit": row[f"{m}_unit"]}
                    for m in labs.MARKER_IDS if row.get(f"{m}_value", "") != ""}
    return row


def load_manifest(path: str | Path | None = None) -> list[dict]:
    """Rows of the cohort manifest (default: the committed training/cohort_manifest.csv).

    Each row has the CSV columns (age, has_slide as int; slide_seed int or None) plus
    ``panel``: {marker: {"value": float, "unit": str}} ready for labs.clinical_sentence.
    """
    p = Path(path) if path is not None else COMMITTED_MANIFEST
    with open(p, newline="", encoding="utf-8") as f:
        return [_typed(r) for r in csv.DictReader(f)]


def tile_for(row: dict, size: int = 256, cache: bool = False) -> np.ndarray:
    """The GENERATED pathology tile of a manifest row, uint8 (size, size, 3).

    Raises ValueError for rows without a slide (normal radiographs). With cache=True the tile
    is kept as .npy under training/out/cache (ignored by git; never commit it).
    """
    seed = row["slide_seed"]
    if seed in (None, "") or not int(row.get("has_slide", 1)):
        raise ValueError(f"{row.get('image_id', '?')}: no slide (normal radiograph, has_slide=0)")
    seed = int(seed)
    if cache:
        p = CACHE_DIR / f"{row['image_id']}_{seed}_{size}.npy"
        if p.exists():
            return np.load(p)
        t = pathology.render_tile(row["subtype"], seed, size)
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        np.save(p, t)
        return t
    return pathology.render_tile(row["subtype"], seed, size)


def lab_rates(rows: list[dict]) -> str:
    """Markdown table: per subtype, % of panels with each marker abnormal (generated) and any."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r["subtype"] or "(normal radiograph)", []).append(r)
    cols = [(m, d) for m in labs.MARKER_IDS for d in ("high", "low")
            if not (d == "low" and m in ("crp", "esr"))]
    head = "| subtype | n | " + " | ".join(f"{m} {d}" for m, d in cols) + " | any abnormal |"
    lines = [head, "|" + " --- |" * (len(cols) + 3)]
    order = list(pathology.SUBTYPES) + ["(normal radiograph)"]
    for st in order:
        g = groups.get(st, [])
        if not g:
            continue
        flags = [set(r["lab_abnormal"].split(";")) - {""} for r in g]
        cells = [f"{100 * sum(f'{m}:{d}' in f for f in flags) / len(g):.1f}" for m, d in cols]
        anyab = 100 * sum(bool(f) for f in flags) / len(g)
        lines.append(f"| {st} | {len(g)} | " + " | ".join(cells) + f" | {anyab:.1f} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rates", nargs="?", const=str(COMMITTED_MANIFEST), metavar="MANIFEST",
                    help="print the per-subtype abnormal-lab rates of a manifest (default: the committed one) and exit")
    ap.add_argument("--data", type=Path, default=default_data())
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--commit-copy", action="store_true",
                    help=f"also write {COMMITTED_MANIFEST.relative_to(REPO)}")
    a = ap.parse_args(argv)
    if a.rates:
        print(lab_rates(load_manifest(a.rates)))
        return
    rows = build_rows(a.data, a.seed)
    out = a.out / "manifest.csv"
    write_manifest(rows, out)
    print(f"wrote {out}: {len(rows)} rows, {sum(r['has_slide'] for r in rows)} with slides")
    if a.commit_copy:
        write_manifest(rows, COMMITTED_MANIFEST)
        print(f"wrote {COMMITTED_MANIFEST} ({COMMITTED_MANIFEST.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
