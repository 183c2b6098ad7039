"""Which sentence answers, and when to say "I don't know": each kind of mistake issue 15 names, on small
documents written here (neither evaluation set), through the real ingest, SQLite index and retriever.

- the quoted sentence shares the topic but not what was asked ("where do I get my boots?");
- a heading read as part of the answer ("Learning budget. Every employee ...");
- a synonym group summed by BM25 buries the passage that holds every word asked (parental leave);
- a visitor's everyday word the documents do not use ("clothes", "washed") declines a plain question;
- a follow-up ("and is it free?") searched without its topic, and a new topic stuck to the old one;
- an unanswerable question answered with a nearby sentence that shares its words (meaning check).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from kiosk.answer.conversation import Conversation
from kiosk.answer.pipeline import Responder
from kiosk.config import AnswerSettings, KnowledgeSettings, PersonaSettings
from kiosk.knowledge.answer_type import Wants, holds, wants
from kiosk.knowledge.grounding import Grounder
from kiosk.knowledge.index import ingest
from kiosk.knowledge.retrieve import Retriever
from kiosk.knowledge.thesaurus import THESAURUS

DOCS = {
    "footwear.md": "# Protective footwear\n\nSafety boots with steel toes are mandatory for everyone working in the "
                   "warehouse aisles and on the loading docks, including visitors who go past the yellow line. New "
                   "starters collect their safety boots from the stores counter in room W-12.\n",
    "learning.txt": "Learning budget.\nEvery employee has 1,200 euros a year for courses and books. Ask your team "
                    "leader before you book a course.\n",
    "leave.md": "# Time off\n\n## Vacation\n\nVacation days: every employee gets 25 vacation days a year. Holiday "
                "requests for vacation or other time off go to your team leader; time off in December is "
                "limited. Holidays not taken carry over until March.\n\n## Parental leave\n\nParents can take 18 "
                "weeks of parental leave.\n",
    "parking.md": "# Getting here\n\n## Car park\n\nStaff park in the east car park, Lot E, behind the depot. "
                  "Parking there is free of charge for employees.\n\n## Bus\n\nThe number 7 bus stops at the "
                  "main gate every 20 minutes.\n",
    "laundry.md": "# Work wear\n\nA laundry service cleans work wear every Monday: leave it in the grey bins in the "
                  "changing rooms by Sunday night.\n",
    "coffee.md": "# Break room\n\nCoffee and tea are free.\n",
    "security.md": "# Information security\n\nNever paste company information into public chat services or "
                   "translation websites.\n",
}


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("docs")
    for name, text in DOCS.items():
        (folder / name).write_text(text)
    path = folder.parent / "kb.sqlite"
    report = ingest(path, [folder])
    assert not report.skipped and len(report.added) == len(DOCS)
    return path


@pytest.fixture(scope="module")
def retriever(kb: Path):  # noqa: ANN201
    with Retriever(kb, synonyms=KnowledgeSettings().synonyms + THESAURUS) as r:  # as knowledge.thesaurus = true
        yield r


def grounder(retriever: Retriever, similar=None, **knowledge: float) -> Grounder:  # noqa: ANN001
    """`knowledge`: settings other than the example personas' thresholds (e.g. quote_runner_up)."""
    extra = {"similar": similar} if similar is not None else {}
    settings = KnowledgeSettings(min_coverage=0.4, scattered_coverage=0.65, **knowledge)  # type: ignore[arg-type]
    return Grounder(retriever.search, settings, PersonaSettings(),
                    lambda text: len(text.split()), weigh=retriever.term_weights, quote=True, **extra)


def test_what_a_question_asks_for() -> None:
    assert wants("Where do I get my safety boots?") is Wants.PLACE
    assert wants("um, so when does the late shift start") is Wants.TIME
    assert wants("How long is the trial period?") is Wants.DURATION
    assert wants("how often do we get a new laptop") is Wants.FREQUENCY
    assert wants("how much does a hot lunch cost") is Wants.MONEY
    assert wants("what's the phone number for the nurse") is Wants.PHONE
    assert wants("who do I tell if I'm sick") is Wants.CONTACT
    assert wants("I lost my badge, what should I do?") is Wants.PROCEDURE
    assert wants("can I bring a visitor") is Wants.YES_NO
    assert wants("tell me about the canteen") is Wants.ANY
    # a date or a deadline, though the question also names money ("covered", "costs"): seen on the tuning set
    assert wants("from what date am I covered by the medical plan") is Wants.TIME
    assert wants("what's the deadline to claim back my travel costs") is Wants.TIME
    assert holds(Wants.PLACE, "Collect them from the stores counter in room W-12.")
    assert not holds(Wants.PLACE, "Steel-toe boots are mandatory for everyone.")
    assert holds(Wants.DURATION, "It lasts 60 days.") and not holds(Wants.DURATION, "It has 60 rooms.")
    assert holds(Wants.MONEY, "A plate costs $6.50.") and not holds(Wants.MONEY, "It carries 300 kilograms.")
    assert holds(Wants.PHONE, "Call extension 4357.") and not holds(Wants.PHONE, "Call the help desk.")


