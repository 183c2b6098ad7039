"""Helpers shared by the format parsers: text cleaning, readable titles, table rendering, the section-path
builder, the text budget of one document and the zip check every zip-based format passes before parsing."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from kiosk.knowledge.documents import Block, ParsedDocument, SkipDocument, safe_name

CHARS_PER_PAGE = 3000  # ParsedDocument.pages for unpaged formats

# Every kind of horizontal space (NBSP, thin/ideographic spaces...) becomes one plain space.
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_ANY_WS = re.compile(r"\s+")
# Soft hyphens, zero-width characters and the BOM only disturb matching and speech: removed. Control
# characters (NUL and the other C0 codes but tab and line ends, DEL, C1) and lone surrogates (from a broken
# PDF text layer; SQLite refuses them) are never text: each becomes a space, so no words are glued together.
# Typographic ligatures (PDFs printed by browsers and word processors set "staff" as "sta\ufb00"): their letters,
# or "first" would never match "\ufb01rst".
_INVISIBLE: dict[int, str | None] = {
    **dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff")),
    **dict.fromkeys([*range(0x00, 0x09), *range(0x0E, 0x20), *range(0x7F, 0xA0), *range(0xD800, 0xE000)], " "),
    **{0xFB00 + i: letters for i, letters in enumerate(("ff", "fi", "fl", "ffi", "ffl", "st", "st"))},
}


def clean(text: str) -> str:
    """One line: control characters removed, all whitespace runs (newlines included) collapsed to single spaces."""
    return _ANY_WS.sub(" ", text.translate(_INVISIBLE)).strip()


def clean_lines(text: str) -> str:
    """Keep the line structure, collapse spaces within lines, drop empty lines (control characters removed)."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.translate(_INVISIBLE).splitlines())
    return "\n".join(line for line in lines if line)


def readable_stem(path: Path) -> str:
    """'opening-hours_2024' -> 'Opening hours 2024'; bytes of the name that are not UTF-8 become spaces."""
    stem = path.stem.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    name = clean(re.sub(r"[_\-.+\ufffd]+", " ", stem)) or safe_name(path.name)
    return name[0].upper() + name[1:] if name.islower() else name


def human_size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / 1024 / 1024:.1f} MB"
    return f"{n / 1024:.1f} KB" if n >= 1024 else f"{n} bytes"


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
        self._chars = 0

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
            self._add(Block("text", "\n".join(self._lines), self.section, page=self.page))
            self._lines = []

    def _add(self, block: Block) -> None:
        self.blocks.append(block)
        self._chars += len(block.text) + len(block.question)
        check_budget(self._chars, len(self.blocks))

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
            self._add(Block("table", text, self.section, page=self.page))

    def faq(self, question: str, answer: str, section: tuple[str, ...] | None = None) -> None:
        self.flush()
        question, answer = clean(question), clean_lines(answer)
        if question and answer:
            self._add(Block("faq", answer, self.section if section is None else section, question, self.page))

    def document(self, title: str, pages: float | None = None) -> ParsedDocument:
        self.flush()
        if not self.blocks:
            raise SkipDocument("no text found")
        if pages is None:
            pages = sum(len(b.text) + len(b.question) for b in self.blocks) / CHARS_PER_PAGE
        return ParsedDocument(clean(title), tuple(self.blocks), pages)


# -- limits on one document ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Budget:
    chars: int
    blocks: int


_BUDGET: ContextVar[_Budget | None] = ContextVar("kiosk_text_budget", default=None)


@contextmanager
def text_budget(chars: int, blocks: int) -> Iterator[None]:
    """While parsing one document: at most `chars` characters of text and `blocks` passages from it.
    Builder (and the PDF page loop) check as they go, so a document over the limit stops early."""
    token = _BUDGET.set(_Budget(chars, blocks))
    try:
        yield
    finally:
        _BUDGET.reset(token)


def check_budget(chars: int, blocks: int = 0) -> None:
    """SkipDocument once the text taken from the document so far is over the budget of `text_budget`."""
    budget = _BUDGET.get()
    if budget is None:
        return
    if chars > budget.chars:
        raise SkipDocument(f"too much text: more than {budget.chars:,} characters (knowledge.max_file_mb)")
    if blocks > budget.blocks:
        raise SkipDocument(f"too many passages: more than {budget.blocks:,} (knowledge.max_file_mb)")


UNPACKED_PER_BYTE = 2.5
"""a zip-based document may unpack to this many bytes per byte of knowledge.max_file_mb"""
_ZIP_BLOCK = 1 << 20
_RATIO_GRACE = 1 << 20  # members smaller than this unpack to little whatever their ratio


def check_zip(data: bytes, what: str, max_unpacked: int, max_ratio: float, max_parts: int) -> None:
    """Refuse a zip-based document (DOCX) that would unpack to more than a parser should hold in memory.

    First the central directory alone: the number of parts, the sum of their sizes (`max_unpacked`) and each
    part's compression ratio (`max_ratio`, for parts over 1 MiB; deflate reaches ~1000:1 on repeated text,
    office XML ~10:1). Then every part is unpacked once in 1 MiB blocks and counted, through the same
    zipfile reader the parser uses: a directory that understates a size cannot make it hand out more. A zip
    that cannot be read at all is left to the parser, which says how it is damaged.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except Exception:  # not a zip at all: the parser says how it is damaged
        return
    with archive:
        parts = archive.infolist()
        if len(parts) > max_parts:
            raise SkipDocument(f"damaged {what}: {len(parts):,} parts in its zip (limit {max_parts:,})")
        declared = sum(p.file_size for p in parts)
        if declared > max_unpacked:
            raise SkipDocument(_unpacked(declared, max_unpacked))
        for p in parts:
            if p.file_size > _RATIO_GRACE and p.file_size > max_ratio * max(p.compress_size, 1):
                raise SkipDocument(f"compressed too densely: {safe_name(p.filename)[:60]} unpacks to "
                                   f"{p.file_size / max(p.compress_size, 1):,.0f} times its size "
                                   f"(limit {max_ratio:g}; a zip bomb?)")
        total = 0
        for p in parts:
            try:
                with archive.open(p) as member:
                    while block := member.read(_ZIP_BLOCK):
                        total += len(block)
                        if total > max_unpacked:
                            raise SkipDocument(_unpacked(total, max_unpacked))
            except SkipDocument:
                raise
            except Exception:  # a damaged part (CRC, deflate error, encrypted): the parser decides what it means
                continue


def _unpacked(size: int, limit: int) -> str:
    return (f"too large when unpacked: {human_size(size)} (limit {human_size(limit)}, "
            f"{UNPACKED_PER_BYTE:g} times knowledge.max_file_mb)")
