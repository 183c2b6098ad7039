"""Documents as browsers, word processors and people lay them out: ligatures, running footers, table headers,
hyphens at line ends, tables lined up with spaces, pages whose content sits in <main>."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from fpdf import FPDF

from kiosk.knowledge.documents import ParsedDocument
from kiosk.knowledge.parse_common import clean, clean_lines
from kiosk.knowledge.parsers import parse_file

ROOT = Path(__file__).resolve().parents[1]
PRINTED = ROOT / "samples" / "kelderwick" / "staff-handbook.pdf"  # printed to PDF by headless Chromium


def text_of(doc: ParsedDocument) -> str:
    return "\n".join(f"{b.question}\n{b.text}" for b in doc.blocks)


def test_a_browser_printed_pdf_reads_as_written() -> None:
    doc = parse_file(PRINTED)
    text = text_of(doc)
    assert not re.search("[\ufb00-\ufb06]", text)  # Chromium sets "staff" with the "ff" ligature
    assert "Staff Entrance" in text and "first morning" in text and "Linen Room" in text
    # The running footer ("Page 3 of 9Printed copies are uncontrolled. Check StaffNet ...") on every page
    assert "Page 3 of 9" not in text and "uncontrolled" not in text
    assert "HR-POL-012" in text and "e-cigarettes" in text  # a code and a compound broken after their hyphen
    headings = {name for b in doc.blocks for name in b.section}
    assert not headings & {"Lanyard", "colour", "Worn by"}  # the lanyard table's bold header cells
    assert "3. ID badges and access" in headings
    # the cover's address, set as large as the (bold) chapter headings but regular, is text
    assert not any("Wren Valley Road" in name for name in headings) and "1200 Wren Valley Road" in text


def test_ligatures_become_letters() -> None:
    assert clean("sta\ufb00 \ufb01rst \ufb02oor o\ufb03ce") == "staff first floor office"
    assert clean_lines("Sta\ufb00Net\n\ufb04") == "StaffNet\nffl"


def test_a_hyphen_at_the_line_end() -> None:
    from kiosk.knowledge.pdf_hyphens import join_hyphen

    words = {"e-cigarettes", "e", "cigarettes", "self-service", "self", "service", "transported"}
    assert join_hyphen("the Policy (HR-", "POL-012) says", words) == "the Policy (HR-POL-012) says"
    assert join_hyphen("see COVID-", "19 rules", set()) == "see COVID-19 rules"
    assert join_hyphen("includes e-", "cigarettes", set()) == "includes e-cigarettes"  # a one-letter prefix
    assert join_hyphen("a self-", "service kiosk", words) == "a self-service kiosk"  # so spelled elsewhere
    assert join_hyphen("goods are trans-", "ported daily", words) == "goods are transported daily"
    assert join_hyphen("goods are trans-", "ported daily", set()) == "goods are transported daily"


class _Footed(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 7)
        self.cell(0, 5, f"Page {self.page_no()} - Printed copies are uncontrolled. Always check the intranet "
                        "for the current version of this handbook.")


def test_a_long_small_running_footer_and_a_small_bold_table_header(tmp_path: Path) -> None:
    pdf = _Footed()
    for n, topic in enumerate(("Parking", "Uniforms", "Lockers", "Canteen"), 1):
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 16)
        pdf.cell(0, 10, f"{n}. {topic}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 11)
        pdf.multi_cell(0, 6, f"Everything about {topic.lower()} for new staff. Ask your manager when in doubt, "
                             "and read the rest of this chapter in your first week.")
        pdf.set_font("Helvetica", "B", 9)  # a table's header row, smaller than the body text
        pdf.cell(40, 6, "Colour")
        pdf.cell(0, 6, "Worn by", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 9)
        pdf.cell(40, 6, "Navy")
        pdf.cell(0, 6, f"Nurses and midwives of {topic.lower()}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 11)
        pdf.multi_cell(0, 6, f"The {topic.lower()} office answers any other question on extension 31{n}0.")
    pdf.output(str(tmp_path / "handbook.pdf"))
    doc = parse_file(tmp_path / "handbook.pdf")
    assert "uncontrolled" not in text_of(doc)  # 17 words: longer than any page number, set smaller, on every page
    assert {name for b in doc.blocks for name in b.section} == {"1. Parking", "2. Uniforms", "3. Lockers",
                                                                "4. Canteen"}
    assert "Nurses and midwives of lockers" in text_of(doc)


def test_a_table_lined_up_with_spaces_in_plain_text(tmp_path: Path) -> None:
    (tmp_path / "pay.txt").write_text(
        "PAY POLICY\n\n"
        "2. SHIFT PREMIUMS\n\n"
        "   2.1 These premiums are paid on top of the basic rate.\n\n"
        "       PREMIUM               WHEN IT APPLIES                    AMOUNT\n"
        "       --------------------  ---------------------------------  -------------\n"
        "       Evening premium       Mon-Fri, 18:00 to 22:00            $2.10 an hour\n"
        "       Night premium         Any night, 22:00 to 06:00          $4.25 an hour\n"
        "       and bank nights\n"
        "       Call-back             Each time you are called in        minimum 3 hours\n"
        "                                                                at time and a half\n\n"
        "   2.2 Where two premiums overlap, both are paid.\n",
        encoding="utf-8")
    doc = parse_file(tmp_path / "pay.txt")
    tables = [b for b in doc.blocks if b.kind == "table"]
    assert len(tables) == 1 and tables[0].section == ("2. SHIFT PREMIUMS",)
    assert tables[0].text.splitlines() == [
        "Premium: Evening premium; When it applies: Mon-Fri, 18:00 to 22:00; Amount: $2.10 an hour",
        "Premium: Night premium and bank nights; When it applies: Any night, 22:00 to 06:00; Amount: $4.25 an hour",
        "Premium: Call-back; When it applies: Each time you are called in; Amount: minimum 3 hours at time and a half",
    ]
    assert all(b.section == ("2. SHIFT PREMIUMS",) for b in doc.blocks if "2.2" in b.text)  # no "PREMIUM ..." heading
    assert "-----" not in text_of(doc)


def test_a_page_with_main_content_drops_what_is_around_it(tmp_path: Path) -> None:
    page = (
        "<html><head><title>Emergency codes</title></head><body>"
        "<header><nav><a href='/'>Home</a></nav></header>"
        "<div class='crumbs'><a href='/'>Home</a> &rsaquo; <a href='/p'>Policies</a> &rsaquo; Emergency codes</div>"
        "<main><h2>How to call a code</h2><p>Dial 4444 from any hospital phone.</p>"
        "<dl><dt>Code Red</dt><dd>Fire.</dd></dl></main>"
        "<div class='cookie'>We use cookies to count page visits.</div></body></html>")
    (tmp_path / "codes.html").write_text(page, encoding="utf-8")
    text = text_of(parse_file(tmp_path / "codes.html"))
    assert "Dial 4444" in text and "Code Red" in text and "Fire." in text
    assert "Policies" not in text and "cookies" not in text
    # Without <main>, the same text around the content stays: nothing says it is furniture.
    (tmp_path / "plain.html").write_text(page.replace("<main>", "<div>").replace("</main>", "</div>"),
                                         encoding="utf-8")
    assert "Policies" in text_of(parse_file(tmp_path / "plain.html"))
    # role="Main" in capitals marks the content too; a hidden <main> leaves the visible page, not "no text found".
    (tmp_path / "capitals.html").write_text(page.replace("<main>", "<div role='Main'>").replace("</main>", "</div>"),
                                            encoding="utf-8")
    assert "Dial 4444" in text_of(parse_file(tmp_path / "capitals.html"))
    (tmp_path / "hidden.html").write_text(page.replace("<main>", "<main hidden>"), encoding="utf-8")
    assert "Policies" in text_of(parse_file(tmp_path / "hidden.html"))


def test_several_headings_underlined_with_equals_signs_are_sections(tmp_path: Path) -> None:
    (tmp_path / "it.md").write_text(
        "IT and Patient Records\n======================\n\nFor new starters.\n\n"
        "Your login\n----------\n\nYour username is kch and your staff number.\n\n"
        "Tap-and-go on the wards (TapIn)\n===============================\n\nTap your badge on the reader.\n\n"
        "KelChart\n========\n\nThe electronic patient record.\n",
        encoding="utf-8")
    doc = parse_file(tmp_path / "it.md")
    assert doc.title == "IT and Patient Records"
    where = {b.text: b.section[-1] for b in doc.blocks}
    assert where["Tap your badge on the reader."] == "Tap-and-go on the wards (TapIn)"  # not under "Your login"
    assert where["The electronic patient record."] == "KelChart"


def test_a_heading_wrapped_onto_a_line_that_starts_in_lower_case(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    for heading, body in ((("Hand hygiene",), "Clean your hands at each of the 5 Moments, before and after care."),
                          (("Bare below the elbows and", "uniform"), "No wristwatch and no rings except one band."),
                          (("If you have a needle-stick or splash", "injury"), "Bleed it, wash it, report it.")):
        pdf.set_font("Helvetica", "B", 20)
        for line in heading:  # a browser wraps a long heading where the column ends
            pdf.cell(0, 10, line, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 11)
        pdf.multi_cell(0, 6, body)
    pdf.output(str(tmp_path / "guide.pdf"))
    doc = parse_file(tmp_path / "guide.pdf")
    where = {b.text: b.section for b in doc.blocks}
    assert where["No wristwatch and no rings except one band."] == ("Bare below the elbows and uniform",)
    assert where["Bleed it, wash it, report it."] == ("If you have a needle-stick or splash injury",)
    assert "uniform" not in [b.text for b in doc.blocks]


def test_numbered_clauses_start_their_own_lines(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, "3. ID badges", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    for line in ("3.3 Badges are issued by the Access Office, Level 1, Room 1.045, open Monday to",
                 "Friday, 07:30 to 15:30.", "3.4 Lost or stolen badges",
                 "3.4.1 Report a lost badge to Security on extension 3100 straight away, at any hour,",
                 "so that it can be deactivated.", "3.4.2 The first replacement is free; a second costs $15."):
        pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(tmp_path / "badges.pdf"))
    lines = text_of(parse_file(tmp_path / "badges.pdf")).splitlines()
    assert "3.4.1 Report a lost badge to Security on extension 3100 straight away, at any hour, so that it can be " \
           "deactivated." in lines  # its own line, its wrapped end joined to it
    assert any(line.startswith("3.4.2 The first replacement") for line in lines)
    assert not any("Lost or stolen badges 3.4.1" in line for line in lines)


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Riverside Depot - Staff Guide</title><style>
@page { size: A4; margin: 22mm 18mm;
        @top-center { content: "Riverside Depot - Staff Guide SG-004"; font-size: 8pt; }
        @bottom-left { content: "Printed copies are uncontrolled. Always check the intranet for the current "
                                "version."; font-size: 7pt; }
        @bottom-right { content: "Page " counter(page) " of " counter(pages); font-size: 7pt; } }
body { font-family: sans-serif; font-size: 10.5pt; } h1 { font-size: 24pt; } h2 { font-size: 15pt; break-before: page; }
.cols { columns: 2; } th { text-align: left; }
</style></head><body><main><h1>Staff Guide</h1>
<h2>Your first day at the depot and the welcome session in the training office</h2>
<p>On your first morning, arrive at the staff office by 08:15 and ask for the shift officer on duty.</p>
<p>The welcome session fills the first afternoon; the affiliated trainer shows you the fire exits.</p>
<h2>Parking</h2><div class="cols"><p>Staff park in the fenced yard behind Gate 3, which has 120 spaces.</p>
<p>Night staff may use the visitor bays between 19:00 and 07:00 free of charge.</p></div>
<h2>Shifts</h2><table><tr><th>Shift</th><th>Times</th></tr><tr><td>Early</td><td>06:00 to 14:00</td></tr>
<tr><td>Late</td><td>14:00 to 22:00</td></tr></table>
<p>Swap a shift in the rota app at least 48 hours before it starts; your officer approves it.</p>
</main></body></html>"""