def test_the_sentence_with_the_asked_for_kind_of_answer_wins(retriever: Retriever) -> None:
    g = grounder(retriever).ground("where do I get my safety boots?")
    assert g.decision == "quote" and "W-12" in g.reply, g


def test_a_heading_is_never_read_as_part_of_the_answer(retriever: Retriever) -> None:
    from kiosk.knowledge.extract import heading_like

    assert heading_like("Learning budget.") and heading_like("Protective Footwear")
    assert not heading_like("Yes.") and not heading_like("It lasts 60 days.") and not heading_like("Why not?")
    g = grounder(retriever).ground("is there a budget for courses?")
    assert g.decision == "quote" and "1,200" in g.reply and not g.reply.startswith("Learning budget"), g


def test_a_summed_synonym_group_does_not_bury_the_passage_with_every_word(retriever: Retriever) -> None:
    # "leave" stands for vacation, holiday and time off: the vacation passage says all of them.
    hits = retriever.search("how long is parental leave", 3)
    assert hits[0].section == "Parental leave" and hits[0].coverage > hits[1].coverage
    g = grounder(retriever).ground("how long is parental leave")
    assert g.decision == "quote" and "18 weeks" in g.reply, g


@contextlib.contextmanager
def indexed(tmp_path: Path, docs: dict[str, str]) -> Iterator[Retriever]:
    """A retriever over `docs` (file name: text), indexed for real, with the thesaurus as shipped."""
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in docs.items():
        (folder / name).write_text(text)
    ingest(tmp_path / "kb.sqlite", [folder])
    with Retriever(tmp_path / "kb.sqlite", synonyms=KnowledgeSettings().synonyms + THESAURUS) as r:
        yield r


def test_a_follow_up_that_names_its_own_topic_is_answered_on_it(tmp_path: Path) -> None:
    """Seen in kiosk demo: "Where do I pick up my badge?" then "And when is the canteen open for lunch?" was
    searched with the badge's words and answered with reception's opening hours."""
    docs = {
        "reception.md": "# Reception\n\nCome to reception in the lobby of Building A. Reception opens at 7:00, "
                        "and new starters can pick up their badge from 8:00.\n",
        "canteen.md": "# Canteen\n\nThe canteen is open for lunch from 11:45 to 14:00 on weekdays.\n",
    }
    with indexed(tmp_path, docs) as r:
        g = grounder(r)
        first = g.ground("Where do I pick up my badge?")
        assert first.decision == "quote" and "reception" in first.reply.lower(), first
        lunch = g.ground("And when is the canteen open for lunch?", topic=first.query)
        assert lunch.decision == "quote" and "11:45" in lunch.reply, lunch
        again = g.ground("and when does it open?", topic=first.query)  # points back: still the topic's answer
        assert again.grounded and "7:00" in again.reply, again


def test_a_follow_up_that_points_back_is_not_answered_on_its_last_word_alone(tmp_path: Path) -> None:
    """Seen on the sample company: "by when do I have to pick my health plan?" then "what if I miss it?" was
    answered with the near-miss FAQ: the topic's passage did not say, so the follow-up was searched alone and
    "miss" matched. What "it" means is only in the conversation: the kiosk says it does not know instead. A
    follow-up that names what it asks ("and for the toilets?") is still searched alone."""
    docs = {
        "benefits.md": "# Benefits\n\n## Enrollment\n\nChoose your health plan within 30 days of your start date "
                       "in the benefits portal.\n",
        "faq.md": "# Safety FAQ\n\n## What do I do after a near miss?\n\nTell your supervisor and complete form "
                  "EHS-01 within 24 hours.\n",
        "cleaning.md": "# Cleaning\n\nUse the blue cloths for desks and the red cloths for the toilets.\n",
    }
    with indexed(tmp_path, docs) as r:
        g = grounder(r)
        first = g.ground("by when do I have to pick my health plan?")
        assert first.decision == "quote" and "30 days" in first.reply, first
        assert "EHS-01" in g.ground("what if I miss it?").reply  # alone, the words lead to the near miss
        missed = g.ground("what if I miss it?", topic=first.query)
        assert missed.decision == "decline", missed
        desks = g.ground("which cloth do I use for desks?")
        toilets = g.ground("and for the toilets?", topic=desks.query)
        assert toilets.decision == "quote" and "red" in toilets.reply, toilets


