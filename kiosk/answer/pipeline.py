"""One turn, streamed: question → grounding → LLM tokens → sentences → Piper audio with visemes.

With a knowledge base, retrieval decides first: a confident FAQ match is spoken verbatim and a question
the documents do not cover gets an honest "I don't know" with the fallback contact; in both cases the
LLM is not asked. Every sentence passes the SentenceGuard before it is spoken.

The stages, each small and on its own thread or task, joined by queues:

    ground      llm thread    Grounder.ground: faq / decline -> a fixed reply; answer -> passages (its judge asks
                              the LLM before a decline, knowledge.judge)
    generate    llm thread    Generator.generate, paced by Pacer when speech must come first
    chunk       loop task     SentenceChunker + SentenceGuard -> AnswerToken, AnswerSentence
    synthesize  loop task     Tts.speak on the tts thread -> SpeechAudio
    emit        the caller    Grounded, the events in order, TurnError where a stage failed, then
                              exactly one AnswerDone (also when cancelled)

`run_turn` is how a question becomes an answer everywhere (kiosk, ask, chat, demo, bench, eval): it begins the
turn on the gate, hands each event to the caller and returns the AnswerDone.

Every event carries the turn id; once the gate moves on, the old turn's tokens stop within one token and
its queued sentences and audio are dropped here. The engines each get a single worker thread, so the LLM
writes sentence two while Piper speaks sentence one, and neither engine is entered from two threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from kiosk.answer.conversation import cut_to_fit
from kiosk.answer.engine import TurnGate
from kiosk.answer.guard import SentenceGuard
from kiosk.answer.llm import GenerationStats, PromptTooLong
from kiosk.answer.sentences import ChunkerSettings, SentenceChunker
from kiosk.config import AnswerSettings
from kiosk.events import (
    AnswerDone,
    AnswerSentence,
    AnswerToken,
    Decision,
    ErrorCode,
    Grounded,
    SpeechAudio,
    SpeechClip,
    Timings,
    TurnError,
    TurnEvent,
)
from kiosk.knowledge.grounding import Grounder, Grounding, decline_text

log = logging.getLogger(__name__)

_END = object()
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*$")
APOLOGY = "I'm sorry, I can't put an answer together right now."
TURN_ERROR = "I'm sorry, something went wrong on my side. Please try again."
PARDON = "Sorry, I didn't catch a question. Could you ask it again?"
REFUSAL = "I'm sorry, I can't help with that."
MAX_QUESTION_CHARS = 600  # far more than anyone asks aloud; the engine also cuts to prompt.QUESTION_TOKENS (160)


class Generator(Protocol):
    """What a turn needs of the answer engine (kiosk.answer.engine.AnswerEngine; fakes in tests)."""

    gate: TurnGate
    system: str
    fallback_contact: str
    conversation: Any  # .add(question, answer)

    def generate(self, turn_id: int, question: str, context: str = "", stats: GenerationStats | None = None,
                 pace: Callable[[], None] | None = None) -> Iterator[str]: ...


class Tts(Protocol):
    """What a turn needs of the voice (kiosk.speech.piper_voice.PiperSpeaker; fakes in tests)."""

    def speak(self, text: str) -> Iterable[SpeechClip]: ...


class Answerer(Protocol):
    """A question in, the turn's events out (Responder; a scripted fake in the loop tests)."""

    @property
    def gate(self) -> TurnGate: ...

    def respond(self, turn_id: int, question: str, *, speak: bool = True,
                t0: float | None = None) -> AsyncIterator[TurnEvent]: ...

    def busy(self) -> bool:
        """An engine call (LLM or TTS) is still running, also for a turn already cancelled."""
        ...

    def forget(self) -> None:
        """The visitor is gone: what their turns left (the follow-up topic) is dropped."""
        ...

    def aside(self) -> contextlib.AbstractContextManager[None]:
        """A turn run inside does not become part of the visitor's conversation."""
        ...


