"""The event vocabulary shared by every stage.

Every event is a small frozen dataclass stamped with the turn id it belongs to. A new question (or a
barge-in) starts a new turn; any stage that meets an event of an older turn drops it. Audio travels
as raw bytes with its own format, never through JSON or logs.

A turn's stream grammar: Utterance, then AnswerToken*, AnswerSentence+ interleaved with SpeechAudio+,
then exactly one AnswerDone (also when cancelled).

Listening events come before a turn exists, so they carry no turn id: `t` is the position in the
microphone stream (or input file) in seconds, counted in samples, so files and live audio agree.
A recognized question becomes an Utterance (source "speech") when the event loop opens a turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kiosk.listen.asr import Word
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


@dataclass(frozen=True)
class Wake:
    """The visitor asked for attention: the wake phrase, a tap, a key, or an API call."""

    t: float
    source: str = "voice"
    """voice | tap | key | api"""
    heard: str = ""
    """what the recognizer heard as the wake phrase (voice only)"""


@dataclass(frozen=True)
class SpeechStarted:
    """A question started (after a wake, in the follow-up window, or as a voice barge-in)."""

    t: float


@dataclass(frozen=True)
class SpeechEnded:
    t: float
    """the end of the last speech frame, not of the silence that confirmed it"""
    reason: str = "silence"
    """silence | max_length | end_of_input"""


@dataclass(frozen=True)
class HeardPartial:
    """The recognizer's current guess while the visitor is still speaking (streaming engines only)."""

    t: float
    text: str


@dataclass(frozen=True)
class Heard:
    """The final transcript of a question, wake phrase removed; word times from the utterance start."""

    t: float
    text: str
    engine: str
    words: tuple[Word, ...] = ()
    recognition_ms: float | None = field(default=None, compare=False)
    """wall time from detecting the end of speech to this transcript (early decoding shortens it);
    a measurement, not content, so events compare equal without it"""


@dataclass(frozen=True)
class WindowClosed:
    """Nobody spoke in the window after a wake (`question`) or after an answer (`follow_up`): the
    listener sleeps until the next wake."""

    t: float
    window: str
    """question | follow_up"""


@dataclass(frozen=True)
class Dismissed:
    """An utterance in an open window that did not seem addressed to the kiosk (a bystander, chatter):
    never answered or shown; it does not extend the window."""

    t: float
    reason: str
    """quieter | not_a_question | other_speaker | own_voice (the kiosk's own words, echoed) | no_words
    (announced speech in which nothing was recognized) | unclear (a visitor interrupted, drowned by the kiosk's
    voice: the question window opens)"""
    text: str = field(default="", repr=False)
    """what was heard (kept out of logs above DEBUG: it is somebody else's conversation)"""


@dataclass(frozen=True)
class MicrophoneStatus:
    """listening | lost | retrying | recovered: shown to the visitor as a notice while not listening."""

    state: str
    detail: str

    @property
    def down(self) -> bool:
        """The microphone is not delivering audio (lost, or being retried)."""
        return self.state in ("lost", "retrying")


ListenEvent = (Wake | SpeechStarted | SpeechEnded | HeardPartial | Heard | WindowClosed | Dismissed
               | MicrophoneStatus)
Event = Utterance | AnswerToken | AnswerSentence | SpeechAudio | AnswerDone | ListenEvent