def test_everyday_words_the_documents_do_not_use(retriever: Retriever) -> None:
    g = grounder(retriever).ground("where do I put my work clothes so they get washed")
    assert g.decision == "quote" and "grey bins" in g.reply, g


def test_a_follow_up_is_searched_with_its_topic_and_a_new_topic_alone(retriever: Retriever) -> None:
    g = grounder(retriever)
    first = g.ground("where can I park my car?")
    assert first.decision == "quote" and "Lot E" in first.reply
    alone = g.ground("and is it free?")
    assert "Parking" not in alone.reply  # "free" alone: the coffee
    follow = g.ground("and is it free?", topic=first.query)
    assert follow.decision == "quote" and "free of charge" in follow.reply, follow
    assert "park" in follow.query  # what the next follow-up builds on
    overnight = g.ground("can I leave it there overnight?", topic=first.query)
    assert overnight.decision == "decline", overnight  # the parking sentence says nothing of nights
    new = g.ground("how many vacation days do I get?", topic=first.query)
    assert new.decision == "quote" and "25 vacation days" in new.reply and new.query.startswith("how many"), new


@pytest.mark.slow  # loads all-MiniLM-L6-v2 (built from its PyPI package by tools/dev setup)
def test_an_unanswerable_question_is_not_answered_with_a_sentence_that_shares_its_words(retriever: Retriever,
                                                                                        settings) -> None:  # noqa: ANN001
    import functools

    from kiosk.knowledge.embed import LlamaEmbedder, similarity
    from kiosk.models.locate import locate

    model = locate(settings, "all-minilm-l6-v2", "embedding", "knowledge.answer_check")
    check = functools.partial(similarity, LlamaEmbedder(model.path, "all-minilm-l6-v2", settings.llm))
    question = "is the company going public?"
    assert grounder(retriever).ground(question).decision == "quote"  # every word is in the security note
    declined = grounder(retriever, similar=check).ground(question)
    assert declined.decision == "decline" and "something else" in declined.why
    answered = grounder(retriever, similar=check).ground("where do I get my safety boots?")
    assert answered.decision == "quote" and "W-12" in answered.reply


@pytest.mark.slow  # loads all-MiniLM-L6-v2 (built from its PyPI package by tools/dev setup)
def test_embeddings_in_one_batch_and_from_the_cache_equal_one_at_a_time(settings) -> None:  # noqa: ANN001
    import numpy as np

    from kiosk.knowledge.embed import LlamaEmbedder
    from kiosk.models.locate import locate

    model = locate(settings, "all-minilm-l6-v2", "embedding", "knowledge.answer_check")
    texts = ["where do I park", "Employees park for free in the north car park.", "where do I park"]
    alone = [LlamaEmbedder(model.path, "m", settings.llm).embed([t])[0] for t in texts]
    embedder = LlamaEmbedder(model.path, "m", settings.llm)
    batch = embedder.embed(texts)
    again = embedder.embed(texts[::-1])[::-1]  # all three from the cache now
    for one, two, three in zip(alone, batch, again, strict=True):
        assert np.allclose(one, two, atol=1e-3) and np.array_equal(two, three)
    assert float(np.dot(batch[0], batch[1])) < float(np.dot(batch[0], batch[2]))  # not one vector for all


def test_an_answer_split_over_two_sentences_is_said_whole(tmp_path: Path) -> None:
    """Seen on the tuning set: "when do I pick up my laptop?" was answered "You pick up your laptop at the help
    desk on your first day." without the time, which the passage's next sentence holds."""
    docs = {"it.md": "# Your laptop\n\nOn your first day you pick up your laptop at the IT help desk, where a "
                     "technician sets up your account with you. The pick-up slot for new starters is 13:30 in room "
                     "B-214. Laptops are replaced every four years.\n"}
    with indexed(tmp_path, docs) as r:
        one = grounder(r, quote_runner_up=0.0).ground("when do I pick up my laptop?")
        both = grounder(r).ground("when do I pick up my laptop?")
    assert one.decision == "quote" and "13:30" not in one.reply  # the best sentence alone misses the time
    assert both.decision == "quote" and "13:30" in both.reply and "help desk" in both.reply, both
    assert both.reply.index("help desk") < both.reply.index("13:30")  # in the document's order
    assert "four years" not in both.reply  # a third sentence is never added


