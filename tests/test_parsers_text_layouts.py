"""Plain-text and Markdown layouts people write by hand: FAQs with bold questions, lead-in lines ending in ":",
tables lined up with spaces without a rule, and records indented under a name."""

from __future__ import annotations

from pathlib import Path

from kiosk.knowledge.documents import ParsedDocument
from kiosk.knowledge.parsers import parse_file

ARDLOW = Path(__file__).resolve().parents[1] / "samples" / "ardlow"


def parse(tmp_path: Path, name: str, text: str) -> ParsedDocument:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return parse_file(tmp_path / name)


def rows(doc: ParsedDocument) -> list[tuple[str, tuple[str, ...], str, str]]:
    return [(b.kind, b.section, b.question, b.text) for b in doc.blocks]


# -- FAQ: a bold line that asks a question -------------------------------------------------------------------


BOLD_FAQ = """\
# Visiting us

## Getting here

**Can I park on site?**
Yes, behind the building.
The entrance is on Mill Lane.

**Is there a bus?**
The 42 stops at the gate.

Buses run every 20 minutes.

Q: Can I bring my dog?
A: Dogs are welcome in the lobby.

**Do you have a lift?**
Yes, next to reception.

**Note:**
Opening hours change in August.

**We are closed on Sundays.**
Except in December.

Some text then
**Is this a question?**
No, it is inside a paragraph.

## Deliveries

**Where do couriers go?**
- To gate 3
- Before 4 pm
"""


def test_a_bold_line_asking_a_question_is_a_faq_pair(tmp_path: Path) -> None:
    doc = parse(tmp_path, "visiting.md", BOLD_FAQ)
    here = ("Getting here",)
    assert [r for r in rows(doc) if r[0] == "faq"] == [
        ("faq", here, "Can I park on site?", "Yes, behind the building. The entrance is on Mill Lane."),
        ("faq", here, "Is there a bus?", "The 42 stops at the gate.\nBuses run every 20 minutes."),
        # A Q:/A: answer ends at the next bold question: the two styles mix.
        ("faq", here, "Can I bring my dog?", "Dogs are welcome in the lobby."),
        # The answer runs to the next question or heading: the bold lines that ask nothing are part of it.
        ("faq", here, "Do you have a lift?", "Yes, next to reception.\nNote: Opening hours change in August.\n"
                                             "We are closed on Sundays. Except in December.\n"
                                             "Some text then Is this a question? No, it is inside a paragraph."),
        ("faq", ("Deliveries",), "Where do couriers go?", "To gate 3\nBefore 4 pm"),
    ]


def test_a_bold_question_with_its_answer_after_a_blank_line(tmp_path: Path) -> None:
    """Many Markdown FAQs leave a blank line under the bold question."""
    doc = parse(tmp_path, "faq.md", "# FAQ\n\n**Can I bring my dog?**\n\nDogs are welcome in the lobby.\n\n"
                                    "**Where do I park?**\n\nIn Lot E, behind the depot.\n")
    assert [(b.kind, b.question, b.text) for b in doc.blocks] == [
        ("faq", "Can I bring my dog?", "Dogs are welcome in the lobby."),
        ("faq", "Where do I park?", "In Lot E, behind the depot."),
    ]


def test_a_bold_line_that_asks_nothing_stays_text(tmp_path: Path) -> None:
    doc = parse(tmp_path, "notes.md", "# Notes\n\n**Note:**\nClosed in August.\n\n**We are closed on Sundays.**\n"
                                      "Except in December.\n\nSome text then\n**Is this a question?**\nNo.\n\n"
                                      "**A question with no answer?**\n\n## Next\n\nText.\n")
    assert [(b.kind, b.text) for b in doc.blocks] == [
        ("text", "Note: Closed in August."),
        ("text", "We are closed on Sundays. Except in December."),
        ("text", "Some text then Is this a question? No."),
        ("text", "A question with no answer?"),
        ("text", "Text."),
    ]


