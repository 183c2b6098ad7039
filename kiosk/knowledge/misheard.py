"""A document's word the recognizer misheard by a sound or two: "fourklifts", "Fordklift" for "forklifts".

Whisper base writes the documents' own words (product names, jargon) a letter or two off, and to the search
and the "I don't know" decision such a word is one the documents never use, which weighs most: "how fast can
fourklifts drive in the plant?" was declined. A question word the index lacks may therefore also stand for the
documents' words it is close to in spelling, compared on a rough sound spelling (c/k/ck/q, ph/f, z/s and
doubled letters alike) by edit distance: one edit for words of 6-8 letters, two from 9, none below 6 (a short
word one letter from a document word is most often another real word: "horse" is not "house").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_MIN_LETTERS = 6
_WORD = re.compile(r"[A-Za-z]{6,}")  # _MIN_LETTERS
_SOUND = tuple((re.compile(p), r) for p, r in (
    (r"ph", "f"), (r"ck|q", "k"), (r"c(?=[eiy])", "s"), (r"c", "k"), (r"z", "s"), (r"(.)\1+", r"\1"),
))


def sound_spelling(word: str) -> str:
    """`word` lower-cased, letters only, with letters that sound alike written alike."""
    key = re.sub(r"[^a-z]", "", word.lower())
    for pattern, repl in _SOUND:
        key = pattern.sub(repl, key)
    return key


def _allowed(n: int) -> int:
    return 0 if n < _MIN_LETTERS else 1 if n < 9 else 2


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (a swap of two letters is one edit), or `limit` + 1 once over it."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before: list[int] = []
    row = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            current[j] = min(row[j] + 1, current[j - 1] + 1, row[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        before, row = row, current
    return row[-1]


class Vocabulary:
    """The documents' words of at least six letters, by sound spelling."""

    def __init__(self, texts: Iterable[str]) -> None:
        self._by_key: dict[str, set[str]] = {}
        for text in texts:
            for word in _WORD.findall(text):
                self._by_key.setdefault(sound_spelling(word), set()).add(word.lower())

    def near(self, word: str) -> list[str]:
        """The documents' words `word` may be a mishearing of, closest first (none for a word with digits)."""
        if not word.isalpha():
            return []
        key = sound_spelling(word)
        limit = _allowed(len(key))
        if not limit:
            return []
        found = []
        for other, words in self._by_key.items():
            distance = edit_distance(key, other, min(limit, _allowed(len(other))))
            if distance <= min(limit, _allowed(len(other))):
                found += [(distance, w) for w in words if w != word.lower()]
        return [w for _, w in sorted(found)]