def test_the_runner_up_never_repeats_a_sentence_already_said(tmp_path: Path) -> None:
    """Seen on the tuning follow-ups: numbered steps quoted as "... 2. Use the Report Phish button ... Use the
    Report Phish button ..." (the best span and the runner-up's shared a step). The sample company's own
    documents and the conversation as it was asked."""
    ingest(tmp_path / "kb.sqlite", [Path(__file__).resolve().parents[1] / "samples" / "halvorsen"])
    with Retriever(tmp_path / "kb.sqlite", synonyms=KnowledgeSettings().synonyms + THESAURUS) as r:
        g = grounder(r)
        first = g.ground("I got a weird email asking for my login, what do I do")
        follow = g.ground("what if I already clicked the link?", topic=first.query)
    said = [s.strip() for s in re.split(r"(?<=[.!?:])\s+", follow.reply) if len(s.strip()) > 8]
    assert follow.decision == "quote" and "Report Phish" in follow.reply, follow
    assert len(said) == len(set(said)), follow.reply


def test_a_follow_up_about_the_it_desk_or_another_room_leaves_the_topic(tmp_path: Path) -> None:
    """Seen in the conversation benchmark: after a phishing question, "oh, and where's the IT help desk?" was
    answered with the phishing passage ("call the help desk at extension 4357"): "IT" was read as the pronoun
    "it", so the question seemed to point back. And "where is the gym?", which the documents do not answer,
    got the phishing sentence: its "help desk" counted as the place asked for."""
    docs = {
        "security.md": "# Phishing\n\nPhishing emails try to trick you into entering your password. If you "
                       "entered your password, call the help desk at extension 4357 immediately.\n\n"
                       "## Reporting\n\nForward a suspicious email to phish@example.com and delete it.\n",
        "it.md": "# IT\n\nThe IT help desk is in room B-214 on the second floor of Building B.\n",
        "canteen.md": "# Canteen\n\nThe canteen is on the ground floor of Building A.\n",
    }
    with indexed(tmp_path, docs) as r:
        g = grounder(r)
        first = g.ground("I entered my password in a phishing email, what do I do?")
        assert first.grounded and "4357" in first.reply, first
        desk = g.ground("Oh, and where's the IT help desk?", topic=first.query)
        assert desk.grounded and "B-214" in desk.reply, desk
        canteen = g.ground("where is the canteen?", topic=first.query)
        assert canteen.grounded and "ground floor" in canteen.reply, canteen
        gym = g.ground("where is the gym?", topic=first.query)
        assert gym.decision == "decline", gym
        again = g.ground("and who do I call if it happens again?", topic=first.query)  # lower-case "it" points back
        assert again.grounded and "4357" in again.reply, again


def test_a_follow_up_asks_for_what_its_topic_asked_for_and_still_needs_its_own_words(tmp_path: Path) -> None:
    """"when is lunch served in the canteen?" then "what about the night crew?" still asks for a time: the
    sentence that gives the night crew's time wins over one that shares more of the conversation's words
    (one sentence said, so that the runner-up cannot hide the choice). "and for visitors?" after parking is
    not answered by where staff park, though that sentence holds a place."""
    docs = {
        "meals.md": "# Meals\n\nHot lunch is served in the canteen from 11:30 to 13:30.\n\n## Night crew\n\n"
                    "The night crew has its own table in the canteen. The night crew gets soup and sandwiches "
                    "from 22:00.\n",
        "parking.md": "# Parking\n\nStaff park in the east car park, Lot E, behind the depot.\n",
    }
    with indexed(tmp_path, docs) as r:
        g = grounder(r, quote_runner_up=0.0)
        lunch = g.ground("when is lunch served in the canteen?")
        assert lunch.grounded and "11:30" in lunch.reply, lunch
        night = g.ground("what about the night crew?", topic=lunch.query)
        assert night.grounded and "22:00" in night.reply, night
        park = g.ground("where do staff park?")
        assert park.grounded and "Lot E" in park.reply, park
        visitors = g.ground("and for visitors?", topic=park.query)
        assert visitors.decision == "decline", visitors


