"""Word .docx documents with python-docx: paragraphs and tables in document order, headings from styles, each
footnote or endnote after the paragraph or table that refers to it."""

from __future__ import annotations

import io
import logging
import re
from typing import TYPE_CHECKING

from kiosk.knowledge.documents import ParsedDocument, SkipDocument
from kiosk.knowledge.docx_parts import core_title, read_notes
from kiosk.knowledge.docx_tables import read_table
from kiosk.knowledge.parse_common import Builder, clean

if TYPE_CHECKING:
    from docx.document import Document
    from docx.table import Table
    from docx.text.paragraph import Paragraph

log = logging.getLogger(__name__)

_HEADING = re.compile(r"^heading\s*(\d)$", re.I)


def _style_kinds(doc: Document) -> dict[str, tuple[str, int]]:
    """Paragraph style id -> ("title" | "heading" | "list" | "", level), following `based on` links.

    Reading the style id straight from the XML and resolving it once per style is much faster than
    python-docx's Paragraph.style, which searches the style list for every paragraph.
    """
    from docx.enum.style import WD_STYLE_TYPE

    by_id = {s.style_id: s for s in doc.styles if s.type == WD_STYLE_TYPE.PARAGRAPH}
    kinds: dict[str, tuple[str, int]] = {}
    for sid, style in by_id.items():
        kind: tuple[str, int] = ("", 0)
        seen = 0
        while style is not None and seen < 10:
            name = style.name or ""
            if m := _HEADING.match(name):
                kind = ("heading", int(m.group(1)))
                break
            if name.lower() == "title":
                kind = ("title", 0)
                break
            if name.lower().startswith("list"):
                kind = ("list", 0)
                break
            style, seen = style.base_style, seen + 1
        kinds[sid] = kind
    return kinds


def parse_docx(data: bytes, fallback_title: str) -> ParsedDocument:
    import docx  # python-docx: imported only when a .docx shows up
    from docx.table import Table  # the runtime class, for isinstance

    try:
        doc = docx.Document(io.BytesIO(data))
        kinds = _style_kinds(doc)
        meta_title = core_title(doc)
        notes = read_notes(doc)
        items = list(doc.iter_inner_content())
    except Exception as e:  # zipfile, lxml, KeyError...: all mean "not a readable .docx"
        log.debug("docx open failed", exc_info=True)
        raise SkipDocument("damaged Word document (not a valid .docx)") from e

    b = Builder()
    styled_title = first_h1 = ""
    for item in items:
        if isinstance(item, Table):
            _table(b, item)
            _notes(b, notes.take(item._tbl))  # after the table, in a block of their own
            b.flush()
            continue
        text = item.text
        if not text.strip():
            _notes(b, notes.take(item._p))
            continue
        kind, level = kinds.get(_style_id(item), ("", 0))
        if kind == "title":
            if not styled_title:
                styled_title = clean(text)
                b.flush()
                _notes(b, notes.take(item._p))  # the title is not body text; its notes are
                b.flush()
                continue
            kind, level = "heading", 1
        if kind == "heading":
            first_h1 = first_h1 or (clean(text) if level == 1 else "")
            b.heading(level, text)
            _notes(b, notes.take(item._p))  # in a block of their own, in the heading's section
            b.flush()
        elif kind == "list" or (item._p.pPr is not None and item._p.pPr.numPr is not None):
            b.line(text)  # list items: one block, one line each; a note follows its item
            _notes(b, notes.take(item._p))
        else:
            b.flush()
            for line in text.split("\n"):  # manual line breaks (addresses, opening hours)
                b.line(line)
            _notes(b, notes.take(item._p))
            b.flush()
    return b.document(meta_title or styled_title or first_h1 or fallback_title)


def _style_id(paragraph: Paragraph) -> str:
    from docx.oxml.exceptions import InvalidXmlError

    try:
        return paragraph._p.style or ""
    except InvalidXmlError:  # a <w:pStyle> without its w:val: a plain paragraph, as Word reads it
        return ""


def _notes(b: Builder, texts: list[str]) -> None:
    for text in texts:
        b.line(f"Note: {text}")


def _table(b: Builder, table: Table) -> None:
    read = read_table(table)
    if read is not None:
        b.table(read.header, read.rows, read.caption)
