"""Quoting instead of generating: the sentence(s) of the retrieved passages that answer best.

A 135M-parameter model paraphrases badly and invents numbers; the documents' own sentences do
neither. With `knowledge.answer_style = "quote"` (or "auto" with a small model) the kiosk speaks
the best-matching sentence, plus the next one when it continues the thought, word for word.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kiosk.knowledge.answer_type import Wants, asked_abbreviation, names_kind, states, strength, wants
from kiosk.knowledge.chunking import split_sentences

if TYPE_CHECKING:
    from kiosk.knowledge.query import Term
    from kiosk.knowledge.retrieve import Hit

_WORD = re.compile(r"[0-9a-zà-ÿ]+")
_MAX_WORDS = 60  # a quote longer than this stops sounding like an answer


def _stem(word: str) -> str:
    return word[: max(4, len(word) - 3)] if len(word) > 4 else word


def _matches(alternative: str, words: list[str], text: str) -> bool:
    parts = _WORD.findall(alternative.lower())
    if len(parts) > 1:
        return " ".join(parts) in text
    if not parts:
        return False
    stem = _stem(parts[0])
    return any(w == parts[0] or (len(stem) >= 4 and w.startswith(stem)) for w in words)


def share(text: str, weighted: Sequence[tuple[Term, float]]) -> float:
    """The IDF-weighted share of the question's terms that `text` contains."""
    total = sum(w for _, w in weighted)
    return sum(weighted[k][1] for k in held(text, weighted)) / total if total else 0.0


def held(text: str, weighted: Sequence[tuple[Term, float]]) -> frozenset[int]:
    """Which of the question's terms (their indices) `text` holds."""
    words = _WORD.findall(text.lower())
    joined = " ".join(words)
    return frozenset(k for k, (term, _) in enumerate(weighted)
                     if any(_matches(a, words, joined) for a in term.alternatives))


@dataclass(frozen=True)
class Quote:
    text: str
    """what to say: the sentence, with the next one(s) when they continue it"""
    hit: Hit
    """the passage it comes from"""
    coverage: float
    """IDF-weighted share of the question's terms in the sentence (its heading's count for less)"""
    typed: bool
    """the sentence holds the kind of information the question asks for (kiosk.knowledge.answer_type)"""
    typed_specific: bool = False
    """...and the question asks for a specific kind (a place, a time, an amount: not yes/no or anything)"""
    lead: str = ""
    """the best sentence alone, when `text` adds a runner-up (what the meaning check judges)"""


_CONTEXT_CREDIT = 0.6  # a question word only in the heading or the FAQ's question: the topic, not the answer
_TYPE_BONUS = 0.35  # the asked-for kind of information outweighs a shared topic word or two
_RANK_COST = 0.02  # per passage rank: retrieval's order breaks near-ties
_PREFER_AMONG, _PREFER_NEAR = 4, 0.9  # `prefer` looks at the best 4 sentences scoring 0.9 of the best or more


def with_heading(found: Quote) -> str:
    """The quote preceded by its section's own heading, as its meaning is judged; in an FAQ, by the
    question it answers ("Something in my office is broken, who do I call?" before "Call extension 260")."""
    hit = found.hit
    heading = hit.question.strip() if hit.kind == "faq" and hit.question.strip() else \
        hit.section.rsplit(">", 1)[-1].strip()
    text = found.lead or found.text
    return f"{heading}. {text}" if heading else text


def heading_like(sentence: str) -> bool:
    """A heading read as a sentence ("Learning budget." before "Every employee has ..."): short, no
    figures, no question, not an answer word; never spoken, only context for what follows it."""
    words = sentence.split()
    if not words or len(words) > 6 or any(ch.isdigit() for ch in sentence):
        return False
    end = sentence.rstrip()[-1]
    if end in "?!:;" or words[0].lower().strip(".,!") in ("yes", "no"):
        return False
    capitalized = all(w[0].isupper() for w in words if w[0].isalpha())
    return end not in ".…" or len(words) <= 3 or capitalized


