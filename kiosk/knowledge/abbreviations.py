"""Abbreviations the documents define themselves.

A handbook writes "safety data sheet (SDS)" once and "the SDS binder" ever after; a visitor asks for "the
safety data sheet". The choice of the sentence to quote cannot know the two are one thing, so the sentence
that says where the SDS is loses to one that repeats "safety data sheet". Each definition "long form
(ABBR)", "ABBR (long form)" or a table row "Code: ABBR; Meaning: long form" found in the index makes a group;
a sentence using either form then counts as saying both (`Abbreviations.expand`), and "what does ABBR stand
for?" is answered by its definition. Searches are left as they are: one term for "lockout tagout" instead of
two changed how much of a question a passage covers. The long form is accepted only where the abbreviation's
letters can be read from it in order, the first at a word's start (Schwartz & Hearst, "A simple algorithm for
identifying abbreviation definitions in biomedical text", 2003), so "(see below)" or "(B-214)" never define
anything.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from kiosk.knowledge.query import STOP_WORDS, tokens

# 2-10 letters with at least two capitals, an optional plural "s": "SDS", "LOTO", "AMRs", "PTO", "R&D"
_SHORT = r"[A-Z][A-Za-z&]{0,8}[A-Z](?:s)?"
_LONG_THEN_SHORT = re.compile(rf"([^()\n]{{2,160}}?)\s*\(({_SHORT})\)")
_SHORT_THEN_LONG = re.compile(rf"\b({_SHORT})\s*\(([a-z][^()\n]{{2,120}})\)")
# a table row as the index keeps it: "Code: OOO; Meaning: Out of order; ..."
_SHORT_IN_ROW = re.compile(rf"\b({_SHORT});\s*[\w ]{{1,30}}:\s*([^;\n]{{2,80}})")
_WORD = re.compile(r"[\w'/&-]+")


def _letters(short: str) -> str:
    short = short[:-1] if short.endswith("s") and short[:-1].isupper() else short
    return "".join(c for c in short if c.isalnum())


def long_form(short: str, before: str) -> str | None:
    """The words at the end of `before` that `short` abbreviates, or None (Schwartz & Hearst's match:
    every letter of the abbreviation, right to left, found in the text, the first one starting a word)."""
    letters = _letters(short).lower()
    if len(letters) < 2:
        return None
    words = _WORD.findall(before)[-min(len(letters) + 5, 2 * len(letters)):]
    initials = words[-len(letters):]
    if len(initials) == len(letters) and "".join(w[0] for w in initials).lower() == letters:
        return " ".join(initials)  # one word per letter: "personal protective equipment", not "protective ..."
    text = " ".join(words)
    s, i = len(letters) - 1, len(text) - 1
    while s >= 0:
        c = letters[s]
        while i >= 0 and (text[i].lower() != c or (s == 0 and i > 0 and text[i - 1].isalnum())):
            i -= 1
        if i < 0:
            return None
        i -= 1
        s -= 1
    found = text[text.rfind(" ", 0, i + 1) + 1:].strip()
    n = len(found.split())
    if n > len(letters) + 1 or found.lower().split()[0] in STOP_WORDS:
        return None
    return found if n > 1 or not found.isalpha() or len(found) > len(letters) + 2 else None


def defined(texts: Iterable[str]) -> tuple[tuple[str, ...], ...]:
    """Groups ("safety data sheet", "sds"), ("autonomous mobile robots", "amr", "amrs") for every abbreviation
    the texts define, long form first; an abbreviation that reads as a function word ("IT" is "it") is left
    out: it would turn every "it" into one."""
    seen: dict[str, Counter[str]] = {}
    for text in texts:
        for match in _LONG_THEN_SHORT.finditer(text):
            short, found = match.group(2), long_form(match.group(2), match.group(1))
            if found:
                _count(seen, short, found)
        for match in (*_SHORT_THEN_LONG.finditer(text), *_SHORT_IN_ROW.finditer(text)):
            short, after = match.group(1), match.group(2)
            found = long_form(short, after)
            if found and found.lower() == " ".join(_WORD.findall(after)).lower():
                _count(seen, short, found)
    groups = []
    for short, forms in sorted(seen.items()):
        word = short.lower()
        if word in STOP_WORDS or not tokens(word):
            continue
        long = next(form for form, _ in forms.most_common() if form != _PLURAL)
        # the plural only as the documents write it ("AMRs"): "MES" + "s" is "mess"
        groups.append((long, word, word + "s") if forms[_PLURAL] else (long, word))
    return tuple(groups)


_PLURAL = "\0plural"


def _count(seen: dict[str, Counter[str]], short: str, found: str) -> None:
    forms = seen.setdefault(_letters(short), Counter())
    forms[found.lower()] += 1
    if short != _letters(short):
        forms[_PLURAL] += 1


class Abbreviations:
    """The groups `defined` finds (long form first), for adding to a text the forms it does not spell out.
    An abbreviation counts only in capitals, as the documents write it: "SIN" is the social insurance
    number, "sin" is not, and "LEARN" names a procedure while "learn" does not."""

    def __init__(self, groups: Iterable[tuple[str, ...]]) -> None:
        self.groups = tuple(groups)
        self._forms: dict[str, tuple[str, ...]] = {}  # each form, lower case, -> its group
        longs, shorts = [], []
        for group in self.groups:
            long, *short = group
            longs.append(long)
            # written in capitals, a plural with a small "s": "AMRs"
            shorts += [f[:-1].upper() + "s" if f.endswith("s") and f[:-1] in short else f.upper() for f in short]
            self._forms.update(dict.fromkeys(group, group))
        self._long = _alternation(longs, re.IGNORECASE)
        self._short = _alternation(shorts, 0)

    def expand(self, text: str) -> str:
        said = {m.group().lower() for pattern in (self._long, self._short) if pattern for m in pattern.finditer(text)}
        extra = dict.fromkeys(f for s in said for f in self._forms[s] if f not in said)
        return f"{text} {' '.join(extra)}" if extra else text


def _alternation(forms: list[str], flags: int) -> re.Pattern[str] | None:
    forms = sorted(set(forms), key=len, reverse=True)  # "safety data sheets" before "safety data sheet"
    return re.compile(r"\b(?:" + "|".join(re.escape(f) for f in forms) + r")\b", flags) if forms else None
