"""Word .docx documents with python-docx: paragraphs and tables in document order, headings from styles."""

from __future__ import annotations

import io
import logging
import re
from typing import TYPE_CHECKING

from kiosk.knowledge.documents import ParsedDocument, SkipDocument
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
        meta_title = clean(doc.core_properties.title or "")
        items = list(doc.iter_inner_content())
    except Exception as e:  # zipfile, lxml, KeyError...: all mean "not a readable .docx"
        log.debug("docx open failed", exc_info=True)
        raise SkipDocument("damaged Word document (not a valid .docx)") from e

    b = Builder()
    styled_title = first_h1 = ""
    for item in items:
        if isinstance(item, Table):
            _table(b, item)
            continue
        text = item.text
        if not text.strip():
            continue
        kind, level = kinds.get(_style_id(item), ("", 0))
        if kind == "title":
            if not styled_title:
                styled_title = clean(text)
                continue  # the title is not body text
            kind, level = "heading", 1
        if kind == "heading":
            first_h1 = first_h1 or (clean(text) if level == 1 else "")
            b.heading(level, text)
        elif kind == "list" or (item._p.pPr is not None and item._p.pPr.numPr is not None):
            b.line(text)  # list items: one block, one line each
        else:
            b.flush()
            for line in text.split("\n"):  # manual line breaks (addresses, opening hours)
                b.line(line)
            b.flush()
    return b.document(meta_title or styled_title or first_h1 or fallback_title)


def _style_id(paragraph: Paragraph) -> str:
    from docx.oxml.exceptions import InvalidXmlError

    try:
        return paragraph._p.style or ""
    except InvalidXmlError:  # a <w:pStyle> without its w:val: a plain paragraph, as Word reads it
        return ""


def _table(b: Builder, table: Table) -> None:
    try:
        rows = _merged_rows(table)
    except ValueError:  # merge markup pointing outside the table (a vMerge "continue" in the top row)
        from docx.table import _Cell

        rows = [[clean(_Cell(tc, table).text) for tc in tr.tc_lst] for tr in table._tbl.tr_lst]  # cells as written
        rows = [r for r in rows if any(r)]
    if rows:
        b.table(rows[0], rows[1:])  # Word tables have no header markup: the first row is the header


def _merged_rows(table: Table) -> list[list[str]]:
    rows: list[list[str]] = []
    for row in table.rows:
        cells, last = [], None
        for cell in row.cells:
            if cell._tc is last:  # a merged cell repeats; read it once
                continue
            last = cell._tc
            cells.append(clean(cell.text))
        if any(cells):
            rows.append(cells)
    return rows
