"""Last check on each sentence before it is spoken.

Small models can be talked into reciting their instructions or can invent figures. Two cheap,
deterministic rules catch the worst of it without a second model:
- a sentence that repeats 8 or more consecutive words of the system prompt is never spoken;
- in a grounded answer, a sentence with a number that appears neither in the passages nor in the
  question is dropped (invented prices, dates, extensions).
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9]+")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
SHINGLE = 8


def _shingles(text: str, n: int = SHINGLE) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def _numbers(text: str) -> set[str]:
    return {re.sub(r"[.,:]", "", n) for n in _NUMBER.findall(text)}


class SentenceGuard:
    def __init__(self, system_prompt: str, evidence: str | None = None, public: str = "") -> None:
        """`evidence`: passages + question for a grounded answer; None when nothing grounds it.
        `public`: parts of the system prompt the persona is meant to say (the fallback contact)."""
        self._secret = _shingles(system_prompt) - _shingles(public)
        self._allowed = _numbers(evidence) if evidence is not None else None

    def check(self, sentence: str) -> str | None:
        """None when the sentence may be spoken, else the reason it is dropped."""
        if self._secret & _shingles(sentence):
            return "repeats the system prompt"
        if self._allowed is not None:
            invented = _numbers(sentence) - self._allowed
            if invented:
                return f"number(s) not in the documents: {', '.join(sorted(invented))}"
        return None
