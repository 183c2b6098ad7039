"""The turn pipeline on fast fakes (no models): event grammar, cancellation, pacing, and what happens when
the LLM or the voice fails. The real engines run through it in test_answer.py and test_grounding.py."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from kiosk.answer.engine import TurnGate
from kiosk.answer.llm import GenerationStats
from kiosk.answer.pipeline import APOLOGY, TURN_ERROR, Responder
from kiosk.config import AnswerSettings
from kiosk.events import AnswerDone, AnswerSentence, AnswerToken, SpeechAudio, SpeechClip

ANSWER = "Badges are at reception. Bring your ID on the first day. Parking is behind Hall 2."


class FakeEngine:
    """Streams ANSWER word by word (`delay` s per token), like AnswerEngine.generate with the gate."""

    system = "You are Ava."
    fallback_contact = "Ask at reception, extension 200."

    def __init__(self, text: str = ANSWER, delay: float = 0.0, fail_after: int | None = None,
                 finish_reason: str = "stop") -> None:
        self.gate = TurnGate()
        self.text, self.delay, self.fail_after, self.finish_reason = text, delay, fail_after, finish_reason
        self.produced: list[tuple[float, str]] = []  # (time, token) as generated
        self.history: list[tuple[str, str]] = []
        self.conversation = self

    def add(self, question: str, answer: str) -> None:
        self.history.append((question, answer))

    def generate(self, turn_id: int, question: str, context: str = "", stats: GenerationStats | None = None,
                 pace: Callable[[], None] | None = None) -> Iterator[str]:
        stats = stats or GenerationStats()
        words = self.text.split(" ")
        for i, word in enumerate(words):
            if not self.gate.is_current(turn_id):
                stats.stopped_early = True
                return
            if self.fail_after is not None and i >= self.fail_after:
                raise RuntimeError("llama.cpp failed")
            if pace is not None and i:
                pace()
            time.sleep(self.delay)
            self.produced.append((time.monotonic(), word))
            yield word if i == 0 else " " + word
        stats.finish_reason = self.finish_reason


class FakeTts:
    """A clip per sentence after `delay` s of "synthesis"; records when each synthesis ran."""

    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.delay, self.fail = delay, fail
        self.busy: list[tuple[float, float]] = []
        self.threads: set[str] = set()

    def speak(self, text: str) -> Iterator[SpeechClip]:
        self.threads.add(threading.current_thread().name)
        start = time.monotonic()
        if self.fail:
            raise RuntimeError("piper failed")
        time.sleep(self.delay)
        self.busy.append((start, time.monotonic()))
        yield SpeechClip(text, b"\0\0" * 160, 16000, ())


def responder(engine: FakeEngine, tts: FakeTts | None = None, yield_to_speech: str = "off") -> Responder:
    settings = AnswerSettings(yield_to_speech=yield_to_speech)
    return Responder(engine, tts, settings, on_gpu=False)  # type: ignore[arg-type]


def run(r: Responder, question: str = "Where do I get my badge?", *, stop_after: int | None = None,
        cancel_on: type | None = None) -> list:
    """The turn's events; `cancel_on`: a newer turn begins at the first event of that type."""

    async def main() -> list:
        events = []
        turn = r.gate.begin()
        async for event in r.respond(turn, question):
            events.append(event)
            if cancel_on is not None and isinstance(event, cancel_on):
                r.gate.begin()
            if stop_after is not None and len(events) >= stop_after:
                break
        return events

    try:
        return asyncio.run(main())
    finally:
        r.close()


def kinds(events: list) -> list[str]:
    return [type(e).__name__ for e in events]


def test_a_turn_streams_tokens_sentences_and_audio_then_one_done() -> None:
    tts = FakeTts()
    events = run(responder(FakeEngine(), tts))
    done = events[-1]
    assert isinstance(done, AnswerDone) and kinds(events).count("AnswerDone") == 1
    assert not done.cancelled and done.error is None and done.answer == ANSWER
    sentences = [e.text for e in events if isinstance(e, AnswerSentence)]
    assert sentences == ["Badges are at reception.", "Bring your ID on the first day.", "Parking is behind Hall 2."]
    assert [e.clip.text for e in events if isinstance(e, SpeechAudio)] == sentences
    order = kinds(events)
    assert order.index("AnswerToken") < order.index("AnswerSentence") < order.index("SpeechAudio")
    t = done.timings
    assert 0 < t.ttft <= t.first_sentence <= t.first_audio <= t.total
    assert tts.threads == {next(iter(tts.threads))} and next(iter(tts.threads)).startswith("tts")  # one thread


def test_a_newer_turn_stops_the_old_one_within_a_token() -> None:
    engine = FakeEngine(delay=0.01)
    moved: list[float] = []
    begin = engine.gate.begin

    def begin_and_note() -> int:
        moved.append(time.monotonic())
        return begin()

    engine.gate.begin = begin_and_note  # type: ignore[method-assign]
    events = run(responder(engine, FakeTts()), cancel_on=AnswerSentence)
    done = events[-1]
    assert done.cancelled
    first = kinds(events).index("AnswerSentence")
    # Nothing of the old turn after the moment it went stale (the sentence event itself was emitted before).
    assert all(not isinstance(e, (AnswerToken, AnswerSentence, SpeechAudio)) for e in events[first + 1:-1])
    assert len([t for t, _ in engine.produced if t > moved[-1]]) <= 1  # at most the token under way
    assert engine.history == []  # a cancelled answer never joins the conversation