@pytest.mark.slow  # headless Chromium prints the page (Debian's chromium, installed by tools/dev setup)
def test_a_page_printed_by_the_browser_reads_like_the_page(tmp_path: Path) -> None:
    """The parity check of docs/benchmarks.md ("The same documents in other formats") as a test: the words and
    sections of an HTML page and of the PDF Chromium prints from it (running header and footer, page numbers,
    ligatures, a heading wrapped over two lines, columns, a table) are the same."""
    chromium = shutil.which("chromium")
    assert chromium, "chromium (Debian package) is installed by tools/dev setup"
    (tmp_path / "guide.html").write_text(_PAGE, encoding="utf-8")
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                    f"--print-to-pdf={tmp_path / 'guide.pdf'}", (tmp_path / "guide.html").as_uri()],
                   check=True, capture_output=True, timeout=120)
    page, printed = parse_file(tmp_path / "guide.html"), parse_file(tmp_path / "guide.pdf")

    def words(doc: ParsedDocument) -> set[str]:
        # A set, headings included: the table's header is said in every row from HTML and is a heading in the PDF.
        said = " ".join([doc.title, text_of(doc), *(name for b in doc.blocks for name in b.section)])
        return set(re.findall(r"[a-z0-9]+", said.lower()))

    missing, extra = words(page) - words(printed), words(printed) - words(page)
    assert not missing and not extra, (missing, extra)  # nothing lost, no footer, no "Page 2 of 4"
    sections = {name for b in printed.blocks for name in b.section}
    assert {"Your first day at the depot and the welcome session in the training office", "Parking",
            "Shifts"} <= sections, sections


