"""A British company's documents asked in the recognizer's American spelling, and the other way round,
through the real ingest, SQLite index, retriever and quoting (issue 15)."""

from __future__ import annotations

import pytest
from conftest import indexed

from kiosk.config import KnowledgeSettings, PersonaSettings
from kiosk.knowledge.grounding import Grounder
from kiosk.knowledge.retrieve import Retriever
from kiosk.knowledge.spelling import variants

DOCS = {
    "depot.md": "# Depot rules\n\n## Lanes\n\nThe yellow colour marks the lanes where lift trucks drive; walk only "
                "on the green ones.\n\n## Visitors\n\nVisitors sign in at the visitor centre next to gate 2.\n\n"
                "## Shifts\n\nA cancelled shift is paid in full when it is cancelled less than a day ahead.\n",
    "us.md": "# Travel\n\nTraveling employees book their flights through the travel program.\n",
}


def test_the_other_spellings_of_a_word() -> None:
    assert variants("color") == ["colour"] and variants("colour") == ["color"]
    assert "centre" in variants("center") and "center" in variants("centre")
    assert "cancelled" in variants("canceled") and "organisation" in variants("organization")
    assert "licence" in variants("license") and "programme" in variants("program")
    assert variants("four") == []  # "for" is a stop word, never a stand-in


@pytest.fixture(scope="module")
def retriever(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    with Retriever(indexed(tmp_path_factory.mktemp("docs"), DOCS), synonyms=KnowledgeSettings().synonyms) as r:
        yield r


@pytest.mark.parametrize(("question", "fact"), [
    ("what color marks the lanes for lift trucks", "yellow"),
    ("where is the visitor center", "gate 2"),
    ("is a canceled shift paid", "paid in full"),
    ("is there a travel programme for travelling staff", "flights"),
])
def test_a_question_in_the_other_spelling_is_answered(retriever: Retriever, question: str, fact: str) -> None:
    settings = KnowledgeSettings(min_coverage=0.5, scattered_coverage=0.65)
    grounder = Grounder(retriever.search, settings, PersonaSettings(), lambda text: len(text.split()),
                        weigh=retriever.term_weights, quote=True)
    said = grounder.ground(question)
    assert said.decision == "quote" and fact in said.reply, said


def test_a_word_the_documents_use_is_not_widened(retriever: Retriever) -> None:
    (term,) = [t for t, _ in retriever.term_weights("which lanes are yellow") if t.text == "lanes"]
    assert term.alternatives == ("lanes",)
    (term,) = [t for t, _ in retriever.term_weights("the visitor center") if t.text == "center"]
    assert term.alternatives == ("center", "centre")
