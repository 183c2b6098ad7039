"""PDF text layers with pypdf, page by page, with headings recovered from the outline or the fonts.

Headings, in order of trust:
1. The PDF outline (bookmarks), when it has entries: an outline title found as a line on its page
   becomes a heading there (nesting = level); one not found in the text starts its section at the top
   of its page. No other guessing then.
2. Font size: a short line (≤ 14 words, not ending in ".", ",", ";") set at least 15% larger than the
   body text (the most common size). Each larger size is a higher level; wrapped headings are joined.
   A short line entirely in a bold font, in a document whose body is not bold, is the next level down.
3. Only when the fonts show nothing: short standalone lines in ALL CAPS, numbered headings ("2.1 Scope"),
   or Title Case lines that follow a finished sentence and precede longer text.
Running headers/footers (the same first/last lines on most pages) and page numbers are dropped.
"""

from __future__ import annotations

import io
import logging
import re
from collections import Counter
from typing import Any

import pypdf
from pypdf.errors import DependencyError

from kiosk.knowledge.documents import ParsedDocument, SkipDocument
from kiosk.knowledge.parse_common import Builder, check_budget, clean
from kiosk.knowledge.pdf_hyphens import document_words, join_hyphen
from kiosk.knowledge.pdf_lines import Line, page_lines
from kiosk.knowledge.pdf_tables import find_tables, merged_pieces, restack

log = logging.getLogger(__name__)


class _PypdfToDebug(logging.Handler):
    """pypdf warns loudly about every recoverable flaw; those are debug details for us."""

    def emit(self, record: logging.LogRecord) -> None:
        log.debug("pypdf: %s", record.getMessage())


_pypdf_log = logging.getLogger("pypdf")
if not any(isinstance(h, _PypdfToDebug) for h in _pypdf_log.handlers):
    _pypdf_log.addHandler(_PypdfToDebug())
    _pypdf_log.propagate = False

_PAGE_NUMBER = re.compile(r"^(?:page\s*)?[-–—(]?\s*\d{1,4}\s*[-–—)]?(?:\s*(?:of|/)\s*\d{1,4})?$", re.I)
_BULLET = re.compile(r"^(?:[•▪●◦‣∙·*\-–]\s*|\d{1,3}[.)]\s+|[a-z][.)]\s+)")
_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})\.?\s+\S")
_JUNK_TITLE = re.compile(r"^(?:untitled|microsoft word|document\d*)\b|\.(?:docx?|pdf|indd|tmp|rtf|odt)$", re.I)


def _norm(text: str) -> str:
    return re.sub(r"[\W_]+", "", text).lower()


def _drop_furniture(pages: list[list[Line]]) -> None:
    """Remove page numbers and running headers/footers: short edge lines, not set larger than the body
    text, that repeat (digits aside) on most pages."""
    sizes: Counter[float] = Counter()
    for lines in pages:
        for line in lines:
            sizes[line.size] += len(line.text)
    body = sizes.most_common(1)[0][0] if sizes else 0.0

    def key(line: Line) -> str:
        # Furniture is set smaller than the body, or is short and no sentence end. A browser prints its running
        # footer as one line of two margin boxes ("Page 3 of 9Printed copies are uncontrolled. Check ..."):
        # longer than a page number, and only its repeating on most pages' edges marks it.
        words = len(line.text.split())
        small = (bool(line.size) and line.size < body and words <= 30) or (
            words <= 12 and line.size <= body and line.text[-1] not in ".!?,;")
        return re.sub(r"\d+", "#", line.text.lower()) if small else ""

    edges: Counter[str] = Counter()
    for lines in pages:
        for i in {0, 1, len(lines) - 2, len(lines) - 1} & set(range(len(lines))):
            edges[key(lines[i])] += 1
    repeated = {k for k, n in edges.items() if k and len(pages) >= 3 and n >= max(3, 0.5 * len(pages))}
    for lines in pages:
        n = len(lines)
        lines[:] = [
            line
            for i, line in enumerate(lines)
            if not ((i < 2 or i >= n - 2) and (_PAGE_NUMBER.match(line.text) or key(line) in repeated))
        ]


