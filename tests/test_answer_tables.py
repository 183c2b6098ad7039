"""Answers from tables: a spec sheet's row said by the cells asked about, a row that does not run on into the next,
the items of a list read under the lead-in that says what they are. Through the real ingest, index and retriever."""

from __future__ import annotations

import pytest

from kiosk.config import KnowledgeSettings, PersonaSettings
from kiosk.knowledge.extract import asked_cells, row_cells
from kiosk.knowledge.grounding import Grounder
from kiosk.knowledge.index import ingest
from kiosk.knowledge.retrieve import Retriever
from kiosk.knowledge.thesaurus import THESAURUS

SPECS = """Model,Type,Boxes,Cows per box (max),Power supply,Water use (litres/day),Weight (kg),Price GBP ex VAT,Notes
AMR-1,Milking robot,1,65,"400 V three-phase, 16 A",1150,1480,118750,"DipJet optional; same arm and camera as AMR-2"
AMR-2,Milking robot,1,72,"400 V three-phase, 16 A",1350,1620,148500,DipJet and MilkEye standard
AMR-2 Twin,Milking robot,2,70,"400 V three-phase, 32 A",2600,3150,268900,"Two boxes, shared service room"
FeedRunner 40,Feed pusher,1,,24 V battery,,,19450,Up to 40 runs per day
"""
DOCS = {
    "model-comparison.csv": SPECS,
    "delivery.md": "# Delivery lead times\n\n| Product | Lead time |\n|---|---|\n| CalfBar 12 | 4 weeks |\n"
                   "| FeedRunner 200 Mix | 12 weeks |\n| HerdSense collars | 2 weeks |\n",
    "price-list.md": "# Prices\n\n| Model | Description | List price | Show price | Cows (max) |\n"
                     "|---|---|---|---|---|\n| AMR-1 | Single-box milking robot | £118,750 | £111,625 | 65 |\n"
                     "| AMR-2 | Single-box milking robot with DipJet | £148,500 | £139,590 | 72 |\n\n"
                     "## Finance examples\n\n| Example | Hire purchase, monthly payments AMR-2 | Hire purchase, "
                     "monthly payments FeedRunner 40 |\n|---|---|---|\n"
                     "| Deposit | £29,878 | £1,795 |\n| Monthly payment | £2,296.43 | £673.13 |\n",
    "faq.md": "# FAQ\n\n**Are the HerdSense collars waterproof?**\nYes, the collar is sealed to IP67.\n",
    "kitchen.txt": "KITCHEN LABELS\n\nDAY DOTS: a coloured day dot goes on everything that has been prepped, in the "
                   "colour of the day it was prepped:\n\n  Monday     blue\n  Tuesday    yellow\n  Wednesday  red\n"
                   "  Thursday   green\n  Friday     orange\n\nThe head chef checks the dots every morning.\n",
}


