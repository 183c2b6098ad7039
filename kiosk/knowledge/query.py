"""From a visitor's spoken question to a safe FTS5 MATCH expression.

Speech-to-text gives lower-quality, chatty text ("um, hey, could you tell me where the canteen is?"),
so the question is cut to its content terms: fillers and function words go, numbers stay ("8:45"
becomes the phrase "8 45", which is how the index tokenizer stores it), synonym groups from the
config widen a term into an OR group, and every term is quoted so nothing a visitor says can become
FTS5 syntax (NEAR, AND, "*", parentheses, column filters ...). Terms of 4+ characters are prefix
queries, so "badge" also finds "badges"; the porter tokenizer stems query and document alike.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from kiosk.knowledge.followup import NEW_TOPIC

__all__ = ["STOP_WORDS", "Term", "build_match", "match_expression", "parse_question", "terms", "tokens"]

_STOP_TEXT = """
    a about above after again all also am an and any anybody anyone anything are around as at be
    because been before being below between both but by can could did do does doing done down
    during each either else ever every few for from further get gets getting give go going gonna got
    had has have having he her here hers herself him himself his how i if in into is it its itself
    just kind know let lets like many may me might mine more most much must my myself need needs no
    nor not now of off on once only or other our ours out over own please quite rather really same
    say shall she should so some somebody someone something such tell than thank thanks that the
    their theirs them then there these they thing things this those through to too under until up
    us very want wanna was way we well were what whats when where which while who whom whose why
    will with would yeah yes yet you your yours yourself
    um uh uhm umm er erm ah oh hmm mm hey hi hello okay ok alright actually basically sorry excuse
    sure right wondering wonder find show
    sometimes often usually normally generally supposed everything everyone exactly still already again
    stuff guys folks goes think guess
"""
STOP_WORDS: frozenset[str] = frozenset(_STOP_TEXT.split())
"""English function words plus spoken fillers. Deliberately compact: a content word wrongly kept
costs a little ranking noise; a content word wrongly dropped can lose the answer."""

_PREFIX_MIN = 4  # shorter prefixes ("car*") match too much unrelated vocabulary
_TIME = re.compile(r"\b(\d{1,2})[:.](\d{2})\b")
_CODE = re.compile(r"\b([a-z]{1,5})-(\d{1,4})\b|\b([a-z])(\d{1,4})\b")  # "AMR-2", "HS-3", "B-214", "b214"
_NOT = re.compile(r"\b(can)'t\b|\b(won)'t\b|n't\b")
_LETTER_NUMBER = re.compile(r"(?<=\d)(?=[a-z]\b)|(?<=\b[a-z])(?=\d)")
_CLITIC = re.compile(r"'(?:s|d|ll|ve|re|m)\b")
_STANDS_FOR = re.compile(r"\b(?:stands?|short) for\b")  # "what does OOO stand for": the asking, not the topic


@dataclass(frozen=True)
class Term:
    """One content term of a question and what may stand in for it."""

    text: str
    """the word (or "8 45"-style phrase) as spoken, normalized"""
    alternatives: tuple[str, ...]
    """text itself first, then synonyms; entries with spaces are phrases"""


def _is_token_char(ch: str) -> bool:
    # Letters, numbers, marks and private-use characters: unicode61's token characters (plus marks,
    # so Indic words stay whole; FTS5 re-tokenizes each quoted string the same way on both sides).
    cat = unicodedata.category(ch)
    return cat[0] in "LNM" or cat == "Co"


def _fold(token: str) -> str:
    """Accent-free form used only to compare with stop words and synonyms ("café" ~ "cafe")."""
    return "".join(c for c in unicodedata.normalize("NFKD", token) if not unicodedata.combining(c))


def _normalize(text: str) -> str:
    text = NEW_TOPIC.sub("", unicodedata.normalize("NFC", text).lower())
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    # Contractions: "can't" -> "can not", "what's" -> "what", "i'd" -> "i"; stop words then drop them.
    text = _NOT.sub(lambda m: "can not" if m.group(1) else "will not" if m.group(2) else " not", text)
    # Spoken "401k" / "b214" are written "401(k)" / "B-214": split a lone letter off a number.
    text = _LETTER_NUMBER.sub(" ", text)
    return _STANDS_FOR.sub(" ", _CLITIC.sub("", text))


def tokens(text: str) -> list[str]:
    """Lower-case word tokens split the way the index tokenizer splits them (no stop-word removal)."""
    out: list[str] = []
    current: list[str] = []
    for ch in _normalize(text):
        if _is_token_char(ch):
            current.append(ch)
        elif current:
            out.append("".join(current))
            current = []
    if current:
        out.append("".join(current))
    return out


_Entry = tuple[int, tuple[str, ...], tuple[str, ...]]  # (order, entry tokens, group alternatives)
_Table = dict[str, tuple[_Entry, ...]]


@functools.lru_cache(maxsize=8)
def _synonym_table(synonyms: tuple[tuple[str, ...], ...]) -> _Table:
    """{first token: entries starting with it}; an entry's order puts longer entries first, so "front
    desk" beats "desk". Cached: built once per synonym list, not at every question."""
    entries: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    for group in synonyms:
        alternatives = tuple(dict.fromkeys(" ".join(tokens(entry)) for entry in group if tokens(entry)))
        entries += [(tuple(_fold(t) for t in alternative.split()), alternatives) for alternative in alternatives]
    entries.sort(key=lambda item: -len(item[0]))
    table: dict[str, list[_Entry]] = {}
    for order, (entry, alternatives) in enumerate(entries):
        table.setdefault(entry[0], []).append((order, entry, alternatives))
    return {first: tuple(found) for first, found in table.items()}


