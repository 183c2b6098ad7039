#!/usr/bin/env python3
"""Where quoting loses the key fact, and whether closeness in meaning would choose better.

    .venv/bin/python tools/probe_sentence_choice.py --kb /tmp/kbh.sqlite samples/halvorsen-eval.jsonl \
        samples/halvorsen-paraphrases.jsonl --held-out-kb /tmp/kbb.sqlite --held-out samples/brackwater-eval.jsonl

For every single answerable question, the passages the grounder would quote from (the real retriever and
kiosk.knowledge.extract.candidates) and every candidate sentence, labelled by whether it holds the key facts:
- `words`: how often the sentence today's rule chooses holds them; `oracle`: how often any candidate does
  (the most any choice among these passages could reach);
- `meaning`: a linear score over the rule's signals plus the candidate's cosine to the question
  (all-MiniLM-L6-v2, its topic and words, as the answer check embeds them), fit by softmax over each
  question's candidates on one tuning file and measured on the other (cross-set), then fit on both and
  measured on the held-out file (totals only).
This is the measurement behind docs/benchmarks.md "Choosing the sentence" (the meaning score was not adopted).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk.answer.evaluate import has_facts, load_cases  # noqa: E402
from kiosk.config import load_settings  # noqa: E402
from kiosk.knowledge.embed import LlamaEmbedder  # noqa: E402
from kiosk.knowledge.extract import Candidate, _words_score, candidates  # noqa: E402
from kiosk.knowledge.retrieve import Retriever  # noqa: E402
from kiosk.models.locate import locate  # noqa: E402
from kiosk.runtime import synonym_groups  # noqa: E402

Question = list[tuple[np.ndarray, float, float]]  # per candidate: features, share of key facts held, words score


def topic(c: Candidate) -> str:
    h = c.hit
    return h.question if h.kind == "faq" else (h.section.rsplit(">", 1)[-1].strip() or h.title)


def features(c: Candidate, closeness: float) -> np.ndarray:
    return np.array([c.own, c.context, c.plain, c.rank, closeness, c.hit.coverage,
                     min(len(c.text.split()), 60) / 60, float(c.index == 0)])


def answerable(kb: Path, path: Path, settings):  # noqa: ANN001, ANN201
    """Each answerable single question of the file with the candidate sentences the grounder weighs for it."""
    k = settings.knowledge
    with Retriever(kb, synonyms=synonym_groups(k)) as r:
        for case in load_cases(path):
            if case.follow_up or not case.answerable:
                continue
            hits = r.search(case.question, k.top_k * 2)
            used = [h for i, h in enumerate(hits[:k.top_k]) if i == 0 or h.coverage >= k.min_coverage / 2]
            yield case, candidates(used, r.term_weights(case.question), case.question)


def collect(kb: Path, path: Path, settings, embedder: LlamaEmbedder) -> list[Question]:  # noqa: ANN001
    out = []
    for case, found in answerable(kb, path, settings):
        if not found:
            out.append([])
            continue
        vectors = np.asarray(embedder.embed([case.question] + [f"{topic(c)}. {c.text}" for c in found]))
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-9)
        out.append([(features(c, float(vectors[0] @ v)), held(case, c.text), _words_score(c))
                    for c, v in zip(found, vectors[1:], strict=True)])
    return out


def held(case, text: str) -> float:  # noqa: ANN001 - evaluate.Case
    """The share of the case's key facts the text holds."""
    return sum(has_facts(text, (g,)) for g in case.key_facts) / max(1, len(case.key_facts))


def fit(questions: list[Question], l2: float = 0.1, steps: int = 3000, rate: float = 0.5) -> np.ndarray:
    """Softmax over each question's candidates toward the share of key facts each holds."""
    groups = []
    for q in questions:
        y = np.array([held for _, held, _ in q])
        if len(q) > 1 and y.sum() > 0 and y.min() < y.max():
            groups.append((np.array([f for f, _, _ in q]), y / y.sum()))
    w = np.zeros(len(groups[0][0][0]))
    for _ in range(steps):
        grad = l2 * w
        for x, y in groups:
            s = x @ w
            p = np.exp(s - s.max())
            grad += x.T @ (p / p.sum() - y) / len(groups)
        w -= rate * grad
    return w


def rate(questions: list[Question], pick) -> float:  # noqa: ANN001
    """Share of the questions whose chosen candidate holds every key fact."""
    return round(sum(bool(q) and max(q, key=pick)[1] == 1.0 for q in questions) / max(1, len(questions)), 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs=2, type=Path, help="two tuning files (fit on each, measured on the other)")
    parser.add_argument("--kb", required=True, type=Path)
    parser.add_argument("--held-out", type=Path)
    parser.add_argument("--held-out-kb", type=Path)
    parser.add_argument("--config", default="provisioning/personas/onboarding-coach.toml")
    args = parser.parse_args()
    settings = load_settings(args.config)
    loc = locate(settings, "all-minilm-l6-v2", "embedding", "knowledge.answer_check")
    embedder = LlamaEmbedder(loc.path, "all-minilm-l6-v2", settings.llm)
    sets = {p.name: collect(args.kb, p, settings, embedder) for p in args.files}
    if args.held_out and args.held_out_kb:
        sets[args.held_out.name + " (held out)"] = collect(args.held_out_kb, args.held_out, settings, embedder)
    names = [p.name for p in args.files]
    both = fit(sets[names[0]] + sets[names[1]])
    print(f"weights fit on both (own, context, plain, rank, meaning, coverage, length, first): {np.round(both, 3)}")
    for name, qs in sets.items():
        if name in names:
            other = fit(sets[names[1 - names.index(name)]])
            meaning = f"meaning (fit on the other file) {rate(qs, lambda c, w=other: c[0] @ w)}"
        else:
            meaning = f"meaning (fit on both) {rate(qs, lambda c: c[0] @ both)}"
        print(f"{name}: {len(qs)} answerable; words {rate(qs, lambda c: c[2])}; {meaning}; "
              f"oracle {rate(qs, lambda c: c[1])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
