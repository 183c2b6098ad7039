"""The kiosk loop's ports: what `Kiosk` needs of each part it joins, and nothing more.

The real parts (kiosk.runtime.Runtime, kiosk.listen.live.LiveListener, kiosk.audio.playback.PlaybackQueue,
kiosk.avatar.screen.Screen) satisfy these structurally; the loop tests give it small fakes. The engines
inside have their own ports, one per engine: `Generator` (the LLM) and `Tts` in kiosk.answer.pipeline,
`AsrEngine`, `Vad` and `WakeSpotter` in kiosk.listen, `Backend` (drawing and input) in kiosk.avatar.drawing,
and the microphone's `Microphone` in kiosk.audio.capture.

The clock is the event loop's: every time the kiosk keeps (quiet visitors, a hung turn, the earcon's delay)
is `loop.time()`, so a test runs the loop on virtual time (tests/virtual_time.py) instead of sleeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

from kiosk.answer.engine import TurnGate
from kiosk.answer.pipeline import Answerer
from kiosk.config import Settings
from kiosk.events import ListenEvent, SpeechClip, VisitorState

PlaybackClock = Callable[[], float | None]


class Conversation(Protocol):
    """The answer engine's session: the turn gate (a newer turn stops an older one) and its history."""

    @property
    def gate(self) -> TurnGate: ...

    def reset(self) -> None:
        """Forget the visitor (history, cached prompt)."""
        ...


class Voice(Protocol):
    def speak_joined(self, text: str) -> SpeechClip: ...


class Engines(Protocol):
    """What kiosk.runtime.Runtime gives the loop (read-only: the loop never replaces an engine)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def engine(self) -> Conversation: ...

    @property
    def responder(self) -> Answerer: ...

    @property
    def speaker(self) -> Voice | None: ...


class Listening(Protocol):
    """The microphone side: told when the kiosk talks and what it says (so its echo is not a visitor)."""

    def tap(self, source: str = "tap", echo: bool = True) -> None: ...

    def speaking_started(self) -> None: ...

    def saying(self, text: str) -> None: ...

    def expect(self, context: str) -> None:
        """What the visitor's next words answer (a quiz question), to prime recognition; "" = the documents."""
        ...

    def speaking_finished(self, window: str = "follow_up") -> None: ...

    def capture_sample(self, seconds: float) -> bytes:
        """The next `seconds` of the microphone, kept from the listener (a recording of the wake phrase)."""
        ...

    def use_wake_sound(self, make: Callable[[Any], Any]) -> bool:
        """The wake spotter's sound templates replaced by make(its recognizer); False when it has none."""
        ...


class Sound(Protocol):
    """The speaker: clips queued in order; `position` is the playing clip's clock."""

    def submit(self, pcm: bytes, sample_rate: int, on_start: Callable[[], None] | None = None,
               pause: bool = True) -> None: ...

    def position(self) -> float | None: ...

    def cancel(self) -> None: ...

    async def drain(self) -> None: ...


class Display(Protocol):
    """The screen task: shows the visitor state and the answer, reports taps and typing (posted as events)."""

    async def run(self, stop: asyncio.Event) -> None: ...

    def visitor(self, state: VisitorState) -> None: ...

    def listen_event(self, event: ListenEvent) -> None: ...

    def speak(self, clip: SpeechClip, source: str | None, playback: PlaybackClock, answer: str = "",
              grounded: bool = True) -> None: ...

    def idle(self) -> None: ...

    def forget(self) -> None:
        """The visitor left: their captions go."""
        ...

    def mood(self, expression: str) -> None:
        """The face for what the kiosk says next (kiosk.avatar.animator.EXPRESSIONS)."""
        ...

    def offer(self, labels: tuple[str, ...], stop: bool = False) -> None:
        """Buttons above the talk button: the activities, or a lesson's choices and Stop; a tap on one is
        posted as `Heard(engine="tap")` with its words."""
        ...

    def report(self) -> dict[str, object]:
        """Backend, measured frame rate, fallback: for /status and `kiosk doctor --appliance`."""
        ...
