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
import errno
import io
import logging
import re
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from kiosk.knowledge.documents import ParsedDocument, SkipDocument, not_regular, os_reason, safe_name
from kiosk.knowledge.parse_common import (
    UNPACKED_PER_BYTE,
    Builder,
    check_zip,
    clean,
    human_size,
    readable_stem,
    text_budget,
)
from kiosk.knowledge.parse_html import parse_html
from kiosk.knowledge.parse_markdown import parse_markdown

log = logging.getLogger(__name__)

SUPPORTED = {".md", ".markdown", ".txt", ".html", ".htm", ".pdf", ".docx", ".csv"}
ZIP_TYPES = {".docx": "Word document"}
"""zip-based formats, checked by check_zip before their parser unpacks anything"""
TEXT_TYPES = {".md", ".markdown", ".txt", ".html", ".htm", ".csv"}
CSV_TABLE_ROWS = 20  # rows per table block of a plain CSV
PARSER_VERSION = 1
"""raise it when a parser change may read files it used to skip: the index then forgets the skips it
remembered (files skipped for their content are otherwise not read again until they change)"""


@dataclass(frozen=True)
class ParseLimits:
    """What one file may cost. The defaults are those of the default config; `from_settings` follows the config."""

    max_bytes: int = 20 * 1024 * 1024
    """larger files are skipped (config: knowledge.max_file_mb)"""
    max_unpacked_bytes: int = 50 * 1024 * 1024
    """zip-based documents (DOCX) whose parts add up to more are skipped before parsing: 2.5 times
    knowledge.max_file_mb (parsing holds the unpacked XML in memory, several times over)"""
    max_ratio: float = 100.0
    """a part of a zip-based document that unpacks to more than this many times its compressed size (and
    over 1 MiB) is a zip bomb: skipped"""
    max_parts: int = 10_000
    """zip-based documents with more parts are skipped (a Word file has tens)"""
    max_text_chars: int = 20 * 1024 * 1024
    """characters of text one document may give: one per byte of knowledge.max_file_mb, as much as the
    largest text file allowed, so a small compressed file cannot give more"""
    max_passages: int = 20 * 1024
    """blocks or passages one document may give: one per KB of knowledge.max_file_mb"""

    @classmethod
    def from_settings(cls, max_file_mb: float) -> ParseLimits:
        """All from the one setting: what a document may cost grows with the file size allowed."""
        max_bytes = int(max_file_mb * 1024 * 1024)
        return cls(max_bytes=max_bytes, max_unpacked_bytes=int(max_bytes * UNPACKED_PER_BYTE),
                   max_text_chars=max_bytes, max_passages=max(1, max_bytes // 1024))


def parse_file(path: Path, limits: ParseLimits = ParseLimits()) -> ParsedDocument:
    """Parse one file; raises SkipDocument(reason) for anything it cannot or should not read.

    Only regular files are opened (a FIFO or a device is refused by stat, never read). A skip that follows
    from the file's content is marked to be remembered (see SkipDocument.remember)."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in SUPPORTED:
        unsupported = f"unsupported type {safe_name(ext)}" if ext else "unsupported type (no file extension)"
        raise SkipDocument(unsupported, remember=False)
    try:
        mode, size = _stat(path)
        if special := not_regular(mode):  # a FIFO would block the read, a device never end: never opened
            raise SkipDocument(special, remember=False)
        if size > limits.max_bytes:
            raise SkipDocument(_too_large(size, limits.max_bytes), remember=False)
        data = path.read_bytes()
    except OSError as e:
        raise SkipDocument(f"cannot read file: {os_reason(e)}", remember=False) from e
    if len(data) > limits.max_bytes:  # grew since stat()
        raise SkipDocument(_too_large(len(data), limits.max_bytes), remember=False)
    try:
        if not data.strip():
            raise SkipDocument("empty file")
        with text_budget(limits.max_text_chars, limits.max_passages):
            return _parse(ext, data, readable_stem(path), limits)
    except SkipDocument as e:
        if e.remember is None:
            e.remember = True  # decided by the content: not read again until the file changes
        raise
    except Exception as e:  # a parser bug or an input nobody foresaw: skip the file, keep the traceback
        log.warning("%s: parser failed", safe_name(str(path)), exc_info=True)
        raise SkipDocument(f"could not be parsed ({type(e).__name__})", remember=False) from e


def _parse(ext: str, data: bytes, title: str, limits: ParseLimits) -> ParsedDocument:
    if ext == ".pdf":
        from kiosk.knowledge.parse_pdf import parse_pdf  # pypdf is only imported when a PDF shows up

        return parse_pdf(data, title)
    if ext in ZIP_TYPES:
        check_zip(data, ZIP_TYPES[ext], limits.max_unpacked_bytes, limits.max_ratio, limits.max_parts)
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


def _stat(path: Path) -> tuple[int, int]:
    st = path.stat()
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
    return st.st_mode, st.st_size


def _too_large(size: int, limit: int) -> str:
    return f"file too large: {human_size(size)} (limit {human_size(limit)}, knowledge.max_file_mb)"


# -- text encodings ------------------------------------------------------------------------------

BINARY_SHARE = 0.01
"""a file with a NUL byte in its first 8 KB, or with more than this share of NUL bytes anywhere, is binary;
the few NULs a text file may carry further on are cleaned away with the other control characters"""

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
    if b"\x00" in data[:8192] or data.count(b"\x00") > BINARY_SHARE * len(data):
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