def _entries(table: _Table, word: str) -> list[_Entry]:
    """The entries that may start at `word` (also as a plural of their first word), in table order."""
    found = list(table.get(word, ()))
    if word.endswith("s"):
        found += table.get(word[:-1], ())
    if word.endswith("es"):
        found += table.get(word[:-2], ())
    return sorted(found)


def _matches(words: list[str], start: int, entry: tuple[str, ...]) -> bool:
    if start + len(entry) > len(words):
        return False
    for offset, want in enumerate(entry):
        got = words[start + offset]
        # Tolerate a plural on the question side: "cafeterias" still hits the group "cafeteria".
        if got != want and got not in (want + "s", want + "es"):
            return False
    return True


def parse_question(question: str, synonyms: Sequence[Sequence[str]] = ()) -> list[Term]:
    """The question's content terms in spoken order, each with its synonym alternatives; no duplicates."""
    text = _TIME.sub(r" \1 \2 ", _normalize(question))
    phrases = {f"{h} {m}" for h, m in _TIME.findall(_normalize(question))}
    # A model or room code ("AMR-2", "B-214") is one phrase term: its number alone matches every 2 in the documents.
    phrases |= {f"{a or c} {b or d}" for a, b, c, d in _CODE.findall(question.lower())}
    raw = tokens(text)
    folded = [_fold(t) for t in raw]
    table = _synonym_table(tuple(tuple(group) for group in synonyms))
    found: dict[str, Term] = {}
    i = 0
    while i < len(raw):
        # A time ("8:45") or a code ("AMR-2") stays one phrase term so it does not match every 8 and every 45.
        if i + 1 < len(raw) and f"{raw[i]} {raw[i + 1]}" in phrases:
            phrase = f"{raw[i]} {raw[i + 1]}"
            found.setdefault(phrase, Term(phrase, (phrase,)))
            i += 2
            continue
        for _, entry, alternatives in _entries(table, folded[i]):
            if _matches(folded, i, entry):
                spoken = " ".join(raw[i : i + len(entry)])
                ordered = (spoken, *(a for a in alternatives if a != spoken))
                # Keyed by group: "wifi internet" is one thing asked about, not two.
                found.setdefault("\0".join(alternatives), Term(spoken, ordered))
                i += len(entry)
                break
        else:
            word, key = raw[i], folded[i]
            if key not in STOP_WORDS and (len(word) > 1 or word.isdigit()):
                found.setdefault(word, Term(word, (word,)))
            i += 1
    return list(found.values())


def terms(question: str, synonyms: Sequence[Sequence[str]] = ()) -> list[str]:
    """The question's content terms (stop words and fillers removed), e.g. ["canteen", "open"]."""
    return [term.text for term in parse_question(question, synonyms)]


def _quote(alternative: str) -> str:
    """One FTS5 string: a quoted phrase, with a prefix star for single words of 4+ letters."""
    quoted = '"' + alternative.replace('"', '""') + '"'
    if " " not in alternative and len(alternative) >= _PREFIX_MIN and not alternative.isdigit():
        return quoted + "*"
    return quoted


def match_expression(parsed: Sequence[Term]) -> str | None:
    """OR of every alternative of every term; None when there is nothing to search for."""
    parts = list(dict.fromkeys(_quote(a) for term in parsed for a in term.alternatives))
    return " OR ".join(parts) if parts else None


def build_match(question: str, synonyms: Sequence[Sequence[str]] = ()) -> str | None:
    """FTS5 MATCH string for a spoken question, or None when only stop words (or nothing) remain."""
    return match_expression(parse_question(question, synonyms))
