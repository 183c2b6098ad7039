"""Tables in a PDF's text layer: rows are lines whose pieces of text start at the same columns.

pypdf reads a table row as one line ("Navy Nursing and midwifery staff, including healthcare assistants"), and
a table as a run-on paragraph of such lines, which no sentence choice can quote from. Each piece of a line comes
with where it starts on the page, so a line of two or more pieces whose starts recur on the next lines is a row
("Primary care visit | $25 copay | 10% after deductible | $20 copay"). A piece under a column other than the
first continues the row above (a wrapped cell: "dietetics and others) and pharmacy"); a lone first-column piece
right before a row starts that row's first cell ("Out-of-pocket maximum (individual /" / "family) | $3,000"),
unless it is bold (a caption); a header row may leave its corner empty, and a bold row under regular ones is
the next table's header. A line that opens with a list marker or a clause number ("3.4.1 |
Report a lost badge ...") is a hanging indent, not a row.

Some writers (LibreOffice) draw a table cell by cell, not line by line: a row's cells come one after the
other, each with its wrapped lines, so the text goes down a cell and back up to the row's top for the next
one ("Power supply | 400 V three-" / "phase, 16 A" / "400 V three-" ...). `restack` puts such a row back
together before the rows are read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

Pieces = tuple[tuple[float, str], ...]
"""(where the piece starts, in points from the page's left edge; its text)"""

TOLERANCE = 3.0  # points: the pieces of one column start within this of each other
_SAME_TOP = 1.0  # points: the cells of a row start at the same height
_CELL_LINES = 4  # a cell wraps over at most this many lines before the next cell starts at the row's top
_TABLE_REACH = 40  # lines: how far below a table's header (a line of 3+ cells) its rows may be restacked
_MARKER = re.compile(r"^(?:\d{1,2}(?:\.\d{1,2}){0,3}\.?|[a-z][.)]|\(\w{1,3}\)|[•▪●◦‣∙·*\-–])$")


@dataclass(frozen=True)
class Table:
    start: int
    """index of its first line"""
    end: int
    """index after its last line"""
    header: list[str] | None
    rows: list[list[str]]


def joined(cell: str, more: str) -> str:
    """A cell's text and its next line: a hyphen at the end of a narrow cell's line is the word's own
    ("400 V three-" / "phase"), so it stays, without a space."""
    if cell.endswith("-") and len(cell) > 1 and cell[-2].isalpha() and more[:1].isalnum():
        return cell + more
    return f"{cell} {more}".strip()


def _columns(pieces: Pieces) -> list[float]:
    columns: list[float] = []
    for x in sorted(x for x, text in pieces if text.strip()):
        if not columns or x - columns[-1] > TOLERANCE:
            columns.append(x)
    return columns


def _fit(pieces: Pieces, columns: list[float]) -> list[str] | None:
    """The line's text per column, or None when a piece starts under no column."""
    cells = [""] * len(columns)
    for x, text in pieces:
        if not text.strip():
            continue
        k = next((k for k, c in enumerate(columns) if abs(x - c) <= TOLERANCE), None)
        if k is None:
            return None
        cells[k] = f"{cells[k]} {text.strip()}".strip()
    return cells


def _filled(cells: list[str] | None) -> list[int]:
    return [k for k, cell in enumerate(cells or []) if cell]


def _row_like(pieces: Pieces) -> bool:
    first = min(pieces, default=(0.0, ""))[1].strip()
    return len(_columns(pieces)) >= 2 and not _MARKER.match(first)


def find_tables(lines: Sequence[tuple[Pieces, bool]]) -> list[Table]:
    """The tables among a page's lines, given as (pieces, set in bold), in order."""
    tables: list[Table] = []
    i = 0
    while i < len(lines):
        pieces = lines[i][0]
        if not _row_like(pieces):
            i += 1
            continue
        columns = _columns(pieces)
        if i + 1 < len(lines):  # a header with an empty corner: the next row has the first column too
            under = _columns(lines[i + 1][0])
            if len(under) > len(columns) and _fit(pieces, under) is not None:
                columns = under
        rows: list[list[str]] = []
        bold: list[bool] = []
        pending, j = "", i
        while j < len(lines):
            cells = _fit(lines[j][0], columns)
            filled = _filled(cells)
            if cells is None or not filled:
                break
            if len(filled) >= 2:
                if rows and lines[j][1] and not any(bold):
                    break  # a bold row under regular ones: the next table's header
                if pending:
                    cells[0], pending = f"{pending} {cells[0]}".strip(), ""
                rows.append(cells)
                bold.append(lines[j][1])
            elif filled == [0] and not pending and not lines[j][1] and j + 1 < len(lines) \
                    and len(_filled(_fit(lines[j + 1][0], columns))) >= 2:  # (a bold line is a caption)
                pending = cells[0]
            elif filled[0] > 0 and rows and not pending:
                for k in filled:
                    rows[-1][k] = joined(rows[-1][k], cells[k])
            else:
                break
            j += 1
        if len(rows) >= 2:
            corner = not rows[0][0] and all(rows[0][1:])  # a header's empty corner, not a row's wrapped end
            header = rows[0] if (bold[0] and not any(bold[1:])) or corner else None
            tables.append(Table(i, j, header, rows[1:] if header else rows))
            i = j
        else:
            i += 1
    return tables


def merged_pieces(group: Sequence[Pieces]) -> Pieces:
    """The pieces of several lines as one line: text under the same column joined in order."""
    merged: list[tuple[float, str]] = []
    for pieces in group:
        for x, text in pieces:
            if not text.strip():
                continue
            k = next((k for k, (x0, _) in enumerate(merged) if abs(x - x0) <= TOLERANCE), None)
            if k is None:
                merged.append((x, text.strip()))
            else:
                merged[k] = (merged[k][0], joined(merged[k][1], text.strip()))
    return tuple(sorted(merged))


def restack(lines: Sequence[tuple[Pieces, float]]) -> list[list[int]]:
    """The lines, given as (pieces, height of their top on the page), grouped into what is one table row drawn
    cell by cell: the text goes back up to a line's height after at most `_CELL_LINES` lines below it, and every
    piece of them starts under a column of a header line (3+ cells) above. Other lines stay alone. Two-column
    prose goes back up too, but its columns are not a table's: it is left as it is."""
    groups: list[list[int]] = []
    columns: list[float] = []
    header_at = -_TABLE_REACH
    i = 0
    while i < len(lines):
        pieces, top = lines[i]
        if len(_columns(pieces)) >= 3:  # a header or a full row: its columns, with those of the rows above
            known = columns if i - header_at <= _TABLE_REACH else []
            columns, header_at = _columns(tuple((c, "|") for c in known) + pieces), i
        group = [i]
        in_table = i - header_at <= _TABLE_REACH and _under(pieces, columns)
        j = i + 1
        while in_table:
            back = next((k for k in range(j, min(j + _CELL_LINES + 1, len(lines)))
                         if abs(lines[k][1] - top) <= _SAME_TOP), None)
            if back is None or not all(lines[k][1] < top - _SAME_TOP and _under(lines[k][0], columns)
                                       for k in range(j, back)) or not _under(lines[back][0], columns):
                break
            group += range(j, back + 1)
            j = back + 1
        groups.append(group)
        i = j
    return groups


def _under(pieces: Pieces, columns: list[float]) -> bool:
    return bool(columns) and all(any(abs(x - c) <= TOLERANCE for c in columns) for x, t in pieces if t.strip())
