"""Fusion head: per-modality projection, presence mask, attention-gated pooling, classifier.

  h_i   = GELU(LayerNorm(W_i f_i + b_i))                  (proj.<i>.linear, proj.<i>.norm)   i in image, pathology, labs
  s_i   = v . tanh(U h_i + c) + d                          (attn.hidden, attn.score)
  a     = softmax(s with s_i = -1e9 where m_i = 0) * m     (absent modalities weigh exactly 0; none present -> a = 0)
  z     = sum_i a_i h_i
  logit = W_o LayerNorm(z) + b_o                           (head.norm, head.linear)
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
    def __init__(self, dims=(256, 256, 384), d=128, hidden=64, num_classes=3, p_feat_drop=0.1):
        super().__init__()
        self.proj = nn.ModuleList(Proj(di, d) for di in dims)
        self.attn = nn.Module()
        self.attn.hidden = nn.Linear(d, hidden); self.attn.score = nn.Linear(hidden, 1)
        self.head = nn.Module()
        self.head.norm = nn.LayerNorm(d); self.head.linear = nn.Linear(d, num_classes)
        self.drop = nn.Dropout(p_feat_drop)
        self.config = dict(arch="attention-gated-fusion", dims=list(dims), d=d, hidden=hidden,
                           num_classes=num_classes, modalities=MODALITIES)

    def forward(self, feats, mask, return_attn=False):
        """feats: list of 3 tensors (B, d_i) (any values where absent); mask (B, 3) float 0/1."""
        h = torch.stack([p(self.drop(f)) for p, f in zip(self.proj, feats)], 1)  # (B,3,d)
        s = self.attn.score(torch.tanh(self.attn.hidden(h))).squeeze(-1)          # (B,3)
        s = torch.where(mask > 0, s, torch.full_like(s, -1e9))
        a = torch.softmax(s, 1) * mask
        z = (a.unsqueeze(-1) * h).sum(1)
        logits = self.head.linear(self.head.norm(z))
        return (logits, a) if return_attn else logits
