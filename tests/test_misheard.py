"""A document word the recognizer misheard by a sound or two ("fourklifts" for "forklifts"), through the real
ingest, SQLite index, retriever and quoting (issue 11: "a document word misheard"). The questions are the
transcripts Whisper base wrote in the conversation benchmark (docs/bench/2026-12-06-conversation-*.json)."""

from __future__ import annotations

import pytest
from conftest import indexed

from kiosk.config import KnowledgeSettings, PersonaSettings
from kiosk.knowledge.grounding import Grounder
from kiosk.knowledge.index import ingest
from kiosk.knowledge.misheard import Vocabulary, edit_distance, sound_spelling
from kiosk.knowledge.retrieve import Retriever

DOCS = {
    "plant.md": "# Plant traffic\n\n## Speed limits\n\nForklifts drive at most 8 km/h in the yellow lanes and "
                "3 km/h at crosswalks.\n\n## Near misses\n\nA near miss is an accident that almost happened. "
                "Report a near miss in the Harbor app within 24 hours.\n\n"
                "## Hearing protection\n\nWear earplugs in Hall 2 when the presses run.\n",
    "benefits.md": "# Benefits\n\n## Enrollment\n\nOpen enrollment runs from 1 to 15 November every year.\n\n"
                   "## Housing\n\nThe company house in Tacoma is free for interns.\n",
}


def test_sounds_alike_are_written_alike() -> None:
    assert sound_spelling("Fourklifts") == sound_spelling("fourcklifts") == "fourklifts"
    assert sound_spelling("phishing") == sound_spelling("fishing")
    assert edit_distance("forklifts", "fourklifts", 2) == 1 and edit_distance("form", "from", 2) == 1  # a swap
    assert edit_distance("forklift", "canteen", 2) == 3  # over the limit: stops early, says limit + 1


def test_which_document_words_a_word_may_be_a_mishearing_of() -> None:
    words = Vocabulary(DOCS.values())
    assert words.near("fourklifts") == ["forklifts"] and words.near("Fordklift") == ["forklifts"]
    assert words.near("forecliffs") == ["forklifts"]  # two edits in a long word
    assert words.near("enrolment") == ["enrollment"]  # not "enrollment runs": no pair with a stop word
    assert words.near("earmiss") == ["near miss"]  # two of their words heard as one (a pair they say twice)
    assert words.near("protecton") == ["protection"] and words.near("hallpresses") == []  # a pair said once
    assert words.near("horse") == []  # five letters: "house" is too easily another real word
    assert words.near("Hall2") == [] and words.near("forklifts") == []  # digits; the word itself


def grounder(retriever: Retriever) -> Grounder:
    settings = KnowledgeSettings(min_coverage=0.5, scattered_coverage=0.65)
    return Grounder(retriever.search, settings, PersonaSettings(), lambda text: len(text.split()),
                    weigh=retriever.term_weights, quote=True)


@pytest.mark.parametrize("question", [
    ", how fast can fourklifts drive in the plant?",
    "Oh and how fast can Fordklift drive in the plant?",
    "how fast can forecliffs drive in the plant?",
    "how fast can four cliffs drive in the plant?",  # one of theirs heard as two words
    "Oh and how fast can Ford lifts drive in the plant?",
    ("how do I report an earmiss?", "Harbor app"),  # two of theirs heard as one
])
def test_a_misheard_document_word_is_answered(tmp_path_factory: pytest.TempPathFactory,
                                              question: str | tuple[str, str]) -> None:
    question, fact = question if isinstance(question, tuple) else (question, "8 km/h")
    kb = indexed(tmp_path_factory.mktemp("docs"), DOCS)
    with Retriever(kb, misheard_words=True) as heard, Retriever(kb) as literal:
        said = grounder(heard).ground(question)
        assert said.decision == "quote" and fact in said.reply, said
        assert grounder(literal).ground(question).decision != "quote"  # without it: "I don't know"


def test_a_word_of_the_documents_and_a_short_word_stay_as_they_are(tmp_path: pytest.TempPathFactory) -> None:
    kb = indexed(tmp_path / "docs", DOCS)
    with Retriever(kb, misheard_words=True) as retriever:
        terms = {t.text: t.alternatives for t, _ in retriever.term_weights("can forklifts or a horse use the lanes")}
        assert terms["forklifts"] == ("forklifts",) and terms["horse"] == ("horse",)
        terms = {t.text: t.alternatives for t, _ in retriever.term_weights("do forklifts drive in lanes")}
        assert set(terms) == {"forklifts", "drive", "lanes"}  # words the documents have are never joined
        assert grounder(retriever).ground("can I bring my horse to work").decision != "quote"


def test_words_of_a_document_added_while_running_are_known(tmp_path: pytest.TempPathFactory) -> None:
    kb = indexed(tmp_path / "docs", DOCS)
    with Retriever(kb, misheard_words=True) as retriever:
        terms = {t.text: t.alternatives for t, _ in retriever.term_weights("where is the extinquisher")}
        assert terms["extinquisher"] == ("extinquisher",)
        (tmp_path / "docs" / "aid.md").write_text("# First aid\n\nThe extinguisher hangs next to reception.\n")
        ingest(kb, [tmp_path / "docs"])
        terms = {t.text: t.alternatives for t, _ in retriever.term_weights("where is the extinquisher")}
        assert terms["extinquisher"] == ("extinquisher", "extinguisher")