@pytest.fixture(scope="module")
def grounder(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    folder = tmp_path_factory.mktemp("stand")
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    path = folder.parent / "kb.sqlite"
    assert not ingest(path, [folder]).skipped
    with Retriever(path, synonyms=KnowledgeSettings().synonyms + THESAURUS) as r:
        yield Grounder(r.search, KnowledgeSettings(min_coverage=0.4, scattered_coverage=0.65), PersonaSettings(),
                       lambda text: len(text.split()), weigh=r.term_weights, quote=True)


def test_a_spec_sheet_row_is_said_by_the_cells_asked_about(grounder: Grounder) -> None:
    """Seen on a trade-show stand's spec sheet: "how much water does the AMR-2 use a day?" was answered with the
    AMR-1's whole row of fifteen cells, cut off at sixty words, and the AMR-2's row after it."""
    g = grounder.ground("how much water does the AMR-2 use a day?")
    assert g.decision == "quote" and g.reply == "Model: AMR-2; Water use (litres/day): 1350", g
    g = grounder.ground("how heavy is the AMR-2 Twin?")  # "heavy" for "Weight (kg)" (thesaurus)
    assert g.decision == "quote" and g.reply == "Model: AMR-2 Twin; Weight (kg): 3150", g


def test_a_row_does_not_run_on_into_the_next_row() -> None:
    """A short row ("Product: CalfBar 12; Lead time: 4 weeks") took the rows after it as if it only introduced
    them. (Weights as a real index gives them: the product's name is rare, "lead time" is in every row.)"""
    from kiosk.knowledge.extract import quote
    from kiosk.knowledge.query import Term
    from kiosk.knowledge.retrieve import Hit

    table = ("Product: CalfBar 12; Lead time: 4 weeks\nProduct: FeedRunner 200 Mix; Lead time: 12 weeks\n"
             "Product: HerdSense collars; Lead time: 2 weeks")
    hit = Hit(1, "price-list.docx", "Price list", "Delivery lead times", "table", "", table, 1.0, 1, 1.0, 1.0)
    weighted = [(Term("lead", ("lead",)), 0.4), (Term("time", ("time",)), 0.3), (Term("calfbar", ("calfbar",)), 3.0)]
    found = quote([hit], weighted, "what's the lead time for a CalfBar?", runner_up=0.5)
    assert found is not None and found.text == "Product: CalfBar 12; Lead time: 4 weeks"


def test_list_items_are_read_under_the_lead_in_that_says_what_they_are(grounder: Grounder) -> None:
    """"Friday: orange" was taken for a heading (short, no full stop) and never said; the dots' lead-in was said
    with the wrong line."""
    g = grounder.ground("what colour is the day dot on a Friday?")
    assert g.decision == "quote" and "Friday: orange" in g.reply and "Monday" not in g.reply, g


def test_the_cells_of_a_row() -> None:
    row = row_cells("Model: AMR-1; Type: Milking robot; Notes: DipJet optional; same arm and camera as AMR-2")
    assert row == ["Model: AMR-1", "Type: Milking robot", "Notes: DipJet optional; same arm and camera as AMR-2"]
    assert row_cells("Pick up your laptop; then log in.") == []
    from kiosk.knowledge.query import Term

    weighted = [(Term("tier", ("tier",)), 1.0), (Term("chicago", ("chicago",)), 3.0), (Term("hotel", ("hotel",)), 2.0)]
    wide = ["City tier: Tier 2", "Example cities: Chicago, Denver", "Hotel cap per night: $225",
            "Meals per diem per day: $74", "Car rental: compact"]
    assert asked_cells(wide, weighted) == ("City tier: Tier 2; Example cities: Chicago, Denver; "
                                           "Hotel cap per night: $225")
    assert asked_cells(wide, [(Term("dog", ("dog",)), 1.0)]) == "; ".join(wide)  # nothing asked about: whole row


def test_a_price_asked_in_other_words_and_a_model_code(grounder: Grounder) -> None:
    """"how much does an AMR-2 cost?" found a bolus's "cost of administering" (the price list says "price", and
    "2" matched every 2) instead of the robot's price."""
    g = grounder.ground("how much does an AMR-2 cost?")
    assert g.decision == "quote" and g.reply == "Model: AMR-2; List price: £148,500", g


def test_a_row_is_about_what_its_first_cell_names() -> None:
    """Every row of the finance examples says "monthly payments AMR-2" in its column labels (a header of two rows
    under a merged cell); the monthly payment is the row that names it first."""
    from kiosk.knowledge.extract import quote
    from kiosk.knowledge.query import Term
    from kiosk.knowledge.retrieve import Hit

    label = "Hire purchase, monthly payments"
    table = "\n".join(f"Example: {what}; {label} AMR-2: {a}; {label} FeedRunner 40: {b}" for what, a, b in (
        ("Cash price incl. installation", "£149,390", "£17,950"), ("Deposit", "£29,878", "£1,795"),
        ("Monthly payment", "£2,296.43", "£673.13")))
    hit = Hit(1, "price-list.docx", "Price list", "Finance examples", "table", "", table, 1.0, 1, 1.0, 1.0)
    weighted = [(Term("monthly", ("monthly",)), 1.0), (Term("payment", ("payment",)), 1.0),
                (Term("amr 2", ("amr 2",)), 2.0)]
    found = quote([hit], weighted, "what's the monthly payment on an AMR-2?")
    assert found is not None and found.text.startswith("Example: Monthly payment;"), found


def test_a_faq_that_does_not_say_the_price_asked_is_not_the_answer(grounder: Grounder) -> None:
    g = grounder.ground("how much is a HerdSense collar?")
    assert not (g.decision == "faq" and "IP67" in g.reply), g


def test_a_price_asked_for_a_thing_is_said_from_its_price_cell() -> None:
    """"how much is the water softener?" asks for its price: the spec row's price cell ("Price GBP ex VAT: 3400",
    no currency sign) is said with it, though no word of the question is in it."""
    from kiosk.knowledge.answer_type import Wants, holds, wants
    from kiosk.knowledge.query import Term

    assert wants("how much is the water softener?") is Wants.MONEY and wants("how much is a hot lunch") is Wants.MONEY
    assert holds(Wants.MONEY, "Price GBP ex VAT: 3400") and not holds(Wants.MONEY, "Water use (litres/day): 1350")
    row = ["Model: AquaSoft 400", "Type: Water softener", "Boxes or units: 1", "Price GBP ex VAT: 3400",
           "Warranty (months): 24", "Notes: Needed above 15 °dH water hardness"]
    weighted = [(Term("water", ("water",)), 1.0), (Term("softener", ("softener",)), 2.0)]
    assert asked_cells(row, weighted, kind=Wants.MONEY) == \
        "Model: AquaSoft 400; Type: Water softener; Price GBP ex VAT: 3400"
    assert asked_cells(row, weighted) == "Model: AquaSoft 400; Type: Water softener"
