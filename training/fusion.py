"""Fusion head: per-modality projection, presence mask, attention-gated pooling, classifier.

  h_i   = GELU(LayerNorm(W_i f_i + b_i))                  (proj.<i>.linear, proj.<i>.norm)   i in image, pathology, labs
  s_i   = v . tanh(U h_i + c) + d                          (attn.hidden, attn.score)
  a     = softmax(s with s_i = -1e9 where m_i = 0) * m     (absent modalities weigh exactly 0; none present -> a = 0)
  z     = sum_i a_i h_i
  logit = W_o LayerNorm(z) + b_o                           (head.norm, head.linear)

combine = "product" (issue 15; the config's `combine`, the shipped rule since then): the head is run once per present
modality, alone, and the answer sums their calibrated log-probabilities, a product of experts:
  logit = sum_i m_i log_softmax(joint(f, mask = only i) / t_i)         t = expert_temperature, fitted on val (NLL)
so each modality adds its own evidence, and two that agree move the answer further than either alone; the
attention pooling of the joint pass can only average their projections. With nothing present every logit is 0.
The head is still trained as the joint (attention) head; the product is how it is read (docs/method.md section 12).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

MODALITIES = ["image", "pathology", "labs"]


class Proj(nn.Module):
    def __init__(self, d_in, d):
        super().__init__()
        self.linear = nn.Linear(d_in, d); self.norm = nn.LayerNorm(d)

    def forward(self, x):
        return F.gelu(self.norm(self.linear(x)))


class FusionHead(nn.Module):
    def __init__(self, dims=(256, 256, 384), d=128, hidden=64, num_classes=3, p_feat_drop=0.1, combine="attention"):
        super().__init__()
        self.proj = nn.ModuleList(Proj(di, d) for di in dims)
        self.attn = nn.Module()
        self.attn.hidden = nn.Linear(d, hidden); self.attn.score = nn.Linear(hidden, 1)
        self.head = nn.Module()
        self.head.norm = nn.LayerNorm(d); self.head.linear = nn.Linear(d, num_classes)
        self.drop = nn.Dropout(p_feat_drop)
        assert combine in ("attention", "product"), combine
        self.combine = combine
        self.config = dict(arch="attention-gated-fusion", dims=list(dims), d=d, hidden=hidden,
                           num_classes=num_classes, modalities=MODALITIES)
        if combine != "attention":
            self.config["combine"] = combine
            self.register_buffer("expert_temperature", torch.ones(len(dims)))

    def forward(self, feats, mask, return_attn=False):
        """feats: list of 3 tensors (B, d_i) (any values where absent); mask (B, 3) float 0/1. The attention returned
        is the joint pass's, whichever the combine rule."""
        logits, a = self.joint(feats, mask)
        if self.combine == "product":
            logits = self.product(feats, mask)
        return (logits, a) if return_attn else logits

    def product(self, feats, mask):
        """sum over the present modalities of each one's calibrated log-probabilities, the head run on it alone."""
        out = torch.zeros(mask.shape[0], self.head.linear.out_features, device=mask.device)
        for i in range(mask.shape[1]):
            lp = torch.log_softmax(self.alone(feats, i) / self.expert_temperature[i], 1)
            out = out + torch.where(mask[:, i:i + 1] > 0, lp, torch.zeros_like(lp))   # an absent slot's values never count
        return out

    def alone(self, feats, i):
        """the joint head's logits with modality i alone present"""
        only = torch.zeros(feats[0].shape[0], len(feats), device=feats[0].device); only[:, i] = 1
        return self.joint(feats, only)[0]

    def joint(self, feats, mask):
        h = torch.stack([p(self.drop(f)) for p, f in zip(self.proj, feats)], 1)  # (B,3,d)
        s = self.attn.score(torch.tanh(self.attn.hidden(h))).squeeze(-1)          # (B,3)
        s = torch.where(mask > 0, s, torch.full_like(s, -1e9))
        a = torch.softmax(s, 1) * mask
        z = (a.unsqueeze(-1) * h).sum(1)
        return self.head.linear(self.head.norm(z)), a
