"""Keeps the character's secrets (a scenario's `must_not_reveal`) out of what it says, sentence by sentence.

A small model told "never mention X" tends to mention X, and a learner may simply ask. Each secret's telling
words are those the rest of the scenario does not already say (the name, the situation, the opening are
public): a sentence gives the secret away when it holds one of its numbers of two or more digits (also said as
words: "twelve percent") or names (capitalised words: "Corvid", "Tuesday"), two of its telling words side by side
("wrong day", "job offer"), or at least two of them anywhere (three when the secret has five or more), in the one
spelling of kiosk/learn/spoken.py. Such a sentence is never said; the
conversation puts a stay-in-character deflection in its place. A safety net, not a vault: "I had another offer"
passes for "a second job offer from Corvid Logistics"."""

from __future__ import annotations

import re
from dataclasses import dataclass

from kiosk.learn import spoken

_COMMON_WORDS = """
a an the and or but if then so of to in on at by for with from as into about over under after before is are was
were be been being am i you your we our us it its this that these those there here not no do does did can could
will would shall should may might must me my he him his she her they them their what which who when where why how
than too very just also only all any some each every up out again yes okay have has had still get got go
going one
"""
_COMMON = frozenset(_COMMON_WORDS.split())


@dataclass(frozen=True)
class Secret:
    text: str
    telling: frozenset[str]
    """words of the secret (one spelling) the public scenario text does not hold"""
    numbers: frozenset[str]
    names: frozenset[str]
    pairs: tuple[tuple[str, str], ...]
    """telling words side by side in the secret"""
    need: int
    """telling words in one sentence that give it away"""


def _names(text: str, public: set[str]) -> set[str]:
    """Capitalised words that are not a sentence's first word (and not already public)."""
    found = set()
    for sentence in spoken.sentences(text):
        for word in re.findall(r"[A-Za-z][\w'-]*", sentence)[1:]:
            if word[0].isupper() and word.lower() not in public and word.lower() not in _COMMON:
                found.add(spoken.words(word)[0] if spoken.words(word) else word.lower())
    return found


class RevealGuard:
    def __init__(self, secrets: tuple[str, ...], public: str) -> None:
        known = set(spoken.words(public)) | set(spoken.plain_words(public))
        self.secrets = []
        for text in secrets:
            said = [w for w in spoken.words(text) if w not in _COMMON]
            telling = frozenset(w for w in said if w not in known and not w.isdigit())
            # one digit alone ("second", "two questions") is too common to be anyone's secret
            numbers = frozenset(w for w in said if w.isdigit() and len(w) >= 2 and w not in known)
            names = frozenset(_names(text, known))
            pairs = tuple((a, b) for a, b in zip(said, said[1:], strict=False) if a in telling and b in telling)
            need = min(len(telling), 2 if len(telling) < 5 else 3)
            self.secrets.append(Secret(text, telling, numbers, names, pairs, need))

    def leak(self, sentence: str) -> str | None:
        """The secret `sentence` gives away, or None."""
        words = spoken.words(sentence)
        said = set(words)
        for secret in self.secrets:
            if said & (secret.numbers | secret.names):
                return secret.text
            if any(spoken.find(words, list(pair)) >= 0 for pair in secret.pairs):
                return secret.text
            if secret.need and len(said & secret.telling) >= secret.need:
                return secret.text
        return None
