"""kiosk.knowledge.parsers: every supported format from real files, and every reason to skip one."""

from __future__ import annotations

import time
from pathlib import Path

import docx
import pytest
from fpdf import FPDF

from kiosk.knowledge.documents import ParsedDocument, SkipDocument
from kiosk.knowledge.parsers import ParseLimits, decode_text, parse_file


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def skip_reason(path: Path, limits: ParseLimits = ParseLimits()) -> str:  # noqa: B008
    with pytest.raises(SkipDocument) as info:
        parse_file(path, limits)
    reason = info.value.reason
    assert reason and reason == reason.strip() and len(reason) < 100
    return reason


def all_text(doc: ParsedDocument) -> str:
    return "\n".join(f"{b.question}\n{b.text}" for b in doc.blocks)


def sections(doc: ParsedDocument) -> list[tuple[str, ...]]:
    return [b.section for b in doc.blocks]


# -- Markdown and FAQ -------------------------------------------------------------------------------

MARKDOWN = """\
# Staff Handbook

Welcome to **Acme** and _its_ people. Read [the intranet](https://intra.example/x_y) first.
This line is wrapped.

## Safety rules

Wear a *helmet* in the hall.

- Check the forklift
- Report damage
  to your manager
1. Sign the log

| Day | Opens | Closes |
|-----|:-----:|-------:|
| Monday | 9:00 | 17:00 |
| Saturday | 10:00 | closed |

### Forklifts

Only trained staff drive `forklifts`. Escaped \\*stars\\* stay.

## Parking
Behind the building.
"""


def test_markdown_structure(tmp_path: Path) -> None:
    doc = parse_file(write(tmp_path / "staff_handbook.md", MARKDOWN))
    assert doc.title == "Staff Handbook"
    texts = [b.text for b in doc.blocks]
    assert texts[0] == (
        "Welcome to Acme and its people. Read the intranet first. This line is wrapped."
    )  # emphasis and link syntax gone, link text kept, the single H1 is the title (no section)
    assert doc.blocks[0].section == ()
    assert doc.blocks[1].section == ("Safety rules",)
    assert "Wear a helmet in the hall." in texts[1]
    lists = next(b for b in doc.blocks if "Check the forklift" in b.text)
    assert lists.text.split("\n") == ["Check the forklift", "Report damage to your manager", "1. Sign the log"]
    table = next(b for b in doc.blocks if b.kind == "table")
    assert table.text == "Day: Monday; Opens: 9:00; Closes: 17:00\nDay: Saturday; Opens: 10:00; Closes: closed"
    assert table.section == ("Safety rules",)
    forklifts = next(b for b in doc.blocks if "trained staff" in b.text)
    assert forklifts.section == ("Safety rules", "Forklifts")
    assert forklifts.text == "Only trained staff drive forklifts. Escaped *stars* stay."
    assert doc.blocks[-1].section == ("Parking",) and doc.blocks[-1].text == "Behind the building."
    assert 0 < doc.pages < 1


def test_markdown_without_heading_uses_readable_stem(tmp_path: Path) -> None:
    doc = parse_file(write(tmp_path / "opening-hours_2024.md", "We open at nine.\n"))
    assert doc.title == "Opening hours 2024"
    assert [b.text for b in doc.blocks] == ["We open at nine."]


def test_markdown_several_h1_are_sections(tmp_path: Path) -> None:
    doc = parse_file(write(tmp_path / "parts.md", "# Part A\n\nAlpha.\n\n# Part B\n\nBeta.\n"))
    assert doc.title == "Part A"
    assert sections(doc) == [("Part A",), ("Part B",)]


FAQ_MD = """\
# Visitor FAQ

Some intro text.

## Visiting

Q: Where can I park?
A: Free parking is behind the building,
   entrance on   Mill Lane.

q: Can I bring my dog?
a: Dogs are welcome in the lobby.

Guide dogs are welcome everywhere.

**Q:** Is there Wi-Fi?
**A:** Yes: network "Acme-Guest", no password.

## Deliveries

Question: Where do couriers go?
Answer: To gate 3.

Q: A question nobody answered

Closing remarks.
"""


