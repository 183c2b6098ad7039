#!/usr/bin/env python3
"""Could closeness in meaning decide "I don't know"? Every sentence of a knowledge base embedded, each
single question of an eval set matched against all of them.

    .venv/bin/python tools/probe_sentence_meaning.py --kb /tmp/kbh.sqlite samples/halvorsen-paraphrases.jsonl \
        [--model all-minilm-l6-v2 | --model all-mpnet-base-v2 --mpnet-dir DIR] [--json]

Per file: how often the closest sentence holds the key fact, and how well the closest sentence's cosine
separates answerable from unanswerable questions (AUC: 0.5 is chance, 1.0 a perfect threshold), with the
medians of both groups. This is the measurement behind docs/benchmarks.md's "meaning-based declines".
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from kiosk.answer.evaluate import has_facts, load_cases  # noqa: E402
from kiosk.config import load_settings  # noqa: E402
from kiosk.knowledge.chunking import split_sentences  # noqa: E402
from kiosk.knowledge.embed import LlamaEmbedder  # noqa: E402
from kiosk.knowledge.extract import heading_like  # noqa: E402
from kiosk.models.locate import locate  # noqa: E402


def sentences(kb: Path) -> list[tuple[str, str]]:
    """(context, sentence) for every spoken sentence of the index: the FAQ's question or the section heading."""
    conn = sqlite3.connect(f"file:{kb}?mode=ro", uri=True)
    out = []
    for title, section, kind, question, text in conn.execute("SELECT title, section, kind, question, text FROM chunks"):
        context = question if kind == "faq" else (section.rsplit(">", 1)[-1].strip() or title)
        out += [(context, s) for s in split_sentences(text) if not heading_like(s)]
    return out


def auc(positive: list[float], negative: list[float]) -> float:
    if not positive or not negative:
        return float("nan")
    return float(np.mean([[p > n for n in negative] for p in positive]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--kb", required=True, type=Path)
    parser.add_argument("--model", default="all-minilm-l6-v2",
                        help="an embedding model of the manifest, or all-mpnet-base-v2 with --mpnet-dir")
    parser.add_argument("--mpnet-dir", type=Path, help="the unpacked all-mpnet-base-v2 (tools/mpnet_numpy.py)")
    parser.add_argument("--config", default="provisioning/personas/onboarding-coach.toml")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    settings = load_settings(args.config)
    if args.model == "all-mpnet-base-v2":
        from mpnet_numpy import MPNet  # a numpy reference, measurements only

        embedder = MPNet(args.mpnet_dir)
    else:
        embedder = LlamaEmbedder(locate(settings, args.model, "embedding", "--model").path, args.model, settings.llm)

    def unit(texts: list[str]) -> np.ndarray:
        v = np.asarray(embedder.embed(texts), dtype=np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True).clip(1e-9)

    pairs = sentences(args.kb)
    matrix = np.concatenate([unit([f"{c}. {s}" for c, s in pairs[i:i + 32]]) for i in range(0, len(pairs), 32)])
    report = []
    for path in args.files:
        answerable: list[float] = []
        unanswerable: list[float] = []
        hits = 0
        for case in load_cases(path):
            if case.follow_up:
                continue
            sims = matrix @ unit([case.question])[0]
            best = int(np.argmax(sims))
            (answerable if case.answerable else unanswerable).append(float(sims[best]))
            hits += case.answerable and has_facts(pairs[best][1], case.key_facts)
        report.append({"file": str(path), "sentences": len(pairs), "answerable": len(answerable),
                       "unanswerable": len(unanswerable),
                       "closest_sentence_key_fact": round(hits / max(1, len(answerable)), 3),
                       "auc": round(auc(answerable, unanswerable), 3),
                       "median_answerable": round(float(np.median(answerable)), 3) if answerable else None,
                       "median_unanswerable": round(float(np.median(unanswerable)), 3) if unanswerable else None})
    if args.json:
        print(json.dumps({"model": args.model, "results": report}, indent=2))
    else:
        for r in report:
            print(f"{r['file']}: closest sentence holds the key fact {r['closest_sentence_key_fact']}; "
                  f"AUC {r['auc']} (median cosine {r['median_answerable']} answerable, "
                  f"{r['median_unanswerable']} unanswerable)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
