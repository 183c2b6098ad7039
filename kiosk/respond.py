"""One turn, streamed: question → grounding → LLM tokens → sentences → Piper audio with visemes.

With a knowledge base, retrieval decides first: a confident FAQ match is spoken verbatim and a
question the documents do not cover gets an honest "I don't know" with the fallback contact; in
both cases the LLM is not asked. Every sentence passes the SentenceGuard before it is spoken.

Runs on the asyncio loop. The blocking engines each get their own single worker thread, so the LLM
keeps generating sentence two while Piper speaks sentence one, and neither blocks the loop.
Every event carries the turn id; once the gate moves on, the old turn's tokens stop within one
token and its queued sentences and audio are dropped here.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from kiosk.answer.engine import AnswerEngine
from kiosk.answer.guard import SentenceGuard
from kiosk.answer.llm import GenerationStats
from kiosk.answer.sentences import ChunkerSettings, SentenceChunker
from kiosk.config import AnswerSettings
from kiosk.events import AnswerDone, AnswerSentence, AnswerToken, Event, SpeechAudio, Timings
from kiosk.knowledge.grounding import Grounder, Grounding, decline_text
from kiosk.speech.piper_voice import PiperSpeaker

log = logging.getLogger(__name__)

_END = object()
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*$")


def chunker_settings(answer: AnswerSettings) -> ChunkerSettings:
    return ChunkerSettings(first_chunk_min_words=answer.first_chunk_min_words,
                           first_chunk_max_words=answer.first_chunk_max_words,
                           max_chars=answer.max_sentence_chars)


class Responder:
    def __init__(self, engine: AnswerEngine, speaker: PiperSpeaker | None, answer: AnswerSettings,
                 grounder: Grounder | None = None) -> None:
        self.engine = engine
        self.speaker = speaker
        self.grounder = grounder
        self.chunking = chunker_settings(answer)
        self._llm_thread = ThreadPoolExecutor(1, thread_name_prefix="llm")
        self._tts_thread = ThreadPoolExecutor(1, thread_name_prefix="tts")
        # Speech first: on shared CPU cores, decoding the rest of the answer while Piper speaks the
        # first sentence slows that sentence down; playback leaves ample time to catch up.
        mode = answer.yield_to_speech
        self.yield_to_speech = mode == "on" or (mode == "auto" and engine.llm.settings.gpu_layers == 0)

    @property
    def gate(self):  # noqa: ANN201
        return self.engine.gate

    def close(self) -> None:
        self._llm_thread.shutdown(wait=True, cancel_futures=True)
        self._tts_thread.shutdown(wait=True, cancel_futures=True)

    def _ground(self, question: str) -> Grounding | None:
        if self.grounder is None:
            return None
        try:
            return self.grounder.ground(question)
        except Exception:  # noqa: BLE001 - a broken index must not silence the kiosk
            log.exception("knowledge search failed; declining")
            return Grounding("decline", reply=decline_text(self.grounder.persona))

    def _guard(self, question: str, grounding: Grounding | None) -> SentenceGuard | None:
        """The check for the LLM's sentences; None for replies we decided ourselves (FAQ, decline)."""
        if grounding is not None and grounding.decision != "answer":
            return None
        contact = self.engine.fallback_contact
        evidence = None if grounding is None else " ".join([grounding.context, question, contact])
        return SentenceGuard(self.engine.system, evidence, public=contact)

    def _fallback(self, question: str, grounding: Grounding | None) -> list[str]:
        apology = "I'm sorry, I can't put an answer together right now."
        best = None
        if self.grounder is not None and grounding is not None:
            try:
                best = self.grounder.best_quote(question, grounding)
            except Exception:  # noqa: BLE001 - the apology alone is still better than silence
                log.exception("fallback quote failed")
        if best:
            return [apology, "Here is what our documents say:", best]
        return [apology, self.engine.fallback_contact] if self.engine.fallback_contact else [apology]

    def _fixed(self, turn_id: int, question: str, reply: str, stats: GenerationStats):  # noqa: ANN202
        """A reply decided without the LLM, streamed like one; it joins the history too."""
        stats.finish_reason = "stop"
        if self.gate.is_current(turn_id):
            yield reply
            self.engine.conversation.add(question, reply)

    async def respond(self, turn_id: int, question: str, *, speak: bool = True,
                      t0: float | None = None) -> AsyncIterator[Event]:
        """Yields the turn's events, always ending with AnswerDone (also when cancelled or failed)."""
        t0 = time.perf_counter() if t0 is None else t0
        grounding = self._ground(question)
        guard = self._guard(question, grounding)
        loop = asyncio.get_running_loop()
        out: asyncio.Queue = asyncio.Queue()
        tokens: asyncio.Queue = asyncio.Queue()
        sentences: asyncio.Queue = asyncio.Queue()
        stats = GenerationStats()
        marks: dict[str, float] = {}
        spoken: list[str] = []
        dropped: list[str] = []
        declined: list[bool] = []
        errors: list[str] = []

        def ms() -> float:
            return round((time.perf_counter() - t0) * 1000, 1)

        # With yield_to_speech the LLM thread works in lockstep with the loop: after each token it
        # waits until the chunker has seen it (`seen`), then until no sentence is waiting for or in
        # synthesis (`speech_idle`). Both events are set and cleared on the loop thread only.
        seen = threading.Event()
        speech_idle = threading.Event()
        speech_idle.set()
        pending = 0

        def wait_for(event: threading.Event) -> bool:
            while not event.wait(0.02):
                if not self.gate.is_current(turn_id):
                    return False
            return True

        def pace() -> None:  # llm thread, before computing the next token
            if wait_for(seen):
                seen.clear()
                wait_for(speech_idle)

        def speech_queued(delta: int) -> None:  # loop thread
            nonlocal pending
            pending += delta
            if pending:
                speech_idle.clear()
            else:
                speech_idle.set()

        def produce() -> None:  # llm thread
            try:
                paced = pace if self.yield_to_speech and speak and self.speaker is not None else None
                if grounding is not None and grounding.decision != "answer":
                    source = self._fixed(turn_id, question, grounding.reply, stats)
                else:
                    context = grounding.context if grounding is not None else ""
                    source = self.engine.generate(turn_id, question, context, stats, paced)
                for text in source:
                    loop.call_soon_threadsafe(tokens.put_nowait, text)
            except Exception as error:  # noqa: BLE001 - reported as a turn error, never raised at a visitor
                log.exception("answer generation failed")
                loop.call_soon_threadsafe(tokens.put_nowait, error)
            finally:
                loop.call_soon_threadsafe(tokens.put_nowait, _END)

        async def chunk() -> None:
            chunker = SentenceChunker(self.chunking)
            index = 0

            async def emit(texts: list[str]) -> None:
                nonlocal index
                for text in texts:
                    if guard is not None and (reason := guard.check(text)):
                        log.info("not speaking a sentence (%s): %r", reason, text)
                        dropped.append(text)
                        continue
                    marks.setdefault("first_sentence", ms())
                    spoken.append(text)
                    await out.put(AnswerSentence(turn_id, index, text))
                    if speak and self.speaker is not None:
                        speech_queued(+1)
                        await sentences.put((index, text))
                    index += 1

            while (item := await tokens.get()) is not _END:
                if isinstance(item, Exception):
                    errors.append("generation")
                elif self.gate.is_current(turn_id):  # stale tokens are drained, never emitted
                    marks.setdefault("ttft", ms())
                    await out.put(AnswerToken(turn_id, item))
                    await emit(chunker.feed(item))
                seen.set()
            if self.gate.is_current(turn_id):
                tail = chunker.flush()
                if stats.finish_reason == "length" and index > 0:
                    # Cut off by max_tokens: a half sentence is worse than none, so it is neither
                    # spoken nor kept in the answer.
                    tail = [t for t in tail if _SENTENCE_END.search(t)]
                await emit(tail)
                if dropped and not spoken and self.grounder is not None:
                    declined.append(True)  # nothing the documents support was left to say
                    await emit([decline_text(self.grounder.persona)])
                if errors and not spoken:  # the LLM failed: apologize, then the documents' best sentence
                    await emit(self._fallback(question, grounding))
            await sentences.put(_END)

        async def synthesize() -> None:
            while (item := await sentences.get()) is not _END:
                index, text = item
                if not self.gate.is_current(turn_id):
                    speech_queued(-1)
                    continue
                try:
                    chunks = await loop.run_in_executor(self._tts_thread, lambda t=text: list(self.speaker.speak(t)))
                except Exception:  # noqa: BLE001 - a sentence that cannot be spoken is still captioned
                    log.exception("speech synthesis failed for %r", text)
                    errors.append("speech")
                    continue
                finally:
                    speech_queued(-1)
                for c in chunks:
                    if not self.gate.is_current(turn_id):
                        break
                    marks.setdefault("first_audio", ms())
                    await out.put(SpeechAudio(turn_id, index, c))

        async def run() -> None:
            try:
                await asyncio.gather(chunk(), synthesize())
            finally:
                await out.put(_END)

        job = loop.run_in_executor(self._llm_thread, produce)
        runner = asyncio.ensure_future(run())
        try:
            while (event := await out.get()) is not _END:
                yield event
        finally:
            if not runner.done():  # the consumer went away: make the turn stale so the thread stops
                self.gate.begin()
                runner.cancel()
            await asyncio.gather(job, return_exceptions=True)
        cancelled = stats.stopped_early or not self.gate.is_current(turn_id)
        timings = Timings(ttft=marks.get("ttft"), first_sentence=marks.get("first_sentence"),
                          first_audio=marks.get("first_audio"), total=ms(), prompt_tokens=stats.prompt_tokens,
                          cached_tokens=stats.cached_tokens, completion_tokens=stats.completion_tokens)
        error = None
        if errors:
            error = "I'm sorry, something went wrong on my side. Please try again."
        grounded = grounding is not None and grounding.grounded and not declined
        sources = tuple(grounding.sources) if grounded and grounding is not None else ()
        yield AnswerDone(turn_id, " ".join(spoken), cancelled, timings, sources=sources, grounded=grounded,
                         error=error)
