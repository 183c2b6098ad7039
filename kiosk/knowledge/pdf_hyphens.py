"""A PDF line that ends in a hyphen, joined to the next one: keep the hyphen, or was it the typesetter's?

Word processors and browsers break lines after a compound's own hyphen ("HR-" / "POL-012", "e-" / "cigarettes");
typesetters also split words to justify text ("trans-" / "ported"). The document's own spelling elsewhere
decides; a code (the next line starts in capitals or digits), a one- or two-letter prefix or a compound that
goes on with hyphens ("twice-" / "a-day") keeps its hyphen;
otherwise the hyphen was the typesetter's, as it was always taken before.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")


def document_words(lines: Iterable[str]) -> set[str]:
    """The document's own words, lower case, hyphenated ones whole ("e-cigarettes") and also in parts."""
    words: set[str] = set()
    for line in lines:
        for word in _WORD.findall(line.lower()):
            words.add(word)
            words.update(word.split("-"))
    return words


def join_hyphen(cur: str, text: str, vocabulary: set[str]) -> str:
    """`cur`, ending in a hyphen after a letter or digit, joined to the next line `text`."""
    before = _WORD.findall(cur[:-1].lower())[-1].rsplit("-", 1)[-1]
    after = _WORD.match(text.lower())
    rest = after.group(0) if after else ""
    nxt = rest.split("-", 1)[0]
    # A compound goes on with hyphens ("twice-" / "a-day"): no typesetter splits "twicea-day" there.
    keep = f"{before}-{nxt}" in vocabulary or not text[0].islower() or len(before) <= 2 or "-" in rest
    return cur + text if keep and before + nxt not in vocabulary else cur[:-1] + text
