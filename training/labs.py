"""Blood biomarker panels for the semi-synthetic cohort, and the lab-to-sentence step.

Everything about a marker (units, conversion factors, display names, severity thresholds,
reference ranges by age and sex) is read from the one definition,
``Sources/Cases/Resources/biomarkers.json``; the Swift Cases target reads the same file.

Two halves:

* ``generate_panel`` draws a GENERATED lab panel from the cited rates of abnormal values per
  tumour subtype (``../shared/notes/biomarkers.md``; the parameters and which of them are
  assumptions are in ``GENERATOR`` below and in docs/cohort.md). Python only.
* ``abnormal_findings`` and ``clinical_sentence`` turn any panel into the clinical sentence
  (the paper's LLM step). These are reimplemented byte-for-byte in Swift and checked against
  ``training/vectors/lab_sentences.json``; their rules are written out in
  ``clinical_sentence.__doc__`` and use only: JSON numbers, IEEE-754 double arithmetic
  (one multiply, one divide, comparisons), C printf ``%.Nf`` formatting, decimal-string
  parsing, integer arithmetic on the digits. No hashing, no randomness, no locale.

A panel is ``{marker_id: {"value": float, "unit": str}}``; marker ids are those of the JSON
(alp, ldh, calcium, phosphate, crp, esr, wbc, haemoglobin). Age is integer years, sex "M"/"F".
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
BIOMARKERS_JSON = REPO / "Sources" / "Cases" / "Resources" / "biomarkers.json"


def _load(path: Path = BIOMARKERS_JSON) -> dict:
    with open(path, "r", encoding="utf-8") as f:
        spec = json.load(f)
    return spec


SPEC = _load()
MARKERS: list[dict] = SPEC["markers"]
MARKER_IDS: list[str] = [m["id"] for m in MARKERS]
_BY_ID: dict[str, dict] = {m["id"]: m for m in MARKERS}

COUNT_WORDS = {2: "Two", 3: "Three", 4: "Four", 5: "Five", 6: "Six", 7: "Seven", 8: "Eight",
               9: "Nine", 10: "Ten"}
SEVERITY_WORDS = {
    ("high", "mild"): "slightly raised", ("high", "moderate"): "raised",
    ("high", "marked"): "markedly raised",
    ("low", "mild"): "slightly low", ("low", "moderate"): "low", ("low", "marked"): "markedly low",
}
TEMPLATES = (
    "{name} {severity} at {value} {unit} (reference {reference}).",
    "{abbreviation} {value} {unit}, {severity} (reference {reference}).",
    "{name} of {value} {unit} is {severity} (reference {reference}).",
)


class LabError(ValueError):
    """A panel, marker, unit, age or sex that the lab definition cannot interpret."""


# --------------------------------------------------------------------------- definition

def marker(marker_id: str) -> dict:
    try:
        return _BY_ID[marker_id]
    except KeyError:
        raise LabError(f"unknown blood biomarker {marker_id!r}; known: {', '.join(MARKER_IDS)}")


def _check_patient(age, sex) -> int:
    if sex not in ("M", "F"):
        raise LabError(f"sex must be 'M' or 'F', got {sex!r}")
    if isinstance(age, bool) or int(age) != age or age < 0:
        raise LabError(f"age must be a whole number of years >= 0, got {age!r}")
    return int(age)


def reference_band(marker_id: str, age: int, sex: str) -> dict:
    """The range entry of biomarkers.json that applies (first match in file order)."""
    age = _check_patient(age, sex)
    for band in marker(marker_id)["ranges"]:
        if band["sex"] in (sex, "any") and band["age_min"] <= age <= band["age_max"]:
            return band
    raise LabError(f"no reference range for {marker_id} at age {age}, sex {sex}")


def reference_range(marker_id: str, age: int, sex: str) -> tuple[float, float]:
    """(low, high) in the marker's canonical unit, both inclusive."""
    band = reference_band(marker_id, age, sex)
    return float(band["low"]), float(band["high"])


