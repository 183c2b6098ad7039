"""The event vocabulary shared by every stage.

Every event is a small frozen dataclass stamped with the turn id it belongs to. A new question (or a
barge-in) starts a new turn; any stage that meets an event of an older turn drops it. Audio travels
as raw bytes with its own format, never through JSON or logs.

A turn's stream grammar: Utterance, then AnswerToken*, AnswerSentence+ interleaved with SpeechAudio+,
then exactly one AnswerDone (also when cancelled).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kiosk.speech.visemes import VisemeSpan


@dataclass(frozen=True)
class Utterance:
    """A visitor's question (typed, or recognized speech)."""

    turn_id: int
    text: str
    source: str = "text"
    """text | speech | script"""


@dataclass(frozen=True)
class AnswerToken:
    """A piece of the answer as the LLM streams it."""

    turn_id: int
    text: str


@dataclass(frozen=True)
class AnswerSentence:
    """A speakable chunk cut from the token stream by the sentence chunker."""

    turn_id: int
    index: int
    text: str


@dataclass(frozen=True)
class SpeechClip:
    """Spoken text: mono signed 16-bit PCM plus a viseme timeline covering it exactly."""

    text: str
    pcm: bytes = field(repr=False)
    sample_rate: int
    """Hertz"""
    visemes: tuple[VisemeSpan, ...]

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / 2 / self.sample_rate


@dataclass(frozen=True)
class SpeechAudio:
    """One synthesized sentence of a turn."""

    turn_id: int
    index: int
    clip: SpeechClip


@dataclass(frozen=True)
class Timings:
    """Milliseconds from the moment the question was received; None when the stage never happened."""

    ttft: float | None = None
    first_sentence: float | None = None
    first_audio: float | None = None
    total: float | None = None
    prompt_tokens: int = 0
    cached_tokens: int = 0
    """prompt tokens reused from the KV cache (not prefilled again)"""
    completion_tokens: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"ttft": self.ttft, "first_sentence": self.first_sentence,
                "first_audio": self.first_audio, "total": self.total}


@dataclass(frozen=True)
class AnswerDone:
    """Always the last event of a turn."""

    turn_id: int
    answer: str
    cancelled: bool
    timings: Timings
    sources: tuple[dict[str, Any], ...] = ()
    grounded: bool = False
    error: str | None = None
    """a visitor-safe description when the turn failed; details go to the log"""


Event = Utterance | AnswerToken | AnswerSentence | SpeechAudio | AnswerDone
