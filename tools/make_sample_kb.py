#!/usr/bin/env python3
"""Builds the PDF and DOCX files of the sample knowledge bases from Markdown sources.

    .venv/bin/python tools/make_sample_kb.py                         # every company
    .venv/bin/python tools/make_sample_kb.py --company brackwater    # one company

Each company in COMPANIES has one PDF and one DOCX. For Halvorsen Robotics it reads
samples/halvorsen-src/benefits.md and samples/halvorsen-src/travel-policy.md and writes
samples/halvorsen/benefits.pdf (fpdf2, core fonts) and samples/halvorsen/travel-policy.docx
(python-docx, with Title / Heading 1 / Heading 2 styles and real tables); for Brackwater Logistics
(the held-out company) samples/brackwater-src/pay-and-leave.md and it-and-scanners.md become
samples/brackwater/pay-and-leave.pdf and it-and-scanners.docx; for Northpine Lodge & Conference
Centre (the validation company) samples/northpine-src/employee-policy-manual.md and pay-and-benefits.md
become samples/northpine/employee-policy-manual.pdf and pay-and-benefits.docx. The output is
deterministic: fixed metadata dates and fixed ZIP timestamps, so rebuilding gives identical bytes.

The sources use a small Markdown subset: "# " title, "## " and "### " headings, paragraphs,
"- " bullets, "1. " numbered items, pipe tables and **bold** inline.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import re
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
FIXED_DATE = dt.datetime(2026, 1, 5, 9, 0, 0, tzinfo=dt.timezone.utc)
ZIP_DATE = (2026, 1, 5, 9, 0, 0)


# --- the companies ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Company:
    """One sample knowledge base: samples/<slug>-src/*.md -> samples/<slug>/ (one PDF, one DOCX)."""

    slug: str
    name: str
    """printed in the running header of the PDF"""
    pdf_source: str
    pdf_name: str
    pdf_title: str
    """running title and PDF metadata title"""
    pdf_author: str
    pdf_subject: str
    docx_source: str
    docx_name: str
    docx_footer: str
    docx_author: str
    docx_subject: str
    page_format: str = "Letter"
    docx_revision: int = 3


COMPANIES = {
    "halvorsen": Company(
        slug="halvorsen",
        name="Halvorsen Robotics",
        pdf_source="benefits.md",
        pdf_name="benefits.pdf",
        pdf_title="Benefits Guide 2026",
        pdf_author="Halvorsen Robotics, People Operations",
        pdf_subject="Employee benefits summary",
        docx_source="travel-policy.md",
        docx_name="travel-policy.docx",
        docx_footer="Halvorsen Robotics - Travel and Expense Policy - FIN-POL-004 rev. 3 - Internal",
        docx_author="Halvorsen Robotics, Finance",
        docx_subject="Travel and expense policy",
    ),
    "brackwater": Company(
        slug="brackwater",
        name="Brackwater Logistics",
        pdf_source="pay-and-leave.md",
        pdf_name="pay-and-leave.pdf",
        pdf_title="Pay, Overtime and Leave Policy HR-POL-007",
        pdf_author="Brackwater Logistics Ltd, People Team Kellingford",
        pdf_subject="Colleague pay, overtime and leave policy",
        docx_source="it-and-scanners.md",
        docx_name="it-and-scanners.docx",
        docx_footer="Brackwater Logistics Ltd - Kellingford RDC - IT-STD-003 issue 3 - Uncontrolled when printed",
        docx_author="Brackwater Logistics Ltd, IT Service Desk",
        docx_subject="IT, handheld terminals and Wi-Fi",
        page_format="A4",
        docx_revision=5,
    ),
    "northpine": Company(
        slug="northpine",
        name="Northpine Lodge & Conference Centre",
        pdf_source="employee-policy-manual.md",
        pdf_name="employee-policy-manual.pdf",
        pdf_title="Employee Policy Manual P&C-POL-100",
        pdf_author="Northpine Lodge & Conference Centre, People & Culture",
        pdf_subject="Employee policies: scheduling, breaks, uniforms, guest service, IT and conduct",
        docx_source="pay-and-benefits.md",
        docx_name="pay-and-benefits.docx",
        docx_footer="Northpine Lodge & Conference Centre - Pay & Benefits at a Glance 2026 - Payroll",
        docx_author="Northpine Lodge & Conference Centre, Payroll",
        docx_subject="Pay, leave and group benefits summary",
        docx_revision=2,
    ),
}


# --- a tiny Markdown reader ------------------------------------------------------------------


@dataclass
class Node:
    kind: str
    """title | h1 | h2 | para | bullet | number | table"""
    text: str = ""
    rows: list[list[str]] = field(default_factory=list)


def parse_markdown(source: str) -> list[Node]:
    nodes: list[Node] = []
    para: list[str] = []
    table: list[list[str]] = []

    def flush() -> None:
        if para:
            nodes.append(Node("para", " ".join(para)))
            para.clear()
        if table:
            nodes.append(Node("table", rows=[r[:] for r in table]))
            table.clear()

    for raw in source.splitlines():
        line = raw.strip()
        if line.startswith("|"):
            if para:
                nodes.append(Node("para", " ".join(para)))
                para.clear()
            cells = [c.strip() for c in line.strip("|").split("|")]
            if not all(re.fullmatch(r":?-{3,}:?", c) for c in cells):
                table.append(cells)
            continue
        if table:
            flush()
        if not line:
            flush()
        elif line.startswith("### "):
            flush()
            nodes.append(Node("h2", line[4:]))
        elif line.startswith("## "):
            flush()
            nodes.append(Node("h1", line[3:]))
        elif line.startswith("# "):
            flush()
            nodes.append(Node("title", line[2:]))
        elif line.startswith("- "):
            flush()
            nodes.append(Node("bullet", line[2:]))
        elif re.match(r"\d+\. ", line):
            flush()
            nodes.append(Node("number", line.split(" ", 1)[1]))
        else:
            para.append(line)
    flush()
    return nodes


def bold_runs(text: str) -> list[tuple[str, bool]]:
    """Splits "a **b** c" into [("a ", False), ("b", True), (" c", False)]."""
    parts = re.split(r"\*\*(.+?)\*\*", text)
    return [(p, i % 2 == 1) for i, p in enumerate(parts) if p]


def plain(text: str) -> str:
    return text.replace("**", "")


# --- PDF (fpdf2, core fonts: latin-1 only) ---------------------------------------------------

LATIN1_FIXES = {
    "\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
    "\u2026": "...", "\u2022": "-", "\u20ac": "EUR", "\u00a0": " ", "\u2192": "->",
}


def latin1(text: str) -> str:
    for bad, good in LATIN1_FIXES.items():
        text = text.replace(bad, good)
    return text.encode("latin-1", "replace").decode("latin-1")


def build_pdf(nodes: list[Node], out: Path, company: Company) -> None:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    class GuidePDF(FPDF):
        def header(self) -> None:
            if self.page_no() == 1:
                return
            self.set_font("Helvetica", "", 8)
            self.set_text_color(110, 110, 110)
            self.cell(0, 6, latin1(f"{company.name} - {company.pdf_title}"), align="R")
            self.ln(10)
            self.set_text_color(0, 0, 0)

        def footer(self) -> None:
            self.set_y(-14)
            self.set_font("Helvetica", "", 8)
            self.set_text_color(110, 110, 110)
            self.cell(0, 6, f"Page {self.page_no()} of {{nb}}", align="C")
            self.set_text_color(0, 0, 0)

    pdf = GuidePDF(format=company.page_format, unit="mm")
    pdf.set_margins(22, 20, 22)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_title(latin1(company.pdf_title))
    pdf.set_author(company.pdf_author)
    pdf.set_subject(company.pdf_subject)
    pdf.set_creator("tools/make_sample_kb.py")
    pdf.add_page()
    width = pdf.epw

    for node in nodes:
        if node.kind == "title":
            pdf.set_font("Helvetica", "B", 22)
            pdf.set_text_color(11, 60, 93)
            pdf.multi_cell(width, 11, latin1(node.text), align="L")
            pdf.set_text_color(0, 0, 0)
            pdf.ln(3)
        elif node.kind == "h1":
            if pdf.get_y() > pdf.h - 60:
                pdf.add_page()
            pdf.ln(3)
            pdf.set_font("Helvetica", "B", 15)
            pdf.set_text_color(11, 60, 93)
            pdf.multi_cell(width, 8, latin1(node.text), align="L")
            pdf.set_text_color(0, 0, 0)
            pdf.ln(1)
        elif node.kind == "h2":
            if pdf.get_y() > pdf.h - 45:
                pdf.add_page()
            pdf.ln(1)
            pdf.set_font("Helvetica", "B", 12)
            pdf.multi_cell(width, 7, latin1(node.text), align="L")
        elif node.kind == "para":
            pdf.set_font("Helvetica", "", 10.5)
            pdf.multi_cell(width, 5.4, latin1(node.text), align="L", markdown=True)
            pdf.ln(2)
        elif node.kind in ("bullet", "number"):
            pdf.set_font("Helvetica", "", 10.5)
            marker = "-" if node.kind == "bullet" else "*"
            pdf.set_x(pdf.l_margin + 4)
            pdf.cell(5, 5.4, marker)
            pdf.multi_cell(width - 9, 5.4, latin1(node.text), align="L", markdown=True)
            pdf.ln(1)
        elif node.kind == "table":
            pdf.ln(1)
            pdf.set_font("Helvetica", "", 9)
            ncols = len(node.rows[0])
            first = 1.6 if ncols > 2 else 1.0
            widths = [first] + [1.0] * (ncols - 1)
            heading = FontFace(emphasis="BOLD", fill_color=(232, 240, 246))
            with pdf.table(col_widths=widths, text_align="LEFT", line_height=4.8, headings_style=heading,
                           width=width) as table:
                for cells in node.rows:
                    row = table.row()
                    for cell in cells:
                        row.cell(latin1(plain(cell)))
            pdf.ln(3)
    pdf.output(str(out))


# --- DOCX (python-docx) ----------------------------------------------------------------------


def add_runs(paragraph, text: str) -> None:  # noqa: ANN001 - docx paragraph
    for part, bold in bold_runs(text):
        run = paragraph.add_run(part)
        run.bold = bold or None


def build_docx(nodes: list[Node], out: Path, company: Company) -> None:
    from docx import Document
    from docx.shared import Pt

    doc = Document()
    props = doc.core_properties
    props.author = company.docx_author
    props.last_modified_by = company.docx_author
    props.title = next((n.text for n in nodes if n.kind == "title"), "")
    props.subject = company.docx_subject
    props.created = FIXED_DATE.replace(tzinfo=None)
    props.modified = FIXED_DATE.replace(tzinfo=None)
    props.last_printed = FIXED_DATE.replace(tzinfo=None)
    props.revision = company.docx_revision
    doc.styles["Normal"].font.name = "Calibri"
    doc.styles["Normal"].font.size = Pt(11)
    doc.sections[0].footer.paragraphs[0].text = company.docx_footer

    levels = {"title": 0, "h1": 1, "h2": 2}
    for node in nodes:
        if node.kind in levels:
            doc.add_heading(node.text, level=levels[node.kind])
        elif node.kind == "para":
            add_runs(doc.add_paragraph(), node.text)
        elif node.kind == "bullet":
            add_runs(doc.add_paragraph(style="List Bullet"), node.text)
        elif node.kind == "number":
            add_runs(doc.add_paragraph(style="List Number"), node.text)
        elif node.kind == "table":
            header, *body = node.rows
            table = doc.add_table(rows=1, cols=len(header))
            table.style = "Light Grid Accent 1"
            for cell, text in zip(table.rows[0].cells, header, strict=True):
                cell.text = ""
                cell.paragraphs[0].add_run(plain(text)).bold = True
            for cells in body:
                row = table.add_row().cells
                for cell, text in zip(row, cells, strict=True):
                    cell.text = plain(text)
            doc.add_paragraph()

    buf = io.BytesIO()
    doc.save(buf)
    out.write_bytes(normalize_zip(buf.getvalue()))


def normalize_zip(data: bytes) -> bytes:
    """Rewrites a ZIP with fixed timestamps and order, so the same content gives the same bytes."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


# --- main ------------------------------------------------------------------------------------


def build(company: Company, src: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    pdf_nodes = parse_markdown((src / company.pdf_source).read_text(encoding="utf-8"))
    build_pdf(pdf_nodes, out / company.pdf_name, company)
    docx_nodes = parse_markdown((src / company.docx_source).read_text(encoding="utf-8"))
    build_docx(docx_nodes, out / company.docx_name, company)
    for name in (company.pdf_name, company.docx_name):
        path = out / name
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} ({path.stat().st_size} bytes)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--company", choices=[*COMPANIES, "all"], default="all",
                        help="which sample knowledge base to build (default: all)")
    parser.add_argument("--src", type=Path, help="folder with the Markdown sources (default: samples/<company>-src)")
    parser.add_argument("--out", type=Path, help="knowledge base folder to write into (default: samples/<company>)")
    args = parser.parse_args(argv)
    companies = list(COMPANIES.values()) if args.company == "all" else [COMPANIES[args.company]]
    if (args.src or args.out) and len(companies) > 1:
        parser.error("--src and --out need a single --company")
    for company in companies:
        build(company, args.src or SAMPLES / f"{company.slug}-src", args.out or SAMPLES / company.slug)
    return 0


if __name__ == "__main__":
    sys.exit(main())
