"""Reference outputs for the Swift text path: token ids from Hugging Face's `tokenizers`
(an independent implementation of the uncased BERT WordPiece tokenizer) and sentence embeddings
from all-MiniLM-L6-v2 computed in plain PyTorch (training/engine_reference.py's BERT layer).

    python training/make_text_fixtures.py    # writes Tests/ModelsTests/Fixtures/text.json
Needs models/text/all-MiniLM-L6-v2 (scripts/fetch-text-encoder) and `pip install tokenizers torch`.
"""
from __future__ import annotations

import json
import pathlib

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from tokenizers import Tokenizer

import engine_reference as ref

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEXT = ROOT / "models/text/all-MiniLM-L6-v2"

EDGE_CASES = [
    "No abnormal blood biomarkers.",
    "Alkaline phosphatase markedly raised at 612 U/L (reference 138-511 for age 15).",
    "  Leading and trailing   spaces\tand\ttabs\nand newlines  ",
    "Café, naïve résumé: ÀÉÎÕÜ façade — “quotes” and ‘apostrophes’…",
    "Hämoglobin 9,8 g/dL; CRP >10 mg/L; ESR=45mm/h!!",
    "ALP 1,234.5 IU/L ×2.4 ULN ± 3% ≥ 850 µmol/L",
    "骨肉瘤 osteosarcoma 巨細胞腫瘍 giant cell tumour",
    "supercalifragilisticexpialidociousness antidisestablishmentarianism",
    "a" * 101 + " short",
    "control\u0000char\u200bzero\u00adsoft\ufffdreplacement",
    "",
    "word " * 200,
]


def main():
    vectors = json.loads((ROOT / "training/vectors/lab_sentences.json").read_text())
    items = vectors["vectors"] if isinstance(vectors, dict) else vectors
    sentences = sorted({v["sentence"] for v in items})
    tok = Tokenizer.from_file(str(TEXT / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(128)
    cases = [{"text": s, "ids": tok.encode(s).ids} for s in EDGE_CASES + sentences]

    cfg = json.loads((TEXT / "config.json").read_text())
    w = load_file(str(TEXT / "model.safetensors"))
    d = cfg["hidden_size"]
    layers = []
    for i in range(cfg["num_hidden_layers"]):
        layer = ref.BertLayer(d, cfg["num_attention_heads"], cfg["intermediate_size"], cfg["layer_norm_eps"]).eval()
        prefix = f"encoder.layer.{i}."
        layer.load_state_dict({k[len(prefix):]: v.float() for k, v in w.items() if k.startswith(prefix)})
        layers.append(layer)

    def embed(ids):
        x = torch.tensor(ids)[None]
        h = w["embeddings.word_embeddings.weight"][x] + w["embeddings.position_embeddings.weight"][: len(ids)][None] \
            + w["embeddings.token_type_embeddings.weight"][0]
        h = F.layer_norm(h, (d,), w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], cfg["layer_norm_eps"])
        mask = torch.ones(1, len(ids), dtype=torch.long)
        for layer in layers:
            h = layer(h, mask)
        return F.normalize(h.mean(1), dim=-1)[0]

    with torch.no_grad():
        for c in cases[:4] + cases[len(EDGE_CASES):len(EDGE_CASES) + 4]:
            c["embedding"] = [round(float(v), 7) for v in embed(c["ids"])]
    out = ROOT / "Tests/ModelsTests/Fixtures/text.json"
    out.write_text(json.dumps({"tokenizer": "tokenizers " + __import__("tokenizers").__version__,
                               "max_length": 128, "cases": cases}, ensure_ascii=False, indent=0))
    print(f"{out.relative_to(ROOT)}: {len(cases)} tokenised texts, "
          f"{sum('embedding' in c for c in cases)} embeddings")


if __name__ == "__main__":
    main()
