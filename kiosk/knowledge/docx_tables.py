"""Word tables as people read them: merged cells laid out on the table's grid, a header of one or more rows,
and one label per grid column (the header labels above it, top to bottom), so every value sits under its own
label: "Price (£, ex VAT) List price: £148,500"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kiosk.knowledge.parse_common import clean

if TYPE_CHECKING:
    from docx.oxml.table import CT_Row
    from docx.table import Table

MAX_COLUMNS = 63  # Word's own limit; a gridSpan of a billion must not become a billion positions
MAX_HEADER_ROWS = 4
# An amount, a decimal or a percentage: what data rows hold and header labels do not ("£148,500", "5.9%").
_AMOUNT = re.compile(r"[£$€¥]\s?\d|\d[.,]\d|\d\s?%")
_DIGIT = re.compile(r"\d")
_OFF = {"0", "false", "off"}


@dataclass(frozen=True)
class Slot:
    """One position of the grid: the cell covering it (`origin`, shared by every position of a merged cell)."""

    origin: int
    text: str


@dataclass(frozen=True)
class GridRow:
    slots: tuple[Slot, ...]
    marked: bool
    """w:tblHeader: Word repeats the row at the top of every page, so the author says it is a header row"""


@dataclass(frozen=True)
class ReadTable:
    caption: str
    header: list[str]
    rows: list[list[str]]


def read_table(table: Table) -> ReadTable | None:
    """The table's header labels (one per grid column) and data rows (one value per grid column, a merged
    cell read once, in its first column); None when no cell holds text."""
    grid = _grid(table)
    if not grid:
        return None
    n = _header_rows(grid)
    head = [row.slots for row in grid[:n]]
    caption = ""
    if n > 1 and len(head[0]) > 1 and len({s.origin for s in head[0]}) == 1:  # one cell across the table: a title
        caption, head = head[0][0].text, head[1:]
    return ReadTable(caption, _labels(head), [_values(row.slots) for row in grid[n:]])


def _grid(table: Table) -> list[GridRow]:
    """Rows of grid positions; a cell spanning columns fills each of them, a vertically merged cell carries
    on in the rows below (its text repeated, so every data row reads on its own). Empty rows are left out."""
    from docx.table import _Cell

    rows: list[GridRow] = []
    above: list[Slot] = []
    count = 0
    for tr in table._tbl.tr_lst:
        slots: list[Slot] = []
        for _ in range(min(tr.grid_before, MAX_COLUMNS)):
            count += 1
            slots.append(Slot(count, ""))
        for tc in tr.tc_lst:
            if len(slots) >= MAX_COLUMNS:
                break
            col = len(slots)
            if tc.vMerge == "continue" and col < len(above):
                slot = above[col]
            else:  # a fresh cell; also a "continue" with nothing above it, read as written
                count += 1
                slot = Slot(count, clean(_Cell(tc, table).text))
            slots.extend([slot] * min(max(tc.grid_span, 1), MAX_COLUMNS - col))
        above = slots
        if any(s.text for s in slots):
            rows.append(GridRow(tuple(slots), _marked(tr)))
    width = max((len(r.slots) for r in rows), default=0)
    padded = []
    for row in rows:  # short rows end in empty positions, each its own cell
        pad = tuple(Slot(count + 1 + i, "") for i in range(width - len(row.slots)))
        count += len(pad)
        padded.append(GridRow(row.slots + pad, row.marked))
    return padded


def _marked(tr: CT_Row) -> bool:
    from docx.oxml.ns import qn

    mark = tr.trPr.find(qn("w:tblHeader")) if tr.trPr is not None else None
    return mark is not None and (mark.get(qn("w:val")) or "true").lower() not in _OFF


def _header_rows(grid: list[GridRow]) -> int:
    """How many top rows are the header: the rows marked as repeating header rows, if the table marks some
    (but not all); else the first row and each next row that fills in the merged cells above it."""
    limit = min(MAX_HEADER_ROWS, len(grid) - 1)  # at least one data row stays
    marked = 0
    while marked < len(grid) and grid[marked].marked:
        marked += 1
    if 0 < marked < len(grid):
        return max(1, min(marked, limit))
    n = 1
    while n < limit and _fills_in(grid[n - 1].slots, grid[n].slots, grid[n + 1].slots):
        n += 1
    return n


def _fills_in(upper: tuple[Slot, ...], row: tuple[Slot, ...], below: tuple[Slot, ...]) -> bool:
    """`row` completes the header `upper`: it splits a cell of `upper` spanning columns or carries on one merged
    down from it, and reads as labels, not values. Its cells outside those merged cells must be empty, unless
    numbers start below them (a label over the data, as "Herd" / "Cows (max)" / "72")."""
    spans = {s.origin for s in upper if sum(u.origin == s.origin for u in upper) > 1}
    split = any(len({r.origin for u, r in zip(upper, row, strict=True) if u.origin == o}) > 1 for o in spans)
    down = any(u.origin == r.origin for u, r in zip(upper, row, strict=True))
    if not (split or down) or any(_AMOUNT.search(s.text) for s in row):
        return False
    outside = [r for u, r in zip(upper, row, strict=True) if u.origin not in spans and u.origin != r.origin]
    if outside and not any(r.text for r in outside):
        return True  # the stub column's label stands alone above (e.g. "Example" over an empty cell)
    return any(_DIGIT.search(d.text) and not _DIGIT.search(r.text) for r, d in zip(row, below, strict=True))


def _labels(head: list[tuple[Slot, ...]]) -> list[str]:
    """Each column's label: the header cells above it, top to bottom, each once ("Price (£, ex VAT) List price").
    A column under the same header cells as the one before it gets no label of its own (as when the header
    cells are read once): its value follows the previous one, as in "Contact: 0330 555 0140; sales@..."."""
    labels: list[str] = []
    for col in range(len(head[0]) if head else 0):
        chain = [row[col].origin for row in head]
        if col and chain == [row[col - 1].origin for row in head]:
            labels.append("")
            continue
        parts: list[str] = []
        for row in head:
            text = row[col].text
            if text and text.lower() not in (p.lower() for p in parts):
                parts.append(text)
        labels.append(" ".join(parts))
    return labels


def _values(slots: tuple[Slot, ...]) -> list[str]:
    """One value per column; a cell spanning columns is read once, in its first column."""
    return [s.text if i == 0 or slots[i - 1].origin != s.origin else "" for i, s in enumerate(slots)]
