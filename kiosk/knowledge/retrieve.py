"""Search the document index: BM25 over FTS5, optionally fused with dense vectors.

Lexical search is the backbone: it is fast, exact on names and numbers, and its evidence is easy to
check. With an embedder whose model built the index's vectors, cosine similarity over all chunks
(numpy, vectors loaded once) is fused with BM25 by reciprocal rank fusion, which needs no score
calibration between the two. Every hit carries `coverage`, the share of the question's content
terms found in the chunk: the cheap confidence signal behind "I don't know".
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kiosk.knowledge.abbreviations import Abbreviations, defined
from kiosk.knowledge.index import FTS_WEIGHTS, Embedder, open_index
from kiosk.knowledge.integrity import damage_message
from kiosk.knowledge.misheard import Vocabulary
from kiosk.knowledge.query import Term, match_expression, parse_question
from kiosk.knowledge.spelling import variants

__all__ = ["RRF_K", "Hit", "Retriever"]

log = logging.getLogger(__name__)

RRF_K = 60
"""reciprocal rank fusion constant (Cormack et al. 2009): score = sum of 1 / (RRF_K + rank)"""
_CANDIDATES = 4  # candidates per result from each ranker, so fusion has something to reorder
_BM25 = "bm25(chunks_fts, {})".format(", ".join(str(w) for w in FTS_WEIGHTS))

_NEAR = 5  # tokens between two question words that still count as "together"


def _phrase(text: str) -> str:
    """A quoted FTS5 phrase; single words of 4+ characters match as prefixes, like the search."""
    quoted = '"' + text.replace('"', '""') + '"'
    return quoted + "*" if " " not in text and len(text) >= 4 else quoted


def _term_match(term: Term) -> str:
    """The FTS5 MATCH string of one term (a parsed term always has itself as an alternative)."""
    match = match_expression([term])
    if match is None:
        raise ValueError(f"term {term.text!r} has no alternatives to search for")
    return match


@dataclass(frozen=True)
class Hit:
    chunk_id: int
    path: str
    title: str
    section: str
    kind: str
    question: str
    text: str
    score: float
    """higher is better: -bm25() alone, or the fused RRF score when vectors are used"""
    rank: int
    """1-based"""
    bm25: float = 0.0
    """-bm25() (higher is better); 0.0 when the chunk has no lexical match"""
    coverage: float = 0.0
    """fraction of the question's content terms (or a synonym) found in title/section/question/text"""
    dense: float | None = None
    """cosine similarity to the question, when vectors were used"""
    near: bool | None = None
    """two neighbouring words of the question (or their synonyms) stand within a few words of each
    other in this chunk; None when the question has fewer than two content words"""


def _rerank(candidates: list[tuple[int, float]], coverage: dict[int, float], near: set[int] | None
            ) -> list[tuple[int, float]]:
    """The candidates ordered by how much of the question they hold, then by their first ranking.

    BM25 sums over every alternative of a synonym group, so a passage about vacation days that says
    "time off", "vacation" and "holiday" outranks the one FAQ entry on parental leave for "how long is
    parental leave" (leave -> vacation, time off, holiday). IDF-weighted coverage counts each of the
    question's terms once, whichever word stands for it; two of its words side by side (`near`) add a
    little, and the first ranking (BM25 or fused), scaled to the best candidate, breaks near-ties."""
    if not candidates:
        return []
    top = max(score for _, score in candidates) or 1.0

    def key(item: tuple[int, float]) -> float:
        chunk_id, score = item
        together = 0.1 if near is not None and chunk_id in near else 0.0
        return coverage.get(chunk_id, 0.0) + together + 0.25 * max(0.0, score) / top

    return sorted(candidates, key=key, reverse=True)


