"""A PDF page's text layer as lines, with what the structure is read from: the font size and boldness of each
line, where each of its pieces of text starts (tables) and how high it starts on the page (tables drawn cell
by cell)."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import pypdf

from kiosk.knowledge.parse_common import clean
from kiosk.knowledge.pdf_tables import Pieces

_BOLD = re.compile(r"bold|black|heavy|semibold|demi", re.I)


@dataclass
class Line:
    text: str
    size: float  # effective font size in points, 0 = unknown
    bold: bool
    level: int = 0  # heading level, 0 = body text
    pieces: Pieces = ()  # where each piece of text starts (tables: kiosk.knowledge.pdf_tables)
    top: float = 0.0  # the height of its first piece on the page (a table drawn cell by cell goes back up)
    table: tuple[list[str] | None, list[list[str]]] | None = None  # (header, rows) of a table's lines


def page_lines(page: pypdf.PageObject) -> list[Line]:
    lines: list[Line] = []
    parts: list[str] = []
    pieces: list[tuple[float, str]] = []
    tops: list[float] = []
    weights: Counter[tuple[float, bool]] = Counter()

    def end_line() -> None:
        text = clean("".join(parts))
        if text:
            (size, _), total = weights.most_common(1)[0] if weights else ((0.0, False), 0)
            bold_chars = sum(n for (_, b), n in weights.items() if b)
            lines.append(Line(text, size, bool(total) and bold_chars >= 0.9 * sum(weights.values()),
                               pieces=tuple(pieces), top=tops[0] if tops else 0.0))
        parts.clear()
        pieces.clear()
        tops.clear()
        weights.clear()

    def visit(text: str, cm: list[float], tm: list[float], font: dict | None, size: float) -> None:
        if not text:
            return
        scale = (math.hypot(tm[2], tm[3]) or 1.0) * (math.hypot(cm[2], cm[3]) or 1.0)
        key = (round(size * scale * 2) / 2, bool(font and _BOLD.search(str(font.get("/BaseFont", "")))))
        x = cm[0] * tm[4] + cm[2] * tm[5] + cm[4]  # where the text starts on the page
        y = cm[1] * tm[4] + cm[3] * tm[5] + cm[5]
        for k, piece in enumerate(text.split("\n")):
            if k:
                end_line()
            if piece:
                parts.append(piece)
                if n := len(piece.strip()):
                    weights[key] += n
                    pieces.append((x, clean(piece)))
                    tops.append(y)

    returned = page.extract_text(visitor_text=visit)
    end_line()
    if not lines and returned.strip():  # no visitor calls: keep the text, without font hints
        lines = [Line(t, 0.0, False) for t in map(clean, returned.splitlines()) if t]
    return lines
