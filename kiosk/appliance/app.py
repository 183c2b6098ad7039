"""`kiosk run`: the one event loop that owns the visitor and joins listening, answering, speech and screen.

    IDLE -> (wake / tap) -> LISTENING -> (question heard or typed) -> THINKING -> SPEAKING -> FOLLOW_UP
         -> (the listener's follow-up window passes) -> IDLE; after `session_timeout_s` of quiet the
            visitor's session (conversation history, captions) is forgotten.

Microphone events arrive from the listener's worker thread and screen input from the screen task; both
go through one asyncio queue, so every decision is made on the loop, in order. A wake or tap while the
kiosk speaks is a barge-in: the turn is cancelled (the LLM stops within a token, queued sentences and
audio are dropped) and the kiosk listens. Each stage's failure is caught and shown, never a traceback.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from kiosk.appliance.notify import Notifier
from kiosk.events import AnswerDone, Heard, HeardPartial, ListenEvent, MicrophoneStatus, SpeechAudio, Wake

log = logging.getLogger(__name__)

GREETING_DELAY_S = 0.8  # a question said in the same breath as the wake phrase arrives within this


class Phase(enum.Enum):
    IDLE = "idle"
    LISTENING = "listening"
    THINKING = "thinking"
    SPEAKING = "speaking"
    FOLLOW_UP = "follow_up"


class Kiosk:
    def __init__(self, runtime: Any, *, listener: Any = None, player: Any = None, screen: Any = None,
                 notifier: Notifier | None = None) -> None:
        self.rt, self.listener, self.player, self.screen = runtime, listener, player, screen
        self.notifier = notifier or Notifier()
        self.service = runtime.settings.service
        # Bounded: the kiosk runs for months; the status endpoint shows only the latest anyway.
        self.errors: deque[str] = deque(maxlen=20)
        self.phase = Phase.IDLE
        self.turns: deque[dict[str, Any]] = deque(maxlen=100)  # the latest turns, for /status and tests
        self.turn_count = 0
        self._queue: asyncio.Queue[ListenEvent] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._turn: asyncio.Task | None = None
        self._last_activity = time.monotonic()
        self._in_session = False
        self._turn_started: float | None = None
        self._greeting: asyncio.Task | None = None

    # -- inputs (any thread) ---------------------------------------------------------------------------------

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop `post` hands events to (set before the microphone starts delivering)."""
        self._loop = loop

    def post(self, event: ListenEvent) -> None:
        if self._loop is None:
            raise RuntimeError("Kiosk.post before run()")
        self._loop.call_soon_threadsafe(self._queue.put_nowait, event)

    # -- the loop --------------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        tasks = [asyncio.create_task(self.notifier.feed_watchdog(stop, healthy=self.healthy)),
                 asyncio.create_task(self._forget_quiet_visitors(stop))]
        if self.screen is not None:
            tasks.append(asyncio.create_task(self.screen.run(stop)))
        self.notifier.ready("idle")
        log.info("kiosk ready")
        try:
            while not stop.is_set():
                getter = asyncio.create_task(self._queue.get())
                stopper = asyncio.create_task(stop.wait())
                done, _ = await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                stopper.cancel()
                if getter not in done:
                    getter.cancel()
                    break
                await self._handle(getter.result())
        finally:
            self.notifier.stopping()
            self._cancel_turn()
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _handle(self, event: ListenEvent) -> None:
        self._last_activity = time.monotonic()
        if self.screen is not None:
            self.screen.listen_event(event)
        if isinstance(event, Wake):
            if event.source != "voice" and self.listener is not None:
                self.listener.tap(event.source, echo=False)  # the microphone takes the next utterance
            if self.phase in (Phase.SPEAKING, Phase.THINKING):
                log.info("barge-in (%s)", event.source)
                self._cancel_turn()
            elif not self._in_session and self.service.greeting and self.rt.speaker is not None:
                self._greeting = asyncio.create_task(self._greet())
            self._set_phase(Phase.LISTENING)
        elif isinstance(event, Heard):
            self._cancel_turn()
            self._turn = asyncio.create_task(self._answer(event))
        elif isinstance(event, MicrophoneStatus):
            log.log(logging.WARNING if event.down else logging.INFO, "microphone %s: %s", event.state, event.detail)
        elif isinstance(event, HeardPartial) and self.phase is not Phase.LISTENING:
            self._set_phase(Phase.LISTENING)

    async def _greet(self) -> None:
        """A new visitor who only said the wake phrase (or tapped) is greeted, unless a question follows."""
        await asyncio.sleep(GREETING_DELAY_S)
        if self._turn is not None or self.phase is not Phase.LISTENING:
            return
        self._in_session = True
        clip = await asyncio.to_thread(self.rt.speaker.speak_joined, self.rt.settings.persona.greeting)
        if self.listener is not None:
            self.listener.speaking_started()
        self._play(SpeechAudio(0, 0, clip))
        if self.player is not None:
            await self.player.drain()
        if self.listener is not None:
            self.listener.speaking_finished()

    def healthy(self) -> bool:
        """False once a turn has run longer than service.turn_timeout_s: a hung stage; the watchdog stops."""
        started = self._turn_started
        hung = started is not None and time.monotonic() - started > self.service.turn_timeout_s
        message = f"turn running for over {self.service.turn_timeout_s:g} s: letting systemd restart"
        if hung and (not self.errors or self.errors[-1] != message):  # once, not at every watchdog tick
            self.errors.append(message)
        return not hung

    def snapshot(self) -> dict[str, Any]:
        """For the status endpoint (read from its thread: only simple values, replaced whole)."""
        return {"state": self.phase.value, "in_session": self._in_session, "turns": self.turn_count,
                "last_turn": self.turns[-1] if self.turns else None, "errors": list(self.errors)[-10:],
                "listening": self.listener is not None, "sound": self.player is not None}

    async def _answer(self, heard: Heard) -> None:
        """One turn: the question answered, spoken and shown; the listener's gate closed while speaking."""
        if self._greeting is not None:
            self._greeting.cancel()
        self._in_session = True
        self._turn_started = time.monotonic()
        self._set_phase(Phase.THINKING)
        turn = self.rt.engine.gate.begin()
        t0 = time.perf_counter()
        spoken = False
        to_speaker: list[float] = []  # question received -> first sentence handed to the sound device (ms)

        def playing() -> None:
            if not to_speaker:
                to_speaker.append(round((time.perf_counter() - t0) * 1000, 1))

        done: AnswerDone | None = None
        try:
            async for event in self.rt.responder.respond(turn, heard.text, speak=self.rt.speaker is not None):
                if isinstance(event, SpeechAudio):
                    if not spoken:
                        spoken = True
                        self._set_phase(Phase.SPEAKING)
                        if self.listener is not None:
                            self.listener.speaking_started()
                    self._play(event, playing)
                elif isinstance(event, AnswerDone):
                    done = event
            if self.player is not None:
                await self.player.drain()
        except asyncio.CancelledError:
            log.info("turn %d cancelled", turn)
            raise
        finally:
            if spoken and self.listener is not None:
                self.listener.speaking_finished()
            self._turn_started = None
            if done is not None and done.error:
                self.errors.append(done.error)
            if done is not None:
                self.turn_count += 1
                self.turns.append({"question": heard.text, "answer": done.answer, "grounded": done.grounded,
                                   "timings_ms": {**done.timings.to_dict(), "recognition": heard.recognition_ms,
                                                  "to_speaker": to_speaker[0] if to_speaker else None},
                                   "error": done.error,
                                   "total_s": round(time.perf_counter() - t0, 3)})
        self._set_phase(Phase.FOLLOW_UP)
        if self.screen is not None:
            self.screen.idle()

    def _play(self, audio: SpeechAudio, playing: Callable[[], None] | None = None) -> None:
        """`playing`: called (on the loop) when the clip starts playing."""
        clip = audio.clip
        if self.player is None:  # no sound output: captions (and lips) on the wall clock
            if self.screen is not None:
                start = time.monotonic()
                self.screen.speak(clip, None, lambda: time.monotonic() - start)
            return
        screen = self.screen

        def started() -> None:
            if playing is not None:
                playing()
            if screen is not None:
                screen.speak(clip, None, self.player.position)

        self.player.submit(clip.pcm, clip.sample_rate, on_start=started)

    def _cancel_turn(self) -> None:
        if self._turn is not None and not self._turn.done():
            self.rt.engine.gate.begin()  # the responder and the LLM stop at their next check
            self._turn.cancel()
            if self.player is not None:
                self.player.cancel()
        self._turn = None

    def _set_phase(self, phase: Phase) -> None:
        if phase is not self.phase:
            log.debug("visitor: %s -> %s", self.phase.value, phase.value)
            self.phase = phase
            self.notifier.status(phase.value)

    async def _forget_quiet_visitors(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(1.0)
            quiet = time.monotonic() - self._last_activity
            if self._in_session and quiet > self.service.forget_after_s and self.phase in (Phase.FOLLOW_UP, Phase.IDLE):
                log.info("visitor gone (%.0f s quiet): session forgotten", quiet)
                self.rt.engine.reset()
                self._in_session = False
                self._set_phase(Phase.IDLE)
                if self.screen is not None:
                    self.screen.overlay.clear_captions()
