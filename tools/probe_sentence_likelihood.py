#!/usr/bin/env python3
"""Would a small LLM's query likelihood choose the sentence to quote better than the words do?

    .venv/bin/python tools/probe_sentence_likelihood.py --model PATH.gguf \
        /tmp/kbh.sqlite:samples/halvorsen-eval.jsonl /tmp/kbh.sqlite:samples/halvorsen-paraphrases.jsonl \
        /tmp/kbn.sqlite:samples/northpine-eval.jsonl

For every answerable single question, the candidate sentences the grounder weighs (the real retriever and
kiosk.knowledge.extract.candidates), each scored by the mean log probability of the question's tokens after
"<heading>. <sentence>\\nQuestion:" (Sachan et al. 2022). Printed per file: how often the sentence chosen by
the words, by the likelihood alone, by the likelihood among the best k by words, and by words + a * likelihood
among the best k holds every key fact; `oracle`: any candidate does. The measurement behind docs/benchmarks.md
"A second opinion on the sentence" (not adopted; the whole-pipeline figures there came from commit 8305b7d).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from probe_sentence_choice import answerable, held, topic  # noqa: E402

from kiosk.config import load_settings  # noqa: E402
from kiosk.knowledge.extract import _words_score  # noqa: E402

Row = tuple[float, float, float]  # share of the key facts held, words score, likelihood


class Likelihood:
    def __init__(self, path: str) -> None:
        from llama_cpp import Llama

        self.llm = Llama(model_path=path, n_ctx=512, n_batch=512, n_threads=os.cpu_count(), logits_all=True,
                         verbose=False)

    def __call__(self, before: str, question: str) -> float:
        a = self.llm.tokenize(before.encode(), add_bos=True)
        q = self.llm.tokenize((" " + question.strip()).encode(), add_bos=False)
        tokens = (a + q)[-500:]
        self.llm.reset()
        self.llm.eval(tokens)
        rows = np.asarray(self.llm.scores[len(tokens) - len(q) - 1: len(tokens) - 1], dtype=np.float64)
        top = rows.max(1, keepdims=True)
        logp = rows - top - np.log(np.exp(rows - top).sum(1, keepdims=True))
        return float(logp[np.arange(len(q)), q].mean())


def collect(kb: Path, path: Path, settings, score: Likelihood) -> list[list[Row]]:  # noqa: ANN001
    return [[(held(case, c.text), _words_score(c), score(f"{topic(c)}. {c.text}\nQuestion:", case.question))
             for c in found] for case, found in answerable(kb, path, settings)]


def rate(rows: list[list[Row]], pick, k: int | None = None) -> float:  # noqa: ANN001
    ok = 0
    for r in rows:
        if r:
            pool = sorted(r, key=lambda c: -c[1])[:k] if k else r
            ok += max(pool, key=pick)[0] == 1.0
    return round(ok / max(1, len(rows)), 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sets", nargs="+", help="KB:EVAL.jsonl pairs")
    parser.add_argument("--model", required=True, help="a GGUF LLM")
    parser.add_argument("--config", default="provisioning/personas/onboarding-coach.toml")
    args = parser.parse_args()
    settings = load_settings(args.config)
    score = Likelihood(args.model)
    for pair in args.sets:
        kb, path = pair.split(":", 1)
        t = time.perf_counter()
        rows = collect(Path(kb), Path(path), settings, score)
        line = {"questions": len(rows), "candidates": sum(map(len, rows)), "seconds": round(time.perf_counter() - t),
                "words": rate(rows, lambda c: c[1]), "likelihood": rate(rows, lambda c: c[2]),
                "oracle": rate(rows, lambda c: c[0])}
        for k in (3, 6):
            line[f"likelihood among best {k}"] = rate(rows, lambda c: c[2], k)
            for a in (0.5, 1.0):
                line[f"words + {a} x likelihood, best {k}"] = rate(rows, lambda c, a=a: c[1] + a * c[2], k)
        print(path, json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
