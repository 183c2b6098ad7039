"""Quoting instead of generating: the sentence(s) of the retrieved passages that answer best.

A 135M-parameter model paraphrases badly and invents numbers; the documents' own sentences do
neither. With `knowledge.answer_style = "quote"` (or "auto" with a small model) the kiosk speaks
the best-matching sentence, plus the next one when it continues the thought, word for word.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kiosk.knowledge.chunking import split_sentences

if TYPE_CHECKING:
    from kiosk.knowledge.query import Term
    from kiosk.knowledge.retrieve import Hit

_WORD = re.compile(r"[0-9a-zà-ÿ]+")
_MAX_WORDS = 60  # a quote longer than this stops sounding like an answer
# Questions that want a figure: prefer sentences that contain one.
_WANTS_NUMBER = re.compile(r"\b(how (much|many|long|fast|often|old|far)|when|what time|rate|cost|price|amount"
                           r"|number|extension|hours|deadline|days|percent|limit)\b", re.IGNORECASE)


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
    return _score(text, "", weighted) / total if total else 0.0


def _score(sentence: str, context: str, weighted: Sequence[tuple[Term, float]]) -> float:
    words = _WORD.findall(f"{context} {sentence}".lower())
    text = " ".join(words)
    return sum(w for term, w in weighted if any(_matches(a, words, text) for a in term.alternatives))


def quote(hits: Sequence[Hit], weighted: Sequence[tuple[Term, float]], question: str = "") -> tuple[str, Hit] | None:
    """The best quote among the passages and the passage it comes from; None if nothing matches.

    A sentence is scored by the IDF weight of the question terms it contains, reading its section
    heading as part of it ("Parental leave" + "You get 16 weeks.")."""
    best: tuple[float, int, str, Hit] | None = None
    figure_bonus = 0.5 * sum(w for _, w in weighted) if _WANTS_NUMBER.search(question) else 0.0
    for rank, hit in enumerate(hits):
        sentences = split_sentences(hit.text)
        context = f"{hit.section} {hit.question}"
        for i, sentence in enumerate(sentences):
            if "[instruction removed]" in sentence:
                continue
            score = _score(sentence, context, weighted)
            if score <= 0:
                continue
            if figure_bonus and any(ch.isdigit() for ch in sentence):
                score += figure_bonus
            text = sentence
            # A short sentence, or one ending in ":" (a list or table follows), needs the next one.
            if i + 1 < len(sentences) and (len(sentence.split()) < 8 or sentence.endswith(":")):
                text = f"{sentence} {sentences[i + 1]}"
            key = (score, -rank)
            if best is None or key > (best[0], best[1]):
                best = (score, -rank, text, hit)
    if best is None:
        return None
    words = best[2].split()
    text = " ".join(words[:_MAX_WORDS]) + ("…" if len(words) > _MAX_WORDS else "")
    return text, best[3]
