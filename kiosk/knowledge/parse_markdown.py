"""Markdown and plain-text documents, including question/answer pairs (the FAQ format).

FAQ format
----------
A Markdown (.md, .markdown) or plain-text (.txt) file can hold question/answer pairs::

    # Visiting us

    Q: Where can I park?
    A: Free parking is behind the building, entrance on Mill Lane.

    Q: Can I bring my dog?
    A: Dogs are welcome in the lobby.
    Guide dogs are welcome everywhere.

- A question starts with "Q:" (or "Question:") at the beginning of a line; an answer with "A:"
  (or "Answer:"). Case does not matter, and the marker may be bold ("**Q:**").
- In Markdown, a paragraph whose first line is wholly bold and ends in "?" is a question too, and the
  lines under it are its answer ("**Can I bring my dog?**" / "Dogs are welcome in the lobby."). A bold
  line that is not a question ("**Note:**", a bold sentence ending in ".") stays text. Both styles may
  mix in one file.
- A question may wrap over several lines; it ends at the "A:" line. A "Q:" that is not followed
  by an "A:" (before a blank line, a heading or the next "Q:") is ordinary text.
- The answer runs until the next question, the next heading or a horizontal rule ("---"), so it may
  span several lines and paragraphs. It is stored exactly as written (line breaks and spacing
  tidied, Markdown emphasis and link syntax removed, the words unchanged) and the kiosk may speak it
  word for word.
- Headings above the pairs become the pair's section ("Visiting us"). Text, lists and tables
  outside the pairs are read as usual, so a FAQ can sit inside an ordinary document.
- Each pair is one retrieval unit: it is never merged with other text or split.

A CSV file with the columns "question" and "answer" (any case; optional "section" or "category")
is read as a FAQ too, one pair per row (see parsers.py).

Plain text: the first line is the title when it is short. A short line that opens a paragraph (blank
line or start of file before it) is a heading when it is in ALL CAPS (level 1) or ends in ":" (level 2)
but for a lead-in over lines indented under it ("In addition:" / "  (i) ..."); so is a line underlined
with "===" (level 1) or "---" (level 2). Records, fields and clauses keep their lines (text_lines.py);
tables lined up with spaces are read row by row (text_tables.py).
"""

from __future__ import annotations

import html
import re

from kiosk.knowledge.documents import ParsedDocument
from kiosk.knowledge.parse_common import Builder, clean
from kiosk.knowledge.text_lines import is_lead_in, starts_new_line
from kiosk.knowledge.text_tables import COLUMN_RULE, aligned_table, headerless_table

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_RULE = re.compile(r"^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LIST = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+(?:\[[ xX]\]\s+)?")
_BULLET = re.compile(r"^\s*[-*+•]\s+(?:\[[ xX]\]\s+)?")  # stripped; numbers are kept ("1. Sign in")
_QUOTE = re.compile(r"^ {0,3}>\s?")
_REFDEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S+")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$")
_FAQ_MARK = r"(?:(?:\*\*|__)(?:{w})\s*:(?:\*\*|__)|(?:\*\*|__)(?:{w})(?:\*\*|__)\s*:|(?:{w})\s*:)"
_Q = re.compile(r"^\s{0,3}" + _FAQ_MARK.format(w="q|question") + r"\s*(.*)$", re.I)
_A = re.compile(r"^\s{0,3}" + _FAQ_MARK.format(w="a|answer") + r"\s*(.*)$", re.I)
_BOLD_LINE = re.compile(r"^ {0,3}(\*\*|__)(?=\S)((?:(?!\1).)+)(?<=\S)\1\s*$")  # "**Can I park?**"

