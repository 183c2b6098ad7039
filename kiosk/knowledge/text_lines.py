"""Which lines of a plain-text paragraph are wrapped text and which stand on their own.

Wrapped text keeps its indentation (or indents only its first line, or hangs under the words after a list marker:
"(i)   the robot arm ..." / "        for parts ..."). A line that indents differently is a new line: a record and its
fields ("  Culm Dairy Systems, Tiverford" / "    Sales 01632 555 410" / "    Area: Devon, Somerset"), or the next
clause after a hanging one. So is a "Label: value" field and a clause marked "(a)" or "(iv)".
"""

from __future__ import annotations

import re

# "Area: Devon", "Issued by: Ardlow", "Sales/Service: 01632": a short capitalised label, then its value.
_FIELD = re.compile(r"^\s*[A-Z][\w/&'().-]*(?: [\w/&'().-]+){0,2}: +\S")
_CLAUSE = re.compile(r"^\s*\((?:\d{1,2}|[a-z]|[ivxlc]{1,6})\)\s+\S")  # "(a) ", "(iv) ", "(2) "; not "(555) 014"


def indent(line: str) -> int:
    line = line.expandtabs()
    return len(line) - len(line.lstrip(" "))


def _hang(head: str) -> int:
    """Column of the words after the first one (the marker of "(i)   the robot ..."), -1 when there are none."""
    m = re.match(r"\s*\S+\s+(?=\S)", head.expandtabs())
    return m.end() if m else -1


def starts_new_line(head: str, prev: str, line: str, first_of_block: bool) -> bool:
    """Whether `line` stands on its own rather than continuing the entry that began with `head` (`prev` is the line
    above; `first_of_block` when that is the paragraph's first line)."""
    if _FIELD.match(line) or _CLAUSE.match(line):
        return True
    above, here = indent(prev), indent(line)
    if here == above:
        return False
    if here < above:
        return not first_of_block  # only a first-line indent is wrapped text
    return prev != head or here != _hang(head)  # deeper: wrapped only under the words after a marker


def is_lead_in(lines: list[str], i: int) -> bool:
    """A line ending in ":" that introduces the lines indented under it ("In addition:" / "  (i) ..."): text."""
    for line in lines[i + 1 :]:
        if line.strip():
            return indent(line) > indent(lines[i])
    return False
