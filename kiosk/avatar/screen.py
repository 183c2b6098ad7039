"""The talking head as a task of the one event loop: draws at the display rate and never blocks it.

The app tells the Screen what happens (the visitor state, listening events, sentences being spoken with
their playback clock, the end of an answer); the Screen keeps no visitor state of its own: face, captions
and cue all show the one the kiosk pushes (`visitor`). The Screen turns taps, clicks and keys into the
same events the microphone produces: a tap (or Space/Enter) is `Wake(source="tap")`, a typed question is
`Heard(engine="keyboard")`. Without a working microphone nothing offers voice: Space/Enter open the
keyboard instead of a tap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from kiosk.avatar.animator import Animator, expression_for_answer
from kiosk.avatar.choices import ChoiceRow
from kiosk.avatar.face import FaceRenderer
from kiosk.avatar.inputs import InputKind
from kiosk.avatar.keyboard import OnScreenKeyboard, question_event, tap_event
from kiosk.avatar.overlay import NO_MICROPHONE, Overlay
from kiosk.avatar.pack import AvatarPack
from kiosk.events import Heard, HeardPartial, ListenEvent, MicrophoneStatus, SpeechClip, VisitorState, Wake

log = logging.getLogger(__name__)

PlaybackClock = Callable[[], float | None]


class Screen:
    def __init__(self, backend: Any, pack: AvatarPack, on_input: Callable[[ListenEvent], None], fps: int = 30,
                 seed: int = 0, clock: Callable[[], float] = time.monotonic) -> None:
        w, h = backend.size
        self.backend, self.on_input, self.fps, self.clock = backend, on_input, fps, clock
        self.face = FaceRenderer.presenter(pack, backend)
        self.overlay = Overlay(backend, (w, h))
        self.keyboard = OnScreenKeyboard(backend, (w, h), painter=self.overlay.painter)
        L = self.overlay.layout
        self.choices = ChoiceRow(self.overlay.painter, (w, h), L.margin, L.button, L.cue_px,
                                 self.overlay.keyboard_rect[1] - L.pad)
        self.animator = Animator(seed=seed)
        self._playback: PlaybackClock | None = None
        self._answering = False  # a chunk of the current answer has started playing
        self.frames = 0
        self._frame_times: deque[float] = deque(maxlen=fps * 5)  # the last ~5 s of frames, for the measured rate

    # -- what the app tells the screen ----------------------------------------------------------------------

    def visitor(self, state: VisitorState) -> None:
        """The visitor state (kiosk.appliance.app): the face's gaze and motion, the cue, the buttons."""
        t = self.clock()
        self.animator.set_state(state, t)
        self.overlay.set_state(state, t)

    def forget(self) -> None:
        """The visitor left: their conversation's captions go."""
        self.overlay.clear_captions()

    def listen_event(self, event: ListenEvent) -> None:
        if isinstance(event, Wake):
            self.overlay.clear_captions()
        elif isinstance(event, HeardPartial):
            self.overlay.visitor_partial(event.text)
        elif isinstance(event, Heard):
            self.overlay.visitor_final(event.text)
        elif isinstance(event, MicrophoneStatus):  # lost/retrying: down; listening/recovered: back
            self.set_voice(not event.down)

    def set_voice(self, available: bool) -> None:
        """Whether a microphone listens: the prompt, the buttons and the notice say only what works."""
        self.overlay.set_voice(available)
        self.overlay.notice(None if available else NO_MICROPHONE)

    def level(self, level: float) -> None:
        self.overlay.set_level(level)

    def speak(self, clip: SpeechClip, source: str | None, playback: PlaybackClock, answer: str = "",
              grounded: bool = True) -> None:
        """A chunk of the answer starts playing; `playback()` gives its position in seconds (None once it has
        ended). A chunk that continues a sentence grows that sentence's caption."""
        if not self._answering:  # the answer's first words set the face's expression
            self._answering = True
            self.animator.set_expression(expression_for_answer(answer or clip.text, grounded), self.clock(), hold_s=4.0)
        self.animator.start_clip(clip)
        self._playback = playback
        self.overlay.answer_chunk(clip.text, source)

    def mood(self, expression: str) -> None:
        """The face for what is about to be said (a lesson's verdict: smile, concern), instead of the one the
        answer's words would give it."""
        self._answering = True
        self.animator.set_expression(expression, self.clock(), hold_s=4.0)

    def offer(self, labels: tuple[str, ...], stop: bool = False) -> None:
        """Buttons for a learning mode: the activities, or a quiz question's choices and Stop."""
        self.choices.set(labels, stop)
        self.overlay.set_lift(self.choices.height + (self.overlay.layout.pad if self.choices.height else 0))

    def idle(self) -> None:
        """The answer (or greeting) is over or was stopped: the lips rest, the answer's caption is complete."""
        self._playback = None
        self._answering = False
        self.animator.stop_clip()
        self.overlay.end_answer()

    # -- the task --------------------------------------------------------------------------------------------

    def frame(self) -> None:
        t = self.clock()
        playback = self._playback() if self._playback is not None else None
        self.backend.clear(self.face.pack.background)
        self.face.draw(self.animator.frame(t, playback))
        self.overlay.draw(t)
        if self.keyboard.is_open:
            self.keyboard.draw(t)
        else:
            self.choices.draw(self.backend)
        self.backend.present()
        self.frames += 1
        self._frame_times.append(t)

    def report(self) -> dict[str, object]:
        """The drawing backend, why it is not the configured one (if so), the frame rate over the last seconds."""
        times = self._frame_times
        span = times[-1] - times[0] if len(times) > 1 else 0.0
        fps = round((len(times) - 1) / span, 1) if span > 0 else 0.0
        return {"backend": self.backend.name, "fallback": getattr(self.backend, "fallback", None),
                "fps": fps, "target_fps": self.fps, "frames": self.frames}

    async def run(self, stop: asyncio.Event) -> None:
        period = 1.0 / self.fps
        next_at = self.clock()
        while not stop.is_set():
            if not self.handle_input():
                stop.set()
                break
            self.frame()
            next_at += period
            delay = next_at - self.clock()
            if delay < -period:  # fell behind (a slow frame): skip ahead instead of racing to catch up
                next_at, delay = self.clock(), 0.0
            await asyncio.sleep(max(0.0, delay))  # always yields, so the loop's other tasks run

    # -- input -----------------------------------------------------------------------------------------------

    def handle_input(self) -> bool:
        """The backend's taps and keys -> events; False when the window was closed. Input comes only through
        `backend.poll_input()`: the Screen never reads a windowing library's queue itself."""
        for ev in self.backend.poll_input():
            if ev.kind is InputKind.QUIT:
                return False
            if ev.kind is InputKind.TAP:
                self.pointer(ev.x, ev.y)
            elif ev.kind is InputKind.KEY:
                self.key(ev.key)
        return True

    def pointer(self, x: int, y: int) -> None:
        t = self.clock()
        if self.keyboard.is_open:
            self._keyboard_result(self.keyboard.press(x, y), t)
            return
        said = self.choices.hit(x, y)
        if said is not None:  # a choice or an activity: as if its words were said
            self.on_input(Heard(t, said, "tap"))
            return
        hit = self.overlay.hit(x, y)
        if hit == "tap":
            self.on_input(tap_event(t))
        elif hit == "keyboard":
            self._open_keyboard()

    def key(self, key: str) -> None:
        """A key: a printable character or "return", "backspace", "escape" (kiosk.avatar.inputs)."""
        t = self.clock()
        if self.keyboard.is_open:
            self._keyboard_result(self.keyboard.type_key(key), t)
        elif key in (" ", "return"):
            if self.overlay.voice:
                self.on_input(tap_event(t))
            else:  # no microphone to take a spoken question: typing is what works
                self._open_keyboard()
        elif len(key) == 1 and key.isprintable():  # typing starts a typed question
            self._open_keyboard()
            self.keyboard.type_key(key)

    def _open_keyboard(self) -> None:
        self.keyboard.open()
        self.overlay.reserve_bottom(self.keyboard.top)

    def _keyboard_result(self, result: Any, t: float) -> None:
        if result is None:
            return
        self.keyboard.close()
        self.overlay.reserve_bottom(None)
        if result.action == "submit":
            self.on_input(question_event(result.text, t))
