"""PDFs as word processors export them (LibreOffice Writer): tables drawn cell by cell, sentences across page
breaks, compounds broken after one of their hyphens."""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

from kiosk.knowledge.parsers import parse_file
from kiosk.knowledge.pdf_hyphens import document_words, join_hyphen
from kiosk.knowledge.pdf_tables import restack

ROOT = Path(__file__).resolve().parents[1]
BROCHURE = ROOT / "samples" / "ardlow" / "product-brochure.pdf"  # exported by LibreOffice Writer 7.4

SPECS = (("Model", "Power supply", "Water use per day (incl. cleaning)"),
         ("AMR-1", "400 V three-phase, 16 A", "1,150 litres"),
         ("AMR-2 Twin", "400 V three-phase, 32 A", "2,600 litres"),
         ("RotaLine 24 robotic rotary", "400 V three-phase, 125 A", "14,000 litres"))


def _cell_by_cell_table(pdf: FPDF, rows: tuple[tuple[str, ...], ...], widths: tuple[float, ...]) -> None:
    """Each cell set whole before the next, wrapped inside its width, as LibreOffice draws a table."""
    for r, row in enumerate(rows):
        pdf.set_font("Helvetica", "B" if r == 0 else "", 10)
        top, bottom, x = pdf.get_y(), pdf.get_y(), pdf.l_margin
        for text, width in zip(row, widths, strict=True):
            pdf.set_xy(x, top)
            pdf.multi_cell(width, 5, text)
            bottom, x = max(bottom, pdf.get_y()), x + width
        pdf.set_xy(pdf.l_margin, bottom + 2)


def test_a_table_drawn_cell_by_cell_reads_row_by_row(tmp_path: Path) -> None:
    """Seen in a LibreOffice brochure: "Power supply 400 V three-" / "phase, 16 A" / "400 V three-" ... came out
    as a run of text, the wrapped cells' lines in between, and half the spec table was lost as a table."""
    pdf = FPDF()
    pdf.set_title("Product range")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, "The range at a glance", new_x="LMARGIN", new_y="NEXT")
    _cell_by_cell_table(pdf, SPECS, (40, 30, 34))  # narrow: every cell but the numbers wraps
    pdf.set_font("Helvetica", "", 10)
    pdf.multi_cell(0, 5, "Water use depends on the cleaning programme chosen.")
    pdf.output(str(tmp_path / "range.pdf"))
    [table] = [b for b in parse_file(tmp_path / "range.pdf").blocks if b.kind == "table"]
    assert table.text.splitlines() == [
        "Model: AMR-1; Power supply: 400 V three-phase, 16 A; Water use per day (incl. cleaning): 1,150 litres",
        "Model: AMR-2 Twin; Power supply: 400 V three-phase, 32 A; Water use per day (incl. cleaning): 2,600 litres",
        "Model: RotaLine 24 robotic rotary; Power supply: 400 V three-phase, 125 A; "
        "Water use per day (incl. cleaning): 14,000 litres",
    ]


def test_rows_drawn_cell_by_cell_are_put_back_together() -> None:
    header = ((59.1, "Specification"), (179.6, "AMR-1"), (262.4, "AMR-2"), (345.2, "RotaLine 24"))
    lines = [
        (((56.8, "Every box has the same arm."),), 400.0),
        (header, 377.7),
        (((59.1, "Milkings per cow per day"),), 323.1),
        (((59.1, "(herd average)"),), 313.2),  # the first cell wraps; the others follow at the row's top
        (((179.6, "2.7"), (262.4, "2.9"), (345.2, "3.0")), 323.1),
        (((59.1, "Power supply"), (179.6, "400 V three-")), 298.3),
        (((179.6, "phase, 16 A"),), 288.4),
        (((262.4, "400 V three-"),), 298.3),
        (((262.4, "phase, 16 A"),), 288.4),
        (((345.2, "400 V, 125 A"),), 298.3),
        (((59.1, "Weight"), (179.6, "1,480 kg"), (262.4, "1,620 kg"), (345.2, "on survey")), 273.5),
    ]
    assert restack(lines) == [[0], [1], [2, 3, 4], [5, 6, 7, 8, 9], [10]]


def test_two_columns_of_prose_under_a_table_are_not_a_table() -> None:
    """Prose in two columns also goes back up the page for its second column; its lines are not cells."""
    lines = [
        (((59.1, "Model"), (179.6, "Boxes"), (262.4, "Cows")), 500.0),
        (((59.1, "AMR-1"), (179.6, "1"), (262.4, "65")), 485.0),
        (((59.1, "Farms that move to a robot see"),), 450.0),
        (((59.1, "yields rise in the first year."),), 440.0),
        (((309.1, "Cows in a robot herd spend"),), 450.0),  # the second column, at no column of the table
        (((309.1, "more time lying down."),), 440.0),
    ]
    assert restack(lines) == [[0], [1], [2], [3], [4], [5]]


def test_a_sentence_across_a_page_break_stays_whole(tmp_path: Path) -> None:
    """"Runs on iPhone, Android" / (page 6) "and any web browser." was two passages' worth of half sentences."""
    pdf = FPDF()
    pdf.set_title("Herd monitoring")
    pdf.set_font("Helvetica", "", 11)
    pdf.add_page()
    for text in ("The app shows the cows that need you today.", "The HerdSense app runs on iPhone, Android",
                 "and any web browser. Heat alerts come with a suggested insemination window.",
                 "Vets can be given their own logins."):
        if text.startswith("and"):
            pdf.add_page()
        pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(tmp_path / "herd.pdf"))
    lines = [line for b in parse_file(tmp_path / "herd.pdf").blocks for line in b.text.splitlines()]
    assert any("The HerdSense app runs on iPhone, Android and any web browser. Heat alerts come" in line
               for line in lines), lines


def test_a_compound_broken_after_one_of_its_hyphens_keeps_it() -> None:
    words = document_words(["Farms that move from twice-a-day milking"])
    assert join_hyphen("A conventional twice-", "a-day parlour", words) == "A conventional twice-a-day parlour"
    assert join_hyphen("A conventional twice-", "a-day parlour", set()) == "A conventional twice-a-day parlour"
    assert join_hyphen("goods are trans-", "ported daily", set()) == "goods are transported daily"


def test_the_libreoffice_brochure_reads_as_printed() -> None:
    doc = parse_file(BROCHURE)
    tables = "\n".join(b.text for b in doc.blocks if b.kind == "table")
    assert ("Specification: Power supply; AMR-1: 400 V three-phase, 16 A; AMR-2: 400 V three-phase, 16 A; "
            "AMR-2 Twin: 400 V three-phase, 32 A; RotaLine 24: 400 V three-phase, 125 A") in tables.splitlines()
    assert ("Machine: FeedRunner 200 Mix; What it does: Mixes and delivers ration; Capacity: 2.0 m³ bin, up to 12 "
            "deliveries per day; Power: 48 V lithium battery with docking charger; Herd size: up to 350 cows"
            ) in tables.splitlines()
    text = "\n".join(b.text for b in doc.blocks)
    assert "A conventional twice-a-day parlour" in text
    assert "Runs on iPhone, Android and any web browser." in text
    assert "Page 3 of 7" not in text
