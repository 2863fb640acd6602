"""all-MiniLM-L6-v2 in plain torch: BERT uncased WordPiece tokenizer + 6-layer BERT encoder, mean pooling over
the attention mask, L2 normalisation (the sentence-transformers recipe). Frozen; stands in for BioBERT."""
import json, os, unicodedata
from pathlib import Path
import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = Path(__file__).resolve().parent.parent
TEXT_DIR = REPO / "models" / "text" / "all-MiniLM-L6-v2"
MAX_LEN = 128  # tokenizer.json truncation (longest first) incl. [CLS]/[SEP]


def _is_punct(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
            or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


class WordPiece:
    """BertNormalizer(clean_text, handle_chinese_chars, lowercase, strip accents since lowercase) +
    BertPreTokenizer (whitespace, punctuation split) + WordPiece (greedy longest match, '##', 100 chars -> [UNK])."""
    def __init__(self, vocab_path=TEXT_DIR / "vocab.txt"):
        self.vocab = {}
        with open(vocab_path, encoding="utf-8") as f:
            for i, line in enumerate(f):
                self.vocab[line.rstrip("\n")] = i
        self.cls, self.sep, self.unk, self.pad = (self.vocab[t] for t in ("[CLS]", "[SEP]", "[UNK]", "[PAD]"))

    def normalize(self, text):
        out = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or (unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\t\n\r"):
                continue
            if ch in " \t\n\r" or unicodedata.category(ch) == "Zs":
                out.append(" ")
            elif _is_cjk(cp):
                out.append(f" {ch} ")
            else:
                out.append(ch)
        text = "".join(out).lower()
        text = unicodedata.normalize("NFD", text)
        return "".join(c for c in text if unicodedata.category(c) != "Mn")

    def pretokenize(self, text):
        words, cur = [], []
        for ch in text:
            if ch == " ":
                if cur:
                    words.append("".join(cur)); cur = []
            elif _is_punct(ch):
                if cur:
                    words.append("".join(cur)); cur = []
                words.append(ch)
            else:
                cur.append(ch)
        if cur:
            words.append("".join(cur))
        return words

    def wordpiece(self, word):
        if len(word) > 100:
            return [self.unk]
        ids, start = [], 0
        while start < len(word):
            end, cur = len(word), None
            while start < end:
                sub = word[start:end] if start == 0 else "##" + word[start:end]
                if sub in self.vocab:
                    cur = self.vocab[sub]; break
                end -= 1
            if cur is None:
                return [self.unk]
            ids.append(cur); start = end
        return ids

    def encode(self, text, max_len=MAX_LEN):
        ids = [t for w in self.pretokenize(self.normalize(text)) for t in self.wordpiece(w)]
        return [self.cls] + ids[:max_len - 2] + [self.sep]


class BertLayer(nn.Module):
    def __init__(self, h=384, heads=12, inter=1536, eps=1e-12):
        super().__init__()
        self.heads = heads
        self.attention = nn.Module()
        self.attention.self = nn.Module()
        self.attention.self.query = nn.Linear(h, h); self.attention.self.key = nn.Linear(h, h)
        self.attention.self.value = nn.Linear(h, h)
        self.attention.output = nn.Module()
        self.attention.output.dense = nn.Linear(h, h); self.attention.output.LayerNorm = nn.LayerNorm(h, eps=eps)
        self.intermediate = nn.Module(); self.intermediate.dense = nn.Linear(h, inter)
        self.output = nn.Module()
        self.output.dense = nn.Linear(inter, h); self.output.LayerNorm = nn.LayerNorm(h, eps=eps)

    def forward(self, x, add_mask):
        B, T, H = x.shape; nh = self.heads; dh = H // nh
        s = self.attention.self
        q = s.query(x).view(B, T, nh, dh).transpose(1, 2)
        k = s.key(x).view(B, T, nh, dh).transpose(1, 2)
        v = s.value(x).view(B, T, nh, dh).transpose(1, 2)
        a = (q @ k.transpose(-1, -2)) / dh ** 0.5 + add_mask
        ctx = (a.softmax(-1) @ v).transpose(1, 2).reshape(B, T, H)
        x = self.attention.output.LayerNorm(self.attention.output.dense(ctx) + x)
        y = self.output.dense(F.gelu(self.intermediate.dense(x)))  # exact (erf) GELU
        return self.output.LayerNorm(y + x)


class MiniLM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        h = cfg["hidden_size"]
        self.embeddings = nn.Module()
        self.embeddings.word_embeddings = nn.Embedding(cfg["vocab_size"], h)
        self.embeddings.position_embeddings = nn.Embedding(cfg["max_position_embeddings"], h)
        self.embeddings.token_type_embeddings = nn.Embedding(cfg["type_vocab_size"], h)
        self.embeddings.LayerNorm = nn.LayerNorm(h, eps=cfg["layer_norm_eps"])
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList(BertLayer(h, cfg["num_attention_heads"], cfg["intermediate_size"],
                                                     cfg["layer_norm_eps"]) for _ in range(cfg["num_hidden_layers"]))

    def forward(self, ids, mask):
        T = ids.shape[1]
        e = self.embeddings
        x = e.word_embeddings(ids) + e.position_embeddings(torch.arange(T))[None] + e.token_type_embeddings(torch.zeros_like(ids))
        x = e.LayerNorm(x)
        add = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in self.encoder.layer:
            x = layer(x, add)
        return x  # last hidden state

    def embed(self, ids, mask):
        h = self(ids, mask); m = mask.unsqueeze(-1).float()
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return F.normalize(pooled, p=2, dim=1)


class TextEncoder:
    def __init__(self, model_dir=TEXT_DIR):
        from safetensors.torch import load_file
        cfg = json.load(open(Path(model_dir) / "config.json"))
        self.tok = WordPiece(Path(model_dir) / "vocab.txt")
        self.model = MiniLM(cfg).eval()
        sd = {k: v for k, v in load_file(str(Path(model_dir) / "model.safetensors")).items()
              if not k.startswith("pooler") and k != "embeddings.position_ids"}
        missing, unexpected = self.model.load_state_dict(sd, strict=True), None

    @torch.no_grad()
    def encode(self, sentences, bs=64):
        out = []
        for i in range(0, len(sentences), bs):
            toks = [self.tok.encode(s) for s in sentences[i:i + bs]]
            T = max(len(t) for t in toks)
            ids = torch.tensor([t + [self.tok.pad] * (T - len(t)) for t in toks])
            mask = torch.tensor([[1] * len(t) + [0] * (T - len(t)) for t in toks])
            out.append(self.model.embed(ids, mask))
        return torch.cat(out)