def _span(sentences: list[str], i: int, kind: Wants) -> tuple[str, int]:
    """The sentence to say from index i: one that only introduces (a short one, one ending in ":")
    takes the next; the answer to "how do I ..." takes the next two as well, while they stay short."""
    text, j = sentences[i], i + 1
    while j < len(sentences) and j - i < 3:
        nxt = sentences[j]
        if heading_like(nxt) or len(text.split()) + len(nxt.split()) > _MAX_WORDS:
            break
        intro = len(text.split()) < 8 or text.endswith(":")
        if not (intro or kind is Wants.PROCEDURE):
            break
        text, j = f"{text} {nxt}", j + 1
    return text, j


@dataclass(frozen=True)
class Candidate:
    """A sentence of a passage that could be quoted, with what its choice weighs."""

    hit: Hit
    rank: int
    """the passage's place among those found"""
    index: int
    """the sentence's place in the passage (headings count)"""
    end: int
    """the place after the last sentence it says"""
    text: str
    """what would be said: the sentence, and the next one(s) when they continue it (`_span`)"""
    own: float
    """IDF-weighted share of the question's terms in the sentence itself"""
    context: float
    """...found only in its heading, the passage's title or section or the FAQ's question"""
    plain: float
    """how plainly it holds the kind of information asked for (answer_type.strength; 0 for ANY)"""
    cells: int = 0
    """a table row's number of cells (0: not a row); of a wide row, the cells asked about are said (`asked_cells`)"""
    terms: frozenset[int] = frozenset()
    """the question's terms it holds itself"""
    key: frozenset[int] = frozenset()
    """of a table row, the question's terms its first cell holds (what the row is about)"""


def candidates(hits: Sequence[Hit], weighted: Sequence[tuple[Term, float]], question: str,
               expand: Callable[[str], str] = str, kind: Wants | None = None) -> list[Candidate]:
    """Every sentence of the passages that shares a word with the question (also through its heading);
    `expand` adds the forms of the abbreviations a text uses ("SDS": "safety data sheet"); `kind`: what is
    asked for, when not the question's own form (a follow-up's, from its topic)."""
    total = sum(w for _, w in weighted)
    if total <= 0:
        return []
    kind = wants(question) if kind is None else kind
    naming = " ".join(t.text for t, _ in weighted if t.text in names_kind(kind))
    defining = _long_forms(asked_abbreviation(question), expand) if kind is Wants.MEANING else []
    asked_words = " ".join(t.text for t, _ in weighted)  # all a definition needs to answer
    found: list[Candidate] = []
    contexts: dict[str, frozenset[int]] = {}  # a heading's terms, found once: it stands over many sentences

    def context_terms(text: str) -> frozenset[int]:
        if text not in contexts:
            contexts[text] = held(expand(text), weighted)
        return contexts[text]

    for rank, hit in enumerate(hits):
        sentences = split_sentences(hit.text)
        rows = [row_cells(line) if hit.kind == "table" else [] for line in sentences]
        # Words of the question that name what a row of this table is about ("AMR-2", "Monthly payment"), where a
        # row names it first: another row that only mentions it ("same arm and camera as the AMR-2", a column
        # labelled "monthly payments AMR-2") is not about it.
        subjects = held(" ".join(cells[0] for cells in rows if cells), weighted)
        about = f"{hit.title} {hit.section} {hit.question}"
        heading = lead_in = ""
        for i, sentence in enumerate(sentences):
            item = bool(lead_in) and bool(_ITEM.match(sentence))
            if not item and heading_like(sentence):
                heading = sentence
                continue
            if "[instruction removed]" in sentence:
                continue
            if item:
                # "Wednesday: red" under "... in the colour of the day it was prepped:": the lead-in says what
                # the items' words are about, as a heading does
                context = f"{about} {heading} {lead_in}"
            else:
                context = f"{about} {heading}"
                lead_in = sentence if sentence.endswith(":") else ""
            row = rows[i]
            if len(row) >= _WIDE_ROW:  # a spec sheet's row: the cells asked about, with what the row is about
                text, end = asked_cells(row, weighted, expand, subjects, kind), i + 1
            elif row:  # a row is whole: it does not run on into the next row
                text, end = sentence, i + 1
            else:
                text, end = _span(sentences, i, kind)
            plain = strength(kind, text, question) if kind is not Wants.ANY else 0.0
            said = expand(text if row else sentence)
            if naming and states(kind, text):
                said = f"{said} {naming}"  # "Call 1-800-555-0142" says the phone number asked for
            if defining:  # "what does OOO stand for (on the room board)?": the sentence that spells it out
                plain = 1.0 if any(form in text.lower() for form in defining) else 0.0
                said = f"{said} {asked_words}" if plain else said
            terms = held(said, weighted)
            key = held(expand(row[0]), weighted) if row else frozenset()
            if row:  # a row holds its subject's words in its first cell only
                terms = key | (terms - subjects)
            own = sum(weighted[k][1] for k in terms)
            with_context = sum(weighted[k][1] for k in terms | context_terms(context))
            if with_context <= 0:
                continue
            found.append(Candidate(hit, rank, i, end, text, own / total, (with_context - own) / total, plain,
                                   len(row), terms, key))
    return found


