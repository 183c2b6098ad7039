"""Utterance endpointing: turns a stream of per-frame speech probabilities into start/end events.

Pure state machine over SAMPLE counts (never wall-clock time), so it is deterministic, testable with
synthetic sequences, and identical for live audio and files. Positions are absolute sample indices
since construction / `reset()`.

Rules (all durations converted to samples with `sample_rate`):
- idle -> pending when a frame's prob >= start_threshold; the candidate start is that frame's first sample.
- pending: frames >= start_threshold count as speech; frames >= end_threshold keep the candidate alive
  (hysteresis) without counting; a run of frames < end_threshold longer than min_speech_ms / 2 drops the
  candidate (a click). Once min_speech_ms of speech is counted, SpeechStart is emitted, backdated to the
  candidate start but never earlier than `preroll_ms` before the current position (audio older than the
  pre-roll buffer is gone, so the consumer could not deliver it).
- speaking: frames >= end_threshold are speech. After hangover_ms of continuous sub-threshold frames,
  SpeechEnd(reason="silence") is emitted with `sample` = end of the last speech frame (not of the
  hangover). When a speech frame brings the utterance to max_utterance_ms, SpeechEnd(reason="max_length")
  is emitted at that frame's end (pauses never trigger it); continuing speech then starts a new
  utterance through `pending`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

log = logging.getLogger(__name__)

EndReason = Literal["silence", "max_length"]


@dataclass(frozen=True)
class EndpointSettings:
    start_threshold: float = 0.5
    end_threshold: float = 0.35
    min_speech_ms: int = 250
    hangover_ms: int = 500
    max_utterance_ms: int = 15000
    preroll_ms: int = 300
    sample_rate: int = 16000

    def __post_init__(self) -> None:
        if not 0.0 <= self.end_threshold <= self.start_threshold <= 1.0:
            raise ValueError("need 0 <= end_threshold <= start_threshold <= 1")
        if self.sample_rate <= 0 or min(self.min_speech_ms, self.hangover_ms, self.preroll_ms) < 0:
            raise ValueError("durations must be >= 0 and sample_rate > 0")
        if self.max_utterance_ms <= self.min_speech_ms:
            raise ValueError("max_utterance_ms must exceed min_speech_ms")

    def samples(self, ms: int) -> int:
        return ms * self.sample_rate // 1000


@dataclass(frozen=True)
class SpeechStart:
    sample: int


@dataclass(frozen=True)
class SpeechEnd:
    sample: int
    reason: EndReason


EndpointEvent = SpeechStart | SpeechEnd


class Endpointer:
    def __init__(self, settings: EndpointSettings | None = None) -> None:
        self.settings = settings or EndpointSettings()
        s = self.settings
        self._min_speech = s.samples(s.min_speech_ms)
        self._pending_gap = self._min_speech // 2
        self._hangover = s.samples(s.hangover_ms)
        self._max_len = s.samples(s.max_utterance_ms)
        self._preroll = s.samples(s.preroll_ms)
        self.reset()

    def reset(self) -> None:
        self._pos = 0  # absolute index of the next frame's first sample
        self._state: Literal["idle", "pending", "speaking"] = "idle"
        self._start = 0  # candidate / confirmed utterance start
        self._speech = 0  # pending: speech samples counted so far
        self._gap = 0  # consecutive sub-end_threshold samples
        self._last_speech_end = 0

    @property
    def position(self) -> int:
        """Samples consumed so far."""
        return self._pos

    @property
    def idle(self) -> bool:
        """No utterance started or pending."""
        return self._state == "idle"

    @property
    def in_speech(self) -> bool:
        return self._state == "speaking"

    @property
    def quiet_samples(self) -> int:
        """In an utterance: sub-threshold samples since the last speech frame (the hangover so far)."""
        return self._gap if self._state == "speaking" else 0

    def process(self, frame_samples: int, speech_prob: float) -> list[EndpointEvent]:
        if frame_samples <= 0:
            raise ValueError("frame_samples must be positive")
        s = self.settings
        begin, end = self._pos, self._pos + frame_samples
        self._pos = end
        events: list[EndpointEvent] = []

        if self._state == "idle":
            if speech_prob >= s.start_threshold:
                self._state, self._start, self._speech, self._gap = "pending", begin, 0, 0
            else:
                return events

        if self._state == "pending":
            if speech_prob >= s.start_threshold:
                self._speech += frame_samples
                self._gap = 0
                self._last_speech_end = end
            elif speech_prob >= s.end_threshold:
                self._gap = 0
            else:
                self._gap += frame_samples
                if self._gap > self._pending_gap:
                    log.debug("dropped %d-sample blip at %d", self._speech, self._start)
                    self._state = "idle"
                return events
            if self._speech >= self._min_speech:
                self._start = max(self._start, end - self._preroll, 0)
                self._state = "speaking"
                events.append(SpeechStart(self._start))
                log.debug("speech start at %d", self._start)
            return events

        # speaking
        if speech_prob >= s.end_threshold:
            self._gap = 0
            self._last_speech_end = end
            # Only speech frames can hit the limit: a pause near the limit ends through the hangover.
            if end - self._start >= self._max_len:
                return self._finish("max_length")
        else:
            self._gap += frame_samples
            if self._gap >= self._hangover:
                return self._finish("silence")
        return events

    @property
    def pending_start(self) -> int | None:
        """The candidate start of speech not yet confirmed (None unless pending)."""
        return self._start if self._state == "pending" else None

    def end_now(self) -> list[EndpointEvent]:
        """End the utterance in a pause before the hangover has run out (the speaker has finished:
        kiosk.listen.turn_end); nothing when not in a pause of an utterance."""
        if self._state != "speaking" or self._gap == 0:
            return []
        return self._finish("silence")

    def cancel(self) -> None:
        """Forget any utterance in progress (the microphone was gated); positions keep counting."""
        self._state, self._gap, self._speech = "idle", 0, 0

    def flush(self) -> list[EndpointEvent]:
        """End of stream: close an open utterance (reason "silence"); drop a pending candidate."""
        if self._state == "speaking":
            return self._finish("silence")
        self._state = "idle"
        return []

    def _finish(self, reason: EndReason) -> list[EndpointEvent]:
        self._state, self._gap = "idle", 0
        log.debug("speech end at %d (%s)", self._last_speech_end, reason)
        return [SpeechEnd(self._last_speech_end, reason)]


def segments(
    probs: Iterable[float], frame_samples: int, settings: EndpointSettings | None = None
) -> list[tuple[int, int]]:
    """(start, end) sample ranges of utterances in a whole file's per-frame probabilities."""
    ep = Endpointer(settings)
    out: list[tuple[int, int]] = []
    start: int | None = None
    events: list[EndpointEvent] = []
    for p in probs:
        events.extend(ep.process(frame_samples, p))
    events.extend(ep.flush())
    for ev in events:
        if isinstance(ev, SpeechStart):
            start = ev.sample
        elif start is not None:
            out.append((start, ev.sample))
            start = None
    return out
