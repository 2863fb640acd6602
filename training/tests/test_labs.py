"""Tests of training/labs.py and the committed lab-sentence vectors.

    /work/venv/bin/python -m pytest training/tests
    /work/venv/bin/python training/tests/test_labs.py --write   # rebuild the vector file

The vector file (training/vectors/lab_sentences.json) is the contract the Swift Cases target is
tested against: panel (+ age, sex, units) -> sentence. It records the sha256 of biomarkers.json it
was made with; a change to that file must come with regenerated, re-reviewed vectors.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

TRAINING = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TRAINING))
import labs  # noqa: E402

VECTORS = TRAINING / "vectors" / "lab_sentences.json"

ADULT_M = dict(alp=90, ldh=200, calcium=9.4, phosphate=3.6, crp=2.0, esr=8, wbc=7.0, haemoglobin=15.2)
ADULT_F = dict(alp=80, ldh=180, calcium=9.2, phosphate=3.4, crp=1.5, esr=12, wbc=6.5, haemoglobin=13.5)
CHILD = dict(alp=300, ldh=150, calcium=9.6, phosphate=5.2, crp=1.0, esr=6, wbc=7.5, haemoglobin=13.0)
TEEN_M = dict(alp=350, ldh=220, calcium=9.7, phosphate=4.5, crp=1.2, esr=7, wbc=7.2, haemoglobin=15.0)
TEEN_F = dict(alp=180, ldh=210, calcium=9.5, phosphate=4.4, crp=1.1, esr=9, wbc=6.8, haemoglobin=13.2)


def panel(base: dict | None, **over) -> dict:
    """Canonical-unit panel from a base, with overrides: number, (value, unit), or None (drop)."""
    vals = dict(base or {})
    vals.update(over)
    out = {}
    for m in labs.MARKER_IDS:
        if m not in vals or vals[m] is None:
            continue
        v = vals[m]
        if isinstance(v, tuple):
            out[m] = {"value": float(v[0]), "unit": v[1]}
        else:
            out[m] = {"value": float(v), "unit": labs.marker(m)["unit"]}
    return out


def cases() -> list[tuple[str, int, str, dict]]:
    c = []
    add = lambda cid, age, sex, p: c.append((cid, age, sex, p))
    # --- all normal / empty / partial
    add("normal_adult_male", 40, "M", panel(ADULT_M))
    add("normal_adult_female", 35, "F", panel(ADULT_F))
    add("normal_child_10_female", 10, "F", panel(CHILD))
    add("normal_teen_15_male", 15, "M", panel(TEEN_M))
    add("normal_teen_15_female", 15, "F", panel(TEEN_F))
    add("empty_panel", 30, "M", {})
    add("partial_normal_alp_only", 12, "M", panel(None, alp=400))
    add("partial_abnormal_crp_only", 60, "F", panel(None, crp=45.0))
    # --- each marker high and low (adults unless stated)
    add("alp_high_adult", 45, "M", panel(ADULT_M, alp=612))
    add("alp_low_adult", 45, "F", panel(ADULT_F, alp=30))
    add("ldh_high_adult", 50, "M", panel(ADULT_M, ldh=520))
    add("ldh_low_adult", 50, "F", panel(ADULT_F, ldh=80))
    add("calcium_high", 30, "F", panel(ADULT_F, calcium=11.0))
    add("calcium_low", 30, "M", panel(ADULT_M, calcium=7.9))
    add("phosphate_high_adult", 28, "M", panel(ADULT_M, phosphate=6.1))
    add("phosphate_low_adult", 28, "F", panel(ADULT_F, phosphate=1.9))
    add("crp_high", 33, "M", panel(ADULT_M, crp=48.0))
    add("esr_high_male", 33, "M", panel(ADULT_M, esr=42))
    add("esr_high_female_over_50", 62, "F", panel(ADULT_F, esr=35))
    add("wbc_high", 22, "M", panel(ADULT_M, wbc=14.2))
    add("wbc_low", 22, "F", panel(ADULT_F, wbc=3.1))
    add("haemoglobin_high_male", 40, "M", panel(ADULT_M, haemoglobin=19.5))
    add("haemoglobin_low_female", 40, "F", panel(ADULT_F, haemoglobin=10.1))
    add("haemoglobin_low_male", 40, "M", panel(ADULT_M, haemoglobin=8.8))
    # --- severities (mild / moderate / marked) both directions
    add("alp_marked_child_boy", 12, "M", panel(CHILD, alp=1682))
    add("alp_slight_teen_boy", 15, "M", panel(TEEN_M, alp=612))
    add("ldh_marked_teen", 16, "M", panel(TEEN_M, ldh=1050))
    add("calcium_marked_high", 55, "M", panel(ADULT_M, calcium=14.2))
    add("calcium_marked_low", 55, "F", panel(ADULT_F, calcium=6.5))
    add("wbc_marked_low", 8, "M", panel(CHILD, wbc=1.8))
    add("wbc_marked_high", 8, "F", panel(CHILD, wbc=23.5))
    add("haemoglobin_marked_low_child", 9, "F", panel(CHILD, haemoglobin=7.2))
    add("haemoglobin_slight_low_child_4", 4, "M", panel(CHILD, haemoglobin=10.8))
    add("crp_marked", 70, "M", panel(ADULT_M, crp=150.0))
    add("esr_marked_child", 11, "F", panel(CHILD, esr=80))
    # --- ratio thresholds exactly on the boundary (IEEE division matters)
    add("crp_ratio_exactly_3", 40, "F", panel(ADULT_F, crp=30.0))
    add("crp_ratio_exactly_10", 40, "F", panel(ADULT_F, crp=100.0))
    add("haemoglobin_ratio_0_85_female", 40, "F", panel(ADULT_F, haemoglobin=10.2))
    add("wbc_ratio_2_0", 40, "M", panel(ADULT_M, wbc=22.0))
    add("ldh_exact_tie_304_5_prints_304", 9, "M", panel(CHILD, ldh=304.5))  # printf rounds an exact .5 tie to even
    # --- several abnormal at once
    add("two_abnormal_osteosarcoma_like", 14, "M", panel(TEEN_M, alp=890, ldh=910))
    add("three_abnormal", 12, "M", panel(CHILD, alp=1682, ldh=426, calcium=8.4))
    add("four_ewing_like", 13, "F", panel(TEEN_F, ldh=480, crp=62.5, esr=55, haemoglobin=9.4))
    add("five_ewing_like", 19, "M", panel(ADULT_M, ldh=612, crp=88.0, esr=70, wbc=15.6, haemoglobin=11.9))
    add("six_abnormal", 45, "F", panel(ADULT_F, alp=300, ldh=700, calcium=12.1, phosphate=1.5, crp=25.0, wbc=2.5))
    add("seven_abnormal", 70, "M", panel(ADULT_M, alp=160, ldh=400, calcium=8.0, phosphate=5.0, crp=11.0, esr=25, wbc=12.0))
    add("eight_abnormal", 30, "F", panel(ADULT_F, alp=20, ldh=1200, calcium=13.0, phosphate=2.0, crp=300.0, esr=120, wbc=40.0, haemoglobin=6.0))
    # --- child vs adult range for the same value
    add("alp_300_child_normal", 10, "M", panel(CHILD, alp=300))
    add("alp_300_adult_high", 25, "M", panel(ADULT_M, alp=300))
    add("ldh_250_child_high", 10, "F", panel(CHILD, ldh=250))
    add("ldh_250_adult_normal", 30, "F", panel(ADULT_F, ldh=250))
    add("esr_18_child_high", 8, "M", panel(CHILD, esr=18))
    add("esr_18_woman_normal", 30, "F", panel(ADULT_F, esr=18))
    add("phosphate_4_8_child_normal", 9, "F", panel(CHILD, phosphate=4.8))
    add("phosphate_4_8_adult_high", 40, "F", panel(ADULT_F, phosphate=4.8))
    # --- boys vs girls ALP
    add("alp_400_boy_15_normal", 15, "M", panel(TEEN_M, alp=400))
    add("alp_400_girl_15_high", 15, "F", panel(TEEN_F, alp=400))
    add("alp_200_boy_10_normal", 10, "M", panel(CHILD, alp=200))
    add("alp_200_girl_10_low", 10, "F", panel(CHILD, alp=200))
    add("alp_460_boy_10_high", 10, "M", panel(CHILD, alp=460))
    add("alp_460_girl_10_normal", 10, "F", panel(CHILD, alp=460))
    # --- borderline: exactly at the range ends (inclusive) and one step outside
    add("alp_511_boy_15_at_high", 15, "M", panel(TEEN_M, alp=511))
    add("alp_512_boy_15_above", 15, "M", panel(TEEN_M, alp=512))
    add("alp_138_boy_15_at_low", 15, "M", panel(TEEN_M, alp=138))
    add("alp_137_boy_15_below", 15, "M", panel(TEEN_M, alp=137))
    add("calcium_10_2_at_high", 30, "M", panel(ADULT_M, calcium=10.2))
    add("calcium_10_3_above", 30, "M", panel(ADULT_M, calcium=10.3))
    add("calcium_8_5_at_low", 30, "M", panel(ADULT_M, calcium=8.5))
    add("crp_10_at_high", 30, "M", panel(ADULT_M, crp=10.0))
    add("crp_10_1_above", 30, "M", panel(ADULT_M, crp=10.1))
    add("crp_10_04_rounds_to_limit", 30, "M", panel(ADULT_M, crp=10.04))
    add("haemoglobin_14_man_at_low", 30, "M", panel(ADULT_M, haemoglobin=14.0))
    add("haemoglobin_13_9_man_below", 30, "M", panel(ADULT_M, haemoglobin=13.9))
    add("wbc_11_at_high", 30, "F", panel(ADULT_F, wbc=11.0))
    add("wbc_4_4_below", 30, "F", panel(ADULT_F, wbc=4.4))
    add("age_12_vs_13_alp_boy_12", 12, "M", panel(CHILD, alp=180))
    add("age_12_vs_13_alp_boy_13", 13, "M", panel(TEEN_M, alp=180))
    add("esr_age_49_vs_50_female_49", 49, "F", panel(ADULT_F, esr=25))
    add("esr_age_49_vs_50_female_50", 50, "F", panel(ADULT_F, esr=25))
    # --- alternate units
    add("calcium_mmol_high", 30, "M", panel(ADULT_M, calcium=(2.95, "mmol/L")))
    add("calcium_mmol_at_high", 30, "M", panel(ADULT_M, calcium=(2.54, "mmol/L")))
    add("calcium_mmol_above", 30, "M", panel(ADULT_M, calcium=(2.55, "mmol/L")))
    add("calcium_mmol_low", 30, "F", panel(ADULT_F, calcium=(1.98, "mmol/L")))
    add("phosphate_mmol_low", 30, "F", panel(ADULT_F, phosphate=(0.61, "mmol/L")))
    add("haemoglobin_g_per_l_low", 40, "F", panel(ADULT_F, haemoglobin=(95, "g/L")))
    add("haemoglobin_mmol_low", 40, "M", panel(ADULT_M, haemoglobin=(7.1, "mmol/L")))
    add("wbc_per_ul_high", 20, "M", panel(ADULT_M, wbc=(14200, "/uL")))
    add("wbc_per_ul_normal", 20, "M", panel(ADULT_M, wbc=(11000, "/uL")))
    add("wbc_10_3_per_ul_low", 20, "F", panel(ADULT_F, wbc=(2.9, "10^3/uL")))
    add("crp_mg_dl_high", 50, "M", panel(ADULT_M, crp=(4.8, "mg/dL")))
    add("alp_iu_high_girl", 15, "F", panel(TEEN_F, alp=(310, "IU/L")))
    add("alp_ukat_high_adult", 35, "M", panel(ADULT_M, alp=(5.5, "ukat/L")))
    add("ldh_iu_high_adult", 60, "M", panel(ADULT_M, ldh=(365, "IU/L")))
    add("ldh_ukat_high_child", 8, "F", panel(CHILD, ldh=(6.2, "ukat/L")))
    add("mixed_units_several", 16, "F", panel(TEEN_F, calcium=(2.80, "mmol/L"), haemoglobin=(88, "g/L"), wbc=(13500, "/uL")))
    # --- template variety on one marker (k + index mod 3 = 0, 1, 2)
    for v in (611, 612, 613):
        add(f"alp_template_{v}_adult", 50, "M", panel(ADULT_M, alp=v))
    for v in (11.1, 11.2, 11.3):
        add(f"calcium_template_{v}", 50, "F", panel(ADULT_F, calcium=v))
    # --- unrounded inputs: the printed value is what is classified
    add("unrounded_calcium_10_24", 30, "M", panel(ADULT_M, calcium=10.24))
    add("unrounded_calcium_10_26", 30, "M", panel(ADULT_M, calcium=10.26))
    add("unrounded_alp_147_4", 30, "M", panel(ADULT_M, alp=147.4))
    add("unrounded_alp_147_6", 30, "M", panel(ADULT_M, alp=147.6))
    # --- generated panels (cohort generator), a few per subtype, for breadth
    rng = np.random.default_rng(7)
    subtypes = [("osteosarcoma", "malignant"), ("other mt", "malignant"), ("giant cell tumor", "intermediate"),
                ("osteochondroma", "benign"), ("", "normal")]
    ages = [6, 10, 12, 14, 15, 17, 19, 25, 40, 55, 72]
    for i in range(30):
        st, lab = subtypes[i % len(subtypes)]
        age = ages[int(rng.integers(len(ages)))]
        sex = "MF"[int(rng.integers(2))]
        add(f"generated_{i:02d}_{(st or 'normal').replace(' ', '_')}", age, sex,
            labs.generate_panel(st, lab, age, sex, rng))
    return c


def context_cases() -> list[tuple[str, int | None, str | None, str | None, dict | None]]:
    """(id, age, sex, site, panel or None) for labs.context_sentence / clinical_text (issue 15)."""
    c = []
    add = lambda cid, age, sex, site, p=None: c.append((cid, age, sex, site, p))
    add("ctx_teen_male_femur", 15, "M", "femur")
    add("ctx_adult_female_tibia", 29, "F", "tibia")
    add("ctx_three_sites", 12, "M", "tibia;fibula;femur")
    add("ctx_two_sites_joint", 33, "F", "femur;hip bone")
    add("ctx_four_sites", 8, "F", "tibia;fibula;femur;hip bone")
    add("ctx_hyphen_joint", 41, "M", "knee-joint")
    add("ctx_joint_and_bone", 52, "F", "humerus;shoulder-joint")
    add("ctx_age_zero", 0, "M", "hand")
    add("ctx_age_one", 1, "F", "foot;ankle-joint")
    add("ctx_article_8", 8, "M", "ulna")
    add("ctx_article_11", 11, "F", "radius")
    add("ctx_article_18", 18, "M", "fibula")
    add("ctx_article_80", 80, "F", "femur")
    add("ctx_article_81_no_sex", 81, None, None)
    add("ctx_article_28", 28, "M", "tibia")
    add("ctx_old", 88, "F", "hip bone;hip-joint")
    add("ctx_no_site", 40, "M", None)
    add("ctx_blank_site", 40, "F", "")
    add("ctx_only_separators", 40, "F", " ; ;; ")
    add("ctx_age_only", 40, None, None)
    add("ctx_sex_only_male", None, "M", None)
    add("ctx_sex_only_female", None, "F", "radius")
    add("ctx_site_only", None, None, "ulna;radius")
    add("ctx_nothing", None, None, None)
    add("ctx_nothing_blank_site", None, None, "  ")
    add("ctx_case_and_spaces", 17, "M", "  Femur ;\tTIBIA\n; femur")
    add("ctx_duplicates", 17, "M", "tibia;tibia;Tibia")
    add("ctx_non_ascii_kept", 23, "F", "\u00c9paule;F\u00e9mur")
    add("ctx_nbsp_not_trimmed", 23, "F", "\u00a0femur")
    add("ctx_composed_and_decomposed_kept", 23, "F", "f\u00e9mur;fe\u0301mur")
    add("ctx_free_text", 61, "M", "distal femur (metaphysis)")
    add("ctx_labs_empty_panel", 15, "M", "femur", {})
    add("ctx_labs_normal", 40, "M", "tibia", panel(ADULT_M))
    add("ctx_labs_one", 15, "M", "femur", panel(TEEN_M, alp=612))
    add("ctx_labs_several", 12, "M", "tibia;fibula", panel(CHILD, alp=1682, ldh=426, calcium=8.4))
    add("ctx_labs_no_site", 60, "F", None, panel(ADULT_F, crp=45.0, esr=60))
    rng = np.random.default_rng(15)
    for i, (st, lab, site) in enumerate([("osteosarcoma", "malignant", "femur"), ("giant cell tumor", "intermediate", "tibia"),
                                         ("osteochondroma", "benign", "humerus"), ("other mt", "malignant", "hip bone")]):
        age = [14, 27, 11, 63][i]; sex = "MF"[i % 2]
        add(f"ctx_generated_{i}_{st.replace(' ', '_')}", age, sex, site, labs.generate_panel(st, lab, age, sex, rng))
    return c


def build_context_vectors() -> list[dict]:
    return [{"id": cid, "age": age, "sex": sex, "site": site, "panel": p,
             "context": labs.context_sentence(age, sex, site), "text": labs.clinical_text(p, age, sex, site)}
            for cid, age, sex, site, p in context_cases()]


def biomarkers_sha256() -> str:
    return hashlib.sha256(labs.BIOMARKERS_JSON.read_bytes()).hexdigest()


def build_vectors() -> dict:
    vecs = []
    for cid, age, sex, p in cases():
        vecs.append({
            "id": cid, "age": age, "sex": sex, "panel": p,
            "units": sorted({e["unit"] for e in p.values()}),
            "sentence": labs.clinical_sentence(p, age, sex),
            "branches": sorted(labs.branches(p, age, sex)),
        })
    return {
        "description": ("Lab panel -> clinical sentence test vectors for labs.clinical_sentence (Python) and the "
                        "Swift Cases implementation. Panel values are JSON doubles in the given unit; age in whole "
                        "years; sex M/F. 'branches' lists the rule branches each vector exercises (informative)."),
        "biomarkers_json_sha256": biomarkers_sha256(),
        "generated_by": "python training/tests/test_labs.py --write",
        "vectors": vecs,
        "context_description": ("Clinical context -> sentence (labs.context_sentence) and the text the encoder reads "
                                "(labs.clinical_text: context, then the lab sentence of a non-empty panel; null when "
                                "neither). age, sex, site and panel may be null (unknown); site is free text as in BTXRD."),
        "context_vectors": build_context_vectors(),
    }


# --------------------------------------------------------------------------- tests

@pytest.fixture(scope="module")
def vectors():
    return json.loads(VECTORS.read_text(encoding="utf-8"))


def test_vectors_match_biomarkers_json(vectors):
    assert vectors["biomarkers_json_sha256"] == biomarkers_sha256(), \
        "biomarkers.json changed: regenerate and review training/vectors/lab_sentences.json"


def test_python_reproduces_every_vector(vectors):
    assert len(vectors["vectors"]) >= 60
    for v in vectors["vectors"]:
        assert labs.clinical_sentence(v["panel"], v["age"], v["sex"]) == v["sentence"], v["id"]


def test_vector_file_is_up_to_date(vectors):
    assert build_vectors()["vectors"] == vectors["vectors"]


def test_context_vectors(vectors):
    cv = vectors["context_vectors"]
    assert cv == build_context_vectors(), "regenerate: python training/tests/test_labs.py --write"
    assert len(cv) >= 30
    for v in cv:
        assert labs.context_sentence(v["age"], v["sex"], v["site"]) == v["context"], v["id"]
        assert labs.clinical_text(v["panel"], v["age"], v["sex"], v["site"]) == v["text"], v["id"]
    assert any(v["text"] is None for v in cv) and any(v["panel"] and v["context"] for v in cv)


def test_context_sentences_written_by_hand():
    assert labs.context_sentence(15, "M", "femur") == "A 15-year-old male with a lesion of the femur."
    assert labs.context_sentence(12, "F", "tibia;fibula;femur") == "A 12-year-old female with a lesion of the tibia, fibula and femur."
    assert labs.context_sentence(33, "F", "femur;hip bone") == "A 33-year-old female with a lesion of the femur and hip bone."
    assert labs.context_sentence(41, "M", " Knee-Joint ") == "A 41-year-old male with a lesion of the knee joint."
    assert labs.context_sentence(40, None, None) == "A 40-year-old patient."
    assert labs.context_sentence(8, "F", None) == "An 8-year-old female."
    assert labs.context_sentence(18, "M", "tibia") == "An 18-year-old male with a lesion of the tibia."
    assert labs.context_sentence(83, None, None) == "An 83-year-old patient."
    assert labs.context_sentence(38, "M", None) == "A 38-year-old male."
    assert labs.context_sentence(None, "F", None) == "A female patient."
    assert labs.context_sentence(None, None, "hand") == "A patient with a lesion of the hand."
    assert labs.context_sentence(None, None, " ; ") == ""
    assert labs.clinical_text(None, None, None, None) is None
    assert labs.clinical_text({}, 15, "M", None) == "A 15-year-old male."
    assert labs.clinical_text(panel(TEEN_M, alp=612), 15, "M", "femur") == (
        "A 15-year-old male with a lesion of the femur. "
        "Alkaline phosphatase slightly raised at 612 U/L (reference 138-511 for a male aged 15).")
    with pytest.raises(labs.LabError):
        labs.context_sentence(-1, "M", None)
    with pytest.raises(labs.LabError):
        labs.context_sentence(10, "X", None)
    with pytest.raises(labs.LabError):
        labs.clinical_text(panel(TEEN_M), None, "M", "femur")  # labs need age and sex


def test_vectors_cover_every_branch(vectors):
    seen = set()
    for v in vectors["vectors"]:
        seen |= labs.branches(v["panel"], v["age"], v["sex"])
    required = {"empty", "none", "one", "several", "borderline", "unit:alternate",
                "reference:up_to", "reference:low_high", "context:any", "context:M", "context:F"}
    required |= {f"template:{t}" for t in range(len(labs.TEMPLATES))}
    required |= {f"{d}:{s}" for d in ("high", "low") for s in ("mild", "moderate", "marked")}
    required |= {f"count:{n}" for n in range(2, len(labs.MARKER_IDS) + 1)}
    for m in labs.MARKERS:
        required.add(f"marker:{m['id']}:high")
        if any(r["low"] > 0 for r in m["ranges"]):
            required.add(f"marker:{m['id']}:low")
    assert not (required - seen), f"branches without a vector: {sorted(required - seen)}"
    # every accepted alternate unit appears in some vector
    units = {(m, e["unit"]) for v in vectors["vectors"] for m, e in v["panel"].items()}
    for m in labs.MARKERS:
        for alt in m["alternate_units"]:
            assert (m["id"], alt["unit"]) in units, f"no vector uses {m['id']} in {alt['unit']}"
    # both sexes, children and adults
    assert {v["sex"] for v in vectors["vectors"]} == {"M", "F"}
    assert min(v["age"] for v in vectors["vectors"]) < 10 and max(v["age"] for v in vectors["vectors"]) >= 50


def test_sentences_written_by_hand():
    """A few sentences checked by a person, independent of the vector file."""
    p = panel(TEEN_M, alp=612)
    assert labs.clinical_sentence(p, 15, "M") == \
        "Alkaline phosphatase slightly raised at 612 U/L (reference 138-511 for a male aged 15)."
    assert labs.clinical_sentence(panel(ADULT_M), 40, "M") == "No abnormal blood biomarkers."
    assert labs.clinical_sentence({}, 40, "M") == "No blood biomarkers available."
    assert labs.clinical_sentence(panel(ADULT_M, crp=48.0), 33, "M") == \
        "CRP 48.0 mg/L, raised (reference up to 10.0 for age 33)."
    assert labs.clinical_sentence(panel(ADULT_M, calcium=(2.95, "mmol/L")), 30, "M") == \
        "Calcium raised at 2.95 mmol/L (reference 2.12-2.54 for age 30)."
    assert labs.clinical_sentence(panel(CHILD, alp=1682, ldh=426, calcium=8.4), 12, "M") == (
        "Three abnormal blood biomarkers. "
        "Alkaline phosphatase of 1682 U/L is markedly raised (reference 191-435 for a male aged 12). "
        "LDH 426 U/L, raised (reference 90-203 for age 12). "
        "Calcium of 8.4 mg/dL is slightly low (reference 8.5-10.2 for age 12).")


# --------------------------------------------------------------------------- ranges and units

@pytest.mark.parametrize("marker,age,sex,expected", [
    ("alp", 10, "M", (191, 435)), ("alp", 15, "M", (138, 511)), ("alp", 10, "F", (215, 476)),
    ("alp", 15, "F", (75, 274)), ("alp", 40, "M", (44, 147)), ("alp", 40, "F", (44, 147)),
    ("alp", 12, "M", (191, 435)), ("alp", 13, "M", (138, 511)), ("alp", 17, "F", (75, 274)),
    ("alp", 18, "F", (44, 147)),
    ("ldh", 7, "M", (90, 203)), ("ldh", 12, "F", (90, 203)), ("ldh", 30, "M", (105, 333)),
    ("ldh", 3, "F", (105, 333)),
    ("calcium", 10, "F", (8.5, 10.2)), ("calcium", 60, "M", (8.5, 10.2)),
    ("phosphate", 10, "M", (4.0, 7.0)), ("phosphate", 30, "M", (2.8, 4.6)),
    ("crp", 5, "M", (0, 10)), ("crp", 80, "F", (0, 10)),
    ("esr", 10, "M", (0, 13)), ("esr", 30, "M", (0, 15)), ("esr", 30, "F", (0, 20)),
    ("esr", 49, "F", (0, 20)), ("esr", 50, "F", (0, 30)), ("esr", 50, "M", (0, 20)),
    ("wbc", 10, "F", (4.5, 11.0)), ("wbc", 40, "M", (4.5, 11.0)),
    ("haemoglobin", 40, "M", (14, 17)), ("haemoglobin", 40, "F", (12, 16)),
    ("haemoglobin", 3, "M", (11.0, 16.0)), ("haemoglobin", 8, "F", (11.5, 16.0)),
    ("haemoglobin", 13, "M", (12.0, 16.0)), ("haemoglobin", 15, "M", (14, 17)),
])
def test_reference_range(marker, age, sex, expected):
    assert labs.reference_range(marker, age, sex) == (float(expected[0]), float(expected[1]))


def test_ranges_cover_every_age_and_sex_exactly_once():
    for m in labs.MARKERS:
        for sex in ("M", "F"):
            for age in range(0, 121):
                hits = [r for r in m["ranges"] if r["sex"] in (sex, "any") and r["age_min"] <= age <= r["age_max"]]
                assert len(hits) == 1, f"{m['id']} {sex} {age}: {len(hits)} ranges"
                assert 0 <= hits[0]["low"] < hits[0]["high"]


def test_biomarkers_json_schema():
    spec = json.loads(labs.BIOMARKERS_JSON.read_text(encoding="utf-8"))
    ids = [m["id"] for m in spec["markers"]]
    for need in ("alp", "ldh", "calcium", "phosphate", "crp", "esr", "wbc", "haemoglobin"):
        assert need in ids
    for m in spec["markers"]:
        assert set(m) >= {"id", "name", "abbreviation", "unit", "decimals", "alternate_units", "severity", "ranges"}
        assert set(m["severity"]) == {"high_moderate", "high_marked", "low_moderate", "low_marked"}
        assert 1 < m["severity"]["high_moderate"] < m["severity"]["high_marked"]
        assert 1 > m["severity"]["low_moderate"] > m["severity"]["low_marked"] > 0
        for r in m["ranges"]:
            assert r["sex"] in ("M", "F", "any") and "source" in r
            if r["source"].startswith("not in"):
                assert r.get("note"), f"{m['id']}: range without a source needs a note"
        for a in m["alternate_units"]:
            assert a["factor"] > 0 and isinstance(a["decimals"], int)


@pytest.mark.parametrize("marker,value,frm,to,expected", [
    ("calcium", 10.0, "mg/dL", "mmol/L", 2.495),
    ("calcium", 2.495, "mmol/L", "mg/dL", 10.0),
    ("haemoglobin", 13.5, "g/dL", "g/L", 135.0),
    ("haemoglobin", 120.0, "g/L", "g/dL", 12.0),
    ("haemoglobin", 10.0, "g/dL", "mmol/L", 6.206),
    ("wbc", 7.5, "10^9/L", "/uL", 7500.0),
    ("wbc", 11000.0, "/uL", "10^9/L", 11.0),
    ("wbc", 4.5, "10^3/uL", "10^9/L", 4.5),
    ("phosphate", 3.1, "mg/dL", "mmol/L", 1.00099),
    ("crp", 48.0, "mg/L", "mg/dL", 4.8),
    ("alp", 300.0, "U/L", "IU/L", 300.0),
    ("alp", 60.0, "U/L", "ukat/L", 1.000002),
    ("ldh", 5.0, "ukat/L", "U/L", 299.9994),
])
def test_unit_conversion(marker, value, frm, to, expected):
    assert labs.convert(value, marker, frm, to) == pytest.approx(expected, rel=1e-6)


def test_conversion_round_trip():
    for m in labs.MARKERS:
        for alt in m["alternate_units"]:
            x = 123.456
            back = labs.convert(labs.convert(x, m["id"], m["unit"], alt["unit"]), m["id"], alt["unit"], m["unit"])
            assert back == pytest.approx(x, rel=1e-12)


def test_errors_are_values_with_messages():
    with pytest.raises(labs.LabError, match="unit 'mg' not accepted"):
        labs.clinical_sentence({"calcium": {"value": 9.0, "unit": "mg"}}, 30, "M")
    with pytest.raises(labs.LabError, match="unknown blood biomarker"):
        labs.clinical_sentence({"ferritin": {"value": 9.0, "unit": "ng/mL"}}, 30, "M")
    with pytest.raises(labs.LabError, match="sex"):
        labs.clinical_sentence(panel(ADULT_M), 30, "X")
    with pytest.raises(labs.LabError, match="value"):
        labs.clinical_sentence({"crp": {"value": -1.0, "unit": "mg/L"}}, 30, "M")


# --------------------------------------------------------------------------- generator

def test_generator_deterministic_and_normal_is_common():
    a = labs.generate_panel("osteochondroma", "benign", 12, "F", np.random.default_rng(3))
    b = labs.generate_panel("osteochondroma", "benign", 12, "F", np.random.default_rng(3))
    assert a == b
    rng = np.random.default_rng(11)
    n_normal = sum(labs.clinical_sentence(labs.generate_panel("", "normal", 30, "M", rng), 30, "M")
                   == "No abnormal blood biomarkers." for _ in range(400))
    assert n_normal > 0.8 * 400


def test_generator_osteosarcoma_alp_rate_near_cited():
    rng = np.random.default_rng(5)
    hits = 0
    n = 1000
    for i in range(n):
        age, sex = (12, "M") if i % 2 else (16, "F")
        p = labs.generate_panel("osteosarcoma", "malignant", age, sex, rng)
        hits += any(f["marker"] == "alp" and f["direction"] == "high" for f in labs.abnormal_findings(p, age, sex))
    # cited: 61.3% localised .. 91.5% metastatic; 74% overall. Loose sanity band, not a target.
    assert 0.55 < hits / n < 0.85


def test_generator_units_option():
    p = labs.generate_panel("other mt", "malignant", 20, "M", np.random.default_rng(1),
                            units={"calcium": "mmol/L", "haemoglobin": "g/L"})
    assert p["calcium"]["unit"] == "mmol/L" and 1.5 < p["calcium"]["value"] < 3.5
    assert p["haemoglobin"]["unit"] == "g/L" and 60 < p["haemoglobin"]["value"] < 200


if __name__ == "__main__":
    if "--write" in sys.argv:
        VECTORS.parent.mkdir(parents=True, exist_ok=True)
        data = build_vectors()
        VECTORS.write_text(json.dumps(data, indent=1, ensure_ascii=True) + "\n", encoding="utf-8")
        print(f"wrote {VECTORS}: {len(data['vectors'])} vectors")
    else:
        print(__doc__)