def asked_cells(row: list[str], weighted: Sequence[tuple[Term, float]], expand: Callable[[str], str] = str,
                subjects: frozenset[int] = frozenset(), kind: Wants = Wants.ANY) -> str:
    """Of a wide row, what the question asks about: its first cell (what the row is about), then, in the row's
    order, the cells that hold more of the question's words, each adding words the others do not ("City tier:
    Tier 1; Example cities: New York, ...; Meals per diem per day: $75"), and, when none says the kind of thing
    asked for, the first cell that does ("how much is the water softener?": "Price GBP ex VAT: 3400");
    `subjects`: the question's terms that name what rows are about, which count only in a first cell. The whole
    row when no cell adds anything."""
    cells = [held(expand(cell), weighted) - (subjects if c else frozenset()) for c, cell in enumerate(row)]
    covered, chosen = set(cells[0]), {0}
    while True:
        gain, best = max(((sum(weighted[k][1] for k in cells[c] - covered), -c) for c in range(1, len(row))
                          if c not in chosen), default=(0.0, 0))
        best = -best  # of equals, the first: "List price" before "Show price"
        if gain <= 0:
            break
        covered |= cells[best]
        chosen.add(best)
    if kind not in (Wants.ANY, Wants.YES_NO) and not any(_says_kind(kind, row[c]) for c in chosen):
        chosen |= {next((c for c in range(1, len(row)) if _says_kind(kind, row[c])), 0)}
    return "; ".join(row[c] for c in sorted(chosen)) if len(chosen) > 1 else "; ".join(row)


def _says_kind(kind: Wants, cell: str) -> bool:
    """A cell holds the kind of thing asked for: its value shows it, or its label names it ("Price GBP: 3400")."""
    label = cell.split(": ", 1)[0].lower()
    return strength(kind, cell) > 0 or bool(names_kind(kind) & set(_WORD.findall(label)))


_ITEM = re.compile(r"^[^:;.!?]{1,40}: [^:;.!?]{1,60}[.]?$")  # a short "label: value" line of a list
_WIDE_ROW = 5  # cells: a row this wide is quoted cell by cell ("Model: AMR-2; Water use (litres/day): 1350")
_CELL = re.compile(r"^[^:;]{1,80}: \S")


def row_cells(sentence: str) -> list[str]:
    """A table row as the documents' tables read ("Model: AMR-2; Type: Milking robot; ..."), cell by cell: each
    "label: value", a value's own "; " kept in it; [] for a sentence that is not such a row."""
    cells: list[str] = []
    for part in sentence.split("; "):
        if _CELL.match(part):
            cells.append(part)
        elif cells:
            cells[-1] = f"{cells[-1]}; {part}"  # "Notes: DipJet optional; same arm as the AMR-2"
        else:
            return []
    return cells if len(cells) >= 2 else []


def _long_forms(abbreviation: str, expand: Callable[[str], str]) -> list[str]:
    """The forms the documents define for `abbreviation` ("out of order" for "OOO")."""
    if not abbreviation:
        return []
    extra = expand(abbreviation.upper())[len(abbreviation):].strip()  # heard in lower case, written in capitals
    return [extra] if extra else []