def chunker_settings(answer: AnswerSettings) -> ChunkerSettings:
    return ChunkerSettings(first_chunk_min_words=answer.first_chunk_min_words,
                           first_chunk_max_words=answer.first_chunk_max_words,
                           max_chars=answer.max_sentence_chars)


class Pacer:
    """yield_to_speech: the LLM thread works in lockstep with the loop. After each token it waits until the
    chunker has seen it, then until no sentence waits for or is in synthesis: on shared CPU cores, decoding
    the rest of the answer while Piper speaks the first sentence slows that sentence down. Both events are
    set and cleared on the loop thread only; a stale turn never waits."""

    def __init__(self, current: Callable[[], bool]) -> None:
        self._current = current
        self._seen = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._pending = 0

    def pace(self) -> None:  # llm thread, before computing the next token
        if self._wait(self._seen):
            self._seen.clear()
            self._wait(self._idle)

    def _wait(self, event: threading.Event) -> bool:
        while not event.wait(0.02):
            if not self._current():
                return False
        return True

    def token_seen(self) -> None:  # loop thread
        self._seen.set()

    def speech_queued(self, delta: int) -> None:  # loop thread
        self._pending += delta
        if self._pending:
            self._idle.clear()
        else:
            self._idle.set()


@dataclass
class TurnRecord:
    """What a turn did, for its AnswerDone."""

    t0: float
    marks: dict[str, float] = field(default_factory=dict)  # ttft, first_sentence, first_audio (ms)
    spoken: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # sentences the guard stopped
    errors: list[ErrorCode] = field(default_factory=list)  # the stages that failed
    declined: bool = False

    def ms(self) -> float:
        return round((time.perf_counter() - self.t0) * 1000, 1)

    def mark(self, name: str) -> None:
        self.marks.setdefault(name, self.ms())


