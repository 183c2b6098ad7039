"""Tables people line up with spaces in plain text, read row by row.

Two layouts:
- with a rule of dash runs under the header ("PREMIUM   AMOUNT" / "-------   ------", as pandoc's simple tables):
  each dash run starts a column;
- without a rule: a block of lines whose cells are split by two or more spaces (or a dot leader, "Gate 1 .... 555")
  and start at the same columns on every line ("Parts Desk      0330 555 0177   Mon-Fri 07:30-18:00"). An ALL CAPS
  first row over rows that are not is its header.

In both, a line whose first cell is empty continues the cells of the row above ("minimum 3 hours" / "at time and a
half"), and so does a line with only a first cell that was wrapped: in lower case, or a word that would not have fit
in the column on the line above ("FeedRunner" / "Care").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

# Under a header line, runs of dashes (or "=") split by spaces mark a table's columns.
COLUMN_RULE = re.compile(r"^ *(?:-{3,}|={3,})(?: +(?:-{3,}|={3,}))+ *$")
_GAP = re.compile(r" {2,}| +\.{3,} +")  # between cells
# A list or clause marker as a first cell: "(i)   the robot arm..." is a clause with a hanging indent, not a row.
_MARKER = re.compile(r"^(?:[-*+•]|\(?(?:\d{1,3}|[a-z]|[ivxlc]{1,6})[.)]|\d+(?:\.\d+)+\.?)$", re.I)

Rows = list[list[str]]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _merge(row: list[str], more: list[str]) -> list[str]:
    return [f"{a} {b}".strip() for a, b in zip(row, more, strict=False)]


def _wrapped_first_cell(cell: str, above: str, width: int) -> bool:
    """A lone first cell that continues the one above: lower case, or its first word did not fit up there."""
    return cell[:1].islower() or (bool(above) and len(above) + 1 + len(cell.split()[0]) > width)


def aligned_table(lines: list[str], i: int, inline: Callable[[str], str]) -> tuple[list[str], Rows, int]:
    """The table whose header is at `i` with its dash rule under it: header, rows and the index after it. Rows run
    until a blank line or a closing rule."""
    spans = [m.span() for m in re.finditer(r"[-=]+", lines[i + 1].expandtabs())]
    starts = [a for a, _ in spans]

    def cells(line: str) -> list[str]:
        line = line.expandtabs()
        return [inline(line[a:b].strip()) for a, b in zip(starts, [*starts[1:], len(line)], strict=False)]

    header, rows = cells(lines[i]), Rows()
    above = ""  # the first cell of the line above, as written on that line
    j = i + 2
    while j < len(lines) and lines[j].strip() and not COLUMN_RULE.match(lines[j].expandtabs()):
        row = cells(lines[j])
        lone = bool(row[0]) and not any(row[1:])
        if rows and (not row[0] or lone and _wrapped_first_cell(row[0], above, spans[0][1] - spans[0][0])):
            rows[-1] = _merge(rows[-1], row)
        else:
            rows.append(row)
        above = row[0]
        j += 1
    if j < len(lines) and lines[j].strip():  # the closing rule
        j += 1
    return [h.capitalize() if h.isupper() else h for h in header], rows, j


def _cells(line: str) -> list[tuple[int, str]]:
    """(column, text) of each cell of a line, split at gaps."""
    line = line.expandtabs().rstrip()
    out, pos = [], _indent(line)
    for m in _GAP.finditer(line, pos):
        out.append((pos, line[pos : m.start()]))
        pos = m.end()
    out.append((pos, line[pos:]))
    return out


def headerless_table(lines: list[str], i: int) -> tuple[list[str] | None, Rows, int] | None:
    """The table without a dash rule that starts at `i` and runs to the next blank line, or None when the block is
    not one: header and rows (without a header, one cell per row: "Label: value, value"), and the index after it.
    Rows start at the block's indentation and have at least two cells on columns most rows share; deeper lines
    continue the row above, cell by cell."""
    base = _indent(lines[i].expandtabs())
    layout: list[tuple[bool, list[tuple[int, str]]]] = []  # (starts a row, cells) of each line
    j = i
    while j < len(lines) and lines[j].strip():  # stops at the first line that cannot be part of a table
        line = lines[j].expandtabs()
        cells, head = _cells(line), _indent(line) == base
        if _indent(line) < base or head and (len(cells) < 2 or _MARKER.match(cells[0][1])):
            return None
        layout.append((head, cells))
        j += 1
    heads = [cells for head, cells in layout if head]
    if len(heads) < 2 or len({cells[1][0] for cells in heads}) != 1:  # the second column starts on every row alike
        return None
    uses = Counter(col for cells in heads for col in {c for c, _ in cells})
    columns = {col: n for n, col in enumerate(sorted(c for c, k in uses.items() if k >= 2))}
    if any(col not in columns for _, cells in layout for col, _ in cells):
        return None
    rows = Rows()
    for head, cells in layout:
        row = [""] * len(columns)
        for col, text in cells:
            row[columns[col]] = text
        rows.append(row if head else _merge(rows.pop(), row))
    if all(c.isupper() for c in rows[0] if c) and not all(c.isupper() for row in rows[1:] for c in row if c):
        return [c.capitalize() for c in rows.pop(0)], rows, j
    return None, [[line] for line in _row_lines(rows)], j  # one column: Builder.table gives one line per row


def _row_lines(rows: Rows) -> list[str]:
    """Rows without a header, one line each: the first cell labels the rest ("Parts Desk: 0330 555 0177, ...")."""
    out = []
    for row in rows:
        rest = [c for c in row[1:] if c]
        out.append(f"{row[0]}: {', '.join(rest)}" if row[0] and rest else ", ".join(c for c in row if c))
    return out