# Inline Markdown, applied in this order; escaped characters are protected first. Every pattern's
# inner part excludes its own delimiters, so a long line full of unclosed markers stays linear.
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~<])")
_BOLD = re.compile(r"\*\*(?=[^\s*])([^*]+?)(?<=\S)\*\*|(?<!\w)__(?=[^\s_])([^_]+?)(?<=\S)__(?!\w)")
_INLINE = [
    (re.compile(r"(`{1,3})(?!`)([^`]+?)\1(?!`)"), r"\2"),
    (re.compile(r"!\[([^\[\]]*)\]\([^()]*\)"), r"\1"),
    (re.compile(r"\[([^\[\]]+)\]\((?:[^()\s]|\([^()\s]*\))*(?:\s+\"[^\"]*\")?\)"), r"\1"),
    (re.compile(r"\[([^\[\]]+)\]\[[^\[\]]*\]"), r"\1"),
    (re.compile(r"<((?:https?|mailto|tel):[^<>\s]+)>"), r"\1"),
    (re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>"), ""),
    (_BOLD, r"\1\2"),
    (re.compile(r"(?<![\w*])\*(?=[^\s*])([^*]+?)(?<=\S)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<![\w_])_(?=[^\s_])([^_]+?)(?<=\S)_(?![\w_])"), r"\1"),
    (re.compile(r"~~(?=[^\s~])([^~]+?)(?<=\S)~~"), r"\1"),
    (_BOLD, r"\1\2"),  # again: "**bold *and* italic**" only closes once the italics are gone
]
_INLINE_CHARS = re.compile(r"[\\`*_\[<~&]")


def strip_inline(text: str) -> str:
    """Markdown emphasis, code and link syntax removed; link and image text kept."""
    if not _INLINE_CHARS.search(text):  # most lines: nothing to do
        return text
    protected: list[str] = []

    def protect(m: re.Match[str]) -> str:
        protected.append(m.group(1))
        return f"\ue000{len(protected) - 1}\ue001"

    text = _ESCAPE.sub(protect, text)
    for pattern, repl in _INLINE:
        text = pattern.sub(repl, text)
    if "&" in text:
        text = html.unescape(text)
    if protected:
        text = re.sub("\ue000(\\d+)\ue001", lambda m: protected[int(m.group(1))], text)
    return text


def _is_text_heading(line: str) -> int:
    """Plain-text heading level of a short line (0 = none); the caller checks where the line stands."""
    s = line.strip()
    if not s or len(s) > 80 or len(s.split()) > 10:
        return 0
    letters = [c for c in s if c.isalpha()]
    if len(letters) >= 3 and s.upper() == s and s.lower() != s and s[-1] not in ".,;":
        return 1
    if s.endswith(":") and len(s) <= 60 and len(s.split()) <= 8 and s[:-1].strip():
        return 2
    return 0


class _LineParser:
    """One pass over the lines. `markdown` False reads plain text (no inline syntax, heuristic headings)."""

    def __init__(self, text: str, markdown: bool) -> None:
        self.lines = text.splitlines()
        self.md = markdown
        self.b = Builder()
        self.title = ""
        self.para: list[str] = []  # entries: list items are separate, wrapped text is joined
        self.para_list = False  # last entry is a list item
        self.hard_break = False  # previous line ended with a Markdown hard break
        self.raw: list[str] = []  # plain text: the paragraph's lines as written, and where its last entry began
        self.entry_head = ""
        # A single level-1 heading ("# " or underlined with "===") is the document's title, not a section; several
        # are sections.
        underlined = sum(1 for above, x in zip(self.lines, self.lines[1:], strict=False)
                         if above.strip() and (m := _SETEXT.match(x)) and m.group(1)[0] == "=")
        self.single_h1 = markdown and sum(1 for x in self.lines if x.startswith("# ")) + underlined <= 1

    # -- paragraphs ------------------------------------------------------------------------
    def inline(self, text: str) -> str:
        return strip_inline(text) if self.md else text

    def add_text(self, raw: str) -> None:
        is_item = bool(_LIST.match(raw))
        text = _BULLET.sub("", raw) if is_item else raw
        text = self.inline(text.strip())
        if not text:
            return
        # Plain text: records, their fields and clauses keep their own lines (text_lines.py).
        own_line = is_item or not self.md and bool(self.raw) and starts_new_line(
            self.entry_head, self.raw[-1], raw, len(self.raw) == 1)
        if self.para and not own_line and not self.hard_break:
            self.para[-1] += " " + text  # wrapped line or lazy list-item continuation
        else:
            self.para.append(text)
            self.entry_head = raw
        self.raw.append(raw)
        self.para_list = is_item
        self.hard_break = self.md and (raw.endswith("  ") or raw.endswith("\\"))

    def end_paragraph(self) -> None:
        for entry in self.para:
            self.b.line(entry.rstrip("\\"))
        self.b.flush()
        self.para, self.para_list, self.hard_break, self.raw = [], False, False, []

    def heading(self, level: int, text: str) -> None:
        self.end_paragraph()
        text = clean(self.inline(text)) if self.md else clean(text).rstrip(":").strip()
        if not text:
            return
        if level == 1 and self.md:
            if not self.title:
                self.title = text
            if self.single_h1:
                return
        self.b.heading(level, text)

    # -- FAQ -------------------------------------------------------------------------------
    def faq_at(self, i: int) -> int:
        """If a question/answer pair starts at line i, add it and return the next line index; else return i."""
        if bold := self._bold_question(i):
            j = self._answer_end(i + 1)
            self.end_paragraph()
            self.b.faq(bold, self._answer_text(self.lines[i + 1 : j]))
            return j
        q = _Q.match(self.lines[i])
        if not q:
            return i
        question, j, a = [q.group(1)], i + 1, None
        while j < len(self.lines) and not (a := _A.match(self.lines[j])):
            line = self.lines[j]
            if not line.strip() or _Q.match(line) or (self.md and _ATX.match(line)):
                return i  # a question without an answer is ordinary text
            question.append(line)
            j += 1
        if a is None:
            return i
        end = self._answer_end(j + 1)
        self.end_paragraph()
        self.b.faq(self.inline(" ".join(question)), self._answer_text([a.group(1), *self.lines[j + 1 : end]]))
        return end

    def _bold_question(self, i: int) -> str:
        """Markdown: the question of a paragraph whose first line is wholly bold and ends in "?" and has an answer
        under it ("**Can I park?**" / "Yes, behind the building."), also after a blank line; "" for anything
        else."""
        lines = self.lines
        if not self.md or not (m := _BOLD_LINE.match(lines[i])):
            return ""
        if i > 0 and lines[i - 1].strip() and not _ATX.match(lines[i - 1]) and not _RULE.match(lines[i - 1]):
            return ""  # inside a paragraph
        question = strip_inline(m.group(2)).strip()
        k = i + 2 if i + 2 < len(lines) and not lines[i + 1].strip() else i + 1  # the answer, maybe after a blank
        nxt = lines[k] if k < len(lines) else ""
        if not question.endswith("?") or not nxt.strip() or _SETEXT.match(lines[i + 1]) or self._ends_answer(k):
            return ""
        return question

    def _ends_answer(self, j: int) -> bool:
        line = self.lines[j]
        if _Q.match(line) or _RULE.match(line) or (self.md and _ATX.match(line)):
            return True
        if not self.md and _is_text_heading(line) == 1 and self._standalone(j):
            return True
        return bool(self._bold_question(j))

    def _answer_end(self, j: int) -> int:
        """An answer from line j runs until the next question, heading or rule."""
        while j < len(self.lines) and not self._ends_answer(j):
            j += 1
        return j

    def _answer_text(self, lines: list[str]) -> str:
        """Paragraphs and list items on their own lines, wrapped lines joined; words untouched."""
        out: list[str] = []
        joinable = False
        for raw in lines:
            if not raw.strip():
                joinable = False
                continue
            is_item = bool(_LIST.match(raw))
            text = self.inline((_BULLET.sub("", raw) if is_item else raw).strip())
            if joinable and not is_item:
                out[-1] += " " + text
            else:
                out.append(text)
            joinable = True
        return "\n".join(out)

    # -- the pass --------------------------------------------------------------------------
    def _standalone(self, i: int) -> bool:
        before = i == 0 or not self.lines[i - 1].strip()
        after = i + 1 >= len(self.lines) or not self.lines[i + 1].strip()
        return before and after

    def run(self) -> None:
        lines, i, n = self.lines, 0, len(self.lines)
        if self.md and n and lines[0].strip() == "---":
            i = self._front_matter()
        elif not self.md:
            i = self._text_title()
        while i < n:
            line = lines[i]
            nxt = self.faq_at(i)
            if nxt != i:
                i = nxt
                continue
            if not line.strip():
                self.end_paragraph()
                i += 1
                continue
            if i + 1 < n and COLUMN_RULE.match(lines[i + 1].expandtabs()) and not COLUMN_RULE.match(line):
                self.end_paragraph()
                header, rows, i = aligned_table(lines, i, self.inline)
                self.b.table(header, rows)
                continue
            if self.md:
                i = self._markdown_line(i)
                continue
            if not self.para and (table := headerless_table(lines, i)):
                names, cells, i = table
                self.b.table(names, cells)
                continue
            level = _is_text_heading(line) if i == 0 or not lines[i - 1].strip() else 0  # opens a paragraph
            if level == 2 and is_lead_in(lines, i):
                level = 0  # "In addition:" over the clauses indented under it: text
            if _SETEXT.match(line) or _RULE.match(line):
                self.end_paragraph()  # a separator line
            elif level:
                self.heading(level, line)
            elif i + 1 < n and _SETEXT.match(lines[i + 1]) and not self.para and len(line.strip()) <= 80:
                self.heading(1 if "=" in lines[i + 1] else 2, line)
                i += 1
            else:
                self.add_text(line)
            i += 1
        self.end_paragraph()

    def _markdown_line(self, i: int) -> int:
        line = self.lines[i]
        if m := _ATX.match(line):
            self.heading(len(m.group(1)), m.group(2) or "")
            return i + 1
        if m := _FENCE.match(line):
            return self._fence(i, m.group(1))
        if (
            (m := _SETEXT.match(line))
            and len(self.para) == 1
            and len(self.para[0]) <= 120
            and not (self.para_list or self.hard_break)
        ):
            text = self.para.pop()
            self.heading(1 if m.group(1)[0] == "=" else 2, text)
            return i + 1
        if _RULE.match(line):
            self.end_paragraph()
            return i + 1
        if "|" in line and i + 1 < len(self.lines) and _TABLE_SEP.match(self.lines[i + 1]) and "-" in self.lines[i + 1]:
            return self._table(i)
        if _REFDEF.match(line):
            return i + 1
        if q := _QUOTE.match(line):
            line = line[q.end() :]
            while (q := _QUOTE.match(line)) is not None:
                line = line[q.end() :]
            if m := _ATX.match(line):
                self.heading(len(m.group(1)), m.group(2) or "")
                return i + 1
        self.add_text(line)
        return i + 1

    def _front_matter(self) -> int:
        for j in range(1, min(len(self.lines), 60)):
            if self.lines[j].strip() in ("---", "..."):
                for line in self.lines[1:j]:
                    if m := re.match(r"^title\s*:\s*(.+)$", line.strip(), re.I):
                        self.title = clean(m.group(1).strip("'\""))
                return j + 1
        return 0

    def _text_title(self) -> int:
        """Plain text: a short first line is the title (and leaves the text unless it is a sentence)."""
        for j, line in enumerate(self.lines):
            s = line.strip()
            if not s:
                continue
            if len(s) >= 80 or _Q.match(s):
                return 0
            self.title = s.rstrip(":").strip()
            end = j + 2 if j + 1 < len(self.lines) and _SETEXT.match(self.lines[j + 1]) else j + 1
            if s[-1] in ".!?" or not any(rest.strip() for rest in self.lines[end:]):
                return 0  # a sentence, or the only line: it stays in the text too
            return end
        return 0

    def _fence(self, i: int, fence: str) -> int:
        self.end_paragraph()
        j = i + 1
        while j < len(self.lines) and not self.lines[j].strip().startswith(fence):
            self.b.line(self.lines[j])
            j += 1
        self.b.flush()
        return j + 1

    def _table(self, i: int) -> int:
        self.end_paragraph()

        def cells(row: str) -> list[str]:
            row = row.strip()
            row = row[1:] if row.startswith("|") else row
            row = row[:-1] if row.endswith("|") and not row.endswith("\\|") else row
            parts = re.split(r"(?<!\\)\|", row)
            return [self.inline(p.strip().replace("\\|", "|")) for p in parts]

        header = cells(self.lines[i])
        rows: list[list[str]] = []
        j = i + 2
        while j < len(self.lines) and self.lines[j].strip() and "|" in self.lines[j]:
            rows.append(cells(self.lines[j]))
            j += 1
        self.b.table(header, rows)
        return j


def _drop_comments(text: str) -> str:
    """HTML comments removed, possibly spanning lines (str.find: linear even when unclosed)."""
    out, i = [], 0
    while (j := text.find("<!--", i)) >= 0 and (k := text.find("-->", j + 4)) >= 0:
        out.append(text[i:j])
        i = k + 3
    out.append(text[i:])
    return "".join(out)


def parse_markdown(text: str, fallback_title: str, markdown: bool = True) -> ParsedDocument:
    """A Markdown (markdown=True) or plain-text document; raises SkipDocument("no text found")."""
    if markdown and "<!--" in text:
        text = _drop_comments(text)
    p = _LineParser(text, markdown)
    p.run()
    return p.b.document(clean(p.title) or fallback_title)  # soft hyphens or zero-width spaces alone are no title
