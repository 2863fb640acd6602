"""Tests of training/pathology.py and training/cohort.py (fast; the manifest check needs the
shared data and is skipped without it)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

TRAINING = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TRAINING))
import cohort  # noqa: E402
import labs  # noqa: E402
import pathology  # noqa: E402


@pytest.mark.parametrize("subtype", pathology.SUBTYPES)
def test_render_tile_shape_dtype_deterministic(subtype):
    a = pathology.render_tile(subtype, 123)
    b = pathology.render_tile(subtype, 123)
    assert a.shape == (256, 256, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, pathology.render_tile(subtype, 124))
    small = pathology.render_tile(subtype, 123, size=64)
    assert small.shape == (64, 64, 3)


def test_tiles_look_like_he():
    """Tissue pixels are pink/purple: red and blue above green (eosin and haematoxylin)."""
    for st in pathology.SUBTYPES:
        t = pathology.render_tile(st, 7).reshape(-1, 3).astype(float)
        tissue = t[t.mean(1) < 220]
        assert len(tissue) > 0.1 * len(t), st
        r, g, b = tissue.mean(0)
        assert r > g and b > g, (st, r, g, b)


def test_normal_has_no_slide():
    with pytest.raises(ValueError, match="no slide recipe"):
        pathology.render_tile("", 1)
    with pytest.raises(ValueError, match="no slide"):
        cohort.tile_for({"image_id": "IMG000009", "subtype": "", "has_slide": 0, "slide_seed": None})


def test_render_speed_budget():
    t0 = time.perf_counter()
    for i, st in enumerate(pathology.SUBTYPES):
        pathology.render_tile(st, i)
    ms = (time.perf_counter() - t0) / len(pathology.SUBTYPES) * 1000
    assert ms < 250, f"{ms:.0f} ms per tile (target < 50 ms on an idle core)"


def test_committed_manifest_loads_and_is_consistent():
    rows = cohort.load_manifest()
    assert len(rows) == 3164
    assert [r["image_id"] for r in rows] == sorted(r["image_id"] for r in rows)
    for r in rows:
        assert set(r["panel"]) == set(labs.MARKER_IDS)
        assert (r["slide_seed"] is not None) == (r["label"] != "normal") == bool(r["has_slide"])
        assert labs.clinical_sentence(r["panel"], r["age"], r["sex"]) == r["sentence"]
    tumour = next(r for r in rows if r["has_slide"])
    t = cohort.tile_for(tumour, size=128)
    assert t.shape == (128, 128, 3) and t.dtype == np.uint8


@pytest.mark.skipif(not (cohort.default_data() / "btxrd" / "cases.csv").exists(),
                    reason="shared data not available")
def test_committed_manifest_is_reproducible(tmp_path):
    rows = cohort.build_rows(cohort.default_data())
    out = tmp_path / "manifest.csv"
    cohort.write_manifest(rows, out)
    assert out.read_bytes() == cohort.COMMITTED_MANIFEST.read_bytes()