def test_the_sample_faq_reads_every_question_as_asked() -> None:
    doc = parse_file(ARDLOW / "faq.md")
    faqs = {b.question: b for b in doc.blocks if b.kind == "faq"}
    assert len(faqs) == 22  # 15 bold questions and 7 Q:/A: pairs
    teats = faqs["Can the robot milk cows with uneven or crossed teats?"]
    assert teats.text.startswith("Yes, in most cases.") and "three working quarters" not in teats.text
    assert teats.section == ("The robots and your cows",)
    assert faqs["What about a cow that's only got three working quarters?"].text.startswith("No problem.")
    # The last Q:/A: answer no longer runs on into the bold questions after it.
    visit = faqs["Can I go and see a robot working on a real farm before I buy?"]
    assert "3 in the morning" not in visit.text and "Service Desk" not in visit.text
    assert faqs["Who do I ring if the robot breaks down at 3 in the morning?"].text.startswith(
        "The Ardlow Service Desk on 0330 555 0199")


# -- a lead-in line ending in ":" ----------------------------------------------------------------------------


def test_a_lead_in_line_ending_in_a_colon_is_not_a_heading(tmp_path: Path) -> None:
    doc = parse(tmp_path, "terms.txt",
                "TERMS\n\n2. WARRANTY\n===========\n\n2.1 Robots\n----------\n\n"
                "Robots are warranted for 24 months.\n\nIn addition:\n\n"
                "  (i)   the arm is warranted for 60 months for\n        parts;\n"
                "  (ii)  the frame for 10 years.\n\n"
                "Parking:\n\nBehind the building.\n")
    assert rows(doc) == [
        ("text", ("2. WARRANTY", "2.1 Robots"), "", "Robots are warranted for 24 months."),
        ("text", ("2. WARRANTY", "2.1 Robots"), "", "In addition:"),
        ("text", ("2. WARRANTY", "2.1 Robots"), "",
         "(i) the arm is warranted for 60 months for parts;\n(ii) the frame for 10 years."),
        # A colon line over text that is not indented under it is still a heading.
        ("text", ("2. WARRANTY", "Parking"), "", "Behind the building."),
    ]


def test_the_sample_warranty_keeps_its_clauses_in_their_sections() -> None:
    doc = parse_file(ARDLOW / "warranty-and-service.txt")
    sections = {b.section for b in doc.blocks}
    assert not any(name in ("In addition", "In these terms") for section in sections for name in section)
    milking = ("2. STANDARD WARRANTY", "2.1 Milking robots (AMR-1, AMR-2, AMR-2 Twin)")
    assert [b.section for b in doc.blocks if "stainless steel box frame" in b.text] == [milking]
    assert [b.section for b in doc.blocks if "In addition:" in b.text] == [milking]
    assert [b.section for b in doc.blocks if '"Wear parts" means' in b.text] == [("1. DEFINITIONS",)]


# -- tables lined up with spaces ------------------------------------------------------------------------------


def test_a_table_without_a_rule_is_read_row_by_row(tmp_path: Path) -> None:
    doc = parse(tmp_path, "contacts.txt",
                "CONTACTS\n\n5. CONTACT HOURS\n\n"
                "  Service Desk (breakdowns)   0330 555 0199   24 hours a day, 365 days a year\n"
                "  Parts Desk                  0330 555 0177   Mon-Fri 07:30-18:00, Sat 08:00-12:00\n"
                "  Service email               service@ardlow.example (answered within one working day)\n\n"
                "6. PRIORITIES\n\n"
                "  Priority 1  The robot cannot milk, or milk cannot be cooled or\n"
                "              separated safely.\n"
                "  Priority 2  Anything else.\n\n"
                "7. DESKS\n\n"
                "  DESK         PHONE\n"
                "  Parts        0330 555 0177\n"
                "  Service      0330 555 0199\n\n"
                "8. PROSE\n\n"
                "Two spaces after a full stop.  They do not make a table\n"
                "of a paragraph.\n")
    assert [(b.section, b.text) for b in doc.blocks] == [
        (("5. CONTACT HOURS",), "Service Desk (breakdowns): 0330 555 0199, 24 hours a day, 365 days a year\n"
                                "Parts Desk: 0330 555 0177, Mon-Fri 07:30-18:00, Sat 08:00-12:00\n"
                                "Service email: service@ardlow.example (answered within one working day)"),
        (("6. PRIORITIES",), "Priority 1: The robot cannot milk, or milk cannot be cooled or separated safely.\n"
                             "Priority 2: Anything else."),
        (("7. DESKS",), "Desk: Parts; Phone: 0330 555 0177\nDesk: Service; Phone: 0330 555 0199"),
        (("8. PROSE",), "Two spaces after a full stop. They do not make a table of a paragraph."),
    ]


