"""The documents' own words, for the speech recognizer: names, room and product codes, domain words.

A generic recognizer knows everyday English; what it gets wrong at a company kiosk are the words only
that company uses ("canteen" heard as "can deal", "B-214", "the Galley", "Kestrel"). This module reads
them from the knowledge index (the chunks table behind the FTS5 index) and ranks them:

- codes: a capital letter with digits ("B-214", "A-104"): always kept, they are what visitors ask for;
- names: words the documents always capitalize, also mid-sentence ("Halvorsen", "Galley", "Tacoma");
- domain words: everything else that is unusual in everyday English.

"Unusual" is measured with Whisper's own tokenizer (byte-pair encoding learned on the web text it was
trained with): an everyday word is one token ("lunch", "badge", "parking"), an unusual one is split
into pieces ("canteen" = " can" + "teen", "Halvorsen" = 4 pieces). Words that are one token but
late in the merge order (the BPE's vocabulary is roughly ordered by frequency) count as mildly unusual.
That is the measure that matters for biasing Whisper, and it ships with the model: no word list needed.

The terms become Whisper's initial prompt (`prompt_text`), capped in tokens: Whisper's prompt holds at
most 223 tokens and every prompt token costs decoder time. For Vosk, whose small models cannot learn
words at run time, `vosk_missing` lists the terms the model's vocabulary lacks (`kiosk doctor`).
"""

from __future__ import annotations

import logging
import math
import re
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["Term", "WhisperRarity", "extract", "prompt_text", "vosk_missing", "whisper_prompt", "whisper_tokenizer"]

PROMPT_TOKENS = 120
"""default cap on the prompt, Whisper tokens (Whisper keeps at most 223 of them)"""
PROMPT_CODES = 2
"""room and product codes in the prompt at most: a list of codes ("A-210, B-214, A-104, C-120, ...") made
Whisper base spell ordinary words as codes ("B-M-A-R", "C-120HP") and loop on digits; codes are the
words it needs least help with (it writes "B214" unprimed)"""

