"""Read one company document into a ParsedDocument: title, and blocks (text / table / faq) with their heading path.

parse_file() reads the bytes once, decides by extension, and raises SkipDocument with a short reason for
anything it cannot or should not read (too large, binary, empty, encrypted, damaged, scanned...).
Formats: Markdown and plain text (parse_markdown, which also defines the FAQ format), HTML (parse_html),
PDF (parse_pdf), Word .docx (parse_docx) and CSV (here): a CSV with "question" and "answer" columns
is a FAQ, any other CSV is a table.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from kiosk.knowledge.documents import ParsedDocument, SkipDocument
from kiosk.knowledge.parse_common import Builder, clean, readable_stem
from kiosk.knowledge.parse_html import parse_html
from kiosk.knowledge.parse_markdown import parse_markdown

log = logging.getLogger(__name__)

SUPPORTED = {".md", ".markdown", ".txt", ".html", ".htm", ".pdf", ".docx", ".csv"}
TEXT_TYPES = {".md", ".markdown", ".txt", ".html", ".htm", ".csv"}
CSV_TABLE_ROWS = 20  # rows per table block of a plain CSV


@dataclass(frozen=True)
class ParseLimits:
    max_bytes: int = 20 * 1024 * 1024
    """larger files are skipped (config: knowledge.max_file_mb)"""


def parse_file(path: Path, limits: ParseLimits = ParseLimits()) -> ParsedDocument:
    """Parse one file; raises SkipDocument(reason) for anything it cannot or should not read."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in SUPPORTED:
        raise SkipDocument(f"unsupported type {ext}" if ext else "unsupported type (no file extension)")
    try:
        size = path.stat().st_size
        if size > limits.max_bytes:
            raise SkipDocument(_too_large(size, limits.max_bytes))
        data = path.read_bytes()
    except OSError as e:
        raise SkipDocument(f"cannot read file: {_os_reason(e)}") from e
    if len(data) > limits.max_bytes:  # grew since stat()
        raise SkipDocument(_too_large(len(data), limits.max_bytes))
    if not data.strip():
        raise SkipDocument("empty file")
    try:
        return _parse(ext, data, readable_stem(path))
    except SkipDocument:
        raise
    except Exception as e:  # a parser bug or an input nobody foresaw: skip the file, keep the traceback
        log.warning("%s: parser failed", path, exc_info=True)
        raise SkipDocument(f"could not be parsed ({type(e).__name__})") from e


def _parse(ext: str, data: bytes, title: str) -> ParsedDocument:
    if ext == ".pdf":
        from kiosk.knowledge.parse_pdf import parse_pdf  # pypdf is only imported when a PDF shows up

        return parse_pdf(data, title)
    if ext == ".docx":
        from kiosk.knowledge.parse_docx import parse_docx

        return parse_docx(data, title)
    text = decode_text(data, html=ext in (".html", ".htm"))
    if not text.strip():
        raise SkipDocument("empty file")
    if ext in (".html", ".htm"):
        return parse_html(text, title)
    if ext == ".csv":
        return parse_csv(text, title)
    return parse_markdown(text, title, markdown=ext != ".txt")


def _too_large(size: int, limit: int) -> str:
    return f"file too large: {_human(size)} (limit {_human(limit)}, knowledge.max_file_mb)"


def _human(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / 1024 / 1024:.1f} MB"
    return f"{n / 1024:.1f} KB" if n >= 1024 else f"{n} bytes"


def _os_reason(e: OSError) -> str:
    known = {PermissionError: "permission denied", IsADirectoryError: "is a directory", FileNotFoundError: "not found"}
    reason = e.strerror or next((v for k, v in known.items() if isinstance(e, k)), "") or str(e) or type(e).__name__
    return reason.lower()


# -- text encodings ------------------------------------------------------------------------------

_COMMON_SYMBOLS = set("–—‘’‚“”„…•·°§©®™€£¥¢«»¿¡×÷±µ¶¼½¾¹²³ªº\u00a0")


def _oddities(text: str) -> int:
    """Characters a wrong legacy decoding typically produces (symbols inside words, control codes)."""
    odd = 0
    for ch in text:
        if ch < " ":
            odd += ch not in "\t\n\r\f"
        elif ch > "~" and ch not in _COMMON_SYMBOLS and not unicodedata.category(ch).startswith(("L", "M")):
            odd += 1
    return odd


def decode_text(data: bytes, html: bool = False) -> str:
    """UTF-8 (BOM or not), UTF-16 with BOM, else the most plausible legacy encoding."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as e:
            raise SkipDocument("not text: broken utf-16") from e
    if b"\x00" in data[:8192]:
        raise SkipDocument("binary file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if html and (m := re.search(rb"""charset\s*=\s*["']?([\w.:-]+)""", data[:4096], re.I)):
        try:
            return data.decode(m.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            pass
    return _decode_legacy(data)


def _decode_legacy(data: bytes) -> str:
    candidates: list[tuple[int, int, str]] = []
    # Windows-1252 first: the usual legacy encoding of Western office files, and charset_normalizer
    # often mislabels short Western texts (cp1250, cp775...). Only if accented letters are a minority,
    # as in Western languages; Cyrillic or Greek text would decode to all-accented "letters".
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = ""
    if text:
        letters = [c for c in text if c.isalpha()]
        accented = sum(1 for c in letters if c > "\x7f")
        if accented <= 0.3 * len(letters):
            odd = _oddities(text)
            if odd == 0:
                return text
            candidates.append((odd, 0, text))
    import charset_normalizer  # imported lazily: only legacy encodings need it

    best = charset_normalizer.from_bytes(data).best()
    if best is not None:
        text = str(best)
        candidates.append((_oddities(text), 1, text))
    if not candidates:
        raise SkipDocument("not text: unknown encoding")
    odd, _, text = min(candidates)
    if odd > max(3, len(text) // 50):
        raise SkipDocument("not text: unknown encoding")
    return text


# -- CSV -----------------------------------------------------------------------------------------


def parse_csv(text: str, title: str) -> ParsedDocument:
    """question,answer[,section|category] columns -> FAQ pairs; anything else -> table blocks of ≤ 20 rows."""
    first = text.lstrip().split("\n", 1)[0]
    delimiter = max(",;\t|", key=first.count) if any(d in first for d in ",;\t|") else ","
    try:
        rows = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter) if any(c.strip() for c in r)]
    except csv.Error as e:
        raise SkipDocument(f"damaged CSV ({clean(str(e)).lower()})") from e
    if not rows:
        raise SkipDocument("no text found")
    header = [clean(h) for h in rows[0]]
    names = [h.lower() for h in header]
    b = Builder()
    if "question" in names and "answer" in names:
        qi, ai = names.index("question"), names.index("answer")
        si = next((names.index(n) for n in ("section", "category", "topic") if n in names), None)
        for row in rows[1:]:
            section = clean(_cell(row, si))
            b.faq(_cell(row, qi), _cell(row, ai), (section,) if section else ())
    else:
        body = rows[1:]
        for start in range(0, len(body), CSV_TABLE_ROWS):
            b.table(header, body[start : start + CSV_TABLE_ROWS])
        if not body:
            b.table(header, [])
    return b.document(title)


def _cell(row: list[str], i: int | None) -> str:
    return row[i] if i is not None and i < len(row) else ""
