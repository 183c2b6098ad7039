"""Cut parsed documents into retrievable chunks.

Rules:
- A chunk never spans two sections (different heading paths). Small sections are not merged with
  their neighbours: a short section is already a precise retrieval unit, and its section label would
  be wrong for the neighbour's text.
- Consecutive text blocks of one section form one stream that is cut at sentence boundaries (list
  items and lines count as sentences). Chunks aim at `target_tokens`, never exceed `max_tokens`, and
  a short last chunk (< min_tokens) is merged into the previous one or the cut points are moved.
  A sentence longer than max_tokens is cut at clause boundaries (, ; : dashes), else between words.
- Each text chunk after the first of a stream starts with the last whole sentences (≤ overlap_tokens)
  of the previous chunk, so an answer spanning a cut is still found. Never across sections or tables.
- FAQ blocks become exactly one chunk each (question set, text = the verbatim answer), never merged or
  split, whatever their size. Their `tokens` counts question and answer (both go into prompts).
- Tables up to table_max_tokens are one chunk; bigger ones are cut between rows into even pieces. Every
  row carries its column names ("Header: value; ..."), and a caption line (a first line ending in ":")
  is repeated at the top of each piece, so each piece stands on its own.
- Chunk text never includes the title or the section; those are separate fields.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from kiosk.knowledge.documents import Block, Chunk, ParsedDocument

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkSettings:
    target_tokens: int = 220
    max_tokens: int = 300
    min_tokens: int = 150  # small consecutive blocks of one section are merged up to the target
    overlap_tokens: int = 40  # whole sentences of the previous chunk repeated, within one section
    table_max_tokens: int = 400  # bigger tables are split between rows


def _tokens(words: int) -> int:
    return (words * 13 + 9) // 10  # ceil(words * 1.3) in integers: 10 words are 13 tokens, not 14


def estimate_tokens(text: str) -> int:
    """Words × 1.3, rounded up: cheap, deterministic and close enough for small-model tokenizers."""
    return _tokens(len(text.split()))


# -- sentences ------------------------------------------------------------------------------------

_END = re.compile(r"[.!?…][\"'”’»)\]]*\s+")
# fmt: off
_ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "prof", "st", "sr", "jr", "vs", "etc", "e.g", "i.e", "eg", "ie", "approx", "no", "nr",
    "fig", "inc", "ltd", "co", "corp", "dept", "ext", "tel", "incl", "max", "min", "ca", "cf", "z.b", "d.h", "bzw",
    "usw", "u.a", "a.m", "p.m",
})
# fmt: on
_CLAUSE = re.compile(r"(?<=[,;:])\s+|\s+(?=[–—]\s)")
_PAIRS = re.compile(r"(?<=;)\s+")  # between the "Header: value" pairs of a table row


def split_sentences(text: str) -> list[str]:
    """Sentences of one text; every line is at least one sentence (list items, table rows)."""
    out: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        start = 0
        for m in _END.finditer(line):
            end = m.end()
            if end >= len(line) or line[end].islower():
                continue
            if line[m.start()] == ".":
                before = line[start : m.start()].split()  # empty for a line like ". Visiting us"
                word = before[-1].lstrip("([\"'").lower() if before else ""
                if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):  # "Dr. Who", "J. Smith"
                    continue
            out.append(line[start:end].rstrip())
            start = end
        if start < len(line):
            out.append(line[start:])
    return out


@dataclass(frozen=True)
class _Unit:
    text: str
    words: int
    newline: bool  # starts a new line (paragraph, list item, row) rather than continuing one


def _split_long(sentence: str, limit: int, hard_max: int, boundary: re.Pattern[str] = _CLAUSE) -> list[str]:
    """Pieces ≤ ~limit tokens of an over-long sentence: clause boundaries first, then words."""
    pieces: list[str] = []
    for clause in boundary.split(sentence):
        words = clause.split()
        if _tokens(len(words)) > hard_max:
            step = max(1, limit * 10 // 13)
            pieces.extend(" ".join(words[i : i + step]) for i in range(0, len(words), step))
        elif pieces and _tokens(len(pieces[-1].split()) + len(words)) <= limit:
            pieces[-1] += " " + clause
        else:
            pieces.append(clause)
    return [p for p in pieces if p.strip()]


def _units(texts: Iterable[str], s: ChunkSettings) -> list[_Unit]:
    units: list[_Unit] = []
    for text in texts:
        for line in text.split("\n"):
            first = True
            for sentence in split_sentences(line):
                n = len(sentence.split())
                parts = (
                    [sentence] if _tokens(n) <= s.max_tokens else _split_long(sentence, s.target_tokens, s.max_tokens)
                )
                for part in parts:
                    units.append(_Unit(part, len(part.split()), first))
                    first = False
    return units


def _join(units: list[_Unit]) -> str:
    return "".join(("\n" if u.newline else " ") + u.text if i else u.text for i, u in enumerate(units))


def _pack(units: list[_Unit], limit: int, max_tokens: int, overlap: int) -> list[list[_Unit]]:
    """Greedy: fill each chunk up to `limit`; the next starts with ≤ `overlap` tokens of whole sentences."""
    chunks: list[list[_Unit]] = []
    cur: list[_Unit] = []
    words = fresh = 0
    for u in units:
        if fresh and _tokens(words + u.words) > limit:
            chunks.append(cur)
            cur = []
            if overlap:
                for prev in reversed(chunks[-1][1:]):  # whole sentences, never the entire previous chunk
                    if _tokens(sum(x.words for x in cur) + prev.words) > overlap:
                        break
                    cur.insert(0, prev)
            while cur and _tokens(sum(x.words for x in cur) + u.words) > max_tokens:
                cur.pop(0)
            words, fresh = sum(x.words for x in cur), 0
        cur.append(u)
        words += u.words
        fresh += 1
    if fresh:
        chunks.append(cur)
    return chunks


def _words(units: list[_Unit]) -> int:
    return sum(u.words for u in units)


def _pack_balanced(units: list[_Unit], s: ChunkSettings, target: int, max_tokens: int, overlap: int) -> list[str]:
    """Greedy packing, then fix a short last chunk: merge it into the previous one, or move the cuts."""
    chunks = _pack(units, target, max_tokens, overlap)
    if len(chunks) > 1 and _tokens(_words(chunks[-1])) < s.min_tokens:
        last_new = [u for u in chunks[-1] if not any(u is x for x in chunks[-2])]
        if _tokens(_words(chunks[-2]) + _words(last_new)) <= max_tokens:
            chunks[-2:] = [chunks[-2] + last_new]
        else:
            for limit in range(target - 10, s.min_tokens - 1, -10):
                trial = _pack(units, limit, max_tokens, overlap)
                if _tokens(_words(trial[-1])) >= s.min_tokens:
                    chunks = trial
                    break
    return [_join(c) for c in chunks]


# -- tables ---------------------------------------------------------------------------------------


def _table_pieces(text: str, s: ChunkSettings) -> list[str]:
    if estimate_tokens(text) <= s.table_max_tokens:
        return [text]
    lines = [line for line in text.split("\n") if line.strip()]
    caption = lines.pop(0) if len(lines) > 1 and lines[0].endswith(":") else ""
    room = s.table_max_tokens - estimate_tokens(caption)
    rows: list[_Unit] = []
    for line in lines:
        if _tokens(len(line.split())) <= room:
            rows.append(_Unit(line, len(line.split()), True))
        else:  # one enormous row: cut between its "Header: value" pairs, then words
            pairs = _split_long(line, room, room, _PAIRS)
            rows.extend(_Unit(p, len(p.split()), True) for p in pairs)
    total = _tokens(_words(rows))
    pieces = math.ceil(total / room)
    even = min(room, math.ceil(total / pieces) + 10)  # even pieces, a little slack for row sizes
    return [f"{caption}\n{t}" if caption else t for t in _pack_balanced(rows, s, even, room, 0)]


# -- documents ------------------------------------------------------------------------------------


def chunk_document(doc: ParsedDocument, settings: ChunkSettings = ChunkSettings()) -> list[Chunk]:
    s = settings
    chunks: list[Chunk] = []

    def emit(text: str, section: tuple[str, ...], kind: str, question: str = "") -> None:
        tokens = estimate_tokens(text) + (estimate_tokens(question) if question else 0)
        chunks.append(Chunk(doc.title, " > ".join(section), text, kind, question, len(chunks), tokens))

    pending: list[Block] = []

    def flush() -> None:
        if not pending:
            return
        units = _units((b.text for b in pending), s)
        if units:
            for text in _pack_balanced(units, s, s.target_tokens, s.max_tokens, s.overlap_tokens):
                emit(text, pending[0].section, "text")
        pending.clear()

    for block in doc.blocks:
        if block.kind == "faq":
            flush()
            if block.text.strip():
                emit(block.text, block.section, "faq", block.question)
        elif block.kind == "table":
            flush()
            for piece in _table_pieces(block.text, s):
                emit(piece, block.section, "table")
        else:
            if pending and block.section != pending[0].section:
                flush()
            pending.append(block)
    flush()
    log.debug("%s: %d blocks -> %d chunks", doc.title, len(doc.blocks), len(chunks))
    return chunks
