"""Live listening: the microphone feeds a Listener on one worker thread; events go to a callback.

The microphone's PortAudio callback only queues audio; recognition (which can take a few hundred ms
per utterance) runs on the worker, and sample counting keeps the events' times right however far
behind the worker falls. Control calls (tap, speaking started/finished) travel through the same
queue, stamped with the microphone's sample position at the moment they were made, so the gate and
the wake land on the audio the visitor actually heard and said at that moment.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from kiosk.audio.capture import AudioSource, Microphone
from kiosk.events import Heard, ListenEvent, MicrophoneStatus, SpeechEnded
from kiosk.listen.asr import SAMPLE_RATE
from kiosk.listen.flight import FlightRecorder, apply_control
from kiosk.listen.listener import Listener

log = logging.getLogger(__name__)

EventCallback = Callable[[ListenEvent], None]
ARRIVALS_KEPT = 1000
"""chunks whose arrival time is remembered (32 s of 32-ms chunks): an utterance's end is always among them"""


class LiveListener:
    def __init__(self, listener: Listener, device_name: str, on_event: EventCallback,
                 source: Callable[..., AudioSource] = Microphone, record: FlightRecorder | None = None,
                 **mic_options: Any) -> None:
        """`source` builds the microphone (given the device name, `on_frames`, `on_status` and `mic_options`);
        `record`: keeps what the listener consumes, to replay it (kiosk.listen.flight; listen.record_dir)."""
        self.listener = listener
        self.record = record
        self.on_event = on_event
        self._queue: queue.SimpleQueue[tuple | None] = queue.SimpleQueue()
        self.mic = source(device_name, on_frames=self._on_frames, on_status=self._on_status, **mic_options)
        self._thread: threading.Thread | None = None
        # (stream sample after the chunk, when the chunk arrived): when the visitor's last word reached us
        self._arrivals: collections.deque[tuple[int, float]] = collections.deque(maxlen=ARRIVALS_KEPT)
        self._speech_end: int | None = None
        self._capture: _Capture | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="listener", daemon=True)
            self._thread.start()
            self.mic.start()

    def stop(self) -> None:
        self.mic.stop()
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._thread = None
        if self.record is not None:
            self.record.close()
            self.record = None

    def __enter__(self) -> LiveListener:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # Thread-safe controls, for the event loop and the screen.
    def tap(self, source: str = "tap", echo: bool = True) -> None:
        """Push-to-talk: the listener takes the next utterance as a question. `echo=False` when the caller
        already handled the tap itself (the screen's taps reach the kiosk directly)."""
        self._queue.put(("wake", source, self.mic.stats.samples, echo))

    def speaking_started(self) -> None:
        self._queue.put(("speaking_started", self.mic.stats.samples))

    def saying(self, text: str) -> None:
        self._queue.put(("saying", text))

    def expect(self, context: str) -> None:
        self._queue.put(("expect", context))

    def speaking_finished(self, window: str = "follow_up") -> None:
        self._queue.put(("speaking_finished", self.mic.stats.samples, window))

    def capture_sample(self, seconds: float, timeout_s: float = 10.0) -> bytes:
        """The next `seconds` of the microphone (16 kHz mono int16), kept from the listener meanwhile, so a
        recording of the wake phrase (kiosk.listen.wake_samples) does not wake the kiosk. Blocks; b"" when the
        microphone delivers nothing within `timeout_s`."""
        capture = _Capture(int(seconds * SAMPLE_RATE) * 2)
        self._capture = capture
        try:
            capture.done.wait(timeout_s)
        finally:
            self._capture = None
        return bytes(capture.pcm[:capture.size])

    def use_wake_sound(self, make: Callable[[Any], Any]) -> bool:
        """The wake spotter's sound templates replaced by make(its recognizer) (new recordings of the phrase,
        kiosk.admin.wake_page); one attribute assignment, read by the listener thread per utterance. False when
        the spotter hears no sound (Vosk, or no wake phrase)."""
        spotter = self.listener.spotter
        if spotter is None or not hasattr(spotter, "sound"):
            return False
        spotter.sound = make(spotter.engine)  # type: ignore[attr-defined]
        return True

    # PortAudio / supervisor threads: queue only.
    def _on_frames(self, pcm: bytes, _t: int) -> None:
        capture = self._capture
        if capture is not None and not capture.done.is_set():
            capture.pcm += pcm
            if len(capture.pcm) >= capture.size:
                capture.done.set()
            pcm = bytes(len(pcm))  # the listener hears silence of the same length: its clock stays right
        self._queue.put(("pcm", pcm, time.monotonic()))

    def _on_status(self, state: str, detail: str) -> None:
        self._queue.put(("status", state, detail))

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                events = self._handle(item)
            except Exception:  # noqa: BLE001 - one bad utterance must not stop the kiosk listening
                log.exception("listener failed on %s; continuing", item[0])
                self.listener.recover()
                continue
            for event in events:
                try:
                    self.on_event(event)
                except Exception:  # noqa: BLE001
                    log.exception("listen event handler failed")

    def _timed(self, event: ListenEvent) -> ListenEvent:
        """A question stamped with how long after its end it came out (see Heard.end_to_heard_ms)."""
        if isinstance(event, SpeechEnded):
            self._speech_end = round(event.t * SAMPLE_RATE)
        elif isinstance(event, Heard) and self._speech_end is not None:
            end, self._speech_end = self._speech_end, None
            arrived = next((at for sample, at in self._arrivals if sample >= end), None)
            if arrived is not None:
                return dataclasses.replace(event, end_to_heard_ms=round((time.monotonic() - arrived) * 1000, 1))
        return event

    def _handle(self, item: tuple) -> list[ListenEvent]:
        kind, *rest = item
        if kind == "pcm":
            if self.record is not None:
                self.record.audio(rest[0])
            self._arrivals.append((self.listener.position + len(rest[0]) // 2, rest[1]))
            return [self._timed(e) for e in self.listener.feed(rest[0])]
        if kind == "status":
            return [MicrophoneStatus(*rest)]
        args = rest[:2] if kind == "wake" else rest  # a wake's echo flag is the caller's, not the listener's
        if self.record is not None:
            self.record.control(self.listener.now, kind, args)  # samples received: where the replay applies it
        events = apply_control(self.listener, kind, args)
        return events if kind != "wake" or rest[2] else []


class _Capture:
    def __init__(self, size: int) -> None:
        self.size, self.pcm, self.done = size, bytearray(), threading.Event()
