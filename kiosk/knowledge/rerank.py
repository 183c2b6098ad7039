"""A second opinion on which sentence answers: how readily a small LLM asks the question after reading it.

Words choose the candidates; of the best few, the one after which the question is most likely (mean log
probability of the question's tokens, "query likelihood": Sachan et al. 2022, "Improving passage retrieval with
zero-shot question generation") gains. It rewards a sentence that answers over one that only shares the topic
("Where do I pick up my safety shoes?" follows "Shoes are handed out at the stores counter" more readily than
"Safety shoes of class S3 are mandatory"), and it needs no training: the embedded SmolLM2 does it.
Measured in docs/benchmarks.md ("A second opinion on the sentence").
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kiosk.config import LLMSettings

log = logging.getLogger(__name__)

_CTX = 256  # a heading, a quotable sentence (<= 60 words) and a question fit with room to spare
_CACHE = 4096  # (question, sentence) scores kept: visitors ask the same things again


def prompt(topic: str, text: str) -> str:
    """What the model reads before the question."""
    return f"{topic}. {text}\nQuestion:" if topic else f"{text}\nQuestion:"


class QuestionLikelihood:
    """`score(question, [(topic, sentence), ...])`: per sentence, the mean log probability of the question's
    tokens after it (higher: the sentence makes the question more expected)."""

    def __init__(self, model_path: Path, name: str, llm: LLMSettings) -> None:
        from llama_cpp import Llama

        self.name = name
        # Its own small context (the answering LLM keeps its cached persona prefix), all logits kept: every
        # position of the question is scored in one pass. The weights are memory-mapped, so a second instance
        # of the answering model's file costs its context, not another copy of the model.
        self._llm = Llama(model_path=str(model_path), n_ctx=_CTX, n_batch=_CTX, n_ubatch=_CTX,
                          n_threads=llm.n_threads or max(1, os.cpu_count() or 1), n_gpu_layers=llm.gpu_layers,
                          logits_all=True, verbose=False)
        self._lock = threading.Lock()  # one llama.cpp context: the kiosk's turn and the console take turns
        self._cache: OrderedDict[tuple[str, str, str], float] = OrderedDict()

    def score(self, question: str, sentences: Sequence[tuple[str, str]]) -> list[float]:
        asked = self._llm.tokenize((" " + " ".join(question.split())).encode("utf-8"), add_bos=False)
        if not asked:
            return [0.0] * len(sentences)
        with self._lock:
            return [self._one(question, asked, topic, text) for topic, text in sentences]

    def _one(self, question: str, asked: list[int], topic: str, text: str) -> float:
        key = (question, topic, text)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        before = self._llm.tokenize(prompt(topic, text).encode("utf-8"), add_bos=True)
        before = before[: max(1, _CTX - len(asked) - 1)]  # an overlong sentence loses its end, not the question
        asked = asked[: _CTX - len(before)]
        tokens = before + asked
        self._llm.reset()
        self._llm.eval(tokens)
        # row i holds the prediction for token i + 1: the question's tokens are predicted by the rows before them
        rows = np.asarray(self._llm.scores[len(before) - 1: len(tokens) - 1], dtype=np.float64)
        top = rows.max(axis=1, keepdims=True)
        logp = rows - top - np.log(np.exp(rows - top).sum(axis=1, keepdims=True))
        value = float(logp[np.arange(len(asked)), asked].mean())
        self._cache[key] = value
        if len(self._cache) > _CACHE:
            self._cache.popitem(last=False)
        return value
