"""`kiosk run`: the one event loop that owns the visitor and joins listening, answering, speech and screen.

    IDLE -> (wake / tap: earcon) -> LISTENING -> (question heard or typed) -> THINKING -> SPEAKING
         -> FOLLOW_UP -> (the listener's follow-up window passes) -> IDLE; a new visitor who says
            nothing through the question window is greeted (`service.greeting`); after
            `forget_after_s` of quiet the visitor's session (conversation history, captions) is forgotten.

Nothing the kiosk says may swallow speech that has already begun: when the listener reports speech
while the kiosk thinks or speaks (it began before the kiosk's voice, or it is a voice barge-in), the
kiosk stops and listens; speech resuming right after a question continues that question.

Microphone events arrive from the listener's worker thread and screen input from the screen task; both
go through one asyncio queue, so every decision is made on the loop, in order. A wake or tap while the
kiosk speaks is a barge-in: the turn is cancelled (the LLM stops within a token, queued sentences and
audio are dropped) and the kiosk listens. Each stage's failure is caught and shown, never a traceback.
The loop's own tasks (watchdog, forgetting, screen) run supervised (kiosk/appliance/supervise.py): one that
raises is logged, listed in /status and restarted; one that keeps failing stops the kiosk for systemd.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from kiosk.answer.pipeline import run_turn
from kiosk.answer.sentences import split_sentences
from kiosk.appliance import memory
from kiosk.appliance.hub import EventHub
from kiosk.appliance.lessons import Activity, Lesson, Lessons
from kiosk.appliance.notify import Notifier
from kiosk.appliance.ports import Display, Engines, Listening, Sound
from kiosk.appliance.supervise import RestartPolicy, Supervisor
from kiosk.audio.earcon import RATE as EARCON_RATE
from kiosk.audio.earcon import chime
from kiosk.events import (
    AnswerDone,
    Dismissed,
    Heard,
    HeardPartial,
    ListenEvent,
    MicrophoneStatus,
    SpeechAudio,
    SpeechEnded,
    SpeechStarted,
    TurnEvent,
    VisitorChanged,
    VisitorState,
    Wake,
    WakeSource,
    WindowClosed,
)

log = logging.getLogger(__name__)
MAX_RESUMES = 2


class KioskBusy(RuntimeError):
    """The local API asked while a visitor is being served (the visitor goes first)."""

EARCON_WAIT_S = 0.05  # the listener posts a wake's question (one breath) right after the wake


class Kiosk:
    def __init__(self, runtime: Engines, *, listener: Listening | None = None, player: Sound | None = None,
                 screen: Display | None = None, notifier: Notifier | None = None,
                 restart: RestartPolicy | None = None, lessons: Lessons | None = None) -> None:
        self.rt, self.listener, self.player, self.screen = runtime, listener, player, screen
        self.lessons = lessons
        self.lesson: Lesson | None = None  # a quiz or practice conversation under way (kiosk/appliance/lessons.py)
        self._lesson_said_at = 0.0  # loop time the lesson last spoke: its window reopens until the visitor is gone
        self._lesson_cut = False  # the visitor cut the lesson's last reply short
        self.notifier = notifier or Notifier()
        self.service = runtime.settings.service
        # Bounded: the kiosk runs for months; the status endpoint shows only the latest anyway.
        self.errors: deque[str] = deque(maxlen=20)
        self.supervisor = Supervisor(self.errors.append, restart)
        self.phase = VisitorState.IDLE
        self.turns: deque[dict[str, Any]] = deque(maxlen=100)  # the latest turns, for /status and tests
        self.turn_count = 0
        self._queue: asyncio.Queue[ListenEvent] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._turn: asyncio.Task | None = None
        self._last_activity = 0.0  # loop time of the visitor's latest event
        self._in_session = False
        # Since when the engines have had work that has not finished: set by a turn, kept when the turn is cancelled
        # (its engine call may still run), cleared by a turn that completes or once the engines are idle. A hung
        # LLM keeps it, however many questions visitors go on asking.
        self._busy_since: float | None = None
        self._greeting: asyncio.Task | None = None
        self._chime: asyncio.TimerHandle | None = None  # the earcon, due a moment after a wake
        self._question: tuple[str, float] | None = None  # the turn's question and where its speech ended
        self._asked: Heard | None = None  # the current turn's question
        self._interrupted: Heard | None = None  # a question whose answer stopped for speech not yet judged
        self._resumed = 0  # times the current question was answered again after such a stop
        self._prefix: str | None = None  # a question cut short: the visitor went on, it continues
        self._last_end = -1e9  # stream time (s) of the last question's end of speech
        self.wakes = 0
        self.dismissed = 0
        self.microphone = "none" if listener is None else "starting"  # the latest MicrophoneStatus state
        self.facts: dict[str, Any] = {}  # what the process found at start (GPU, drawing backend), for /status
        self.hub = EventHub()  # every event the loop sees, for metrics and the local API's event stream
        self._stop: asyncio.Event | None = None
        self.restart_requested = False  # the console changed the persona: `kiosk run` exits 0, systemd restarts it
        self._api_lock = asyncio.Lock()  # the local API asks and announces one at a time
        self._api_asking = False  # an API question is being answered (a wake stops it at once)

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
        self._stop = stop
        self._last_activity = self._now()
        start = self.supervisor.start
        tasks = [start("watchdog", lambda: self.notifier.feed_watchdog(stop, healthy=self.healthy), stop),
                 start("forget", lambda: self._forget_quiet_visitors(stop), stop)]
        screen = self.screen
        if screen is not None:
            if self.lessons is not None:
                screen.offer(self.lessons.labels)
            tasks.append(start("screen", lambda: screen.run(stop), stop))
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
        self.hub.publish(event)
        if isinstance(event, Dismissed):  # somebody else's conversation: shown nowhere, answered never
            self.dismissed += 1
            if event.reason == "unclear":  # the visitor interrupted but was not understood: they go on
                self._interrupted = None
                self._earcon_soon()
                self._set_phase(VisitorState.LISTENING)
                return
            self._resume_interrupted()
            return
        self._last_activity = self._now()
        if self.screen is not None:
            self.screen.listen_event(event)
        if isinstance(event, Wake):
            self.wakes += 1
            if self.phase is VisitorState.IDLE and self._in_session and self.lesson is None:
                # Woken again after it went back to sleep: at a busy kiosk the next person, who must not get
                # their question searched with the last visitor's topic ("where's the IT help desk?" answered
                # from the hot-work permit asked about 30 s before). Someone coming back says their topic again.
                log.info("woken from sleep: the last question's topic is not carried over")
                self.rt.responder.forget()
            if event.source != "voice" and self.listener is not None:
                self.listener.tap(event.source, echo=False)  # the microphone takes the next utterance
            if self.phase in (VisitorState.SPEAKING, VisitorState.THINKING) or self._greeting_active():
                log.info("barge-in (%s)", event.source)
                self._stop_talking()
            if self._api_asking:  # the LLM is the visitor's by the time they have asked: the API's turn ends now
                self.rt.engine.gate.begin()
            self._prefix = self._interrupted = None
            self._earcon_soon()
            self._set_phase(VisitorState.LISTENING)
        elif isinstance(event, SpeechStarted):
            self._visitor_spoke(event)
        elif isinstance(event, SpeechEnded):
            self._last_end = event.t
        elif isinstance(event, Heard):
            self._cancel_turn()
            self._interrupted, self._resumed = None, 0
            if self._chime is not None:  # "hey coach, where ..." in one breath: the answer is the reply
                self._chime.cancel()
            if self._prefix is not None:
                event = dataclasses.replace(event, text=f"{self._prefix} {event.text}")
                log.info("question continued: %r", event.text)
                self._prefix = None
            asked = self.lessons.requested(event.text) if self.lessons and self.lesson is None else None
            lesson = self.lesson is not None or asked is not None
            self._turn = asyncio.create_task(self._lesson_turn(event, asked) if lesson else self._answer(event))
        elif isinstance(event, WindowClosed):
            self._window_closed(event)
        elif isinstance(event, MicrophoneStatus):
            self.microphone = event.state.value
            log.log(logging.WARNING if event.down else logging.INFO, "microphone %s: %s", event.state, event.detail)
        elif isinstance(event, HeardPartial) and self.phase is not VisitorState.LISTENING:
            self._set_phase(VisitorState.LISTENING)

    def _visitor_spoke(self, event: SpeechStarted) -> None:
        """Speech while the kiosk thinks, greets or speaks: the visitor goes first. Right after a question
        it is the rest of that question ("where is the ..." / "IT help desk?"), even when the answer has
        begun or ended (the listener tells of such speech only once it has heard all of it and found it
        not the kiosk's own words): within `merge_s` of their last word nobody is replying to the answer."""
        busy = self.phase in (VisitorState.THINKING, VisitorState.SPEAKING) and self._turn is not None
        asked = self._question if self.lesson is None else None
        if asked is not None and event.t - asked[1] <= self.rt.settings.listen.merge_s:
            self._prefix = asked[0]
            log.info("the visitor goes on after %r: waiting for the rest", self._prefix)
        if busy:
            self._interrupted = self._asked  # answered after all if this speech is dismissed
        if busy or self._greeting_active():
            log.info("the visitor is speaking: the kiosk stops and listens")
            self._stop_talking()
        self._set_phase(VisitorState.LISTENING)

    def _resume_interrupted(self) -> None:
        """The speech that stopped an answer was not the visitor's question after all (the kiosk's own
        echo, a bystander, a cough): the question it interrupted is answered after all."""
        heard, self._interrupted = self._interrupted, None
        if heard is None or self.phase is not VisitorState.LISTENING or self._turn is not None:
            return
        if self._resumed >= MAX_RESUMES:  # something keeps stopping it (a noisy room): the visitor can ask again
            log.warning("answer to %r stopped %d times by speech that was not a question: giving up",
                        heard.text, self._resumed + 1)
            self._set_phase(VisitorState.FOLLOW_UP)
            return
        self._resumed += 1
        log.info("the speech was not a question: answering %r after all", heard.text)
        self._prefix = None
        self._turn = asyncio.create_task(self._answer(heard))

    def _window_closed(self, event: WindowClosed) -> None:
        if self.phase not in (VisitorState.LISTENING, VisitorState.FOLLOW_UP) or self._greeting_active():
            return  # a turn or the greeting is under way; its end opens the next window
        if self.lesson is not None and self._now() - self._lesson_said_at < self.service.forget_after_s:
            if self.listener is not None:  # people think before they answer: the lesson keeps listening
                self.listener.tap(WakeSource.TAP.value, echo=False)  # the window again, as a tap opens it
            return
        greet = (event.window == "question" and not self._in_session and self.service.greeting
                 and self.rt.speaker is not None)
        if greet:
            self._greeting = asyncio.create_task(self._greet())
            return
        self._set_phase(VisitorState.IDLE)
        if self.screen is not None:
            self.screen.idle()

    def _earcon_soon(self) -> None:
        """The chime, unless the question came with the wake phrase (its events follow within a moment):
        then the answer follows at once, and a chime running into its first words would only reach the
        microphone as one more thing to tell apart from the visitor."""
        if self.service.earcon and self.player is not None:
            if self._chime is not None:
                self._chime.cancel()
            self._chime = asyncio.get_running_loop().call_later(EARCON_WAIT_S, self._earcon)

    def _earcon(self) -> None:
        self._chime = None
        if self.player is not None:
            self.player.submit(chime(), EARCON_RATE, pause=False)

    def _greeting_active(self) -> bool:
        return self._greeting is not None and not self._greeting.done()

    async def _greet(self) -> None:
        """A new visitor who woke the kiosk and said nothing through the question window is greeted;
        then the question window opens again."""
        self._in_session = True
        assert self.rt.speaker is not None  # greeted only when there is a voice
        clip = await asyncio.to_thread(self.rt.speaker.speak_joined, self.rt.settings.persona.greeting)
        if self.listener is not None:
            self.listener.speaking_started()
            self.listener.saying(clip.text)
        self._set_phase(VisitorState.SPEAKING)
        try:
            self._play(SpeechAudio(0, 0, clip))
            if self.player is not None:
                await self.player.drain()
        finally:
            if self.listener is not None:
                self.listener.speaking_finished(window="question")
            if self.phase is VisitorState.SPEAKING:  # not stopped by the visitor: the question window again
                self._set_phase(VisitorState.LISTENING)
                if self.screen is not None:
                    self.screen.idle()

    def healthy(self) -> bool:
        """False once a turn has run longer than service.turn_timeout_s (a hung stage) or while one of the loop's
        essential tasks is down (restarting or given up): the watchdog stops."""
        started = self._busy_since
        if started is not None and (self._turn is None or self._turn.done()) and not self.rt.responder.busy():
            started = self._busy_since = None  # a cancelled turn's engine call has finished
        hung = started is not None and self._now() - started > self.service.turn_timeout_s
        message = f"turn running for over {self.service.turn_timeout_s:g} s: letting systemd restart"
        if hung and (not self.errors or self.errors[-1] != message):  # once, not at every watchdog tick
            self.errors.append(message)
        return not hung and self.supervisor.healthy()

    @property
    def failed_task(self) -> str | None:
        """The loop task that kept failing and stopped the kiosk (`kiosk run` exits non-zero), if any."""
        return self.supervisor.gave_up

    def snapshot(self) -> dict[str, Any]:
        """For the status endpoint (read from its thread: only simple values, replaced whole)."""
        return {"state": self.phase.value, "in_session": self._in_session, "turns": self.turn_count,
                "last_turn": self.turns[-1] if self.turns else None, "recent": list(self.turns)[-20:],
                "wakes": self.wakes, "dismissed": self.dismissed, "errors": list(self.errors)[-10:],
                "listening": self.listener is not None, "microphone": self.microphone,
                "sound": self.player is not None, "tasks": self.supervisor.snapshot(),
                "screen": self.screen.report() if self.screen is not None else None,
                "lessons": self.lessons.snapshot(self.lesson) if self.lessons is not None else None, **self.facts}

    async def _answer(self, heard: Heard) -> None:
        """One turn: the question answered, spoken and shown; the listener's gate closed while speaking."""
        if self._greeting_active():
            self._stop_talking()
        self._in_session = True
        self._asked, self._question = heard, (heard.text, self._last_end)
        if self._busy_since is None:
            self._busy_since = self._now()
        self._set_phase(VisitorState.THINKING)
        t0 = time.perf_counter()
        spoken = False
        to_speaker: list[float] = []  # question received -> first sentence handed to the sound device (ms)

        def playing() -> None:
            if not to_speaker:
                to_speaker.append(round((time.perf_counter() - t0) * 1000, 1))

        def on_event(event: TurnEvent) -> None:
            nonlocal spoken
            self.hub.publish(event)
            if not isinstance(event, SpeechAudio):
                return
            if not spoken:
                spoken = True
                self._set_phase(VisitorState.SPEAKING)
                if self.listener is not None:
                    self.listener.speaking_started()
            if self.listener is not None:
                self.listener.saying(event.clip.text)
            self._play(event, playing)

        done: AnswerDone | None = None
        cut_off = False
        try:
            done = await run_turn(self.rt.responder, heard.text, speak=self.rt.speaker is not None, t0=t0,
                                  on_event=on_event)
            if self.player is not None:
                await self.player.drain()
        except asyncio.CancelledError:
            log.info("turn for %r cancelled", heard.text)
            cut_off = True
            raise
        finally:
            if spoken and self.listener is not None:
                self.listener.speaking_finished()
            if done is not None and not cut_off:
                self._busy_since = None  # the engines answered: whatever was running before has finished
            if done is not None:
                self.hub.publish(done)
                self._record(heard, done, cut_off, to_speaker[0] if to_speaker else None, t0)
        self._set_phase(VisitorState.FOLLOW_UP)
        if self.screen is not None:
            self.screen.idle()
        # What the turn freed goes back to the system (kiosk.appliance.memory), off the loop's thread.
        asyncio.get_running_loop().run_in_executor(None, memory.trim)

    async def _lesson_turn(self, heard: Heard, activity: Activity | None = None) -> None:
        """A step of a quiz or practice conversation: what the visitor said goes to the lesson (starting
        `activity`, when they asked for one), and the avatar says the lesson's reply; the question window
        opens after it."""
        assert self.lessons is not None
        self._in_session = True
        self._set_phase(VisitorState.THINKING)
        t0 = time.perf_counter()
        if self.lesson is None:
            assert activity is not None
            log.info("lesson started: %s %r", activity.kind, activity.title)
            self.lesson = self.lessons.begin(activity)
            step = await asyncio.to_thread(self.lesson.start)
        else:  # how long they spoke and whether they cut the avatar short: a practice rubric may ask
            seconds = heard.words[-1].end_s if heard.words else None
            interrupted, self._lesson_cut = self._lesson_cut, False
            step = await asyncio.to_thread(self.lesson.hear, heard.text, seconds, interrupted)
        title = self.lesson.activity.title
        if step.done:
            self.lesson = None
            self.lessons.refresh_results()
        if self.listener is not None:
            self.listener.expect(step.expect)
        if self.screen is not None:
            self.screen.offer(step.choices if not step.done else self.lessons.labels, stop=not step.done)
            if step.mood:
                self.screen.mood(step.mood)
        timings = {"end_to_heard": heard.end_to_heard_ms, "reply": round((time.perf_counter() - t0) * 1000, 1),
                   "to_speaker": None}
        self.turns.append({"question": heard.text, "answer": step.say, "lesson": title, "lesson_done": step.done,
                           "timings_ms": timings})

        def playing() -> None:  # what was said -> the verdict (or reply) starts playing
            if timings["to_speaker"] is None:
                timings["to_speaker"] = round((time.perf_counter() - t0) * 1000, 1)

        self._lesson_said_at = self._now()
        try:
            await self._say(step.say, window="follow_up" if step.done else "question", playing=playing)
        except asyncio.CancelledError:
            self._lesson_cut = not step.done  # the visitor spoke up or tapped over the avatar
            raise
        self._lesson_said_at = self._now()  # the visitor's time to answer starts when the kiosk has finished

    async def _say(self, text: str, window: str, playing: Callable[[], None] | None = None) -> None:
        """The avatar says `text` sentence by sentence (the next one is made while one plays), the microphone
        gated meanwhile; then `window` opens (and the visitor state follows it). A wake stops it."""
        if self.rt.speaker is None:
            return
        started = False
        try:
            for i, sentence in enumerate(split_sentences(text) or [text]):
                clip = await asyncio.to_thread(self.rt.speaker.speak_joined, sentence)
                if not started:
                    started = True
                    if self.listener is not None:
                        self.listener.speaking_started()
                    self._set_phase(VisitorState.SPEAKING)
                if self.listener is not None:
                    self.listener.saying(clip.text)
                self._play(SpeechAudio(0, i, clip), playing)
            if self.player is not None:
                await self.player.drain()
        finally:
            if started and self.listener is not None:
                self.listener.speaking_finished(window=window)
            if self.phase in (VisitorState.SPEAKING, VisitorState.THINKING):
                self._set_phase(VisitorState.FOLLOW_UP if window == "follow_up" else VisitorState.LISTENING)
                if self.screen is not None:
                    self.screen.idle()

    def _record(self, heard: Heard, done: AnswerDone, cut_off: bool, to_speaker: float | None, t0: float) -> None:
        """A cut-off answer is listed (written, not all heard) but not counted."""
        if done.error_codes:  # which stage failed, for whoever reads /status (the visitor heard an apology)
            self.errors.append(f"turn {done.turn_id} ({heard.text[:60]!r}): "
                               + ", ".join(f"{code} failed" for code in done.error_codes))
        elif done.error:
            self.errors.append(done.error)
        self.turn_count += 0 if cut_off else 1
        self.turns.append({"question": heard.text, "answer": done.answer, "grounded": done.grounded,
                           "cut_off": cut_off,
                           "timings_ms": {**done.timings.to_dict(), "recognition": heard.recognition_ms,
                                          "end_to_heard": heard.end_to_heard_ms,
                                          "to_speaker": to_speaker},
                           "error": done.error, "total_s": round(time.perf_counter() - t0, 3)})

    def _play(self, audio: SpeechAudio, playing: Callable[[], None] | None = None) -> None:
        """`playing`: called (on the loop) when the clip starts playing."""
        clip = audio.clip
        if self.player is None:  # no sound output: captions (and lips) on the wall clock
            if self.screen is not None:
                start = self._now()
                self.screen.speak(clip, None, lambda: self._now() - start)
            return
        screen, player = self.screen, self.player

        def started() -> None:
            if playing is not None:
                playing()
            if screen is not None:
                screen.speak(clip, None, player.position)

        player.submit(clip.pcm, clip.sample_rate, on_start=started)

    def _stop_talking(self) -> None:
        """Barge-in, or the visitor was already speaking: the turn or the greeting stops at once."""
        self._cancel_turn()
        if self._greeting is not None and self._greeting_active():
            self._greeting.cancel()
            if self.player is not None:
                self.player.cancel()

    def _cancel_turn(self) -> None:
        if self._turn is not None and not self._turn.done():
            self.rt.engine.gate.begin()  # the responder and the LLM stop at their next check
            self._turn.cancel()
            if self.player is not None:
                self.player.cancel()
        self._turn = None

    def _set_phase(self, phase: VisitorState) -> None:
        """The one visitor state, pushed to the screen and to systemd's STATUS=."""
        if phase is not self.phase:
            log.debug("visitor: %s -> %s", self.phase.value, phase.value)
            self.phase = phase
            self.notifier.status(phase.value)
            self.hub.publish(VisitorChanged(self._now(), phase))
            if self.screen is not None:
                self.screen.visitor(phase)

    def _now(self) -> float:
        """The loop's clock (virtual in the loop tests); monotonic before the loop runs."""
        return self._loop.time() if self._loop is not None else time.monotonic()

    async def _forget_quiet_visitors(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):  # a second's tick that ends at once on stop
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            if stop.is_set():
                return
            quiet = self._now() - self._last_activity
            between_turns = self.phase in (VisitorState.FOLLOW_UP, VisitorState.IDLE)
            if self.lesson is not None and self.phase is VisitorState.LISTENING:  # waiting for a lesson's answer
                quiet, between_turns = self._now() - self._lesson_said_at, True
            if self._in_session and quiet > self.service.forget_after_s and between_turns:
                log.info("visitor gone (%.0f s quiet): session forgotten", quiet)
                self.forget_visitor()

    # -- the local API (kiosk/admin/api.py): on the loop, never over a visitor ------------------------------------

    def forget_visitor(self) -> None:
        """The visitor's conversation, topic and captions are forgotten; the kiosk waits for the next one."""
        self._stop_talking()
        self.rt.engine.reset()
        self.rt.responder.forget()
        self._in_session = False
        if self.lesson is not None:  # walked away mid-lesson: it ends (a quiz counts as stopped)
            self.lesson.abandon()
            self.lesson = None
            if self.listener is not None:
                self.listener.expect("")
            if self.lessons is not None:
                self.lessons.refresh_results()
        if self.screen is not None and self.lessons is not None:
            self.screen.offer(self.lessons.labels)
        self._set_phase(VisitorState.IDLE)
        if self.screen is not None:
            self.screen.forget()

    def request_restart(self, why: str) -> None:
        """Stops the loop cleanly so the service manager starts the kiosk again with the new settings."""
        log.info("restart requested: %s", why)
        self.restart_requested = True
        if self._stop is not None:
            self._stop.set()

    def busy(self) -> bool:
        """A visitor is in session (being listened to, answered or greeted, or between their questions until
        they are forgotten): the API must not get in the way. Its questions compete for the same cores and the
        LLM's thread, and one client asking nonstop slowed a visitor's first audio 1.4x (docs/benchmarks.md)."""
        return (self._in_session or self.phase in (VisitorState.LISTENING, VisitorState.THINKING,
                                                   VisitorState.SPEAKING)
                or self._greeting_active() or (self._turn is not None and not self._turn.done()))

    async def ask_text(self, question: str) -> AnswerDone:
        """An answer for another system (not spoken, not shown), the visitor's conversation untouched.
        KioskBusy while a visitor is served; a visitor who starts meanwhile stops it (KioskBusy too)."""
        async with self._api_lock:
            if self.busy():
                raise KioskBusy("a visitor is being served")
            self._api_asking = True
            try:
                with self.rt.responder.aside():
                    done = await run_turn(self.rt.responder, question, speak=False)
            finally:
                self._api_asking = False
            if done.cancelled:
                raise KioskBusy("a visitor started")
            return done

    async def announce(self, text: str) -> float:
        """The avatar says `text` (an announcement), shown as its caption; seconds of speech. KioskBusy while
        a visitor is served; a wake during it stops it, like a greeting."""
        if self.rt.speaker is None:
            raise KioskBusy("this kiosk has no voice")
        async with self._api_lock:
            if self.busy():
                raise KioskBusy("a visitor is being served")
            clip = await asyncio.to_thread(self.rt.speaker.speak_joined, text)
            if self.busy():
                raise KioskBusy("a visitor started")
            if self.listener is not None:
                self.listener.speaking_started()
                self.listener.saying(clip.text)
            self._set_phase(VisitorState.SPEAKING)
            self._greeting = asyncio.current_task()  # stopped by a wake or speech, like a greeting
            try:
                self._play(SpeechAudio(0, 0, clip))
                if self.player is not None:
                    await self.player.drain()
            finally:
                self._greeting = None
                if self.listener is not None:
                    self.listener.speaking_finished(window="question")
                if self.phase is VisitorState.SPEAKING:
                    self._set_phase(VisitorState.IDLE)
                    if self.screen is not None:
                        self.screen.idle()
            return clip.duration_s