def test_a_follow_up_leans_on_the_last_question_even_when_it_was_not_answered(tmp_path: Path) -> None:
    """Validation company: "where do I pick up my uniform?" was declined, and "is it open Sundays?" was searched
    with the topic answered before it (or none), never with the uniform. After parking, a declined question
    about the uniform, then "is it open on Sundays?": the car park's Sunday hours are not the answer."""
    docs = {
        "parking.md": "# Parking\n\nStaff park in the east car park, Lot E. The car park is open on Sundays too.\n",
        "uniforms.md": "# Uniform room\n\nPick up your uniform at the uniform room in the basement. The uniform "
                       "room is closed on Sundays.\n",
    }
    with indexed(tmp_path, docs) as r:
        conversation = Conversation(4)
        engine = SimpleNamespace(conversation=conversation)
        responder = Responder(engine, None, AnswerSettings(), grounder(r), on_gpu=False)  # type: ignore[arg-type]
        for question in ("where can I park?", "can I get my uniform altered?", "is it open on Sundays?"):
            found, failed = responder.ground(question)
            assert found is not None and not failed
            conversation.add(question, found.reply)
            if question.startswith("where"):
                assert "Lot E" in found.reply, found
            if question.startswith("can I"):
                assert found.decision == "decline", found  # the documents do not say
        assert "car park" not in found.reply, found


def test_a_follow_up_that_points_back_is_answered_by_its_kind_only_when_the_sentence_states_it(tmp_path: Path) -> None:
    """Tuning company: "where do I grab my badge?" then "and what if I lose it later?" was answered with the
    pick-up instructions: "what if" asks for a procedure, and any instruction ("Go to reception ...") passed
    for one. A time, a place, an amount or a number stated outright still answers "and when does it open?"."""
    docs = {"badges.md": "# Badges\n\nGo to reception in the lobby to pick up your badge. Reception opens at 7:00.\n",
            "laptops.md": "# Laptops\n\nIf you lose your laptop, tell the IT help desk the same day.\n"}
    with indexed(tmp_path, docs) as r:
        g = grounder(r)
        first = g.ground("where do I pick up my badge?")
        assert first.grounded and "reception" in first.reply, first
        lost = g.ground("and what if I lose it?", topic=first.query)
        assert lost.decision == "decline", lost
        opens = g.ground("and when does it open?", topic=first.query)
        assert opens.grounded and "7:00" in opens.reply, opens


def test_a_question_that_names_a_time_or_a_price_is_not_answered_without_one(tmp_path: Path) -> None:
    """Seen on the tuning and validation sets: "how much does a Tern robot cost?" answered with what a Tern
    carries, "what time can guests check in?" with a 24-hour rule, "how much is a cup of coffee?" with the coffee
    bar's hours. A sentence that shares the topic but lacks what is asked by name is no answer."""
    docs = {"robots.md": "# Our robots\n\nA Tern robot carries up to 300 kilograms and drives at up to 2 metres a "
                         "second. Every Tern robot has red stop buttons on all four sides.\n",
            "cafe.md": "# Cafe\n\nThe coffee bar is open from 7:00 to 16:00.\n\n## Lunch\n\n"
                       "A hot lunch is $6.50 a plate.\n",
            "guests.md": "# Guests\n\nIf nobody has seen the guest for 24 hours, Security checks the room. Guests "
                         "may ask for a late check-out at the desk.\n"}
    with indexed(tmp_path, docs) as r:
        g = grounder(r)
        cost = g.ground("how much does a Tern robot cost?")
        coffee = g.ground("how much is a cup of coffee at the coffee bar?")
        check_in = g.ground("what time can the guests check in?")
        lunch = g.ground("how much is a hot lunch?")
        opening = g.ground("what time does the coffee bar open?")
        carries = g.ground("how much does a Tern carry?")  # an amount, not a price: answered as before
    assert cost.decision == "decline" and "money" in cost.why, cost
    assert coffee.decision == "decline" and check_in.decision == "decline" and "time" in check_in.why
    assert lunch.decision == "quote" and "$6.50" in lunch.reply, lunch
    assert opening.decision == "quote" and "7:00" in opening.reply, opening
    assert carries.decision == "quote" and "300 kilograms" in carries.reply, carries
    # "may" is a month only where a date says so: "guests may ask" gave every sentence with "may" a time
    assert not holds(Wants.TIME, "Guests may ask for a late check-out.")
    assert holds(Wants.TIME, "Enrollment closes on 15 May.") and holds(Wants.TIME, "Leave is booked in May.")