def test_a_consumer_that_goes_away_stops_the_llm() -> None:
    engine = FakeEngine(delay=0.01)
    r = responder(engine)
    events = run(r, stop_after=2)
    assert len(events) == 2
    assert len(engine.produced) < len(ANSWER.split())  # the thread saw the turn go stale and stopped


@pytest.mark.parametrize("paced", [False, True])
def test_yield_to_speech_holds_the_llm_while_a_sentence_is_synthesized(paced: bool) -> None:
    """On shared cores the LLM waits while Piper speaks; without pacing it runs on."""
    engine, tts = FakeEngine(delay=0.005), FakeTts(delay=0.15)
    run(responder(engine, tts, "on" if paced else "off"))
    during = [t for t, _ in engine.produced for start, end in tts.busy if start + 0.01 < t < end - 0.01]
    assert (during == []) if paced else during


def test_a_failing_llm_gets_an_apology_and_the_contact_spoken() -> None:
    engine, tts = FakeEngine(fail_after=0), FakeTts()
    events = run(responder(engine, tts))
    done = events[-1]
    assert done.error == TURN_ERROR and not done.cancelled
    spoken = [e.clip.text for e in events if isinstance(e, SpeechAudio)]
    assert spoken == [APOLOGY, FakeEngine.fallback_contact]


def test_an_llm_failing_mid_answer_keeps_what_was_said() -> None:
    events = run(responder(FakeEngine(fail_after=6), FakeTts()))
    done = events[-1]
    assert done.error == TURN_ERROR and done.answer.startswith("Badges are at reception.")
    assert APOLOGY not in done.answer  # something was said: no apology on top


def test_a_failing_voice_still_captions_every_sentence() -> None:
    events = run(responder(FakeEngine(), FakeTts(fail=True)))
    done = events[-1]
    assert [e.text for e in events if isinstance(e, AnswerSentence)] == [
        "Badges are at reception.", "Bring your ID on the first day.", "Parking is behind Hall 2."]
    assert not any(isinstance(e, SpeechAudio) for e in events) and done.error == TURN_ERROR


def test_an_answer_cut_by_max_tokens_ends_at_its_last_full_sentence() -> None:
    engine = FakeEngine(text="Badges are at reception. Bring your ID on the", finish_reason="length")
    events = run(responder(engine, FakeTts()))
    assert events[-1].answer == "Badges are at reception."
    assert [e.clip.text for e in events if isinstance(e, SpeechAudio)] == ["Badges are at reception."]


class BrokenGrounder:
    """A knowledge index that cannot be searched (deleted, locked, corrupt)."""

    def __init__(self) -> None:
        from kiosk.config import PersonaSettings

        self.persona = PersonaSettings()

    def ground(self, question: str) -> None:
        raise RuntimeError("database disk image is malformed")


def test_failed_stages_are_typed_events_and_codes() -> None:
    from kiosk.events import ErrorCode, Grounded, TurnError
    from kiosk.knowledge.grounding import decline_text

    events = run(responder(FakeEngine(fail_after=0), FakeTts(fail=True)))
    errors = [e.code for e in events if isinstance(e, TurnError)]
    assert errors[0] is ErrorCode.GENERATION and set(errors) == {ErrorCode.GENERATION, ErrorCode.SPEECH}
    assert events[-1].error_codes == (ErrorCode.GENERATION, ErrorCode.SPEECH)

    r = responder(FakeEngine(), FakeTts())
    r.grounder = BrokenGrounder()  # type: ignore[assignment]
    events = run(r)
    assert isinstance(events[0], Grounded) and events[0].decision == "decline"
    assert isinstance(events[1], TurnError) and events[1].code is ErrorCode.RETRIEVAL
    done = events[-1]
    assert done.answer == decline_text(r.grounder.persona) and done.error_codes == (ErrorCode.RETRIEVAL,)
    assert not done.grounded


@pytest.mark.parametrize("question", ["", "   ", "?!", "\x00\x07"])
def test_nothing_asked_is_met_with_a_request_to_ask_again_not_the_llm(question: str) -> None:
    from kiosk.answer.pipeline import PARDON

    engine = FakeEngine()
    events = run(responder(engine, FakeTts()), question)
    assert events[-1].answer == PARDON and engine.produced == [] and engine.history == []


def test_a_question_too_long_for_the_context_is_answered_from_its_beginning() -> None:
    from kiosk.answer.pipeline import MAX_QUESTION_CHARS

    asked: list[str] = []
    engine = FakeEngine()
    generate = engine.generate

    def note(turn_id: int, question: str, *args: object, **kwargs: object) -> Iterator[str]:
        asked.append(question)
        return generate(turn_id, question, *args, **kwargs)  # type: ignore[arg-type]

    engine.generate = note  # type: ignore[method-assign]
    events = run(responder(engine, FakeTts()), "Where is the canteen " * 1000)
    assert events[-1].answer == ANSWER and not events[-1].error
    assert asked[0].startswith("Where is the canteen") and len(asked[0]) <= MAX_QUESTION_CHARS
    assert not asked[0].endswith(" ") and asked[0].split()[-1] in ("Where", "is", "the", "canteen")