def test_faq_markdown(tmp_path: Path) -> None:
    doc = parse_file(write(tmp_path / "faq.md", FAQ_MD))
    assert doc.title == "Visitor FAQ"
    faqs = [b for b in doc.blocks if b.kind == "faq"]
    assert [(b.question, b.text, b.section) for b in faqs] == [
        ("Where can I park?", "Free parking is behind the building, entrance on Mill Lane.", ("Visiting",)),
        ("Can I bring my dog?", "Dogs are welcome in the lobby.\nGuide dogs are welcome everywhere.", ("Visiting",)),
        ("Is there Wi-Fi?", 'Yes: network "Acme-Guest", no password.', ("Visiting",)),
        ("Where do couriers go?", "To gate 3.", ("Deliveries",)),
    ]
    others = [b.text for b in doc.blocks if b.kind == "text"]
    assert others[0] == "Some intro text."
    # A question without an answer is ordinary text; text after an answer only ends at Q:/heading/rule.
    assert "Q: A question nobody answered" in others[1]


def test_faq_in_plain_text(tmp_path: Path) -> None:
    doc = parse_file(write(tmp_path / "faq.txt", "Q: Do you open on Sundays?\nA: No, Monday to Saturday.\n"))
    assert [(b.kind, b.question, b.text) for b in doc.blocks] == [
        ("faq", "Do you open on Sundays?", "No, Monday to Saturday.")
    ]


def test_faq_csv(tmp_path: Path) -> None:
    csv_text = (
        "Question,Answer,Category\n"
        'Where is reception?,"Ground floor, left of the lifts.",Visiting\n'
        "Is there a canteen?,Yes.,\n"
        ",orphan answer,\n"
    )
    doc = parse_file(write(tmp_path / "visitor_faq.csv", csv_text))
    assert doc.title == "Visitor faq"
    assert [(b.kind, b.question, b.text, b.section) for b in doc.blocks] == [
        ("faq", "Where is reception?", "Ground floor, left of the lifts.", ("Visiting",)),
        ("faq", "Is there a canteen?", "Yes.", ()),
    ]


def test_plain_csv_becomes_tables_of_20_rows(tmp_path: Path) -> None:
    rows = "\n".join(f"Room {i};{i};{'yes' if i % 2 else ''}" for i in range(45))
    doc = parse_file(write(tmp_path / "rooms.csv", "Name;Seats;Projector\n" + rows + "\n"))
    assert [b.kind for b in doc.blocks] == ["table"] * 3
    assert [len(b.text.split("\n")) for b in doc.blocks] == [20, 20, 5]
    first = doc.blocks[0].text.split("\n")
    assert first[0] == "Name: Room 0; Seats: 0"  # empty cells are left out
    assert first[1] == "Name: Room 1; Seats: 1; Projector: yes"


# -- plain text and encodings -----------------------------------------------------------------------


def test_plain_text_title_paragraphs_headings(tmp_path: Path) -> None:
    text = (
        "Welcome Guide\n\nOur office is in Leeds.\nIt is open\non weekdays.\n\n"
        "OPENING HOURS\n\nNine to five.\n\nParking:\n\nBehind the building.\n\n"
        "DELIVERIES\nGate 3, from 7 am.\nNot an ALL CAPS HEADING:\ninside a paragraph.\n"
    )
    doc = parse_file(write(tmp_path / "guide.txt", text))
    assert doc.title == "Welcome Guide"
    assert [(b.text, b.section) for b in doc.blocks] == [
        ("Our office is in Leeds. It is open on weekdays.", ()),
        ("Nine to five.", ("OPENING HOURS",)),
        ("Behind the building.", ("OPENING HOURS", "Parking")),
        ("Gate 3, from 7 am. Not an ALL CAPS HEADING: inside a paragraph.", ("DELIVERIES",)),
    ]


def test_plain_text_long_first_line_is_not_a_title(tmp_path: Path) -> None:
    first = "This first line is a long sentence that goes on and on well beyond eighty characters in total."
    doc = parse_file(write(tmp_path / "notes.txt", first + "\n"))
    assert doc.title == "Notes"
    assert doc.blocks[0].text == first


@pytest.mark.parametrize(
    "name, data",
    [
        ("utf8.txt", "Café Müller – 5 €\n\nÖffnungszeiten: täglich.\n".encode()),
        ("bom.txt", "\ufeffCafé Müller – 5 €\n\nÖffnungszeiten: täglich.\n".encode()),
        ("utf16.txt", "Café Müller – 5 €\n\nÖffnungszeiten: täglich.\n".encode("utf-16")),
        ("utf16be.txt", b"\xfe\xff" + "Café Müller – 5 €\n\nÖffnungszeiten: täglich.\n".encode("utf-16-be")),
        ("cp1252.txt", "Café Müller – 5 €\n\nÖffnungszeiten: täglich.\n".encode("cp1252")),
    ],
)
def test_text_encodings(tmp_path: Path, name: str, data: bytes) -> None:
    doc = parse_file(write(tmp_path / name, data))
    assert doc.title == "Café Müller – 5 €"
    assert doc.blocks[0].text == "Öffnungszeiten: täglich."