def unit_spec(marker_id: str, unit: str) -> dict:
    """{"unit", "factor", "decimals"} for the canonical unit (factor 1.0) or an alternate."""
    m = marker(marker_id)
    if unit == m["unit"]:
        return {"unit": unit, "factor": 1.0, "decimals": m["decimals"]}
    for alt in m["alternate_units"]:
        if alt["unit"] == unit:
            return {"unit": unit, "factor": float(alt["factor"]), "decimals": alt["decimals"]}
    known = [m["unit"]] + [a["unit"] for a in m["alternate_units"]]
    raise LabError(f"{m['name']}: unit {unit!r} not accepted; use one of {', '.join(known)}")


def convert(value: float, marker_id: str, from_unit: str, to_unit: str) -> float:
    """Convert through the canonical unit: canonical = v / factor_from; out = canonical * factor_to."""
    f_from = unit_spec(marker_id, from_unit)["factor"]
    f_to = unit_spec(marker_id, to_unit)["factor"]
    canonical = value if f_from == 1.0 else value / f_from
    return canonical if f_to == 1.0 else canonical * f_to


def fmt(value: float, decimals: int) -> str:
    """C printf "%.{decimals}f" (correctly rounded from the binary double; no locale)."""
    return "%.*f" % (decimals, value)


# --------------------------------------------------------------------------- findings

def abnormal_findings(panel: dict, age: int, sex: str) -> list[dict]:
    """Abnormal markers of ``panel``, in the fixed marker order of biomarkers.json.

    See ``clinical_sentence`` for the exact rules. Each finding is a dict with: marker,
    index, name, abbreviation, unit, value_text, low_text, high_text, direction ("high" /
    "low"), severity ("mild" / "moderate" / "marked"), ratio, band (the JSON range entry).
    """
    age = _check_patient(age, sex)
    for key in panel:
        marker(key)  # unknown markers are an error, not silently ignored
    out = []
    for index, m in enumerate(MARKERS):
        entry = panel.get(m["id"])
        if entry is None:
            continue
        value = float(entry["value"])
        if not math.isfinite(value) or value < 0:
            raise LabError(f"{m['name']}: value must be a finite number >= 0, got {entry['value']!r}")
        u = unit_spec(m["id"], entry["unit"])
        band = reference_band(m["id"], age, sex)
        d, factor = u["decimals"], u["factor"]
        value_text = fmt(value, d)
        low_text = fmt(float(band["low"]) * factor, d)
        high_text = fmt(float(band["high"]) * factor, d)
        v, lo, hi = float(value_text), float(low_text), float(high_text)
        sev = m["severity"]
        if v > hi:
            direction, ratio = "high", v / hi
            severity = ("marked" if ratio >= sev["high_marked"] else
                        "moderate" if ratio >= sev["high_moderate"] else "mild")
        elif v < lo:
            direction, ratio = "low", v / lo
            severity = ("marked" if ratio <= sev["low_marked"] else
                        "moderate" if ratio <= sev["low_moderate"] else "mild")
        else:
            continue
        out.append({
            "marker": m["id"], "index": index, "name": m["name"],
            "abbreviation": m["abbreviation"], "unit": u["unit"], "value_text": value_text,
            "low_text": low_text, "high_text": high_text, "low_is_zero": float(band["low"]) == 0.0,
            "direction": direction, "severity": severity, "ratio": ratio, "band": band,
        })
    return out


def template_index(finding: dict) -> int:
    """Phrase choice: digits of the printed value read as an integer, plus marker index, mod 3."""
    key = int(finding["value_text"].replace(".", ""))
    return (key + finding["index"]) % len(TEMPLATES)


