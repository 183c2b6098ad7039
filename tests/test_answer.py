"""The answer engine on the real SmolLM2 model: streaming, prefix caching, history, cancellation."""

from __future__ import annotations

import asyncio
import re
import threading
from dataclasses import replace

import pytest

from kiosk.answer.llm import GenerationStats
from kiosk.events import AnswerDone, AnswerSentence, AnswerToken, SpeechAudio

pytestmark = pytest.mark.slow


def run_turn(rt, question: str, speak: bool = True) -> list:  # noqa: ANN001
    async def go() -> list:
        turn = rt.engine.gate.begin()
        return [e async for e in rt.responder.respond(turn, question, speak=speak)]

    return asyncio.run(go())


def test_streaming_turn_emits_tokens_sentences_audio_then_done(fresh) -> None:  # noqa: ANN001
    events = run_turn(fresh, "What should I bring on my first day?")
    kinds = [type(e).__name__ for e in events]
    assert kinds[-1] == "AnswerDone" and kinds.count("AnswerDone") == 1
    tokens = [e for e in events if isinstance(e, AnswerToken)]
    sentences = [e for e in events if isinstance(e, AnswerSentence)]
    audio = [e for e in events if isinstance(e, SpeechAudio)]
    done = events[-1]
    assert len(tokens) > 3, "the answer must arrive as a stream of pieces"
    assert sentences and audio
    assert kinds.index("AnswerToken") < kinds.index("AnswerSentence") < kinds.index("SpeechAudio")
    # The answer is what was streamed, less an unfinished last sentence when the model ran into max_tokens
    # (greedy decoding differs between CPUs: the words are never the test's business).
    streamed, answer = re.findall(r"\w+", "".join(t.text for t in tokens)), re.findall(r"\w+", done.answer)
    assert answer and streamed[:len(answer)] == answer
    # Every word of the answer is spoken, in order.
    assert re.findall(r"\w+", " ".join(s.text for s in sentences)) == re.findall(r"\w+", done.answer)
    assert [a.index for a in audio] == sorted(a.index for a in audio)
    assert {a.turn_id for a in audio} == {done.turn_id}
    t = done.timings
    assert 0 < t.ttft <= t.first_sentence <= t.first_audio <= t.total
    assert not done.cancelled and done.error is None


def test_persona_prefix_stays_cached_and_follow_up_prefills_only_new_tokens(fresh) -> None:  # noqa: ANN001
    system_tokens = fresh.llm.count_tokens([{"role": "system", "content": fresh.engine.system}])
    first = run_turn(fresh, "Where do I get my badge?", speak=False)[-1]
    assert first.timings.cached_tokens >= system_tokens - 1, "the persona prefix must come from the KV cache"
    follow = run_turn(fresh, "And where is that?", speak=False)[-1]
    new_tokens = follow.timings.prompt_tokens - follow.timings.cached_tokens
    question_tokens = fresh.llm.count_tokens([{"role": "user", "content": "And where is that?"}])
    # Persona + the whole previous exchange are reused; only the new user turn (plus template glue) is prefilled.
    assert follow.timings.cached_tokens > first.timings.prompt_tokens - 2
    assert new_tokens <= question_tokens + 8


def test_history_is_bounded_and_reset_forgets_the_visitor(fresh) -> None:  # noqa: ANN001
    conv = fresh.engine.conversation
    limit = fresh.settings.answer.history_turns
    for i in range(limit + 2):
        run_turn(fresh, f"Question number {i}: what is the wifi called?", speak=False)
    assert len(conv) == limit
    assert conv.exchanges[0].question.startswith(f"Question number {2}")
    with_history = fresh.llm.count_tokens(fresh.engine.messages("Thanks"))
    fresh.engine.reset()
    assert len(conv) == 0
    without = fresh.engine.messages("Thanks")
    assert [m["role"] for m in without] == ["system", "user"]
    assert fresh.llm.count_tokens(without) < with_history


def test_history_drops_oldest_exchanges_when_the_context_is_full(fresh) -> None:  # noqa: ANN001
    conv = fresh.engine.conversation
    long = "word " * 300
    for _ in range(4):
        conv.add(long, long)
    msgs = fresh.engine.messages("Short question?")
    assert fresh.llm.count_tokens(msgs) <= fresh.llm.n_ctx - fresh.engine.options.max_tokens
    assert msgs[-1]["content"] == "Short question?" and msgs[0]["role"] == "system"