def test_cp1252_short_text_decodes() -> None:
    assert decode_text("Café Müller – 5 €".encode("cp1252")) == "Café Müller – 5 €"


def test_cyrillic_legacy_encoding_is_not_forced_into_cp1252() -> None:
    text = "Добро пожаловать в наш офис. Парковка находится за зданием, вход с улицы."
    assert decode_text(text.encode("cp1251")) == text


# -- HTML -------------------------------------------------------------------------------------------

HTML = """<!doctype html>
<html><head><title>Visitor Info &amp; Rules</title>
<style>body { color: red } .STYLE {}</style>
<script>var x = "SCRIPTTEXT";</script></head>
<body>
<header><p>HEADERTEXT</p></header>
<nav><ul><li>Home</li><li>NAVLINK</li></ul></nav>
<div role="navigation">ROLENAV</div><div role="banner">BANNERTEXT</div>
<main>
  <h1>Welcome</h1>
  <p>Our lobby is open&nbsp;daily &ndash; even on <b>Sundays</b>.<br>Ring the bell.</p>
  <div hidden>HIDDENTEXT</div><p aria-hidden="true">ARIAHIDDEN</p>
  <p style="display: none">STYLEHIDDEN</p>
  <noscript>NOSCRIPT</noscript><template><p>TEMPLATETEXT</p></template>
  <h2>Opening hours</h2>
  <table>
    <tr><th>Day</th><th>Opens</th></tr>
    <tr><td>Monday</td><td>9:00</td></tr>
    <tr><td>Saturday</td><td>closed</td></tr>
  </table>
  <ul><li>Bring ID<li>Sign in at the desk</ul>
  <h3>Holidays</h3>
  <p>Closed on public holidays.
  <p>Caf&eacute; on level&#160;2.
  <table><tr><td>Room</td><td>Floor</td></tr><tr><td>Atrium</td><td>1</td></tr></table>
</main>
<aside>ASIDETEXT</aside><form><label>FORMTEXT</label><input></form>
<footer>FOOTERTEXT &copy; Acme</footer>
</body></html>
"""


def test_html(tmp_path: Path) -> None:
    doc = parse_file(write(tmp_path / "visit.html", HTML))
    assert doc.title == "Visitor Info & Rules"
    text = all_text(doc)
    for absent in ("SCRIPT", "STYLE", "color: red", "HEADER", "NAV", "BANNER", "HIDDEN", "NOSCRIPT", "TEMPLATE"):
        assert absent not in text
    for absent in ("ASIDE", "FORM", "FOOTER", "Home"):
        assert absent not in text
    assert doc.blocks[0].text == "Our lobby is open daily – even on Sundays.\nRing the bell."
    assert doc.blocks[0].section == ()  # the page's single <h1> is not a section
    tables = [b for b in doc.blocks if b.kind == "table"]
    assert tables[0].text == "Day: Monday; Opens: 9:00\nDay: Saturday; Opens: closed"
    assert tables[0].section == ("Opening hours",)
    assert tables[1].text == "Room: Atrium; Floor: 1"  # no <th>: the first row is the header
    assert tables[1].section == ("Opening hours", "Holidays")
    items = next(b for b in doc.blocks if "Bring ID" in b.text)
    assert items.text == "Bring ID\nSign in at the desk"
    assert any(b.text == "Café on level 2." for b in doc.blocks)


def test_html_unclosed_hidden_paragraph_and_entities(tmp_path: Path) -> None:
    page = "<body><p hidden>SECRET<p>Visible &amp; fine &#8211; <i>really</i>.<li>One<li>Two</body>"
    doc = parse_file(write(tmp_path / "p.html", page))
    assert [b.text for b in doc.blocks] == ["Visible & fine – really.", "One\nTwo"]
    assert doc.title == "P"


def test_html_title_falls_back_to_h1(tmp_path: Path) -> None:
    doc = parse_file(write(tmp_path / "p.htm", "<h1>Canteen</h1><p>Lunch from noon.</p>"))
    assert doc.title == "Canteen"
    assert [b.text for b in doc.blocks] == ["Lunch from noon."]


def test_html_without_text(tmp_path: Path) -> None:
    page = "<html><head><title>x</title><script>only()</script></head><body><nav>menu</nav></body></html>"
    assert skip_reason(write(tmp_path / "empty.html", page)) == "no text found"


# -- PDF --------------------------------------------------------------------------------------------

