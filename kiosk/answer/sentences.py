"""Cut streamed LLM text into speakable chunks for the TTS engine.

Every decision depends only on the text itself, never on how it was fragmented:
when a rule needs a character that has not arrived yet, the chunker waits (and
flush() treats the end of the stream as that character). Scanning resumes where
it stopped, so feeding an answer piece by piece stays linear.

Ambiguity rules:
- "." / "…" followed by a lowercase word never ends a sentence (LLMs capitalise).
- An abbreviation followed by a digit never ends a sentence ("No. 5", "approx. 10").
  Followed by a capital it ends only if it is in CAN_END ("etc.", "a.m.", "Inc." ...);
  titles, months and "U.S." never end ("Dr. Smith"). "No." is only an abbreviation
  before a digit, so "The answer is no. Please ..." ends normally.
- A 1-3 digit number + "." at the start of a line is a list marker; after an
  enumeration word ("Step 1.") it never ends; otherwise "costs 12. Please" ends.
- "!" / "?" end as soon as whitespace follows, except quoted speech followed by a
  lowercase word ('"Stop!" she said').
- Long chunks: the last ", ; : – -" boundary, else the last " and/but/or/so/because/which",
  else the last space, each only if it keeps at least max_chars // 3 in the chunk.
- Chunks with fewer than min_chars alphanumerics are prefixed to the next chunk;
  a punctuation-only remainder at flush() is dropped (nothing to speak).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class ChunkerSettings:
    first_chunk_min_words: int = 3  # first chunk may end at a clause boundary after this many words
    first_chunk_max_words: int = 12  # ...or at a word boundary after this many (speech starts early)
    max_chars: int = 200  # longer chunks are split at a clause boundary / conjunction / space
    min_chars: int = 2  # chunks with fewer alphanumerics are merged into the next one


DEFAULT_SETTINGS = ChunkerSettings()

# Stored without the final dot; all-lowercase entries also match any casing ("E.g.").
# fmt: off
DEFAULT_ABBREVIATIONS = frozenset({
    "Mr", "Mrs", "Ms", "Dr", "Prof", "St", "Sr", "Jr", "vs", "etc", "e.g", "i.e", "approx", "appt",
    "dept", "est", "min", "max", "no", "No", "fig", "Inc", "Ltd", "Co", "Corp", "a.m", "p.m", "U.S",
    "ext", "tel", "Mon", "Tue", "Tues", "Wed", "Thu", "Thur", "Thurs", "Fri", "Sat", "Sun",
    "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec",
})
CAN_END = frozenset({"etc", "a.m", "p.m", "inc", "ltd", "co", "corp", "min", "max", "jr"})
DIGIT_ONLY = frozenset({"no"})  # "No. 5" yes, "no. Then" is a real sentence end
ENUM_WORDS = frozenset({
    "step", "item", "part", "phase", "stage", "option", "point", "chapter", "section", "rule",
    "tip", "question", "number", "no",
})
# fmt: on

TERMINATORS = ".!?…"
CLOSERS = "\"'”’»)]}*_`"
OPENERS = "\"'“‘«([{*_`"
DASHES = "-–—"
_END, _NOT, _WAIT = "end", "not", "wait"

_INITIALS = re.compile(r"[A-Z](?:\.[A-Z])*")
_PUNCT_CUT = re.compile(r"[,;:](?=\s)|(?<=\s)[–—-](?=\s)")  # cut after match
_CONJ_CUT = re.compile(r"\s(?=(?:and|but|or|so|because|which)\s)")  # cut before conjunction
_SPACE_CUT = re.compile(r"\s(?=[^\s.,;:!?…])")  # never leave the rest starting with punctuation
_LINE_MARKER = re.compile(r"^(?:[-*•+>]|#{1,6})\s+")  # bullets, quotes, headings
_LONE_STAR = re.compile(r"(?<![\w*])\*(?=\w)|(?<=\w)\*(?![\w*])")  # *em*, but keep 5*3


def _speakable(text: str) -> int:
    return sum(ch.isalnum() for ch in text)


def _words(text: str) -> int:
    return sum(1 for w in text.split() if any(ch.isalnum() for ch in w))


def _token_start(buf: str, end: int) -> int:
    while end > 0 and not buf[end - 1].isspace():
        end -= 1
    return end


def _clean(raw: str, line_start: bool) -> str:
    """Remove markdown that must not be spoken; collapse whitespace."""
    text = " ".join(raw.split())
    if line_start:
        text = _LINE_MARKER.sub("", text)
    text = text.replace("**", "").replace("__", "").replace("`", "")
    return " ".join(_LONE_STAR.sub("", text).split())


class SentenceChunker:
    """Incremental chunker: feed() LLM fragments, flush() at the end of the answer."""

    def __init__(
        self,
        settings: ChunkerSettings = DEFAULT_SETTINGS,
        abbreviations: frozenset[str] | None = None,
    ) -> None:
        self.settings = settings
        if abbreviations is None:
            abbreviations = DEFAULT_ABBREVIATIONS
        abbrevs = {a.rstrip(".") for a in abbreviations}
        self._exact = frozenset(abbrevs)
        self._folded = frozenset(a for a in abbrevs if a == a.lower())
        self.reset()

    def reset(self) -> None:
        self._buf = ""  # text of the current (unfinished) chunk and beyond
        self._pos = 0  # buf[:pos] is known to contain no cut point
        self._first = True  # first-chunk mode: cut early so speech starts fast
        self._line_start = True  # current chunk starts a line (list markers, bullets)
        self._long_tried = False
        self._overlong = False  # no split point found: cut at the next space
        self._carry = ""  # too-short text waiting to be prefixed to the next chunk

    def feed(self, text: str) -> list[str]:
        self._buf += text
        return self._scan(final=False)

    def flush(self) -> list[str]:
        out = self._scan(final=True)
        self._emit(self._buf, out)
        if _speakable(self._carry):
            out.append(self._carry)
        self.reset()
        return out

    # -- internals -----------------------------------------------------------------

    def _scan(self, final: bool) -> list[str]:
        out: list[str] = []
        while True:
            if self._pos == 0:  # chunk start: drop leading blanks, remember line breaks
                stripped = self._buf.lstrip()
                if "\n" in self._buf[: len(self._buf) - len(stripped)]:
                    self._line_start = True
                self._buf = stripped
            cut = self._find_cut(final)
            if cut is None:
                return out
            self._emit(self._buf[:cut], out)
            self._buf, self._pos = self._buf[cut:], 0
            self._line_start = self._long_tried = self._overlong = False

    def _emit(self, raw: str, out: list[str]) -> None:
        text = _clean(raw, self._line_start)
        if self._carry:
            text = f"{self._carry} {text}".strip()
        if _speakable(text) < max(1, self.settings.min_chars):  # never speak bare punctuation
            self._carry = text
            return
        self._carry = ""
        self._first = False
        out.append(text)

    def _find_cut(self, final: bool) -> int | None:
        buf, s, i = self._buf, self.settings, self._pos
        n = len(buf)
        while i < n:
            if i >= s.max_chars and not self._long_tried:
                self._long_tried = True
                cut = self._long_cut(buf[: i + 1])
                if cut is not None:
                    return cut
                self._overlong = True
            ch = buf[i]
            if ch == "\n":
                return i
            if ch in TERMINATORS:
                verdict, k = self._sentence_end(i, final)
                if verdict == _WAIT:
                    self._pos = i
                    return None
                if verdict == _END:
                    return k
                i = k
                continue
            if ch.isspace():
                if self._overlong:
                    return i
                if self._first and not buf[i - 1].isspace() and _words(buf[:i]) >= s.first_chunk_max_words:
                    return i
            elif self._first and (ch in ",;:" or (ch in DASHES and i and buf[i - 1] in " \t")):
                if i + 1 == n:
                    if not final:
                        self._pos = i
                        return None
                elif buf[i + 1].isspace() and _words(buf[:i]) >= s.first_chunk_min_words:
                    return i + 1
            i += 1
        self._pos = n
        return None

    def _long_cut(self, window: str) -> int | None:
        """Last clause boundary, else last conjunction, else last space (not too early)."""
        floor = self.settings.max_chars // 3
        for pattern, after in ((_PUNCT_CUT, True), (_CONJ_CUT, False), (_SPACE_CUT, False)):
            cuts = [m.end() if after else m.start() for m in pattern.finditer(window)]
            cuts = [c for c in cuts if c >= floor]
            if cuts:
                return cuts[-1]
        cuts = [m.start() for m in _SPACE_CUT.finditer(window) if _speakable(window[: m.start()])]
        return cuts[-1] if cuts else None

    def _lookahead(self, k: int) -> str | None:
        """First significant char after whitespace/opening quotes; "\\n" if a line break comes first."""
        buf, n = self._buf, len(self._buf)
        while k < n and buf[k].isspace():
            if buf[k] == "\n":
                return "\n"
            k += 1
        while k < n and buf[k] in OPENERS:
            k += 1
        return buf[k] if k < n else None

    def _sentence_end(self, i: int, final: bool) -> tuple[str, int]:
        """Classify the terminator run starting at buf[i]; returns (verdict, index after it)."""
        buf, n = self._buf, len(self._buf)
        j = i
        while j < n and buf[j] in TERMINATORS:
            j += 1
        k = j
        while k < n and buf[k] in CLOSERS:
            k += 1
        if k == n:  # "3." may become "3.50": wait for the next character
            return (_END, n) if final else (_WAIT, i)
        if not buf[k].isspace():
            return _NOT, k
        run = buf[i:j]
        if ("!" in run or "?" in run) and k == j:
            return _END, k
        nxt = self._lookahead(k)
        if nxt == "\n":
            return _END, k
        if nxt is None:
            return (_END, k) if final else (_WAIT, i)
        if nxt.islower():
            return _NOT, k
        if run != ".":
            return _END, k
        t = _token_start(buf, i)
        tok = re.split(r"[-–—/]", buf[t:i].lstrip(OPENERS))[-1]  # "Mon.–Sun." -> "Sun"
        if tok.isdigit():
            if self._line_start and t == 0 and len(tok) <= 3:
                return _NOT, k  # list marker "1. Bring your badge"
            e = t
            while e and buf[e - 1].isspace():
                e -= 1
            prev = buf[_token_start(buf, e) : e].strip("*_\"'(").lower()
            return (_NOT if prev in ENUM_WORDS else _END), k
        if tok in self._exact or tok.lower() in self._folded:
            low = tok.lower()
            if low in DIGIT_ONLY:
                return (_NOT if nxt.isdigit() else _END), k
            return (_END if low in CAN_END and not nxt.isdigit() else _NOT), k
        if tok != "I" and _INITIALS.fullmatch(tok):
            return _NOT, k  # "J. Smith", "J.R.R. Tolkien"
        return _END, k


def split_sentences(text: str, settings: ChunkerSettings = DEFAULT_SETTINGS) -> list[str]:
    chunker = SentenceChunker(settings)
    return chunker.feed(text) + chunker.flush()
