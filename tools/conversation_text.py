"""Words for tools/bench_conversation.py: what a transcript says, compared by content words, never by wording.

`words` lower-cases, drops punctuation, spells contractions out and drops fillers; `coverage` / `precision`
compare content words (for giving a turn the utterance it answered); `edits` is the word edit distance (WER);
`spoken` / `same_words` compare two transcripts of the same audio (live against `kiosk transcribe`), which
may differ in case, punctuation and the spelling of "okay" but in nothing else.
"""

from __future__ import annotations

import re

CONTRACTIONS = {"what's": "what is", "where's": "where is", "when's": "when is", "who's": "who is",
                "how's": "how is", "it's": "it is", "i'm": "i am", "don't": "do not", "can't": "can not",
                "cannot": "can not", "i've": "i have", "that's": "that is", "there's": "there is",
                "doesn't": "does not", "isn't": "is not", "i'd": "i would", "we're": "we are", "you're": "you are"}
FILLERS = {"um", "uh", "er", "erm", "hmm", "mm", "ah"}
STOP = {"a", "an", "the", "is", "are", "do", "does", "i", "my", "me", "we", "to", "of", "in", "on", "for", "at",
        "it", "if", "can", "and", "or", "so", "what", "where", "when", "how", "who", "there", "this", "that", "be",
        "get", "here", "some", "just", "like", "okay", "hi", "hello", "excuse", "sorry", "oh", "also", "one", "more",
        "thing", "quick", "question", "thanks", "you", "your", "have", "has", "am", "with", "from", "up", "any"}


def words(text: str) -> list[str]:
    """Lower case, no punctuation, contractions spelled out, fillers dropped."""
    text = re.sub(r"[-/]", " ", (text or "").lower().replace("’", "'"))
    out = []
    for w in re.sub(r"[^a-z0-9' ]", " ", text).split():
        w = w.strip("'")
        for part in CONTRACTIONS.get(w, w).split():
            part = part.replace("'", "")
            if part and part not in FILLERS:
                out.append(part)
    return out


def _stem(w: str) -> str:
    return w[:-1] if len(w) > 3 and w.endswith("s") else w


def content(text: str) -> set[str]:
    return {_stem(w) for w in words(text) if w not in STOP}


def coverage(truth: str, heard: str) -> float:
    """Share of the true text's content words that were heard (1.0 when it has none)."""
    c = content(truth)
    return len(c & content(heard)) / len(c) if c else 1.0


def edits(ref: list[str], hyp: list[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def has_facts(answer: str, facts: list) -> bool:
    from kiosk.answer.evaluate import has_facts as check

    return check(answer or "", tuple((f,) if isinstance(f, str) else tuple(f) for f in facts))


def precision(truth: str, heard: str) -> float:
    """Share of the heard content words that the true text has (0 when fewer than two were heard)."""
    h = content(heard)
    return len(h & content(truth)) / len(h) if len(h) >= 2 else 0.0


# -- one audio, two transcripts ----------------------------------------------------------------------------------

SPELLINGS = {"ok": "okay", "okey": "okay", "alright": "all right"}
"""one word, spelled either way by Whisper ("OK" / "Okay" / "O.K.")"""


def spoken(text: str) -> list[str]:
    """`words`, with the spelling variants of one word (SPELLINGS, "O.K.") made one."""
    text = re.sub(r"\bo\.\s?k\b\.?", "okay", text or "", flags=re.IGNORECASE)
    return [part for w in words(text) for part in SPELLINGS.get(w, w).split()]


def same_words(a: str, b: str) -> bool:
    """The same words, case, punctuation and the spelling of "okay" aside (`spoken`)."""
    return spoken(a) == spoken(b)