class Retriever:
    """Opens the index once (read-only) and answers searches; safe to share between threads."""

    def __init__(
        self, index_path: Path | str, synonyms: Sequence[Sequence[str]] = (), embedder: Embedder | None = None,
        abbreviations: bool = False, misheard_words: bool = False,
    ) -> None:
        """`abbreviations`: read the abbreviations the indexed documents define, for `expand`; `misheard_words`:
        a question word the documents lack also stands for their words it may be a mishearing of."""
        self.index = open_index(index_path)
        self._conn = self.index.conn
        self._synonyms = tuple(tuple(group) for group in synonyms)
        self._read_abbreviations = abbreviations
        self._abbreviations = Abbreviations(())
        self._misheard_words = misheard_words
        self._vocabulary: Vocabulary | None = None  # read again whenever the index changes
        self._embedder = embedder
        self._lock = threading.Lock()
        self._ids: np.ndarray | None = None
        self._matrix: np.ndarray | None = None
        self._version = -1
        self._broken = False  # the last search could not read the index: open it afresh first
        self._damage_told = False  # the index's damage is in the log
        self._df: dict[str, int] = {}
        self._weights: dict[str, list[tuple[Term, float]]] = {}  # per question: a turn asks up to 4 times
        self._n_chunks = 0
        self._refresh()

    @property
    def dense(self) -> bool:
        """Whether searches fuse in vectors (an embedder is set and the index has its vectors)."""
        return self._matrix is not None

    def _refresh(self) -> None:
        """(Re)load the vectors when the file changed since last time (a re-ingest while running)."""
        version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        if version == self._version:
            return
        self._version = version
        self._ids = self._matrix = None
        self._df.clear()
        self._weights.clear()
        self._n_chunks = self._conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        self._vocabulary = None
        if self._misheard_words or self._read_abbreviations:  # the documents' words, read once per change
            rows = self._conn.execute("SELECT title, section, question, text FROM chunks").fetchall()
            if self._misheard_words:  # here, not at the first question: 0.8 s for 150k words of text
                self._vocabulary = Vocabulary(" ".join(filter(None, row)) for row in rows)
            if self._read_abbreviations:
                sections = dict.fromkeys(section for _, section, _, _ in rows if section)
                self._abbreviations = Abbreviations(defined([*(text for *_, text in rows if text), *sections]))
        if self._embedder is None:
            return
        meta = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
        model = meta.get("embedding_model")
        if model != self._embedder.name:
            log.warning(
                "index %s has vectors from %r, not %r: searching with BM25 only; re-run kiosk ingest to embed",
                self.index.path,
                model,
                self._embedder.name,
            )
            return
        rows = self._conn.execute("SELECT chunk_id, vector FROM embeddings ORDER BY chunk_id").fetchall()
        if not rows:
            return
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), -1).astype(np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        self._matrix = matrix / np.where(norms == 0, 1.0, norms)
        self._ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        log.info("loaded %d vectors (%s) from %s", len(rows), model, self.index.path)

    def _lexical(self, match: str, limit: int) -> list[tuple[int, float]]:
        try:
            rows = self._conn.execute(
                f"SELECT rowid, {_BM25} AS s FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY s LIMIT ?",
                (match, limit),
            ).fetchall()
        except sqlite3.OperationalError as error:
            if not str(error).startswith("fts5:"):
                raise  # the index itself (locked, corrupt): the turn reports it (ErrorCode.RETRIEVAL)
            # The query builder quotes everything; a visitor's words must still never crash the kiosk.
            log.exception("FTS query failed: %r", match)
            return []
        return [(int(rowid), -float(score)) for rowid, score in rows]

    def _semantic(self, question: str, limit: int) -> tuple[list[tuple[int, float]], np.ndarray | None]:
        """The top chunks by cosine similarity, and the similarities of all chunks (in id order)."""
        assert self._matrix is not None and self._ids is not None and self._embedder is not None
        query = np.asarray(self._embedder.embed([question])[0], dtype=np.float32)
        if query.shape != (self._matrix.shape[1],):
            log.warning("embedder returned %s, index vectors are %d wide", query.shape, self._matrix.shape[1])
            return [], None
        query /= np.linalg.norm(query) or 1.0
        sims = self._matrix @ query
        limit = min(limit, len(sims))
        top = np.argpartition(-sims, limit - 1)[:limit]
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(int(self._ids[i]), float(sims[i])) for i in top], sims

    def _count(self, match: str) -> int:
        """How many chunks hold `match` (an FTS5 expression), cached until the index changes."""
        df = self._df.get(match)
        if df is None:
            (df,) = self._conn.execute("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", (match,)).fetchone()
            if len(self._df) > 4096:
                self._df.clear()
            self._df[match] = df
        return df

    def _idf(self, match: str) -> float:
        """BM25's inverse document frequency of one term; words the documents never use weigh most."""
        df = self._count(match)
        n = self._n_chunks
        return math.log((n - df + 0.5) / (df + 0.5) + 1.0)

    def _parse(self, question: str) -> list[Term]:
        """The question's terms; a word the documents do not use also stands for its other spellings that
        they do use ("color" for a British handbook's "colour", kiosk/knowledge/spelling.py), else for the
        words of theirs it may be a mishearing of ("fourklifts", kiosk/knowledge/misheard.py)."""
        parsed = parse_question(question, self._synonyms)
        lost = set()
        for i, term in enumerate(parsed):
            if len(term.alternatives) == 1 and " " not in term.text and self._count(_term_match(term)) == 0:
                found = [w for w in variants(term.text) if self._count(_term_match(Term(w, (w,)))) > 0]
                if not found and self._misheard_words:
                    found = self._heard_as(term.text)
                if found:
                    parsed[i] = Term(term.text, (term.text, *found))
                else:
                    lost.add(i)
        return self._rejoined(question, parsed, lost) if lost and self._misheard_words else parsed

    def _heard_as(self, word: str) -> list[str]:
        return self._vocabulary.near(word)[:2] if self._vocabulary is not None else []

    def _rejoined(self, question: str, parsed: list[Term], lost: set[int]) -> list[Term]:
        """Two neighbouring words, one of them unknown to the documents, that together sound like a word of
        theirs ("four cliffs", "Ford lift" for "forklifts") become one term standing for it."""
        said = question.lower()
        out: list[Term] = []
        i = 0
        while i < len(parsed):
            if i + 1 < len(parsed) and lost & {i, i + 1}:
                a, b = parsed[i].text, parsed[i + 1].text
                found = self._heard_as(a + b) if re.search(
                    rf"\b{re.escape(a)}[\s-]+{re.escape(b)}\b", said) else []
                if found:
                    out.append(Term(f"{a} {b}", (f"{a} {b}", *found)))
                    i += 2
                    continue
            out.append(parsed[i])
            i += 1
        return out

    def term_weights(self, question: str) -> list[tuple[Term, float]]:
        """The question's content terms with their IDF weights (for choosing sentences to quote)."""
        with self._lock:
            if self._broken:
                self._reopen()  # an index put back whole answers again, here as in search()
            try:
                self._refresh()
                weighted = self._weights.get(question)
                if weighted is None:
                    if len(self._weights) > 256:
                        self._weights.clear()
                    weighted = [(t, self._idf(_term_match(t))) for t in self._parse(question)]
                    self._weights[question] = weighted
            except sqlite3.DatabaseError:
                self._broken = True
                raise
            return list(weighted)

    def expand(self, text: str) -> str:
        """`text` followed by the other form of each abbreviation it uses ("the SDS binder" also says
        "safety data sheet"), as the documents define them; unchanged without `abbreviations`."""
        with self._lock:
            return self._abbreviations.expand(text)

    def _coverage(self, parsed: Sequence[Term], ids: list[int]) -> dict[int, float]:
        """Per chunk, the IDF-weighted share of the question's terms FTS5 finds in it (same stemming and
        prefixes as search). Weighting matters for "I don't know": in "can I bring my dog to work", the
        unknown "dog" must outweigh the everywhere-words "bring" and "work"."""
        if not parsed or not ids:
            return dict.fromkeys(ids, 0.0)
        found = dict.fromkeys(ids, 0.0)
        total = 0.0
        marks = ",".join("?" * len(ids))
        for term in parsed:
            match = _term_match(term)
            weight = self._idf(match)
            total += weight
            for (rowid,) in self._conn.execute(
                f"SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? AND rowid IN ({marks})", (match, *ids)
            ):
                found[rowid] += weight
        return {i: (w / total if total else 0.0) for i, w in found.items()}

    def _near(self, parsed: Sequence[Term], ids: list[int]) -> set[int]:
        """Chunks where some pair of neighbouring question terms occurs within _NEAR tokens.

        Scattered single-word matches are weak evidence ("is the company going public" matches a
        passage on public transport); a pair of the question's words side by side is strong."""
        found: set[int] = set()
        if not ids:
            return found
        marks = ",".join("?" * len(ids))
        for a, b in zip(parsed, parsed[1:], strict=False):
            for x in a.alternatives[:3]:
                for y in b.alternatives[:3]:
                    match = f"NEAR({_phrase(x)} {_phrase(y)}, {_NEAR})"
                    rows = self._conn.execute(
                        f"SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? AND rowid IN ({marks})", (match, *ids)
                    ).fetchall()
                    found.update(r[0] for r in rows)
        return found

    def search(self, question: str, k: int = 5) -> list[Hit]:
        """The k best chunks for a spoken question, best first; [] when nothing is searchable. An index that
        cannot be read (locked, corrupt) raises sqlite3.DatabaseError, and the next search opens it afresh:
        an index put back whole (re-ingested, a pack rolled back) answers again without a restart."""
        if k <= 0 or not question.strip():
            return []
        with self._lock:
            if self._broken:
                self._reopen()
            try:
                hits = self._search(question, k)
            except sqlite3.DatabaseError as error:
                if not self._damage_told and not isinstance(error, sqlite3.OperationalError):  # not merely locked
                    log.error("%s", damage_message(self.index.path, str(error)))
                    self._damage_told = True  # once until a search succeeds again, not at every question
                self._broken = True
                raise
            self._damage_told = False
            return hits

    def _reopen(self) -> None:
        try:
            index = open_index(self.index.path)
        except Exception:  # noqa: BLE001 - still unreadable: the next search tries again
            log.warning("knowledge index %s cannot be opened again yet", self.index.path)
            return
        old, self.index, self._conn, self._version = self.index, index, index.conn, -1
        self._broken = False
        with contextlib.suppress(sqlite3.Error):
            old.conn.close()

    def _search(self, question: str, k: int) -> list[Hit]:
        self._refresh()
        parsed = self._parse(question)
        match = match_expression(parsed)
        lexical = self._lexical(match, k * _CANDIDATES) if match else []
        semantic, sims = self._semantic(question, k * _CANDIDATES) if self._matrix is not None else ([], None)
        bm25 = dict(lexical)
        if semantic:
            fused: dict[int, float] = {}
            for ranking in (lexical, semantic):  # lexical first: it wins ties (dict order, stable sort)
                for rank, (chunk_id, _) in enumerate(ranking, 1):
                    fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank)
            candidates = sorted(fused.items(), key=lambda item: -item[1])
        else:
            candidates = lexical
        pool = [chunk_id for chunk_id, _ in candidates]
        coverage = self._coverage(parsed, pool)
        near = self._near(parsed, pool) if len(parsed) > 1 else None
        # Fused with meaning, the ranking already weighs what words cannot; BM25 alone is reranked by coverage.
        best = (candidates if semantic else _rerank(candidates, coverage, near))[:k]
        ids = [chunk_id for chunk_id, _ in best]
        cosine: dict[int, float] = {}
        if sims is not None and self._ids is not None:
            # Every hit gets its similarity, also the ones only BM25 brought in.
            at = np.searchsorted(self._ids, ids).clip(0, len(self._ids) - 1)
            cosine = {i: float(sims[j]) for i, j in zip(ids, at, strict=True) if self._ids[j] == i}
        # (id, path, title, section, kind, question, text): Hit's fields before the scores
        rows: dict[int, tuple[int, str, str, str, str, str, str]] = {
            row[0]: row
            for row in self._conn.execute(
                "SELECT c.id, d.path, c.title, c.section, c.kind, c.question, c.text"
                " FROM chunks c JOIN documents d ON d.id = c.doc_id"
                f" WHERE c.id IN ({','.join('?' * len(ids))})",
                ids,
            )
        }
        return [
            Hit(
                *rows[chunk_id],
                score=score,
                rank=rank,
                bm25=bm25.get(chunk_id, 0.0),
                coverage=coverage[chunk_id],
                dense=cosine.get(chunk_id),
                near=None if near is None else chunk_id in near,
            )
            for rank, (chunk_id, score) in enumerate(best, 1)
            if chunk_id in rows
        ]

    def close(self) -> None:
        self.index.close()

    def __enter__(self) -> Retriever:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
