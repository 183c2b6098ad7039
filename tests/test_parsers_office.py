"""Word documents as office suites write them: LibreOffice's relationship to the core properties, headers of two
rows with merged cells, footnotes and endnotes."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import docx
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

from kiosk.knowledge.documents import ParsedDocument
from kiosk.knowledge.parsers import parse_file

ROOT = Path(__file__).resolve().parents[1]
PRICE_LIST = ROOT / "samples" / "ardlow" / "price-list-2026.docx"  # saved by LibreOffice from ardlow-src
STANDARD_CORE = "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties"
LIBREOFFICE_CORE = "http://schemas.openxmlformats.org/officedocument/2006/relationships/metadata/core-properties"
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def save(d: docx.document.Document, path: Path, patch: Callable[[dict[str, bytes]], None] | None = None) -> Path:
    """Save `d`; `patch` may change, add or drop the zip's members first (name -> bytes)."""
    buf = io.BytesIO()
    d.save(buf)
    with zipfile.ZipFile(buf) as z:
        members = {name: z.read(name) for name in z.namelist()}
    if patch:
        patch(members)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def tables(doc: ParsedDocument) -> list[str]:
    return [b.text for b in doc.blocks if b.kind == "table"]


def all_text(doc: ParsedDocument) -> str:
    return "\n".join(b.text for b in doc.blocks)


# -- the title ----------------------------------------------------------------------------------------


def titled(core_title: str, styled_title: str = "") -> docx.document.Document:
    d = docx.Document()
    d.core_properties.title = core_title
    if styled_title:
        d.add_paragraph(styled_title, style="Title")
    d.add_heading("Prices", 1)
    d.add_paragraph("All prices exclude VAT.")
    return d


def libreoffice_rels(members: dict[str, bytes]) -> None:
    assert STANDARD_CORE.encode() in members["_rels/.rels"]
    members["_rels/.rels"] = members["_rels/.rels"].replace(STANDARD_CORE.encode(), LIBREOFFICE_CORE.encode())


def without_core(members: dict[str, bytes]) -> None:
    del members["docProps/core.xml"]
    members["_rels/.rels"] = re.sub(rb'<Relationship [^>]*core-properties"[^>]*/>', b"", members["_rels/.rels"])
    members["[Content_Types].xml"] = re.sub(rb'<Override PartName="/docProps/core.xml"[^>]*/>', b"",
                                            members["[Content_Types].xml"])


def test_docx_title_from_core_properties_related_as_libreoffice_does(tmp_path: Path) -> None:
    path = save(titled("Price List 2026", "Ardlow price list"), tmp_path / "prices.docx", libreoffice_rels)
    assert parse_file(path).title == "Price List 2026"  # not python-docx's invented "Word Document"


def test_docx_without_a_core_title_falls_back_as_before(tmp_path: Path) -> None:
    styled = save(titled("", "Ardlow price list"), tmp_path / "a.docx", libreoffice_rels)
    assert parse_file(styled).title == "Ardlow price list"  # the paragraph styled Title
    heading = save(titled(""), tmp_path / "b.docx", without_core)
    assert parse_file(heading).title == "Prices"  # no core properties at all: the first heading
    body = docx.Document()
    body.add_paragraph("All prices exclude VAT.")
    assert parse_file(save(body, tmp_path / "price-list_2026.docx", without_core)).title == "Price list 2026"


# -- tables -------------------------------------------------------------------------------------------


def table(d: docx.document.Document, rows: list[list[str]]) -> docx.table.Table:
    t = d.add_table(rows=len(rows), cols=len(rows[0]))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            t.cell(r, c).text = text
    return t


def merge(t: docx.table.Table, row: int, first: int, last: int) -> None:
    """Merge the row's cells first..last into one, keeping the first one's text (python-docx joins them)."""
    text = t.cell(row, first).text
    t.cell(row, first).merge(t.cell(row, last)).text = text


