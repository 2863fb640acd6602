"""Plain-torch WordPiece + MiniLM against Hugging Face tokenizers / transformers (when installed)."""
import sys
from pathlib import Path
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not in the test venv (training/requirements.txt installs it)")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import text_encoder as te

pytestmark = pytest.mark.skipif(not (te.TEXT_DIR / "model.safetensors").exists(), reason="run scripts/fetch-text-encoder")
SENTENCES = [
    "Alkaline phosphatase markedly raised at 612 U/L (reference 138-511 for age 15).",
    "No abnormal blood biomarkers.",
    "Three abnormal blood biomarkers. LDH 426 U/L, raised (reference 90-203 for age 12). CRP 12.5 mg/L; ESR 40 mm/h.",
    "Haemoglobin 10.9 g/dL is slightly low — café naïve ÄÖÜ 10^9/L, WBC 11.2x10^9/L!!",
]


def test_tokenizer_matches_hf():
    tokenizers = pytest.importorskip("tokenizers")
    hf = tokenizers.Tokenizer.from_file(str(te.TEXT_DIR / "tokenizer.json"))
    hf.no_padding()
    wp = te.WordPiece()
    for s in SENTENCES + ["x" * 150 + " ok", "中文 mixed 字"]:
        assert wp.encode(s) == hf.encode(s).ids, s


def test_embeddings_match_transformers():
    transformers = pytest.importorskip("transformers")
    torch.set_num_threads(2)
    ref = transformers.AutoModel.from_pretrained(str(te.TEXT_DIR)).eval()
    enc = te.TextEncoder()
    ours = enc.encode(SENTENCES)
    with torch.no_grad():
        for k, s in enumerate(SENTENCES):
            ids = torch.tensor([enc.tok.encode(s)]); m = torch.ones_like(ids)
            h = ref(input_ids=ids, attention_mask=m).last_hidden_state
            v = torch.nn.functional.normalize(h.mean(1), dim=1)[0]
            assert torch.allclose(ours[k], v, atol=1e-5), (s, (ours[k] - v).abs().max())


def test_padding_does_not_change_embedding():
    enc = te.TextEncoder()
    a = enc.encode(SENTENCES[:1]); b = enc.encode(SENTENCES)[:1]
    assert torch.allclose(a, b, atol=1e-5)
