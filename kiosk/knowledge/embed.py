"""Dense embeddings through llama.cpp (a GGUF embedding model loaded with embedding=True)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from kiosk.config import LLMSettings

log = logging.getLogger(__name__)

_CACHE = 2048  # vectors kept (MiniLM: 1.5 kB each)


class LlamaEmbedder:
    """`.name` identifies the model in the index, so vectors from another model are recomputed."""

    def __init__(self, model_path: Path, name: str, llm: LLMSettings, n_ctx: int = 512) -> None:
        from llama_cpp import LLAMA_POOLING_TYPE_MEAN, Llama

        self.name = name
        threads = llm.n_threads or max(1, os.cpu_count() or 1)
        # Mean pooling works for dedicated embedding models and decoder LLMs alike.
        self._llm = Llama(
            model_path=str(model_path),
            embedding=True,
            n_ctx=n_ctx,
            n_batch=n_ctx,
            n_ubatch=n_ctx,
            n_threads=threads,
            n_gpu_layers=llm.gpu_layers,
            pooling_type=LLAMA_POOLING_TYPE_MEAN,
            verbose=False,
        )
        self._max_tokens = n_ctx - 8
        self._cache: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str]) -> list[np.ndarray]:
        """One vector per text. Texts seen lately come from a cache (the kiosk's documents are quoted
        again and again); the rest go to llama.cpp in one batch, which it splits by its batch size."""
        found = {t: self._cache[t] for t in texts if t in self._cache}
        todo = list(dict.fromkeys(t for t in texts if t not in found))
        if todo:
            clipped = [self._clip(t) for t in todo]
            vectors = self._llm.embed(clipped) if len(clipped) > 1 else [self._llm.embed(clipped[0])]
            for text, vector in zip(todo, vectors, strict=True):
                if len(self._cache) >= _CACHE:
                    self._cache.pop(next(iter(self._cache)))  # the oldest first
                found[text] = self._cache[text] = np.asarray(vector, dtype=np.float32)
        # from `found`: a batch larger than the cache pushes out its own first vectors while it is stored
        return [found[t] for t in texts]

    def _clip(self, text: str) -> str:
        tokens = self._llm.tokenize(text.encode("utf-8"), add_bos=True)[: self._max_tokens]
        return self._llm.detokenize(tokens).decode("utf-8", "ignore")


def similarity(embedder: LlamaEmbedder, a: str, b: str) -> float:
    """Cosine similarity of two texts' embeddings (0 when either is empty)."""
    va, vb = (np.asarray(v, dtype=np.float32) for v in embedder.embed([a, b]))
    norm = float(np.linalg.norm(va) * np.linalg.norm(vb))
    return float(va @ vb) / norm if norm else 0.0