def test_docx_header_of_two_rows_under_merged_cells(tmp_path: Path) -> None:
    d = docx.Document()
    robots = table(d, [
        ["Robot", "", "Price (£, ex VAT)", "", "Herd"],
        ["Model", "Description", "List price", "Show price", "Cows (max)"],
        ["AMR-1", "Single-box milking robot", "£118,750", "£111,625", "65"],
        ["RotaLine 24", "24-stall robotic rotary", "on application", "", "600"],
    ])
    merge(robots, 0, 0, 1)
    merge(robots, 0, 2, 3)
    merge(robots, 3, 2, 3)  # a data cell across columns: read once, under its first column
    finance = table(d, [
        ["Example", "Hire purchase, monthly payments", "", ""],
        ["", "AMR-2", "AMR-2 Twin", "FeedRunner 40"],
        ["Monthly payment", "£2,296.43", "£3,132.32", "£673.13"],
        ["Term", "60 months", "84 months", "24 months"],
    ])
    merge(finance, 0, 1, 3)
    doc = parse_file(save(d, tmp_path / "prices.docx"))
    assert tables(doc) == [
        "Robot Model: AMR-1; Robot Description: Single-box milking robot; Price (£, ex VAT) List price: £118,750; "
        "Price (£, ex VAT) Show price: £111,625; Herd Cows (max): 65\n"
        "Robot Model: RotaLine 24; Robot Description: 24-stall robotic rotary; "
        "Price (£, ex VAT) List price: on application; Herd Cows (max): 600",
        "Example: Monthly payment; Hire purchase, monthly payments AMR-2: £2,296.43; "
        "Hire purchase, monthly payments AMR-2 Twin: £3,132.32; "
        "Hire purchase, monthly payments FeedRunner 40: £673.13\n"
        "Example: Term; Hire purchase, monthly payments AMR-2: 60 months; "
        "Hire purchase, monthly payments AMR-2 Twin: 84 months; "
        "Hire purchase, monthly payments FeedRunner 40: 24 months",
    ]


def test_docx_header_rows_marked_to_repeat_and_merged_down(tmp_path: Path) -> None:
    d = docx.Document()
    marked = table(d, [["Product", "Lead time"], ["", "weeks"], ["AMR-1", "10"]])
    for row in marked.rows[:2]:  # Word's "Repeat as header row at the top of each page"
        row._tr.get_or_add_trPr().append(OxmlElement("w:tblHeader"))
    down = table(d, [["Model", "Price", ""], ["", "List", "Show"], ["AMR-1", "£118,750", "£111,625"]])
    merge(down, 0, 1, 2)
    down.cell(0, 0).merge(down.cell(1, 0))  # "Model" spans both header rows
    down.cell(0, 0).text = "Model"
    doc = parse_file(save(d, tmp_path / "lead-times.docx"))
    assert tables(doc) == [
        "Product: AMR-1; Lead time weeks: 10",
        "Model: AMR-1; Price List: £118,750; Price Show: £111,625",
    ]


def test_docx_one_row_headers_and_a_data_cell_across_columns(tmp_path: Path) -> None:
    d = docx.Document()
    table(d, [["Plan", "Cost"], ["Basic", "free"], ["Plus", "20 EUR a month"]])
    contact = table(d, [["Name", "Contact", ""], ["Sales", "0330 555 0140", "sales@ardlow.example"],
                        ["Service", "0330 555 0150", "service@ardlow.example"]])
    merge(contact, 0, 1, 2)  # a label over two columns of values, not a second header row
    prices = table(d, [["Model", "List price", "Show price", "Cows"], ["AMR-1", "£118,750", "£111,625", "65"],
                       ["RotaLine 24", "on application", "", "600"]])
    merge(prices, 2, 1, 2)  # read once, and the values after it stay under their own labels
    doc = parse_file(save(d, tmp_path / "plans.docx"))
    assert tables(doc) == [
        "Plan: Basic; Cost: free\nPlan: Plus; Cost: 20 EUR a month",
        "Name: Sales; Contact: 0330 555 0140; sales@ardlow.example\n"
        "Name: Service; Contact: 0330 555 0150; service@ardlow.example",
        "Model: AMR-1; List price: £118,750; Show price: £111,625; Cows: 65\n"
        "Model: RotaLine 24; List price: on application; Cows: 600",
    ]


def test_docx_title_row_across_the_table(tmp_path: Path) -> None:
    d = docx.Document()
    hours = table(d, [["Opening hours", ""], ["Day", "Time"], ["Monday", "9-17"]])
    merge(hours, 0, 0, 1)  # a title over a header row: the caption
    plain = table(d, [["Opening hours", ""], ["Monday", "9-17"], ["Tuesday", "9-17"]])
    merge(plain, 0, 0, 1)  # over values: the one-row header it always was
    doc = parse_file(save(d, tmp_path / "hours.docx"))
    assert tables(doc) == ["Opening hours:\nDay: Monday; Time: 9-17",
                           "Opening hours: Monday; 9-17\nOpening hours: Tuesday; 9-17"]


# -- footnotes and endnotes ---------------------------------------------------------------------------