# A code: capital letters and digits with at least one of each, optionally joined by hyphens
# ("B-214", "A-B10", "T3", "KX-200"); plain numbers and times are left to Whisper (it writes digits).
_CODE = re.compile(r"(?<![\w-])(?=[A-Z0-9-]*\d)(?=[A-Z0-9-]*[A-Z])[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*(?![\w-])")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|\n\s*(?:[-*>#|]+\s*)?|\|\s*|[\"“(]\s*)$")
# English function words (closed class): one token and very early in the BPE anyway, listed so that a
# custom rarity (e.g. a word list for another language) cannot promote them.
_STOP = frozenset([
    "a", "an", "the", "and", "or", "but", "if", "of", "to", "in", "on", "at", "by", "for", "with", "from",
    "as", "is", "are", "was", "were", "be", "been", "being", "am", "do", "does", "did", "have", "has",
    "had", "i", "you", "he", "she", "it", "we", "they", "me", "him", "her", "us", "them", "my", "your",
    "his", "its", "our", "their", "this", "that", "these", "those", "there", "here", "what", "which", "who",
    "whom", "whose", "when", "where", "why", "how", "not", "no", "yes", "can", "could", "will", "would",
    "shall", "should", "may", "might", "must", "also", "than", "then", "so", "very", "just", "only",
    "about", "into", "over", "under", "up", "down", "out", "off", "again", "per", "via",
])


@dataclass(frozen=True)
class Term:
    text: str
    """as the documents write it (the most common spelling)"""
    kind: str
    """code | name | word | extra"""
    chunks: int
    """chunks whose text or FAQ question uses it"""
    rarity: float
    """how unusual in everyday English (0 = everyday; Whisper BPE pieces beyond the first, roughly)"""
    score: float


class WhisperRarity:
    """Rarity from Whisper's tokenizer: (pieces - 1) + how late a one-piece word's token was merged."""

    def __init__(self, tokenizer_json: Path | str) -> None:
        self._tok = whisper_tokenizer(tokenizer_json)
        self._size = max(1, self._tok.get_vocab_size())

    def tokens(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def __call__(self, word: str) -> float:
        ids = self.tokens(" " + word)
        if len(ids) > 1:
            return float(len(ids) - 1)
        return max(0.0, (ids[0] / self._size - 0.3) / 0.7) if ids else 0.0  # late merges: 0..1

    def count(self, text: str) -> int:
        return len(self.tokens(text))


def whisper_tokenizer(tokenizer_json: Path | str) -> Any:
    """Whisper's tokenizer (the `tokenizers` library, installed with faster-whisper), repaired.

    The tokenizer.json that ships with Whisper's CTranslate2 conversions lacks the BPE's first merge,
    "Ġ t" (its merges.txt had no "#version" header line, so the converter skipped the first real one):
    every word after a space that starts with "t" is encoded as "Ġ" + "t..." ("the" becomes two tokens,
    "travel" three) although the model only ever saw " the" as token 264. Decoding is unaffected, but a
    text prompt encoded that way is not what Whisper was trained on; the merge is put back here."""
    import json

    from tokenizers import Tokenizer

    data = json.loads(Path(tokenizer_json).read_text(encoding="utf-8"))
    model = data.get("model", {})
    merges, vocab = model.get("merges", []), model.get("vocab", {})
    first = "Ġ t" if not merges or isinstance(merges[0], str) else ["Ġ", "t"]
    if "Ġt" in vocab and first not in merges:
        model["merges"] = [first, *merges]
    return Tokenizer.from_str(json.dumps(data))


def _rows(index: Path | str | sqlite3.Connection) -> list[tuple[str, str, str, str]]:
    if isinstance(index, sqlite3.Connection):
        return index.execute("SELECT title, section, question, text FROM chunks").fetchall()
    from kiosk.knowledge.index import open_index

    with open_index(index) as idx:
        return idx.conn.execute("SELECT title, section, question, text FROM chunks").fetchall()


def extract(index: Path | str | sqlite3.Connection, rarity: Callable[[str], float],
            min_rarity: float = 0.5, limit: int = 200, max_codes: int | None = None) -> list[Term]:
    """The index's distinctive terms, best first. `rarity(word)`: 0 for everyday English, higher for
    unusual words (WhisperRarity); words below `min_rarity` are dropped unless they are codes, of which
    only the `max_codes` best are kept (None: all)."""
    chunks_with: dict[str, set[int]] = defaultdict(set)  # key (lower case) -> chunk ids
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    capitalized: Counter[str] = Counter()  # mid-sentence capitalized occurrences in body text
    lowered: Counter[str] = Counter()  # lower-case occurrences anywhere
    topical: Counter[str] = Counter()  # in a section heading or an FAQ question
    codes: set[str] = set()
    for n, (title, section, question, text) in enumerate(_rows(index)):
        for field, body in (("title", title), ("section", section), ("question", question), ("text", text)):
            if not body:
                continue
            for m in _CODE.finditer(body):
                key = m.group().lower()
                codes.add(key)
                spellings[key][m.group()] += 1
                _count(key, field, n, chunks_with, topical)
            for m in _WORD.finditer(body):
                word = m.group().replace("’", "'")
                code_letter = body[m.end():m.end() + 1] == "-" and body[m.end() + 1:m.end() + 2].isdigit()
                if len(word) < (3 if word.isascii() else 2) or code_letter:
                    continue  # short words and the letter of a code ("B" of "B-214")
                key = word.lower()
                if key in _STOP or key.endswith("'s"):  # possessives: the word itself is there too
                    continue
                spellings[key][word] += 1
                _count(key, field, n, chunks_with, topical)
                if word[0].isupper():
                    if field == "text" and not _SENTENCE_START.search(body[max(0, m.start() - 6):m.start()]):
                        capitalized[key] += 1
                elif word.islower():
                    lowered[key] += 1
    # A plural and its singular are one term ("forklift", "forklifts"): the singular, both counts.
    for key in [k for k in chunks_with if k.endswith("s") and k[:-1] in chunks_with and k not in codes]:
        single = key[:-1]
        chunks_with[single] |= chunks_with.pop(key)
        spellings[single].update({w[:-1]: c for w, c in spellings.pop(key).items()})
        capitalized[single] += capitalized.pop(key, 0)
        lowered[single] += lowered.pop(key, 0)
        topical[single] += topical.pop(key, 0)
    terms: list[Term] = []
    for key, ids in chunks_with.items():
        spelling = spellings[key].most_common(1)[0][0]
        if key in codes:
            kind, r = "code", 2.0 + rarity(spelling)
        else:
            kind = "name" if capitalized[key] and lowered[key] == 0 else "word"
            if kind == "name" and not spelling[0].isupper():
                spelling = spelling[0].upper() + spelling[1:]
            r = rarity(spelling if kind == "name" else key)
            if r < min_rarity:
                continue
        df = len(ids)
        # What a visitor is likely to say (a word the documents use often or put in a heading or an FAQ
        # question) and Whisper is likely to miss (unusual; beyond two extra pieces it makes no
        # difference: "FIN-POL-004" is not more worth the prompt's room than "B-214").
        score = min(r, 2.0) * (1.0 + math.log(max(df, 1))) * (2.0 if topical[key] else 1.0)
        terms.append(Term(spelling, kind, df, round(r, 3), round(score, 3)))
    terms.sort(key=lambda t: (-t.score, t.text.lower()))
    if max_codes is not None:
        best = {t.text for t in [t for t in terms if t.kind == "code"][:max_codes]}
        terms = [t for t in terms if t.kind != "code" or t.text in best]
    return terms[:limit]


def _count(key: str, field: str, chunk: int, chunks_with: dict[str, set[int]], topical: Counter[str]) -> None:
    """A document title repeats on each of its chunks: it neither counts as use nor marks a topic (page
    chrome such as "Halvorsen Intranet" would outrank everything). A word in a section heading or an
    FAQ question is what visitors ask about."""
    if field in ("question", "text"):
        chunks_with[key].add(chunk)
    if field in ("section", "question"):
        topical[key] += 1
    elif field == "title":
        chunks_with.setdefault(key, set())


def prompt_text(terms: Iterable[str], count: Callable[[str], int] | None = None,
                max_tokens: int = PROMPT_TOKENS) -> str:
    """Terms as a comma-separated list for Whisper's initial prompt, cut to `max_tokens` (whole terms only).
    `count(text)`: its length in Whisper tokens (default: a rough 1.5 tokens a word)."""
    count = count or (lambda s: math.ceil(1.5 * len(s.split())) + 1)
    kept: list[str] = []
    seen: set[str] = set()
    for term in terms:
        term = " ".join(term.split())
        if not term or term.lower() in seen:
            continue
        if count(_glossary([*kept, term])) > max_tokens:
            break
        kept.append(term)
        seen.add(term.lower())
    return _glossary(kept) if kept else ""


def _glossary(terms: Sequence[str]) -> str:
    # A bare list: with a heading ("Glossary: ...") or a final full stop, Whisper base took the prompt for
    # the text before the utterance and went on after the question ("... badge? Thank you very much.");
    # measured in docs/benchmarks.md, "Document vocabulary".
    return ", ".join(terms)


def whisper_prompt(index: Path | str | None, tokenizer_json: Path | str, extra: Sequence[str] = (),
                   max_tokens: int = PROMPT_TOKENS) -> tuple[str, list[Term]]:
    """(initial prompt, the ranked terms) for a knowledge index; `extra` (the company's own list) first."""
    rarity = WhisperRarity(tokenizer_json)
    terms = extract(index, rarity, max_codes=PROMPT_CODES) if index else []
    prompt = prompt_text([*extra, *(t.text for t in terms)], rarity.count, max_tokens)
    return prompt, terms


def vosk_missing(model: Any, words: Iterable[str]) -> list[str]:
    """Words (lower-cased, split at spaces and hyphens) that a Vosk model's vocabulary lacks; a small
    Vosk model can never output them, whatever is said (its graph is compiled, only the big models'
    lexicons can be extended). `model`: a vosk.Model (vosk_model_find_word: -1 when the word is unknown)."""
    missing: list[str] = []
    seen: set[str] = set()
    for term in words:
        # Vosk writes numbers and letters as words ("b two fourteen"): only letter runs of 2+ are checked.
        for word in re.split(r"[\s\-/\d]+", term.lower()):
            word = word.strip(".,;:!?\"'()")
            if len(word) < 2 or word in seen:
                continue
            seen.add(word)
            if model.vosk_model_find_word(word) < 0:
                missing.append(word)
    return missing