def test_a_first_cell_wrapped_in_capitals_continues_its_row(tmp_path: Path) -> None:
    doc = parse(tmp_path, "plans.txt",
                "PLANS\n\n"
                "  Plan          Visits      Price\n"
                "  ------------  ----------  ---------\n"
                "  Total Care    4 per year  £8,200\n"
                "  FeedRunner    1 per year  £690\n"
                "  Care\n"
                "  Spares        none        £0\n")
    assert [b.text for b in doc.blocks if b.kind == "table"] == [
        "Plan: Total Care; Visits: 4 per year; Price: £8,200\n"
        "Plan: FeedRunner Care; Visits: 1 per year; Price: £690\n"
        "Plan: Spares; Visits: none; Price: £0"
    ]


def test_the_sample_warranty_tables_read_row_by_row() -> None:
    doc = parse_file(ARDLOW / "warranty-and-service.txt")
    text = "\n".join(b.text for b in doc.blocks)
    lines = text.splitlines()
    assert "Service Desk (breakdowns): 0330 555 0199, 24 hours a day, 365 days a year" in lines
    assert "Parts email: parts@ardlow.example" in lines
    assert "Priority 2: The robot milks but at reduced capacity, or an alarm keeps recurring." in lines
    plans = [b.text for b in doc.blocks if b.kind == "table"][0].splitlines()
    assert len(plans) == 4 and plans[-1].startswith("Plan: FeedRunner Care; Planned visits: 1 per year")


# -- records indented under a name ------------------------------------------------------------------------


def test_indented_records_keep_their_lines(tmp_path: Path) -> None:
    doc = parse(tmp_path, "dealers.txt",
                "DEALERS\n\nSOUTH WEST\n"
                "  Culm Dairy Systems, Tiverford\n"
                "    Sales 01632 555 410   Service 01632 555 411\n"
                "    Area: Devon, Somerset\n"
                "    Note: engineers are on the stand at the\n"
                "    show all three days.\n"
                "  Kernow Parlour Services, Trevenna Cross\n"
                "    Sales/Service 01632 555 425\n"
                "    Area: Cornwall\n\n"
                "An ordinary paragraph wraps\nat the same indentation.\n\n"
                "    A first line indented\nand the rest not.\n\n"
                "  - A list item that hangs\n    under its words.\n")
    assert [(b.section, b.text) for b in doc.blocks] == [
        (("SOUTH WEST",), "Culm Dairy Systems, Tiverford\nSales 01632 555 410 Service 01632 555 411\n"
                          "Area: Devon, Somerset\nNote: engineers are on the stand at the show all three days.\n"
                          "Kernow Parlour Services, Trevenna Cross\nSales/Service 01632 555 425\nArea: Cornwall"),
        (("SOUTH WEST",), "An ordinary paragraph wraps at the same indentation."),
        (("SOUTH WEST",), "A first line indented and the rest not."),
        (("SOUTH WEST",), "A list item that hangs under its words."),
    ]


def test_the_sample_dealers_are_not_run_together() -> None:
    doc = parse_file(ARDLOW / "dealer-network.txt")
    lines = [line for b in doc.blocks for line in b.text.splitlines()]
    culm = lines.index("Culm Dairy Systems, Tiverford Business Park, Tiverford")
    assert lines[culm : culm + 6] == [
        "Culm Dairy Systems, Tiverford Business Park, Tiverford",
        "Sales 01632 555 410 Service 01632 555 411",
        "Area: Devon, Somerset",
        "Kernow Parlour Services, Trevenna Cross",
        "Sales/Service 01632 555 425",
        "Area: Cornwall",
    ]
    assert "Note: Wend Valley engineers are on the Ardlow stand at the Wendmere County Show all three days." in lines
    assert ("Ardlow is looking for approved dealers in East Anglia and the South East. "
            "Contact Dealer Support: dealers@ardlow.example, 0330 555 0155.") in lines
