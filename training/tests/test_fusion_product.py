"""The fusion head's product rule (training/fusion.py, docs/method.md section 12): the combined logits are the sum
of each present modality's log-softmax of the head run on it alone, over that modality's temperature; absent
modalities add nothing, and the rule and temperatures survive export and load (what the Swift side reads)."""
import json
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not in the test venv (training/requirements.txt installs it)")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import common, export  # noqa: E402
from fusion import FusionHead  # noqa: E402


def head(combine):
    torch.manual_seed(3)
    m = FusionHead(dims=(6, 5, 7), d=8, hidden=4, combine=combine).eval()
    return m


def test_product_is_the_sum_of_each_modalitys_calibrated_log_probabilities():
    prod, joint = head("product"), head("attention")
    joint.load_state_dict({k: v for k, v in prod.state_dict().items() if k != "expert_temperature"})
    t = torch.tensor([1.9, 0.7, 1.2]); prod.expert_temperature.copy_(t)
    feats = [torch.randn(4, 6), torch.randn(4, 5), torch.randn(4, 7)]
    mask = torch.tensor([[1, 1, 1], [1, 0, 1], [0, 1, 0], [0, 0, 0]], dtype=torch.float32)
    with torch.no_grad():
        got = prod(feats, mask)
        want = torch.zeros(4, 3)
        for i in range(3):
            only = torch.zeros(4, 3); only[:, i] = 1
            want += mask[:, i:i + 1] * torch.log_softmax(joint(feats, only) / t[i], 1)
    assert torch.allclose(got, want, atol=1e-6)
    assert torch.equal(got[3], torch.zeros(3)), "nothing present: every logit 0"
    # the attention returned is the joint pass's, whichever the rule
    assert torch.equal(prod(feats, mask, return_attn=True)[1], joint(feats, mask, return_attn=True)[1])


def test_the_rule_and_its_temperatures_survive_export_and_load(tmp_path, monkeypatch):
    m = head("attention")
    ck = tmp_path / "fusion.pt"
    torch.save({"model": m.state_dict(), "config": m.config, "epoch": 0}, ck)
    monkeypatch.setattr(common, "MODELS", tmp_path); monkeypatch.setattr(common, "REPO", tmp_path)
    out, _ = export.export("fusion", ckpt=ck)
    back = export.load("fusion", out)
    assert back.combine == "product" and back.meta["combine"] == "product", "export writes the shipped rule"
    assert torch.equal(back.expert_temperature, torch.ones(3)), "temperatures 1 until calibrate.py fits them"
    # an old file (no rule in its config, no expert_temperature) still reads as the attention head
    from safetensors.torch import load_file
    sd = load_file(str(out)); sd.pop("expert_temperature")
    meta = dict(back.meta); meta.pop("combine")
    old = tmp_path / "old.safetensors"; common.save_safetensors(sd, old, meta)
    assert export.load("fusion", old).combine == "attention"
