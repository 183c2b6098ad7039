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
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

Pieces = tuple[tuple[float, str], ...]
"""(where the piece starts, in points from the page's left edge; its text)"""

TOLERANCE = 3.0  # points: the pieces of one column start within this of each other
_MARKER = re.compile(r"^(?:\d{1,2}(?:\.\d{1,2}){0,3}\.?|[a-z][.)]|\(\w{1,3}\)|[•▪●◦‣∙·*\-–])$")


@dataclass(frozen=True)
class Table:
    start: int
    """index of its first line"""
    end: int
    """index after its last line"""
    header: list[str] | None
    rows: list[list[str]]


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
                    rows[-1][k] = f"{rows[-1][k]} {cells[k]}".strip()
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