def test_new_turn_stops_old_generation_within_one_token(fresh) -> None:  # noqa: ANN001
    gate = fresh.engine.gate
    turn = gate.begin()
    stats = GenerationStats()
    seen = 0
    after = 0
    for _ in fresh.engine.generate(turn, "Tell me everything about the company, in detail.", stats=stats):
        seen += 1
        if seen == 5:
            produced_at_bump = stats.completion_tokens
            gate.begin()  # a visitor interrupts
        elif seen > 5:
            after += 1
    assert seen == 5 and after == 0, "no token of a stale turn may reach the listener"
    assert stats.stopped_early
    assert stats.completion_tokens <= produced_at_bump + 1
    assert len(fresh.engine.conversation) == 0, "a cancelled answer does not join the history"


def test_cancel_mid_answer_drops_queued_sentences_and_next_turn_answers(fresh) -> None:  # noqa: ANN001
    async def go() -> tuple[list, list]:
        gate = fresh.engine.gate
        old = gate.begin()
        events_old: list = []
        bumped = False
        async for e in fresh.responder.respond(old, "Explain the first week of onboarding step by step."):
            events_old.append((bumped, e))
            if isinstance(e, AnswerSentence) and not bumped:
                gate.begin()
                bumped = True
        new = gate.current
        events_new = [e async for e in fresh.responder.respond(new, "Hello?")]
        return events_old, events_new

    old, new = asyncio.run(go())
    done = old[-1][1]
    assert isinstance(done, AnswerDone) and done.cancelled
    late_sentences = [e for bumped, e in old if bumped and isinstance(e, AnswerSentence)]
    late_audio = [e for bumped, e in old if bumped and isinstance(e, SpeechAudio)]
    assert late_sentences == [], "sentences queued for a stale turn are dropped"
    assert len(late_audio) <= 1, "at most the sentence already being synthesized may finish"
    assert isinstance(new[-1], AnswerDone) and not new[-1].cancelled and new[-1].answer


def test_a_turn_started_from_another_thread_waits_for_the_stale_one(fresh) -> None:  # noqa: ANN001
    gate = fresh.engine.gate
    first = gate.begin()
    results: dict[str, str] = {}

    def consume(name: str, turn: int, q: str) -> None:
        results[name] = "".join(fresh.engine.generate(turn, q))

    t1 = threading.Thread(target=consume, args=("old", first, "Describe the campus in detail."))
    t1.start()
    second = gate.begin()
    t2 = threading.Thread(target=consume, args=("new", second, "Hi!"))
    t2.start()
    t1.join(60)
    t2.join(60)
    assert results["new"].strip()
    assert len(fresh.engine.conversation) == 1 and fresh.engine.conversation.exchanges[0].question == "Hi!"


def test_answer_cut_off_by_max_tokens_ends_at_a_sentence(runtime, settings) -> None:  # noqa: ANN001
    from kiosk.answer.pipeline import Responder
    from kiosk.config import with_overrides

    short = with_overrides(settings, answer={"max_tokens": 40})
    responder = Responder(runtime.engine, None, short.answer)
    runtime.engine.options = replace(runtime.engine.options, max_tokens=40)
    try:
        async def go() -> list:
            turn = runtime.engine.gate.begin()
            return [e async for e in responder.respond(turn, "Tell me everything about your company.", speak=False)]

        events = asyncio.run(go())
    finally:
        runtime.engine.options = replace(runtime.engine.options, max_tokens=settings.answer.max_tokens)
        responder.close()
        runtime.engine.reset()
    done = events[-1]
    sentences = [e.text for e in events if isinstance(e, AnswerSentence)]
    assert done.timings.completion_tokens >= 40, "the answer must have been cut by max_tokens"
    # The half sentence max_tokens left behind is neither spoken nor kept (only a first chunk would be).
    assert all(re.search(r"[.!?]\W*$", s) for s in sentences[1:]), sentences
    assert len(sentences) == 1 or re.search(r"[.!?]\W*$", done.answer)
    assert done.answer == " ".join(sentences)