def _reference_text(f: dict, age: int, sex: str) -> str:
    limits = f"up to {f['high_text']}" if f["low_is_zero"] else f"{f['low_text']}-{f['high_text']}"
    if f["band"]["sex"] == "any":
        who = f"for age {age}"
    else:
        who = f"for a {'male' if sex == 'M' else 'female'} aged {age}"
    return f"{limits} {who}"


def finding_phrase(f: dict, age: int, sex: str) -> str:
    return TEMPLATES[template_index(f)].format(
        name=f["name"], abbreviation=f["abbreviation"], value=f["value_text"], unit=f["unit"],
        severity=SEVERITY_WORDS[(f["direction"], f["severity"])],
        reference=_reference_text(f, age, sex))


def clinical_sentence(panel: dict, age: int, sex: str) -> str:
    """The clinical sentence for the abnormal values of a lab panel (the paper's LLM step).

    Deterministic and portable; the Swift implementation must follow these rules exactly.

    Inputs: ``panel`` maps marker id -> {"value": number >= 0, "unit": str}; ``age`` is whole
    years >= 0; ``sex`` is "M" or "F". An unknown marker, unit or sex, a negative or
    non-finite value, or an age with no range is an error (LabError), never a default.

    1. Empty panel -> "No blood biomarkers available."
    2. For each marker of biomarkers.json in file order (index i = 0..7: alp, ldh, calcium,
       phosphate, crp, esr, wbc, haemoglobin) that is present in the panel:
       a. Unit: the canonical unit (factor 1.0, the marker's "decimals") or one of its
          "alternate_units" (its "factor" and "decimals"); matched by exact string.
       b. Range: the first "ranges" entry with sex == patient sex or "any" and
          age_min <= age <= age_max.
       c. Text: V = printf("%.{d}f", value); L = printf("%.{d}f", low * factor);
          H = printf("%.{d}f", high * factor), with d the unit's decimals and the product an
          IEEE-754 double multiply (low/high/factor are the JSON numbers as doubles).
       d. Compare the texts parsed back as doubles: v = double(V), lo = double(L),
          hi = double(H). If v > hi: direction high, ratio = v / hi; marked if ratio >=
          high_marked, else moderate if ratio >= high_moderate, else mild. Else if v < lo:
          direction low, ratio = v / lo; marked if ratio <= low_marked, else moderate if
          ratio <= low_moderate, else mild. Else normal (limits are inclusive): skip.
       e. Severity words: high mild "slightly raised", moderate "raised", marked
          "markedly raised"; low mild "slightly low", moderate "low", marked "markedly low".
       f. Reference: if the range's JSON low is 0: "up to H", else "L-H"; then a space and
          "for age A" when the range's sex is "any", else "for a male aged A" (sex M) /
          "for a female aged A" (sex F); A = age as a decimal integer.
       g. Template t = (k + i) mod 3, where k = the integer read from V with its "." removed
          (e.g. "10.8" -> 108, "0.5" -> 5, "612" -> 612):
            t=0: "{name} {severity} at {V} {unit} (reference {reference})."
            t=1: "{abbreviation} {V} {unit}, {severity} (reference {reference})."
            t=2: "{name} of {V} {unit} is {severity} (reference {reference})."
          name and abbreviation from the JSON; unit is the panel's unit string verbatim.
    3. No abnormal marker -> "No abnormal blood biomarkers."
       One -> its phrase. n >= 2 -> "{N} abnormal blood biomarkers." followed by the phrases,
       N the English word (Two, Three, ... Eight), all joined by single spaces.

    Example: ALP 612 U/L, boy aged 15 ->
    "Alkaline phosphatase slightly raised at 612 U/L (reference 138-511 for a male aged 15)."
    """
    age = _check_patient(age, sex)
    if not panel:
        return "No blood biomarkers available."
    findings = abnormal_findings(panel, age, sex)
    if not findings:
        return "No abnormal blood biomarkers."
    phrases = [finding_phrase(f, age, sex) for f in findings]
    if len(findings) >= 2:
        phrases.insert(0, f"{COUNT_WORDS[len(findings)]} abnormal blood biomarkers.")
    return " ".join(phrases)


