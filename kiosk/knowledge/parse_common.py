"""Helpers shared by the format parsers: whitespace, readable titles, table rendering, the section-path builder."""

from __future__ import annotations

import re
from pathlib import Path

from kiosk.knowledge.documents import Block, ParsedDocument, SkipDocument

CHARS_PER_PAGE = 3000  # ParsedDocument.pages for unpaged formats

# Every kind of horizontal space (NBSP, thin/ideographic spaces...) becomes one plain space.
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_ANY_WS = re.compile(r"\s+")
# Soft hyphens, zero-width characters and the BOM only disturb matching and speech.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))


def clean(text: str) -> str:
    """One line: all whitespace runs (newlines included) collapsed to single spaces."""
    return _ANY_WS.sub(" ", text.translate(_INVISIBLE)).strip()


def clean_lines(text: str) -> str:
    """Keep the line structure, collapse spaces within lines, drop empty lines."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.translate(_INVISIBLE).splitlines())
    return "\n".join(line for line in lines if line)


def readable_stem(path: Path) -> str:
    """'opening-hours_2024' -> 'Opening hours 2024'."""
    name = clean(re.sub(r"[_\-.+]+", " ", path.stem)) or path.name
    return name[0].upper() + name[1:] if name.islower() else name


def render_table(header: list[str] | None, rows: list[list[str]], caption: str = "", row_headers: bool = False) -> str:
    """Rows as "Header: value; Header: value", one line each, so a table reads well when spoken.

    `header` None + `row_headers`: the first cell of each row labels the rest ("Monday: 9-17").
    A caption becomes a first line ending in ":"; the chunker repeats it when it splits a table.
    """
    header = [clean(h) for h in header] if header else []
    lines = [clean(caption).rstrip(":") + ":"] if clean(caption) else []
    for row in rows:
        cells = [clean(c) for c in row]
        if row_headers and len(cells) > 1 and cells[0]:
            rest = [c for c in cells[1:] if c]
            if rest:
                lines.append(f"{cells[0]}: {'; '.join(rest)}")
            continue
        pairs = []
        for i, cell in enumerate(cells):
            if not cell:
                continue
            name = header[i] if i < len(header) else ""
            pairs.append(f"{name}: {cell}" if name and name != cell else cell)
        if pairs:
            lines.append("; ".join(pairs))
    if header and len(lines) == (1 if clean(caption) else 0):  # header-only table: still say what it lists
        lines.append("; ".join(h for h in header if h))
    return "\n".join(line for line in lines if line)


class Builder:
    """Collects blocks in reading order while tracking the heading path.

    `line()` accumulates lines (list items, wrapped text) into one block until `flush()`;
    `paragraph()` is a block of its own. Headings close the open block.
    """

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.page: int | None = None
        self._path: list[tuple[int, str]] = []
        self._lines: list[str] = []

    @property
    def section(self) -> tuple[str, ...]:
        return tuple(text for _, text in self._path)

    def heading(self, level: int, text: str) -> None:
        text = clean(text)
        if not text:
            return
        self.flush()
        while self._path and self._path[-1][0] >= level:
            self._path.pop()
        self._path.append((level, text))

    def line(self, text: str) -> None:
        text = clean(text)
        if text:
            self._lines.append(text)

    def paragraph(self, text: str) -> None:
        self.flush()
        self.line(text)
        self.flush()

    def flush(self) -> None:
        if self._lines:
            self.blocks.append(Block("text", "\n".join(self._lines), self.section, page=self.page))
            self._lines = []

    def table(
        self, header: list[str] | None, rows: list[list[str]], caption: str = "", row_headers: bool = False
    ) -> None:
        self.flush()
        width = max((len(r) for r in [*rows, header or []]), default=0)
        if width <= 1:  # a one-column "table" is a layout box or a list: plain lines read better
            for cell in [*(header or []), *(r[0] for r in rows if r)]:
                self.line(cell)
            self.flush()
            return
        text = render_table(header, rows, caption, row_headers)
        if text:
            self.blocks.append(Block("table", text, self.section, page=self.page))

    def faq(self, question: str, answer: str, section: tuple[str, ...] | None = None) -> None:
        self.flush()
        question, answer = clean(question), clean_lines(answer)
        if question and answer:
            self.blocks.append(Block("faq", answer, self.section if section is None else section, question, self.page))

    def document(self, title: str, pages: float | None = None) -> ParsedDocument:
        self.flush()
        if not self.blocks:
            raise SkipDocument("no text found")
        if pages is None:
            pages = sum(len(b.text) + len(b.question) for b in self.blocks) / CHARS_PER_PAGE
        return ParsedDocument(clean(title), tuple(self.blocks), pages)