NOTES_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    f'<w:{{kind}}s xmlns:w="{W_NS}">'
    '<w:{kind} w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:{kind}>'
    '<w:{kind} w:type="continuationSeparator" w:id="0"><w:p><w:r><w:continuationSeparator/></w:r></w:p></w:{kind}>'
    "{notes}</w:{kind}s>"
)


def note(kind: str, nid: int, text: str) -> str:
    return (f'<w:{kind} w:id="{nid}"><w:p><w:r><w:{kind}Ref/></w:r><w:r><w:tab/><w:t>{text}</w:t></w:r></w:p>'
            f"</w:{kind}>")


def refer(paragraph: docx.text.paragraph.Paragraph, kind: str, nid: int) -> None:
    run = paragraph.add_run()._r
    run.append(OxmlElement(f"w:{kind}Reference", {qn("w:id"): str(nid)}))


def add_notes(members: dict[str, bytes]) -> None:
    footnotes = note("footnote", 1, "All prices exclude VAT.") + note("footnote", 2, "Show prices apply at the show.")
    parts = {
        "footnote": footnotes + note("footnote", 3, "A note nobody refers to."),
        "endnote": note("endnote", 1, "Finance by Harnwell Agricultural Finance Ltd."),
    }
    for kind, notes in parts.items():
        members[f"word/{kind}s.xml"] = NOTES_XML.format(kind=kind, notes=notes).encode()
        members["word/_rels/document.xml.rels"] = members["word/_rels/document.xml.rels"].replace(
            b"</Relationships>",
            f'<Relationship Id="rIdN{kind}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            f'relationships/{kind}s" Target="{kind}s.xml"/></Relationships>'.encode())
        members["[Content_Types].xml"] = members["[Content_Types].xml"].replace(
            b"</Types>",
            f'<Override PartName="/word/{kind}s.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            f'wordprocessingml.{kind}s+xml"/></Types>'.encode())


def test_docx_footnotes_and_endnotes_follow_their_reference(tmp_path: Path) -> None:
    d = docx.Document()
    d.sections[0].header.paragraphs[0].text = "Ardlow price list, running header"
    d.sections[0].footer.paragraphs[0].text = "Page 1 of 1"
    d.add_heading("Prices", 1)
    refer(d.add_paragraph("Prices are in pounds."), "footnote", 1)
    t = table(d, [["Model", "Show price"], ["AMR-1", "£111,625"]])
    refer(t.cell(0, 1).paragraphs[0], "footnote", 2)
    refer(t.cell(1, 1).paragraphs[0], "footnote", 1)  # referred to again: said once, at the first place
    d.add_heading("Finance", 1)
    refer(d.add_paragraph("Ask about finance."), "endnote", 1)
    d.add_paragraph("Leasing is also available.")
    doc = parse_file(save(d, tmp_path / "prices.docx", add_notes))
    assert [(b.kind, b.section, b.text) for b in doc.blocks] == [
        ("text", ("Prices",), "Prices are in pounds.\nNote: All prices exclude VAT."),
        ("table", ("Prices",), "Model: AMR-1; Show price: £111,625"),
        ("text", ("Prices",), "Note: Show prices apply at the show."),
        ("text", ("Finance",), "Ask about finance.\nNote: Finance by Harnwell Agricultural Finance Ltd."),
        ("text", ("Finance",), "Leasing is also available."),
    ]


# -- the LibreOffice sample ---------------------------------------------------------------------------


def test_the_libreoffice_price_list_reads_as_printed() -> None:
    doc = parse_file(PRICE_LIST)
    assert doc.title == "Ardlow Dairy Systems — Price List 2026"  # dc:title of docProps/core.xml
    robots, feeding, *_, finance, _ = tables(doc)
    assert robots.split("\n")[1] == (
        "Robot Model: AMR-2; Robot Description: Single-box milking robot with DipJet and MilkEye; "
        "Price (£, ex VAT) List price: £148,500; Price (£, ex VAT) Show price: £139,590; Herd Cows (max): 72")
    assert feeding.startswith("Machine Model: FeedRunner 40; Machine Description: Battery feed pusher")
    assert "Example: Monthly payment; Hire purchase, monthly payments AMR-2: £2,296.43; " in finance
    text = all_text(doc)
    for footnote in ("All prices in this price list exclude VAT", "Show prices apply only to orders signed",
                     "Finance examples are for illustration", "23 payments of £673.13"):
        assert text.count(f"Note: {footnote}") == 1
    notes = [b for b in doc.blocks if b.text.startswith("Note: Show prices")]
    assert [b.section for b in notes] == [("Milking robots",)]
    assert "— prices exclude VAT" not in text and "rev. B · sales@" not in text  # running header and footer