# --------------------------------------------------------------------------- clinical context (REAL in BTXRD)

_ASCII_SPACE = " \t\n\r"


def _ascii_lower(s: str) -> str:
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in s)


def site_parts(site: str | None) -> list[str]:
    """The anatomical site(s) as the sentence names them: split on ";", each part stripped of ASCII
    spaces/tabs/newlines, ASCII letters lowercased (others verbatim), "-" -> " ", empty parts and
    repeats (after these steps) dropped, first occurrence order kept. None -> []."""
    out: list[str] = []
    for p in (site or "").split(";"):
        p = _ascii_lower(p.strip(_ASCII_SPACE)).replace("-", " ")
        if p and p not in out:
            out.append(p)
    return out


def context_sentence(age: int | None, sex: str | None, site: str | None) -> str:
    """The patient's clinical context (age, sex, site: REAL in BTXRD) as one sentence; "" when none
    of the three is known. Deterministic; the Swift twin (ClinicalSentence.context) follows it
    byte for byte (training/vectors/lab_sentences.json, "context_vectors").

    1. Who: age A and sex known: "{Art} {A}-year-old male" / "{Art} {A}-year-old female"; age only:
       "{Art} {A}-year-old patient"; sex only: "A male patient" / "A female patient"; neither:
       "A patient". A = age as a decimal integer (whole years >= 0; else LabError); Art = "An"
       when the decimal A starts with "8" or A is 11 or 18 (eight, eleven, eighteen, eighty...),
       else "A". Sex "M"/"F" (else LabError).
    2. Where: parts = site_parts(site). None: nothing. One: " with a lesion of the {p1}";
       two: " with a lesion of the {p1} and {p2}"; n >= 3: " with a lesion of the {p1}, ...,
       {p(n-1)} and {pn}".
    3. "{who}{where}." -- unless age, sex and parts are all absent: "".

    Example: 15, "M", "tibia;fibula;femur" -> "A 15-year-old male with a lesion of the tibia, fibula and femur."
    The site is used only for tumour images (the classifier); BTXRD records none for normal images.
    """
    if sex is not None and sex not in ("M", "F"):
        raise LabError(f"sex must be 'M' or 'F', got {sex!r}")
    if age is not None and (isinstance(age, bool) or int(age) != age or age < 0):
        raise LabError(f"age must be a whole number of years >= 0, got {age!r}")
    parts = site_parts(site)
    if age is None and sex is None and not parts:
        return ""
    word = {"M": "male", "F": "female"}.get(sex)
    if age is not None:
        a = int(age)
        article = "An" if str(a).startswith("8") or a in (11, 18) else "A"
        who = f"{article} {a}-year-old {word or 'patient'}"
    else:
        who = f"A {word} patient" if word else "A patient"
    where = ""
    if parts:
        names = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        where = f" with a lesion of the {names}"
    return f"{who}{where}."


def clinical_text(panel: dict | None, age: int | None, sex: str | None, site: str | None) -> str | None:
    """What the text encoder reads: the context sentence, then (when a panel is given) the lab
    sentence of ``clinical_sentence``, joined by one space; None when neither exists (the text
    modality is then absent). A panel needs age and sex (the reference ranges depend on both):
    LabError otherwise. An empty panel ({}) counts as no labs (as in the Swift pipeline)."""
    ctx = context_sentence(age, sex, site)
    if panel and (age is None or sex is None):
        raise LabError("labs need the patient's age and sex (the reference ranges depend on both)")
    labs_text = clinical_sentence(panel, age, sex) if panel else None
    parts = [t for t in (ctx, labs_text) if t]
    return " ".join(parts) if parts else None