def test_a_table_in_a_pdf_reads_row_by_row(tmp_path: Path) -> None:
    """fpdf sets each cell as its own piece of text, as Word and browsers do: the rows of "who wears which
    lanyard" read "Purple: Doctors and other medical staff", not "... Navy Nursing staff Purple Doctors ..."."""
    pdf = FPDF()
    pdf.set_title("Staff Guide")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, "3. ID badges", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(0, 6, "The colour of the lanyard tells patients and colleagues who you are.", new_x="LMARGIN",
                   new_y="NEXT")
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(40, 7, "Colour")
    pdf.cell(0, 7, "Worn by", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    for colour, who in (("Navy", "Nursing and midwifery staff"), ("Purple", "Doctors and other medical staff"),
                        ("Yellow", "Volunteers")):
        pdf.cell(40, 7, colour)
        pdf.cell(0, 7, who, new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 6, "Lanyards must be the breakaway type supplied by the hospital.")
    pdf.output(str(tmp_path / "badges.pdf"))
    doc = parse_file(tmp_path / "badges.pdf")
    tables = [b for b in doc.blocks if b.kind == "table"]
    assert len(tables) == 1 and tables[0].section == ("3. ID badges",), doc.blocks
    assert tables[0].text.splitlines() == ["Colour: Navy; Worn by: Nursing and midwifery staff",
                                           "Colour: Purple; Worn by: Doctors and other medical staff",
                                           "Colour: Yellow; Worn by: Volunteers"]
    assert "Lanyards must be the breakaway type supplied by the hospital." in text_of(doc)


def test_table_rows_from_where_pieces_start() -> None:
    from kiosk.knowledge.pdf_tables import find_tables

    lines = [
        (((57.0, "3.4.1"), (91.0, "Report a lost badge to Security")), False),  # a clause's hanging indent
        (((57.0, "3.4.2"), (91.0, "Collect a replacement")), False),
        (((234.7, "Choice PPO"), (340.6, "Saver HDHP"), (340.6, "with HSA")), True),  # a header, empty corner
        (((65.2, "Primary care visit"), (234.7, "$25 copay"), (340.6, "10% after deductible")), False),
        (((65.2, "Out-of-pocket maximum (individual /"),), False),  # a first cell wrapped before its row
        (((65.2, "family)"), (234.7, "$3,000"), (340.6, "$4,000")), False),
        (((234.7, "per year"),), False),  # a wrapped cell continues the row above
        (((65.2, "All plans cover preventive care in full."),), False),
    ]
    [table] = find_tables(lines)
    assert (table.start, table.end) == (2, 7)
    assert table.header == ["", "Choice PPO", "Saver HDHP with HSA"]
    assert table.rows == [["Primary care visit", "$25 copay", "10% after deductible"],
                          ["Out-of-pocket maximum (individual / family)", "$3,000 per year", "$4,000"]]


def test_two_tables_one_under_the_other_stay_two() -> None:
    """Seen in the sample company's benefits PDF: the premiums table under the plan overview, with the same
    columns, was read as more rows of the overview, its bold caption taken for a wrapped first cell."""
    from kiosk.knowledge.pdf_tables import find_tables

    lines = [
        (((234.7, "Choice PPO"), (340.6, "Saver HDHP")), True),
        (((65.2, "Primary care visit"), (234.7, "$25 copay"), (340.6, "10% after deductible")), False),
        (((65.2, "Specialist visit"), (234.7, "$50 copay"), (340.6, "10% after deductible")), False),
        (((65.2, "Your share of the monthly premium"),), True),  # a caption, set in bold
        (((65.2, "Coverage level"), (234.7, "Choice PPO"), (340.6, "Saver HDHP")), True),
        (((65.2, "Employee only"), (234.7, "$85"), (340.6, "$25")), False),
        (((65.2, "Employee + children"), (234.7, "$240"), (340.6, "$100")), False),
    ]
    first, second = find_tables(lines)
    assert (first.start, first.end, second.start, second.end) == (0, 3, 4, 7)
    assert second.header == ["Coverage level", "Choice PPO", "Saver HDHP"]
    assert second.rows[0] == ["Employee only", "$85", "$25"]
