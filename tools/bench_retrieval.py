#!/usr/bin/env python3
"""Query latency of the knowledge retriever on synthetic corpora of 1k, 10k and 100k chunks.

    .venv/bin/python tools/bench_retrieval.py [--sizes 1000 10000 100000] [--queries 300] [--dense 384] [--json]

Each corpus is generated deterministically (random.Random(seed)): a Zipf-distributed vocabulary of
common English words plus ~3000 made-up ones, documents of 10 chunks of ~200 tokens with titles,
sections and some FAQ entries. It is written straight into an index file with index.py's
insert_document (no parsing), then queried with spoken-style questions of 3-8 content words: half
taken from the corpus, half random (partly words that occur nowhere). The timing covers everything
Retriever.search does (query building, BM25, coverage, row fetch). The process is pinned to one
core when the OS allows, so the numbers mean "one core of this machine". --dense adds random unit
vectors of that width and a stand-in embedder (cost of the real embedding model not included).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from kiosk.knowledge.documents import Chunk  # noqa: E402
from kiosk.knowledge.index import DocumentRecord, insert_document, transaction  # noqa: E402
from kiosk.knowledge.retrieve import Retriever  # noqa: E402

_COMMON_TEXT = """
the of and to a in is it you that he was for on are with as his they be at one have this from or had by
not but what all were we when your can said there use an each which she do how their if will up other about
out many then them these so some her would make like him into time has look two more write go see number no
way could people my than first water been call who oil its now find long down day did get come made may part
office building floor room reception visitor badge parking lunch canteen meeting desk printer password network
safety helmet shoes glasses fire alarm exit door stairs lift elevator kitchen coffee break holiday leave sick
policy manager team training course induction contract salary payroll expense travel booking laptop phone
email calendar security access card key locker shower bike car charge station guest delivery package mail
warehouse forklift pallet shift schedule overtime weekend morning evening monday tuesday wednesday thursday
friday report form request approval signature document handbook rule emergency first aid kit doctor
"""
COMMON = _COMMON_TEXT.split()
FILLERS = ["um", "uh", "so", "could you tell me", "where is", "what about", "please", "I want to know", "hey"]


def vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    """Common English words first (most frequent), then pronounceable made-up words."""
    onsets = ["b", "br", "c", "ch", "d", "f", "fl", "g", "gr", "h", "k", "l", "m", "n", "p", "pl", "r", "s", "st",
              "t", "tr", "v", "w"]  # fmt: skip
    vowels = ["a", "e", "i", "o", "u", "ai", "ea", "oo"]
    codas = ["", "n", "r", "s", "t", "l", "nd", "st", "ck", "m"]
    words = list(dict.fromkeys(COMMON))
    seen = set(words)
    while len(words) < len(COMMON) + size:
        word = "".join(rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas) for _ in range(rng.randint(1, 3)))
        if len(word) > 2 and word not in seen:
            seen.add(word)
            words.append(word)
    return words


class Corpus:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.words = vocabulary(self.rng)
        # Zipf's law: the r-th most frequent word appears about 1/r as often as the first.
        self.cum = list(np.cumsum([1.0 / (r + 1) ** 1.05 for r in range(len(self.words))]))

    def text(self, n: int) -> str:
        words = self.rng.choices(self.words, cum_weights=self.cum, k=n)
        out, i = [], 0
        while i < n:
            length = self.rng.randint(8, 20)
            sentence = " ".join(words[i : i + length])
            out.append(sentence[:1].upper() + sentence[1:] + ".")
            i += length
        return " ".join(out)

    def phrase(self, lo: int, hi: int) -> str:
        return " ".join(self.rng.choices(self.words[len(COMMON) // 2 :], k=self.rng.randint(lo, hi))).title()

    def document(self, ordinal: int, chunks: int = 10) -> tuple[DocumentRecord, list[Chunk]]:
        title = self.phrase(2, 5)
        out = []
        for i in range(chunks):
            section = self.phrase(1, 4) if i % 3 else ""
            if self.rng.random() < 0.1:
                question = self.text(self.rng.randint(6, 12)).rstrip(".") + "?"
                out.append(Chunk(title, section, self.text(self.rng.randint(30, 80)), "faq", question, i))
            else:
                n = self.rng.randint(150, 250)
                out.append(Chunk(title, section, self.text(n), "text", "", i, int(n * 1.3)))
        return DocumentRecord(f"doc{ordinal:06d}.md", "/bench", title, pages=3.0), out

    def questions(self, texts: list[str], count: int) -> list[str]:
        out = []
        for i in range(count):
            if i % 2 == 0:  # from the corpus: a run of words someone might ask about
                words = self.rng.choice(texts).replace(".", "").split()
                n = self.rng.randint(3, 8)
                start = self.rng.randrange(max(1, len(words) - n))
                body = " ".join(words[start : start + n])
            elif i % 4 == 1:  # random vocabulary
                body = " ".join(self.rng.choices(self.words, cum_weights=self.cum, k=self.rng.randint(3, 8)))
            else:  # words that occur nowhere, mixed with a few that do
                body = " ".join(
                    self.rng.choice(["zorblat", "quenvix", "plimtor", "yusk"]) if self.rng.random() < 0.6
                    else self.rng.choice(self.words)
                    for _ in range(self.rng.randint(3, 8))
                )  # fmt: skip
            out.append(f"{self.rng.choice(FILLERS)} {body}?")
        return out


class RandomEmbedder:
    name = "bench-random"

    def __init__(self, dim: int, seed: int) -> None:
        self.dim = dim
        self.rng = np.random.default_rng(seed)

    def embed(self, texts: list[str]) -> list[list[float]]:
        return self.rng.standard_normal((len(texts), self.dim)).astype(np.float32).tolist()


def build(path: Path, size: int, seed: int, dense: int) -> tuple[float, list[str]]:
    corpus = Corpus(seed)
    sample: list[str] = []
    started = time.perf_counter()
    with transaction(path) as conn:
        for ordinal in range((size + 9) // 10):
            record, chunks = corpus.document(ordinal, min(10, size - ordinal * 10))
            insert_document(conn, record, chunks)
            if corpus.rng.random() < 0.05:
                sample.append(chunks[0].text)
        if dense:
            vectors = np.random.default_rng(seed).standard_normal((size, dense)).astype("<f4")
            ids = [r[0] for r in conn.execute("SELECT id FROM chunks ORDER BY id")]
            conn.executemany(
                "INSERT INTO embeddings VALUES (?, ?)", zip(ids, map(np.ndarray.tobytes, vectors), strict=True)
            )
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('embedding_model', ?)", (RandomEmbedder.name,))
        conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('optimize')")  # as ingest does
    return time.perf_counter() - started, sample


def bench(size: int, queries: int, seed: int, dense: int, workdir: Path) -> dict[str, object]:
    path = workdir / f"bench-{size}.sqlite"
    path.unlink(missing_ok=True)
    build_s, sample = build(path, size, seed, dense)
    questions = Corpus(seed + 1).questions(sample, queries)
    embedder = RandomEmbedder(dense, seed) if dense else None
    with Retriever(path, synonyms=[["canteen", "cafeteria", "lunch"]], embedder=embedder) as retriever:
        for question in questions[:20]:  # warm the page cache and numpy
            retriever.search(question)
        times, found = [], 0
        for question in questions:
            t0 = time.perf_counter()
            hits = retriever.search(question, k=5)
            times.append((time.perf_counter() - t0) * 1000)
            found += bool(hits)
    times.sort()
    result = {
        "chunks": size,
        "queries": len(times),
        "with_hits": found,
        "build_s": round(build_s, 2),
        "db_mb": round(path.stat().st_size / 1e6, 1),
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
        "max_ms": round(times[-1], 2),
    }
    path.unlink()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dense", type=int, default=0, metavar="DIM", help="add random vectors of this width")
    parser.add_argument("--workdir", type=Path, default=None, help="where the index files go (default: a temp dir)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    pinned = False
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
        pinned = True
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        results = []
        for size in args.sizes:
            results.append(bench(size, args.queries, args.seed, args.dense, Path(tmp)))
            if not args.json:
                r = results[-1]
                print(
                    f"{r['chunks']:>7} chunks: p50 {r['p50_ms']:6.2f} ms  p95 {r['p95_ms']:6.2f} ms  "
                    f"max {r['max_ms']:6.2f} ms  ({r['with_hits']}/{r['queries']} with hits)  "
                    f"build {r['build_s']:.1f} s  db {r['db_mb']} MB",
                    flush=True,
                )
    info = {"cpu": platform.processor() or platform.machine(), "pinned_to_one_core": pinned, "dense_dim": args.dense}
    if args.json:
        print(json.dumps({**info, "results": results}, indent=2))
    else:
        print(("pinned to CPU core 0" if pinned else "not pinned (no sched_setaffinity)") + f"; {info['cpu']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