def _mark_tables(pages: list[list[Line]]) -> None:
    """Each table's lines become one line that carries its rows (kiosk.knowledge.pdf_tables)."""
    for lines in pages:
        lines[:] = [_one_line([lines[i] for i in group])
                    for group in restack([(line.pieces, line.top) for line in lines])]
        for t in reversed(find_tables([(line.pieces, line.bold) for line in lines])):
            first = lines[t.start]
            text = " ".join(cell for row in [*([t.header] if t.header else []), *t.rows] for cell in row if cell)
            lines[t.start:t.end] = [Line(text, first.size, False, table=(t.header, t.rows))]


def _one_line(group: list[Line]) -> Line:
    """A table row drawn cell by cell (kiosk.knowledge.pdf_tables.restack) as the one line it is on the page."""
    if len(group) == 1:
        return group[0]
    pieces = merged_pieces([line.pieces for line in group])
    return Line(" ".join(text for _, text in pieces), group[0].size, all(line.bold for line in group),
                 pieces=pieces, top=group[0].top)


def _heading_shape(text: str) -> bool:
    words = text.split()
    return (
        1 <= len(words) <= 14
        and len(text) <= 120
        and text[-1] not in ".,;"
        and any(c.isalpha() for c in text)
        and not text[0].islower()
    )


def _title_case(text: str) -> bool:
    words = [w for w in re.findall(r"[^\W\d_]+", text) if len(w) >= 4]
    return bool(words) and text[0].isupper() and sum(w[0].isupper() for w in words) >= 0.6 * len(words)


def _mark_by_fonts(pages: list[list[Line]]) -> bool:
    """Font-size and bold headings; False when the fonts carry no heading signal."""
    sizes: Counter[float] = Counter()
    bold_chars = total = 0
    for lines in pages:
        for line in lines:
            sizes[line.size] += len(line.text)
            bold_chars += len(line.text) if line.bold else 0
            total += len(line.text)
    if not total or not sizes.most_common(1)[0][0]:
        return False
    body = sizes.most_common(1)[0][0]
    big = sorted({ln.size for p in pages for ln in p if ln.size >= body * 1.15 and _heading_shape(ln.text)})[::-1]
    levels = {size: min(i + 1, 4) for i, size in enumerate(big)}
    # A size whose headings are nearly all bold makes its regular lines something else: a cover page's address
    # set as large as the chapter headings ("Kelderwick Community Hospital" / "1200 Wren Valley Road").
    shaped = Counter((ln.size, ln.bold) for p in pages for ln in p if ln.size in levels and _heading_shape(ln.text))
    bold_only = {size for size in levels if shaped[size, True] >= 0.8 * (shaped[size, True] + shaped[size, False])}
    bold_level = min(len(big) + 1, 5) if bold_chars < 0.3 * total else 0
    found = False
    for lines in pages:
        for i, line in enumerate(lines):
            if line.table:
                continue
            if line.size in levels and _heading_shape(line.text) and (line.bold or line.size not in bold_only):
                line.level = levels[line.size]
            elif line.size in levels and i and _continues_heading(lines[i - 1], line):
                line.level = lines[i - 1].level  # "Bare below the elbows and" / "uniform": joined below
            elif (bold_level and line.bold and _heading_shape(line.text) and len(line.text.split()) <= 12
                  and not 0 < line.size < body):  # smaller bold: a table's header cells ("Lanyard", "colour")
                line.level = bold_level
            found |= line.level > 0
    return found


def _clause(text: str) -> bool:
    """A numbered clause or sub-heading: "3.4 Lost or stolen badges", "2.3.1 photo identification"."""
    return bool((m := _NUMBERED.match(text)) and "." in m.group(1))