TOPICS = ["Safety Rules", "Working Hours", "Travel and Expenses"]


class _Handbook(FPDF):
    def header(self) -> None:
        self.set_font("Helvetica", "", 8)
        self.cell(0, 5, "Acme staff handbook - internal", new_x="LMARGIN", new_y="NEXT")

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", "", 8)
        self.cell(0, 10, f"Page {self.page_no()}", align="C")


def make_pdf(path: Path, title: str = "Staff Handbook", **encryption: str) -> Path:
    pdf = _Handbook()
    if encryption:
        pdf.set_encryption(**encryption)
    if title:
        pdf.set_title(title)
    for n, topic in enumerate(TOPICS, 1):
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 18)
        pdf.cell(0, 10, f"{n}. {topic}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 11)
        pdf.multi_cell(0, 6, f"This chapter explains {topic.lower()}. Every new employee reads it in week one.")
        pdf.set_font("Helvetica", "B", 13)
        pdf.cell(0, 8, f"Questions about {topic}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 11)
        pdf.multi_cell(0, 6, f"Ask your manager about {topic.lower()} when in doubt.")
    pdf.output(str(path))
    return path


def test_pdf(tmp_path: Path) -> None:
    doc = parse_file(make_pdf(tmp_path / "handbook.pdf"))
    assert doc.title == "Staff Handbook"
    assert doc.pages == 3.0
    text = all_text(doc)
    assert "internal" not in text and "Page 1" not in text  # running header and page numbers dropped
    assert [(b.page, b.section) for b in doc.blocks] == [
        (1, ("1. Safety Rules",)),
        (1, ("1. Safety Rules", "Questions about Safety Rules")),
        (2, ("2. Working Hours",)),
        (2, ("2. Working Hours", "Questions about Working Hours")),
        (3, ("3. Travel and Expenses",)),
        (3, ("3. Travel and Expenses", "Questions about Travel and Expenses")),
    ]
    assert doc.blocks[2].text == "This chapter explains working hours. Every new employee reads it in week one."


def test_pdf_title_from_first_line_and_outline(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", "", 11)
    pdf.cell(0, 10, "Travel Policy", new_x="LMARGIN", new_y="NEXT")
    for topic in ("Trains", "Hotels"):
        pdf.start_section(topic)
        pdf.cell(0, 10, topic, new_x="LMARGIN", new_y="NEXT")
        pdf.multi_cell(0, 6, f"{topic} are booked through the travel portal.")
    pdf.output(str(tmp_path / "travel.pdf"))
    doc = parse_file(tmp_path / "travel.pdf")
    assert doc.title == "Travel Policy"
    assert [(b.section, b.text) for b in doc.blocks] == [
        (("Trains",), "Trains are booked through the travel portal."),
        (("Hotels",), "Hotels are booked through the travel portal."),
    ]


def test_pdf_encrypted_with_user_password_is_skipped(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "secret.pdf", owner_password="owner", user_password="secret")
    assert skip_reason(path) == "encrypted PDF (needs a password)"


def test_pdf_encrypted_with_empty_user_password_is_read(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "locked.pdf", owner_password="owner")  # opens without a password
    assert parse_file(path).title == "Staff Handbook"


def test_pdf_broken(tmp_path: Path) -> None:
    good = make_pdf(tmp_path / "good.pdf").read_bytes()
    assert skip_reason(write(tmp_path / "truncated.pdf", good[: len(good) // 3])).startswith("damaged PDF")
    assert skip_reason(write(tmp_path / "garbage.pdf", b"\x89 this is no pdf " * 50)) == "not a PDF file"


def test_pdf_image_only(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")
    pdf.output(str(tmp_path / "scan.pdf"))
    assert skip_reason(tmp_path / "scan.pdf") == "no text layer (scanned image?); OCR is not supported"


# -- DOCX -------------------------------------------------------------------------------------------


def make_docx(path: Path, core_title: str = "") -> Path:
    d = docx.Document()
    d.core_properties.title = core_title
    d.add_paragraph("Employee Guide", style="Title")
    d.add_heading("Benefits", 1)
    d.add_paragraph("We offer health insurance.")
    table = d.add_table(rows=3, cols=2)
    for r, (plan, cost) in enumerate([("Plan", "Cost"), ("Basic", "free"), ("Plus", "20 EUR a month")]):
        table.cell(r, 0).text, table.cell(r, 1).text = plan, cost
    d.add_paragraph("Both plans include dental care.")
    d.add_heading("Dental", 2)
    d.add_paragraph("Check-ups are free.")
    d.add_paragraph("Bring your card", style="List Bullet")
    d.add_paragraph("Book online", style="List Bullet")
    d.add_heading("Holidays", 1)
    d.add_paragraph("Thirty days a year.")
    d.save(str(path))
    return path


def test_docx_order_and_headings(tmp_path: Path) -> None:
    doc = parse_file(make_docx(tmp_path / "guide.docx"))
    assert doc.title == "Employee Guide"
    assert [(b.kind, b.text, b.section) for b in doc.blocks] == [
        ("text", "We offer health insurance.", ("Benefits",)),
        ("table", "Plan: Basic; Cost: free\nPlan: Plus; Cost: 20 EUR a month", ("Benefits",)),
        ("text", "Both plans include dental care.", ("Benefits",)),
        ("text", "Check-ups are free.", ("Benefits", "Dental")),
        ("text", "Bring your card\nBook online", ("Benefits", "Dental")),
        ("text", "Thirty days a year.", ("Holidays",)),
    ]


def test_docx_core_title_wins(tmp_path: Path) -> None:
    assert parse_file(make_docx(tmp_path / "g.docx", core_title="HR Guide 2025")).title == "HR Guide 2025"


def test_docx_corrupt(tmp_path: Path) -> None:
    assert skip_reason(write(tmp_path / "broken.docx", b"PK\x03\x04 not really a zip" * 20)).startswith("damaged")
    assert skip_reason(write(tmp_path / "text.docx", "just text")).startswith("damaged")


# -- skipped files ----------------------------------------------------------------------------------


def test_binary_with_text_extension(tmp_path: Path) -> None:
    assert skip_reason(write(tmp_path / "photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))) == (
        "binary file"
    )


@pytest.mark.parametrize("name", ["empty.md", "blank.txt", "empty.pdf", "empty.docx", "empty.csv"])
def test_empty_files(tmp_path: Path, name: str) -> None:
    content = b"" if name.startswith("empty") else b"  \n\t\n"
    assert skip_reason(write(tmp_path / name, content)) == "empty file"


def test_bom_only_file_is_empty(tmp_path: Path) -> None:
    assert skip_reason(write(tmp_path / "bom.md", b"\xef\xbb\xbf\n")) == "empty file"


def test_only_markup_is_no_text(tmp_path: Path) -> None:
    assert skip_reason(write(tmp_path / "rules.md", "# \n\n---\n\n<!-- nothing -->\n")) == "no text found"


def test_oversized(tmp_path: Path) -> None:
    path = write(tmp_path / "big.md", "word " * 400)
    reason = skip_reason(path, ParseLimits(max_bytes=1000))
    assert reason == "file too large: 2.0 KB (limit 1000 bytes, knowledge.max_file_mb)"
    assert parse_file(path, ParseLimits(max_bytes=2000)).blocks


def test_unsupported_extension(tmp_path: Path) -> None:
    assert skip_reason(write(tmp_path / "slides.pptx", b"PK")) == "unsupported type .pptx"
    assert skip_reason(write(tmp_path / "README", b"hello")) == "unsupported type (no file extension)"


def test_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "folder.md").mkdir()
    assert skip_reason(tmp_path / "folder.md") == "cannot read file: is a directory"
    path = write(tmp_path / "locked.md", "secret")

    def deny(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", deny)
    assert skip_reason(path) == "cannot read file: permission denied"
    assert skip_reason(tmp_path / "missing.md") == "cannot read file: no such file or directory"


def test_parser_failure_becomes_a_skip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> ParsedDocument:
        raise RuntimeError("bug")

    monkeypatch.setattr("kiosk.knowledge.parsers.parse_markdown", broken)
    assert skip_reason(write(tmp_path / "a.md", "text")) == "could not be parsed (RuntimeError)"


def test_pathological_markdown_line_is_fast(tmp_path: Path) -> None:
    line = "**a [b](c " * 5000 + "`" * 5000 + "[" * 5000 + "~~x " * 5000 + "<!--" * 2000
    start = time.perf_counter()
    doc = parse_file(write(tmp_path / "odd.md", line + "\n"))
    assert time.perf_counter() - start < 2.0
    assert doc.blocks


def test_unknown_encoding(tmp_path: Path) -> None:
    # No NUL bytes, not UTF-8, and full of control codes in any 8-bit encoding.
    data = bytes(b for b in range(1, 32) if b not in (9, 10, 13)) * 40 + b"\x81\x8d\x8f\x90\x9d" * 10
    assert skip_reason(write(tmp_path / "weird.txt", data)) == "not text: unknown encoding"