def branches(panel: dict, age: int, sex: str) -> set[str]:
    """The rule branches of ``clinical_sentence`` a panel exercises (for test coverage)."""
    age = _check_patient(age, sex)
    if not panel:
        return {"empty"}
    fs = abnormal_findings(panel, age, sex)
    out = {"none" if not fs else "one" if len(fs) == 1 else "several"}
    if len(fs) >= 2:
        out.add(f"count:{len(fs)}")
    for f in fs:
        out.add(f"template:{template_index(f)}")
        out.add(f"{f['direction']}:{f['severity']}")
        out.add("reference:up_to" if f["low_is_zero"] else "reference:low_high")
        out.add("context:any" if f["band"]["sex"] == "any" else f"context:{sex}")
        out.add(f"marker:{f['marker']}:{f['direction']}")
        if f["unit"] != marker(f["marker"])["unit"]:
            out.add("unit:alternate")
    for key, entry in panel.items():
        u = unit_spec(key, entry["unit"])
        d = u["decimals"]
        band = reference_band(key, age, sex)
        v = fmt(float(entry["value"]), d)
        if v in (fmt(float(band["low"]) * u["factor"], d), fmt(float(band["high"]) * u["factor"], d)):
            out.add("borderline")
    return out


# --------------------------------------------------------------------------- generator
#
# GENERATED values, drawn from the figures in ../shared/notes/biomarkers.md. Parameters marked
# "assumption" have no source figure; they are our choice and are listed in docs/cohort.md.
# Never tune these to reach a downstream figure.

ANALYTIC_CV = {  # assumption: typical laboratory analytic coefficients of variation
    "alp": 0.05, "ldh": 0.05, "calcium": 0.02, "phosphate": 0.03,
    "crp": 0.08, "esr": 0.10, "wbc": 0.03, "haemoglobin": 0.015,
}
# Healthy values: normal(mid-range, width/5) (so ~1.2% of healthy draws fall outside before
# noise) for two-sided ranges; log-normal for the one-sided CRP and ESR. assumption.
HEALTHY_LOGNORMAL = {"crp": (1.0, 0.9), "esr": (None, 0.45)}  # (median or None = high/3, sigma)
MAGNITUDE_SIGMA = 0.5  # assumption: spread of the excess over the limit (log scale)

# Subtype -> list of (state name, probability, {marker: (direction, p_abnormal, median ratio)}).
# ratio is value / limit (high: > 1; low: < 1).
GENERATOR = {
    "osteosarcoma": [
        # assumption: ~20% present with detectable metastases (not in the notes).
        ("metastatic", 0.20, {
            "alp": ("high", 0.915, 2.5),   # Bacci et al.: raised ALP in 91.5% of metastatic cases
            "ldh": ("high", 0.50, 2.5),    # assumption; LDH >= 850 IU/L predicts metastases (J Bone Oncol 2015)
        }),
        ("localised", 0.80, {
            "alp": ("high", 0.613, 1.6),   # Bacci et al.: raised ALP in 61.3% of localised cases
            "ldh": ("high", 0.15, 1.4),    # assumption: no rate in the notes
        }),
    ],
    "other mt": [
        # assumption: half of BTXRD 'other malignant' shows the Ewing-like inflammatory pattern
        # (raised LDH, ESR, CRP, white cells; anaemia: Medscape workup); rates are assumptions.
        ("ewing_like", 0.50, {
            "ldh": ("high", 0.50, 1.6), "esr": ("high", 0.70, 2.5), "crp": ("high", 0.60, 3.0),
            "wbc": ("high", 0.35, 1.3), "haemoglobin": ("low", 0.40, 0.85),
        }),
        ("other", 0.50, {}),
    ],
    # Giant cell tumour: labs usually normal (notes); benign tumours: no source for any
    # pattern, expect normal; normal radiographs: healthy. All draw healthy values only.
}
CITED_RATES = {  # what docs/cohort.md compares the generated rates with
    ("osteosarcoma", "alp", "high"): "74% (121/163, PubMed 3477902); 61.3% localised, 91.5% metastatic (Bacci et al., n=656)",
    ("other mt", "ldh", "high"): "raised with bulky/metastatic Ewing sarcoma; no rate",
    ("other mt", "esr", "high"): "raised in Ewing sarcoma; no rate",
    ("other mt", "crp", "high"): "raised in Ewing sarcoma; no rate",
    ("other mt", "wbc", "high"): "raised in Ewing sarcoma; no rate",
    ("other mt", "haemoglobin", "low"): "anaemia in Ewing sarcoma; no rate",
    ("giant cell tumor", "*", "*"): "usually normal",
}