class Responder:
    def __init__(self, engine: Generator, speaker: Tts | None, answer: AnswerSettings,
                 grounder: Grounder | None = None, on_gpu: bool | None = None) -> None:
        """`on_gpu`: the LLM runs on a GPU (then it need not yield to speech); by default from the engine."""
        self.engine = engine
        self.speaker = speaker
        self.grounder = grounder
        self.chunking = chunker_settings(answer)
        self._llm_thread = ThreadPoolExecutor(1, thread_name_prefix="llm")
        self._tts_thread = ThreadPoolExecutor(1, thread_name_prefix="tts")
        self._running = 0  # engine calls submitted and not finished (a hung one stays counted)
        self._running_lock = threading.Lock()
        self._topic: str | None = None  # what the visitor's last question searched for
        if on_gpu is None:
            on_gpu = engine.llm.settings.gpu_layers != 0  # type: ignore[attr-defined]
        mode = answer.yield_to_speech
        self.yield_to_speech = mode == "on" or (mode == "auto" and not on_gpu)

    @property
    def gate(self) -> TurnGate:
        return self.engine.gate

    def forget(self) -> None:
        """The visitor is gone: their topic goes with them (the engine forgets their conversation)."""
        self._topic = None

    @contextlib.contextmanager
    def aside(self) -> Iterator[None]:
        """A turn run inside leaves the visitor's conversation and topic as they were (the local API's
        questions are not the visitor's), unless a visitor's own turn began meanwhile: theirs then stands."""
        conversation = getattr(self.engine, "conversation", None)
        saved = (self._topic, conversation.exchanges if conversation is not None else ())
        started = self.gate.current
        try:
            yield
        finally:
            if self.gate.current <= started + 1:  # only the aside turn ran
                self._topic = saved[0]
                if conversation is not None:
                    conversation.restore(saved[1])

    def busy(self) -> bool:
        return self._running > 0

    def run_engine(self, loop: asyncio.AbstractEventLoop, executor: ThreadPoolExecutor,
                   fn: Callable[..., Any], *args: Any) -> asyncio.Future:
        """`fn` on the engine's worker thread, counted until it returns, raises or is cancelled before it started
        (a cancelled turn's running call stays counted: the engine is still busy with it)."""
        def finished(_: Future) -> None:
            with self._running_lock:
                self._running -= 1

        with self._running_lock:
            self._running += 1
        job = executor.submit(fn, *args)
        job.add_done_callback(finished)
        return asyncio.wrap_future(job, loop=loop)

    def close(self) -> None:
        self._llm_thread.shutdown(wait=True, cancel_futures=True)
        self._tts_thread.shutdown(wait=True, cancel_futures=True)

    async def respond(self, turn_id: int, question: str, *, speak: bool = True,
                      t0: float | None = None) -> AsyncIterator[TurnEvent]:
        """Yields the turn's events, always ending with AnswerDone (also when cancelled or failed)."""
        turn = _Turn(self, turn_id, question, speak and self.speaker is not None,
                     time.perf_counter() if t0 is None else t0)
        async for event in turn.events():
            yield event

    # -- grounding ---------------------------------------------------------------------------------------

    def ground(self, question: str) -> tuple[Grounding | None, bool]:
        """(the grounding, whether retrieval failed); None without a knowledge base. A follow-up is searched
        with the topic of the visitor's conversation so far (none once the engine has forgotten them)."""
        if self.grounder is None:
            return None, False
        talked = bool(getattr(getattr(self.engine, "conversation", None), "exchanges", ()))
        try:
            grounding = self.grounder.ground(question, self._topic if talked else None)
        except Exception:  # noqa: BLE001 - a broken index must not silence the kiosk
            log.exception("knowledge search failed; declining")
            return Grounding(Decision.DECLINE, reply=decline_text(self.grounder.persona)), True
        # What the visitor asked last, answered or not: after "where do I pick up my uniform?" (declined),
        # "is it open on Sundays?" is about the uniform room, not about the topic answered before it.
        self._topic = grounding.query
        return grounding, False

    def shorten(self, question: str) -> str:
        """A question cut to MAX_QUESTION_CHARS (at a word), then to the tokens the engine keeps for one:
        answered from its beginning, not refused for its length."""
        if len(question) > MAX_QUESTION_CHARS:
            log.info("question of %d characters cut to at most %d", len(question), MAX_QUESTION_CHARS)
            question = cut_to_fit(question, lambda q: len(q) <= MAX_QUESTION_CHARS)
        fit = getattr(self.engine, "fit_question", None)  # AnswerEngine counts tokens; fakes need not
        return fit(question) if fit is not None else question

    def guard(self, question: str, grounding: Grounding | None) -> SentenceGuard | None:
        """The check for the LLM's sentences; None for replies we decided ourselves (FAQ, decline)."""
        if grounding is not None and grounding.decision != Decision.ANSWER:
            return None
        contact = self.engine.fallback_contact
        public = getattr(self.engine, "public", contact)  # identity, greeting, contact (AnswerEngine)
        documents = grounding.context if grounding is not None else ""
        evidence = None if grounding is None else " ".join([grounding.context, question, contact])
        return SentenceGuard(self.engine.system, evidence, public=public, documents=documents)

    def fallback(self, question: str, grounding: Grounding | None) -> list[str]:
        """The LLM failed: an apology, then the documents' best sentence (or the contact)."""
        best = None
        if self.grounder is not None and grounding is not None:
            try:
                best = self.grounder.best_quote(question, grounding)
            except Exception:  # noqa: BLE001 - the apology alone is still better than silence
                log.exception("fallback quote failed")
        if best:
            return [APOLOGY, "Here is what our documents say:", best]
        return [APOLOGY, self.engine.fallback_contact] if self.engine.fallback_contact else [APOLOGY]


