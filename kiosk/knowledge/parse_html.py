"""HTML pages with the standard library's html.parser: the readable content, without page furniture."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from kiosk.knowledge.documents import ParsedDocument
from kiosk.knowledge.parse_common import Builder, clean

# Page furniture and non-text content: everything inside is dropped.
_DROP = frozenset({
    "script", "style", "nav", "header", "footer", "aside", "form", "noscript", "template", "head",
    "svg", "math", "iframe", "object", "embed", "canvas", "audio", "video", "select", "button", "menu", "dialog",
})  # fmt: skip
_DROP_ROLES = frozenset({"navigation", "banner", "contentinfo", "search", "menu", "menubar", "dialog", "alert"})
_VOID = frozenset({
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr",
})  # fmt: skip
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
# Tags that end the current run of text (a new block starts after them).
_BLOCK = frozenset({
    "p", "div", "section", "article", "main", "blockquote", "pre", "ul", "ol", "li", "dl", "dt", "dd",
    "table", "tr", "td", "th", "caption", "figure", "figcaption", "address", "details", "summary",
    "hr", "br", "body", "center", *_HEADINGS,
})  # fmt: skip
_LINE_TAGS = frozenset({"li", "dt", "dd"})
_P = frozenset({"p"})
_BR = "\ue002"  # marks <br> inside a run of text  # consecutive items form one block, one line each
# Opening one of these implicitly closes the listed open tags (HTML's optional end tags).
_IMPLIED = {
    "p": {"p"}, "li": {"li", "p"}, "dt": {"dt", "dd", "p"}, "dd": {"dt", "dd", "p"},
    "tr": {"tr", "td", "th", "p"}, "td": {"td", "th", "p"}, "th": {"td", "th", "p"},
    "option": {"option"}, **{h: {"p", *_HEADINGS} for h in _HEADINGS},
}  # fmt: skip


def _hidden(attrs: list[tuple[str, str | None]]) -> bool:
    for name, value in attrs:
        value = (value or "").lower()
        if name == "hidden" or (name == "aria-hidden" and value == "true"):
            return True
        if name == "role" and value in _DROP_ROLES:
            return True
        if name == "style" and re.search(r"display\s*:\s*none|visibility\s*:\s*hidden", value):
            return True
    return False


class _Table:
    def __init__(self) -> None:
        self.rows: list[list[str]] = []
        self.th_rows: list[bool] = []  # row is all <th> / in <thead>
        self.any_th = False
        self.caption: list[str] = []
        self.cell: list[str] | None = None
        self.cell_th = False


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.b = Builder()
        self.stack: list[str] = []
        self.skip_depth = 0  # stack depth at which a dropped element opened (0 = not dropping)
        self.title_parts: list[str] | None = None
        self.title = ""
        self.h1 = ""
        self.text: list[str] = []  # the current run of text
        self.run_tag = ""  # innermost block tag the run belongs to
        self.heading: tuple[int, list[str]] | None = None
        self.tables: list[_Table] = []
        self.in_thead = False
        self.pre = 0
        self.single_h1 = False
        # A page that marks its content with <main> (or role="main", its only <article>, a div with the id
        # "content") says everything else is furniture, also what no other tag marks: breadcrumbs in a <div>, a
        # cookie notice, a sidebar of links, the site's banner.
        self.content = ""  # what marks the content (_content_marker); "" = nothing does: the whole page is read
        self.mains: list[int] = []  # stack depths of the open elements that mark the content

    def _outside(self) -> bool:
        return bool(self.content) and not self.mains

    # -- structure -------------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title" and self.title_parts is None and not self.title and "svg" not in self.stack:
            self.title_parts = []
        if tag in _VOID:
            if tag in ("br", "hr") and not self.skip_depth:
                self._break(tag)
            return
        closes = _IMPLIED.get(tag, _P if tag in _BLOCK else None)
        while closes and self.stack and self.stack[-1] in closes:
            self.handle_endtag(self.stack[-1])
        self.stack.append(tag)
        if self.skip_depth:
            return
        if tag in _DROP or _hidden(attrs):
            if tag != "head":
                self._break(tag)
            self.skip_depth = len(self.stack)
            return
        if _marks_content(self.content, tag, attrs):
            self.mains.append(len(self.stack))
        if self._outside():
            return
        if tag in _BLOCK:
            self._break(tag)
        if tag in _HEADINGS and not self.tables:
            self.heading = (_HEADINGS[tag], [])
        elif tag == "pre":
            self.pre += 1
        elif tag == "table":
            self.tables.append(_Table())
        elif self.tables and len(self.tables) == 1:
            t = self.tables[0]
            if tag == "thead":
                self.in_thead = True
            elif tag == "tr":
                t.rows.append([])
                t.th_rows.append(True)
            elif tag in ("td", "th"):
                if not t.rows:
                    t.rows.append([])
                    t.th_rows.append(True)
                t.cell, t.cell_th = [], tag == "th" or self.in_thead
                t.any_th |= t.cell_th
                t.th_rows[-1] &= t.cell_th
            elif tag == "caption":
                t.cell = t.caption

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.stack:
            return  # stray end tag
        while self.stack:
            open_tag = self.stack.pop()
            self._close(open_tag, len(self.stack) + 1)
            if open_tag == tag:
                break

    def _close(self, tag: str, depth: int) -> None:
        if tag == "title" and self.title_parts is not None:  # <title> sits in the dropped <head>
            self.title, self.title_parts = clean("".join(self.title_parts)), None
        if self.skip_depth:
            if depth == self.skip_depth:
                self.skip_depth = 0
            return
        if self.mains and depth == self.mains[-1]:
            self._break(tag)
            self.mains.pop()
            return
        if self._outside():
            return
        if tag in _HEADINGS and self.heading:
            level, parts = self.heading
            self.heading = None
            text = clean("".join(parts))
            if level == 1 and not self.h1:
                self.h1 = text
                if self.single_h1:  # the page's one <h1> names the page, it is not a section
                    return
            self.b.heading(level, text)
            return
        if tag in _BLOCK:
            self._break(tag)
        if tag == "pre":
            self.pre = max(0, self.pre - 1)
        elif tag == "table" and self.tables:
            self._end_table(self.tables.pop())
        elif self.tables and len(self.tables) == 1:
            t = self.tables[0]
            if tag in ("td", "th", "caption") and t.cell is not None:
                if tag != "caption":
                    t.rows[-1].append(clean("".join(t.cell)))
                t.cell = None
            elif tag == "thead":
                self.in_thead = False

    def parse_marked_section(self, i: int, report: bool = True) -> int:
        # html.parser (3.10, 3.11) asserts on "<![" not followed by CDATA/IF/... ("<![CTYPE html>", a damaged
        # doctype); browsers read it as a bogus comment, and so does this.
        try:
            return super().parse_marked_section(i, report)
        except AssertionError:
            return self.parse_bogus_comment(i, report)

    def handle_data(self, data: str) -> None:
        if self.title_parts is not None:
            self.title_parts.append(data)
            return
        if self.skip_depth or self._outside():
            return
        if self.heading:
            self.heading[1].append(data)
        elif self.tables:
            cell = self.tables[0].cell
            if cell is not None:
                cell.append(" " + data if len(self.tables) > 1 else data)  # nested tables: text only
        else:
            self.text.append(data)

    # -- output ----------------------------------------------------------------------------
    def _break(self, tag: str) -> None:
        """End the current run of text at a block boundary (<br> only ends a line)."""
        if self.heading:
            self.heading[1].append(" ")
            return
        if self.tables:
            cell = self.tables[0].cell
            if cell is not None:
                cell.append(" ")
            return
        if tag == "br":
            self.text.append(_BR)
            return
        raw = "".join(self.text)
        self.text = []
        run_tag, self.run_tag = self.run_tag, tag
        # Source line breaks are formatting, except inside <pre>.
        parts = raw.replace(_BR, "\n").splitlines() if self.pre else raw.split(_BR)
        lines = [line for line in map(clean, parts) if line]
        if not lines:
            return
        if run_tag not in _LINE_TAGS:
            self.b.flush()
        for line in lines:
            self.b.line(line)
        if run_tag not in _LINE_TAGS:
            self.b.flush()

    def _end_table(self, t: _Table) -> None:
        rows = [r for r in t.rows if any(r)]
        if not rows:
            return
        caption = clean("".join(t.caption))
        first_th = t.th_rows[t.rows.index(rows[0])]
        if first_th or not t.any_th:
            self.b.table(rows[0], rows[1:], caption)  # without <th> the first row is the header
        else:
            self.b.table(None, rows, caption, row_headers=True)  # <th> only down the first column

    def finish(self) -> None:
        self.close()
        while self.stack:
            self.handle_endtag(self.stack[-1])
        self._break("body")


_CONTENT_IDS = ("content", "main-content", "maincontent", "page-content", "primary")
_CONTENT_ID = re.compile(r"\sid\s*=\s*[\"']?(?:" + "|".join(_CONTENT_IDS) + r")[\"'\s>]", re.I)


def _content_marker(text: str) -> str:
    """What marks a page's content, when something does: <main> or role="main"; else the page's only <article>;
    else an element with the id content management systems give it ("content", "main-content", ...)."""
    if re.search(r"<main[\s>]|\srole\s*=\s*[\"']?main\b", text, re.I):
        return "main"
    if len(re.findall(r"<article[\s>]", text, re.I)) == 1:
        return "article"
    if _CONTENT_ID.search(text):
        return "id"
    return ""


def _marks_content(marker: str, tag: str, attrs: list[tuple[str, str | None]]) -> bool:
    if marker == "main":
        return tag == "main" or any(name == "role" and (value or "").lower() == "main" for name, value in attrs)
    if marker == "article":
        return tag == "article"
    return marker == "id" and any(name == "id" and (value or "").lower() in _CONTENT_IDS for name, value in attrs)


def parse_html(text: str, fallback_title: str) -> ParsedDocument:
    marker = _content_marker(text)
    p = _parse(text, marker)
    if marker and not p.b.blocks:  # content marked but hidden, empty or inside dropped markup: the whole page
        p = _parse(text, "")
    return p.b.document(p.title or p.h1 or fallback_title)


def _parse(text: str, marker: str) -> _Parser:
    p = _Parser()
    p.single_h1 = len(re.findall(r"<h1[\s>]", text, re.I)) <= 1
    p.content = marker
    p.feed(text)
    p.finish()
    return p
