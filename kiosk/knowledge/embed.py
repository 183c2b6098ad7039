"""Dense embeddings through llama.cpp (a GGUF embedding model loaded with embedding=True)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from kiosk.config import LLMSettings

log = logging.getLogger(__name__)


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

    def embed(self, texts: list[str]) -> list[list[float]]:
        out = []
        for text in texts:  # one at a time: llama.cpp's batch size bounds a single input anyway
            tokens = self._llm.tokenize(text.encode("utf-8"), add_bos=True)[: self._max_tokens]
            out.append(self._llm.embed(self._llm.detokenize(tokens).decode("utf-8", "ignore")))
        return out


def similarity(embedder: LlamaEmbedder, a: str, b: str) -> float:
    """Cosine similarity of two texts' embeddings (0 when either is empty)."""
    va, vb = (np.asarray(v, dtype=np.float32) for v in embedder.embed([a, b]))
    norm = float(np.linalg.norm(va) * np.linalg.norm(vb))
    return float(va @ vb) / norm if norm else 0.0