class _Turn:
    """One run of the pipeline: its queues, its record, its stages."""

    def __init__(self, responder: Responder, turn_id: int, question: str, speak: bool, t0: float) -> None:
        question = responder.shorten(question)
        self.r, self.turn_id, self.question, self.speak = responder, turn_id, question, speak
        self.record = TurnRecord(t0)
        self.grounding: Grounding | None = None
        self.guard: SentenceGuard | None = None
        self.stats = GenerationStats()
        self.pacer = Pacer(self.current)
        self.loop = asyncio.get_running_loop()
        self.out: asyncio.Queue = asyncio.Queue()
        self.tokens: asyncio.Queue = asyncio.Queue()
        self.sentences: asyncio.Queue = asyncio.Queue()
        self._index = 0  # the next sentence's number

    def current(self) -> bool:
        return self.r.gate.is_current(self.turn_id)

    async def events(self) -> AsyncIterator[TurnEvent]:
        if any(ch.isalnum() for ch in self.question):
            # On the LLM's thread: the knowledge.judge asks the LLM, and the loop keeps drawing meanwhile.
            self.grounding, failed = await self.r.run_engine(self.loop, self.r._llm_thread, self.r.ground,
                                                             self.question)
            if failed:
                self.record.errors.append(ErrorCode.RETRIEVAL)
        self.guard = self.r.guard(self.question, self.grounding)
        g = self.grounding
        if g is not None:
            yield Grounded(self.turn_id, g.decision, tuple(g.sources), g.why, g.nearest)
        if ErrorCode.RETRIEVAL in self.record.errors:
            yield TurnError(self.turn_id, ErrorCode.RETRIEVAL)
        job = self.r.run_engine(self.loop, self.r._llm_thread, self.generate)
        runner = asyncio.ensure_future(self._stages())
        try:
            while (event := await self.out.get()) is not _END:
                yield event
        finally:
            if not runner.done():  # the consumer went away: make the turn stale so the thread stops
                self.r.gate.begin()
                runner.cancel()
            await asyncio.gather(job, return_exceptions=True)
        yield self.done()

    async def _stages(self) -> None:
        try:
            await asyncio.gather(self.chunk(), self.synthesize())
        finally:
            await self.out.put(_END)

    # -- generate (llm thread) -----------------------------------------------------------------------------

    def generate(self) -> None:
        put = self.tokens.put_nowait
        try:
            paced = self.pacer.pace if self.r.yield_to_speech and self.speak else None
            g = self.grounding
            if not any(ch.isalnum() for ch in self.question):  # nothing asked (an empty typed line): no LLM
                source: Iterable[str] = [PARDON] if self.current() else []
                self.stats.finish_reason = "stop"
            elif g is not None and g.decision != Decision.ANSWER:
                source = self._fixed(g.reply)
            else:
                source = self.r.engine.generate(self.turn_id, self.question, g.context if g else "", self.stats, paced)
            for text in source:
                self.loop.call_soon_threadsafe(put, text)
        except PromptTooLong as error:  # a known limit, not a bug: one line in the log, no traceback
            log.error("answer not generated: %s", error)
            self.loop.call_soon_threadsafe(put, error)
        except Exception as error:  # noqa: BLE001 - reported as a turn error, never raised at a visitor
            log.exception("answer generation failed")
            self.loop.call_soon_threadsafe(put, error)
        finally:
            self.loop.call_soon_threadsafe(put, _END)

    def _fixed(self, reply: str) -> Iterator[str]:
        """A reply decided without the LLM, streamed like one; it joins the history too."""
        self.stats.finish_reason = "stop"
        if self.current():
            yield reply
            self.r.engine.conversation.add(self.question, reply)

    # -- chunk (loop) -------------------------------------------------------------------------------------

    async def chunk(self) -> None:
        chunker = SentenceChunker(self.r.chunking)
        while (item := await self.tokens.get()) is not _END:
            if isinstance(item, Exception):
                self.record.errors.append(ErrorCode.GENERATION)
                await self.out.put(TurnError(self.turn_id, ErrorCode.GENERATION))
            elif self.current():  # stale tokens are drained, never emitted
                self.record.mark("ttft")
                await self.out.put(AnswerToken(self.turn_id, item))
                await self._emit(chunker.feed(item))
            self.pacer.token_seen()
        if self.current():
            await self._finish(chunker.flush())
        await self.sentences.put(_END)

    async def _finish(self, tail: list[str]) -> None:
        record = self.record
        if self.stats.finish_reason == "length" and self._index > 0:
            # Cut off by max_tokens: a half sentence is worse than none, so it is neither spoken nor kept.
            tail = [t for t in tail if _SENTENCE_END.search(t)]
        await self._emit(tail)
        if record.dropped and not record.spoken:
            if self.r.grounder is not None:
                record.declined = True  # nothing the documents support was left to say
                await self._emit([decline_text(self.r.grounder.persona)], guarded=False)
            else:  # the guard stopped it all (a recital of the prompt): never silence
                await self._emit([f"{REFUSAL} {self.r.engine.fallback_contact.strip()}".strip()], guarded=False)
        if ErrorCode.GENERATION in record.errors and not record.spoken:
            await self._emit(self.r.fallback(self.question, self.grounding))

    async def _emit(self, texts: list[str], guarded: bool = True) -> None:
        """`guarded`: the texts are the LLM's (our own fixed replies are not checked)."""
        for text in texts:
            if guarded and self.guard is not None and (reason := self.guard.check(text)):
                log.info("not speaking a sentence (%s): %r", reason, text)
                self.record.dropped.append(text)
                continue
            self.record.mark("first_sentence")
            self.record.spoken.append(text)
            await self.out.put(AnswerSentence(self.turn_id, self._index, text))
            if self.speak:
                self.pacer.speech_queued(+1)
                await self.sentences.put((self._index, text))
            self._index += 1

    # -- synthesize (loop, tts thread) ----------------------------------------------------------------------

    async def synthesize(self) -> None:
        while (item := await self.sentences.get()) is not _END:
            index, text = item
            if not self.current():
                self.pacer.speech_queued(-1)
                continue
            try:
                clips = await self.r.run_engine(self.loop, self.r._tts_thread, self._speak, text)
            except Exception:  # noqa: BLE001 - a sentence that cannot be spoken is still captioned
                log.exception("speech synthesis failed for %r", text)
                self.record.errors.append(ErrorCode.SPEECH)
                await self.out.put(TurnError(self.turn_id, ErrorCode.SPEECH))
                continue
            finally:
                self.pacer.speech_queued(-1)
            for clip in clips:
                if not self.current():
                    break
                self.record.mark("first_audio")
                await self.out.put(SpeechAudio(self.turn_id, index, clip))

    def _speak(self, text: str) -> list[SpeechClip]:  # tts thread (only when the turn speaks: a speaker exists)
        assert self.r.speaker is not None
        return list(self.r.speaker.speak(text))

    # -- done ------------------------------------------------------------------------------------------------

    def done(self) -> AnswerDone:
        record, stats, g = self.record, self.stats, self.grounding
        timings = Timings(ttft=record.marks.get("ttft"), first_sentence=record.marks.get("first_sentence"),
                          first_audio=record.marks.get("first_audio"), total=record.ms(),
                          prompt_tokens=stats.prompt_tokens, cached_tokens=stats.cached_tokens,
                          completion_tokens=stats.completion_tokens)
        grounded = g is not None and g.grounded and not record.declined
        return AnswerDone(self.turn_id, " ".join(record.spoken), stats.stopped_early or not self.current(), timings,
                          sources=tuple(g.sources) if grounded and g is not None else (), grounded=grounded,
                          error=TURN_ERROR if record.errors else None,
                          error_codes=tuple(dict.fromkeys(record.errors)))


async def run_turn(responder: Answerer, question: str, *, speak: bool = True, t0: float | None = None,
                   on_event: Callable[[TurnEvent], Awaitable[None] | None] | None = None) -> AnswerDone:
    """One whole turn: begun on the gate (an older turn stops), each event handed to `on_event` (awaited
    when it is a coroutine), the AnswerDone returned."""
    turn = responder.gate.begin()
    done: AnswerDone | None = None
    async for event in responder.respond(turn, question, speak=speak, t0=t0):
        if isinstance(event, AnswerDone):
            done = event
        elif on_event is not None and (pending := on_event(event)) is not None:
            await pending
    assert done is not None  # respond() always ends with AnswerDone
    return done
