"""A document's word the recognizer misheard by a sound or two: "fourklifts", "Fordklift" for "forklifts".

Whisper base writes the documents' own words (product names, jargon) a letter or two off, and to the search
and the "I don't know" decision such a word is one the documents never use, which weighs most: "how fast can
fourklifts drive in the plant?" was declined. A question word the index lacks may therefore also stand for the
documents' words it is close to in spelling, compared on a rough sound spelling (c/k/ck/q, ph/f, z/s and
doubled letters alike) by edit distance: one edit for words of 6-8 letters, two from 9, none below 6 (a short
word one letter from a document word is most often another real word: "horse" is not "house"). Two of the
documents' words heard as one ("earmiss" for "near miss") are found among the word pairs they say more than
once; one heard as two ("four cliffs") is joined by the retriever before it asks.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

import numpy as np

from kiosk.knowledge.query import STOP_WORDS

_MIN_LETTERS = 6
_WORD = re.compile(r"[A-Za-z]{6,}")  # _MIN_LETTERS
_PAIR = re.compile(r"\b([A-Za-z]{2,}) (?=([A-Za-z]{2,})\b)")  # two words in a row, overlapping
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
    """The documents' words of at least six letters, and their word pairs said more than once, by sound
    spelling, searched by edit distance.

    Comparing each of ~15k words with an unknown word in Python took ~0.2 s. Only words of a length within the
    allowed edits are looked at (keys are kept sorted by length), and letter counts bound the edit distance from
    below (an edit changes at most one letter's count on each side), so one numpy pass leaves the few that can
    be close for the exact check. A pair said once is most often no term of the documents, and there are as
    many of them as words."""

    def __init__(self, texts: Iterable[str]) -> None:
        by_key: dict[str, set[str]] = {}
        pairs: Counter[tuple[str, str]] = Counter()
        for text in texts:
            for word in _WORD.findall(text):
                by_key.setdefault(sound_spelling(word), set()).add(word.lower())
            pairs.update((a.lower(), b.lower()) for a, b in _PAIR.findall(text))
        for (first, second), n in pairs.items():  # heard as one word: "earmiss" for "near miss"
            if n > 1 and len(first) + len(second) >= _MIN_LETTERS and not {first, second} & STOP_WORDS:
                by_key.setdefault(sound_spelling(first + second), set()).add(f"{first} {second}")
        self._keys = sorted(by_key, key=len)
        self._words = [sorted(by_key[k]) for k in self._keys]
        self._lengths = np.array([len(k) for k in self._keys], dtype=np.int32)
        self._counts = np.array([_letter_counts(k) for k in self._keys], dtype=np.int16).reshape(-1, 26)
        self._limits = np.array([_allowed(len(k)) for k in self._keys], dtype=np.int16)

    def __len__(self) -> int:
        return len(self._keys)

    def near(self, word: str) -> list[str]:
        """The documents' words `word` may be a mishearing of, closest first (none for a word with digits)."""
        if not word.isalpha():
            return []
        key = sound_spelling(word)
        limit = _allowed(len(key))
        if not limit or not self._keys:
            return []
        lo, hi = np.searchsorted(self._lengths, [len(key) - limit, len(key) + limit + 1])
        diff = self._counts[lo:hi] - np.array(_letter_counts(key), dtype=np.int16)
        bound = np.maximum(np.clip(diff, 0, None).sum(axis=1), np.clip(-diff, 0, None).sum(axis=1))
        limits = np.minimum(self._limits[lo:hi], limit)
        found = []
        for i in np.flatnonzero(bound <= limits):
            distance = edit_distance(key, self._keys[lo + i], int(limits[i]))
            if distance <= limits[i]:
                found += [(distance, w) for w in self._words[lo + i] if w != word.lower()]
        return [w for _, w in sorted(found)]


def _letter_counts(key: str) -> list[int]:
    counts = [0] * 26
    for ch in key:
        counts[ord(ch) - 97] += 1
    return counts