def _continues_heading(prev: Line, line: Line) -> bool:
    """The second line of a heading set larger than the body: the same size and weight right under it, short, no
    sentence end (it may start in lower case, which a heading of its own does not)."""
    return bool(prev.level and line.size == prev.size and line.bold == prev.bold and len(line.text.split()) <= 8
                and line.text[-1] not in ".,;" and prev.text[-1] not in ":?!.")


def _join_wrapped_headings(pages: list[list[Line]]) -> None:
    """A heading set over two lines (same size, nothing between) reads as one."""
    for lines in pages:
        i = 1
        while i < len(lines):
            prev, line = lines[i - 1], lines[i]
            if (
                line.level
                and line.level == prev.level
                and prev.text[-1] not in ":?!"
                and len((prev.text + " " + line.text).split()) <= 20
            ):
                prev.text += " " + line.text
                del lines[i]
            else:
                i += 1


def _mark_by_text(pages: list[list[Line]]) -> None:
    for lines in pages:
        for i, line in enumerate(lines):
            text, nxt = line.text, lines[i + 1].text if i + 1 < len(lines) else ""
            prev_done = i == 0 or lines[i - 1].level > 0 or lines[i - 1].text[-1] in ".!?:"
            if not nxt or line.table or not _heading_shape(text) or len(text.split()) > 10:
                continue
            letters = [c for c in text if c.isalpha()]
            if len(letters) >= 3 and text.upper() == text:
                line.level = 1
            elif (m := _NUMBERED.match(text)) and "." in m.group(1) and text[-1] != ".":
                line.level = min(m.group(1).count(".") + 1, 4)
            elif prev_done and _title_case(text) and len(nxt) > len(text) and not _BULLET.match(nxt):
                line.level = 2 if not _NUMBERED.match(text) else 1


def _mark_by_outline(pages: list[list[Line]], outline: dict[int, list[tuple[int, str]]]) -> None:
    """Headings where the outline titles appear; unmatched titles open their section at the page top."""
    for pno, lines in enumerate(pages):
        top: list[Line] = []
        for level, title in outline.get(pno, []):
            key = _norm(title)
            for i, line in enumerate(lines):
                if line.level or not key.startswith(_norm(line.text)) or not _norm(line.text):
                    continue
                joined, j = _norm(line.text), i
                while joined != key and j + 1 < len(lines) and key.startswith(joined + _norm(lines[j + 1].text)):
                    j += 1
                    joined += _norm(lines[j].text)
                if joined == key:
                    line.text, line.level = title, level
                    del lines[i + 1 : j + 1]
                    break
            else:
                top.append(Line(title, 0.0, False, level))
        lines[:0] = top


def _outline(reader: pypdf.PdfReader) -> dict[int, list[tuple[int, str]]]:
    found: dict[int, list[tuple[int, str]]] = {}

    def walk(items: list, level: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, level + 1)
                continue
            try:
                page = reader.get_destination_page_number(item)
            except Exception:  # a broken bookmark is just not used
                continue
            title = clean(str(item.title or ""))
            if title and page is not None and page >= 0:
                found.setdefault(page, []).append((min(level, 6), title))

    try:
        walk(reader.outline, 1)
    except Exception:
        log.debug("unreadable PDF outline", exc_info=True)
        return {}
    return found


def _open(data: bytes) -> pypdf.PdfReader:
    if b"%PDF" not in data[:1024]:
        raise SkipDocument("not a PDF file")
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except DependencyError as e:
                reason = "encrypted PDF (decrypting it needs the cryptography package)"
                raise SkipDocument(reason, remember=False) from e
            if ok == pypdf.PasswordType.NOT_DECRYPTED:
                raise SkipDocument("encrypted PDF (needs a password)")
        _ = len(reader.pages)
    except SkipDocument:
        raise
    except Exception as e:  # pypdf raises many kinds of errors on damaged files
        reason = clean(str(e)).lower()[:80] or type(e).__name__
        raise SkipDocument(f"damaged PDF ({reason})") from e
    return reader