def _words_score(c: Candidate) -> float:
    """Without meaning: the shared words (heading's for less), the asked-for kind of information, the order."""
    return c.own + _CONTEXT_CREDIT * c.context + _TYPE_BONUS * c.plain - _RANK_COST * c.rank


def ranked(found: Sequence[Candidate]) -> list[Candidate]:
    """Best first by the words alone; among equals, the earlier passage and sentence first."""
    return sorted(found, key=lambda c: -_words_score(c))


def quote(hits: Sequence[Hit], weighted: Sequence[tuple[Term, float]], question: str = "",
          runner_up: float = 0.0, expand: Callable[[str], str] = str,
          prefer: Callable[[Quote], bool] | None = None, kind: Wants | None = None) -> Quote | None:
    """The sentence of the passages that best answers `question`, and the passage it comes from; None
    when no sentence shares a word with it.

    A sentence scores the IDF weight of the question's terms it contains; terms only in its section
    heading, a heading line before it or the FAQ's question count for less (they name the topic); a
    sentence with the kind of information the question asks for (a place for "where", a time for
    "when" ...) gains more than a shared topic word. (Ranking the candidates again with an embedding model's
    closeness in meaning was tried twice: better on the tuning set, no better on the held-out company;
    docs/benchmarks.md.) With `runner_up`, the next best sentence of the same passage is said too when it
    scores at least that share of the best (knowledge.quote_runner_up). With `prefer`, the first of the
    best few sentences scoring nearly as well as the best that `prefer` accepts is said instead (the best
    when none is). `kind`: what is asked for, when not the question's own form says it."""
    kind = wants(question) if kind is None else kind
    found = candidates(hits, weighted, question, expand, kind)
    if not found:
        return None
    order = sorted(range(len(found)), key=lambda i: -_words_score(found[i]))  # stable: the earlier passage first
    first = _said(found, order, 0, kind, runner_up)
    if prefer is None or prefer(first):
        return first
    top = _words_score(found[order[0]])
    for k in range(1, min(len(order), _PREFER_AMONG)):
        if _words_score(found[order[k]]) < _PREFER_NEAR * top:
            break
        other = _said(found, order, k, kind, runner_up)
        if prefer(other):
            return other
    return first


def _said(found: list[Candidate], order: list[int], k: int, kind: Wants, runner_up: float) -> Quote:
    """The k-th best candidate as it would be said (with its runner-up)."""
    best = found[order[k]]
    text = best.text
    rest = [found[i] for i in order if i != order[k]]
    second = _runner_up(best, rest, runner_up) if runner_up > 0 else None
    if second is not None:
        text = f"{best.text} {second.text}" if best.index < second.index else f"{second.text} {best.text}"
    words = text.split()
    if len(words) > _MAX_WORDS:
        text = " ".join(words[:_MAX_WORDS]) + "…"
    typed = kind is Wants.ANY or best.plain > 0  # (any sentence answers a question of no particular kind)
    specific = typed and kind not in (Wants.ANY, Wants.YES_NO)
    return Quote(text, best.hit, round(best.own + _CONTEXT_CREDIT * best.context, 3), typed, specific, lead=best.text)


def _runner_up(best: Candidate, others: Sequence[Candidate], ratio: float) -> Candidate | None:
    """The next best sentence, when it comes from the same passage, says something the best does not, and
    scores nearly as well: the answer is often split over two sentences ("...at the help desk." / "Pick-up
    is at 13:30.")."""
    for c in others:
        if c.hit is not best.hit or best.cells >= _WIDE_ROW and c.cells and (best.key - c.key or c.terms <= best.terms):
            continue  # another row of a spec sheet: about another thing asked (the AMR-1's for the AMR-2), or adding
            #           nothing asked
        if c.index < best.end and best.index < c.end or len(f"{best.text} {c.text}".split()) > _MAX_WORDS:
            continue  # a sentence said already, or too long together
        return c if _words_score(c) >= ratio * _words_score(best) else None
    return None