def _healthy(marker_id: str, low: float, high: float, rng: np.random.Generator) -> float:
    if marker_id in HEALTHY_LOGNORMAL:
        median, sigma = HEALTHY_LOGNORMAL[marker_id]
        median = high / 3.0 if median is None else median
        return float(median * math.exp(sigma * rng.standard_normal()))
    return float((low + high) / 2.0 + (high - low) / 5.0 * rng.standard_normal())


def _abnormal(direction: str, median_ratio: float, low: float, high: float,
              rng: np.random.Generator) -> float:
    spread = math.exp(MAGNITUDE_SIGMA * rng.standard_normal())
    if direction == "high":
        return high * (1.0 + (median_ratio - 1.0) * spread)
    ratio = max(0.3, 1.0 - (1.0 - median_ratio) * spread)
    return low * ratio


def generate_panel(subtype: str | None, label: str, age: int, sex: str,
                   rng: np.random.Generator, units: dict | None = None) -> dict:
    """A GENERATED lab panel for one patient: {marker: {"value", "unit"}}.

    subtype is the BTXRD subtype ('' or None for normal radiographs), label the BTXRD label.
    Values are drawn in the canonical unit, get analytic noise, and are rounded to the unit's
    decimals; ``units`` (marker -> unit) optionally converts some markers to alternate units.
    The number of rng draws does not depend on the outcome of earlier draws, so one patient's
    panel never shifts another's.
    """
    age = _check_patient(age, sex)
    subtype = subtype or ""
    states = GENERATOR.get(subtype, [("healthy", 1.0, {})])
    u_state = rng.random()
    acc, effects = 0.0, states[-1][2]
    for _name, p, eff in states:
        acc += p
        if u_state < acc:
            effects = eff
            break
    panel = {}
    for m in MARKERS:
        mid = m["id"]
        low, high = reference_range(mid, age, sex)
        u_hit = rng.random()
        healthy = _healthy(mid, low, high, rng)
        if mid in effects:
            direction, p, median_ratio = effects[mid]
            abnormal = _abnormal(direction, median_ratio, low, high, rng)
            true_value = abnormal if u_hit < p else healthy
        else:
            _abnormal("high", 1.5, low, high, rng)  # keep the draw count fixed
            true_value = healthy
        measured = true_value * (1.0 + ANALYTIC_CV[mid] * rng.standard_normal())
        measured = max(measured, 0.0)
        unit = (units or {}).get(mid, m["unit"])
        value = convert(measured, mid, m["unit"], unit)
        panel[mid] = {"value": float(fmt(value, unit_spec(mid, unit)["decimals"])), "unit": unit}
    return panel


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="Print a few generated panels and their sentences.")
    ap.add_argument("--subtype", default="osteosarcoma")
    ap.add_argument("--age", type=int, default=15)
    ap.add_argument("--sex", default="M")
    ap.add_argument("-n", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    r = np.random.default_rng(a.seed)
    label = "malignant" if a.subtype in ("osteosarcoma", "other mt") else "benign"
    for _ in range(a.n):
        p = generate_panel(a.subtype, label, a.age, a.sex, r)
        print(clinical_sentence(p, a.age, a.sex))