def _meta_title(reader: pypdf.PdfReader) -> str:
    try:
        meta: Any = reader.metadata or {}
        title = clean(str(meta.get("/Title") or ""))
    except Exception:
        return ""
    title = re.sub(r"^microsoft (?:word|powerpoint) - ", "", title, flags=re.I)
    return "" if not title or _JUNK_TITLE.search(title) else title


def parse_pdf(data: bytes, fallback_title: str) -> ParsedDocument:
    reader = _open(data)
    pages: list[list[Line]] = []
    chars = 0
    for pno in range(len(reader.pages)):
        try:
            pages.append(page_lines(reader.pages[pno]))
        except Exception:  # one bad page should not lose the document
            log.debug("page %d: text extraction failed", pno + 1, exc_info=True)
            pages.append([])
        chars += sum(len(line.text) for line in pages[-1])
        check_budget(chars)  # compressed page streams can hold far more text than the file's size suggests
    if not any(line.text for lines in pages for line in lines):
        raise SkipDocument("no text layer (scanned image?); OCR is not supported")
    _drop_furniture(pages)
    _mark_tables(pages)
    outline = _outline(reader)
    if outline:
        _mark_by_outline(pages, outline)
    elif _mark_by_fonts(pages):
        _join_wrapped_headings(pages)
    else:
        _mark_by_text(pages)
    title = _meta_title(reader)
    first = next((lines for lines in pages if lines), [])
    if not title and first and (first[0].level or len(first[0].text) < 80):
        title = first[0].text
    # The title printed at the top of the first page is not a section (nor text) of its own, unless
    # it is one of several headings of its level (it names the first chapter) or a sentence.
    level = first[0].level if first else 0
    unique = level and sum(ln.level == level for p in pages for ln in p) == 1
    if title and first and (unique or (not level and first[0].text[-1] not in ".!?")):
        key, joined = _norm(title), ""
        for i, line in enumerate(first[:3]):
            joined += _norm(line.text)
            if joined == key:
                del first[: i + 1]
                break
            if not key.startswith(joined):
                break
    return _build(pages).document(title or fallback_title, float(len(reader.pages)))


def _build(pages: list[list[Line]]) -> Builder:
    b = Builder()
    vocabulary = document_words(line.text for lines in pages for line in lines)
    lengths = sorted(len(ln.text) for lines in pages for ln in lines if not ln.level)
    typical = lengths[int(len(lengths) * 0.75)] if lengths else 80
    cur = ""
    for pno, lines in enumerate(pages):
        b.page = pno + 1
        for line in lines:
            text = line.text
            if line.table:
                if cur:
                    b.line(cur)
                    cur = ""
                header, rows = line.table
                b.table(header, rows, row_headers=header is None)
                continue
            if line.level:
                if cur:
                    b.line(cur)
                    cur = ""
                b.heading(line.level, text)
                continue
            if (_BULLET.match(text) or _clause(text)) and cur:  # a clause starts its line, as a bullet does
                b.line(cur)
                cur = text
            elif cur.endswith("-") and len(cur) > 1 and cur[-2].isalnum() and text[:1].isalnum():
                cur = join_hyphen(cur, text, vocabulary)
            else:
                cur = f"{cur} {text}" if cur else text
            if len(text) < 0.75 * typical and text[-1] in '.!?:"”)':
                b.line(cur)  # a short line that ends a sentence ends the paragraph
                b.flush()
                cur = ""
        if cur and _goes_on(cur, pages[pno + 1:]):
            continue  # a sentence split by the page break ("Runs on iPhone, Android" / "and any web browser.")
        if cur:
            b.line(cur)
            cur = ""
        b.flush()
    return b


def _goes_on(cur: str, later: list[list[Line]]) -> bool:
    """The text so far runs on over the page break: no sentence end, and the next page's text starts in lower case."""
    first = next((lines[0] for lines in later if lines), None)
    return (first is not None and cur[-1] not in ".!?:" and not first.level and first.table is None
            and first.text[:1].islower())
