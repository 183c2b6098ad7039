"""The event vocabulary shared by every stage: a leaf module (it imports nothing of the kiosk's).

Every turn event is a small frozen dataclass stamped with the turn id it belongs to. A new question (or a
barge-in) starts a new turn; any stage that meets an event of an older turn drops it. Audio travels
as raw bytes with its own format, never through JSON or logs (kiosk.event_json, which turns any event
into one JSON object and back, keeps only its byte count).

A turn's stream grammar (kiosk.answer.pipeline): Grounded?, then AnswerToken*, AnswerSentence* interleaved
with SpeechAudio*, TurnError* where a stage failed, then exactly one AnswerDone (also when cancelled).

Listening events come before a turn exists, so they carry no turn id: `t` is the position in the
microphone stream (or input file) in seconds, counted in samples, so files and live audio agree.
Every closed set of values is an enum whose values are the strings the JSON and the logs show.
"""

from __future__ import annotations

import dataclasses
import enum
import typing
from dataclasses import dataclass, field
from typing import Any


class _Value(str, enum.Enum):
    """An enum that is its string value wherever it is shown (logs, JSON, f-strings)."""

    def __str__(self) -> str:
        return self.value


class WakeSource(_Value):
    VOICE = "voice"  # the wake phrase
    TAP = "tap"  # the screen
    KEY = "key"  # a keyboard or a button
    API = "api"  # the local API


class EndReason(_Value):
    SILENCE = "silence"
    MAX_LENGTH = "max_length"
    END_OF_INPUT = "end_of_input"


class Window(_Value):
    QUESTION = "question"  # after a wake: the question may start
    FOLLOW_UP = "follow_up"  # after an answer: a follow-up without the wake phrase


class DismissReason(_Value):
    QUIETER = "quieter"  # much quieter than the visitor: a bystander
    NOT_A_QUESTION = "not_a_question"  # chatter in the follow-up window
    OTHER_SPEAKER = "other_speaker"  # another voice than the visitor's
    OWN_VOICE = "own_voice"  # the kiosk's own words, echoed
    NO_WORDS = "no_words"  # announced speech in which nothing was recognized
    UNCLEAR = "unclear"  # a visitor interrupted, drowned by the kiosk's voice: the question window opens


class MicState(_Value):
    LISTENING = "listening"
    LOST = "lost"
    RETRYING = "retrying"
    RECOVERED = "recovered"


class VisitorState(_Value):
    """Where the visitor is in the conversation: the one state the kiosk keeps and pushes to the screen
    (face, captions, cue) and to the service status."""

    IDLE = "idle"  # nobody is being served: the invitation shows
    LISTENING = "listening"  # after a wake or a tap, or while the visitor speaks
    THINKING = "thinking"  # a question is being answered, nothing said yet
    SPEAKING = "speaking"  # the answer (or the greeting) is being spoken
    FOLLOW_UP = "follow_up"  # answered; a follow-up needs no wake phrase until the window closes


class Decision(_Value):
    """What the documents let the kiosk say (kiosk.knowledge.grounding)."""

    FAQ = "faq"  # a confident FAQ match, said verbatim
    QUOTE = "quote"  # document sentences, verbatim
    ANSWER = "answer"  # the LLM, with passages
    DECLINE = "decline"  # not in the documents: say so, offer the contact


class ErrorCode(_Value):
    """Why a turn stage failed (the details go to the log, never to the visitor)."""

    RETRIEVAL = "retrieval"  # the knowledge index could not be searched
    GENERATION = "generation"  # the LLM raised
    SPEECH = "speech"  # the voice could not synthesize a sentence


def _enum_fields(self: Any) -> None:
    """Dataclass __post_init__ of the events with enum fields: a plain string in, the enum member kept (an
    unknown value raises where the event is made)."""
    for name, kind in _enum_hints(type(self)).items():
        object.__setattr__(self, name, kind(getattr(self, name)))


_ENUM_HINTS: dict[type, dict[str, type[enum.Enum]]] = {}


def _enum_hints(cls: type) -> dict[str, type[enum.Enum]]:
    if cls not in _ENUM_HINTS:  # resolved once per class: annotations are strings here
        hints = typing.get_type_hints(cls)
        _ENUM_HINTS[cls] = {f.name: hints[f.name] for f in dataclasses.fields(cls)
                            if isinstance(hints[f.name], type) and issubclass(hints[f.name], enum.Enum)}
    return _ENUM_HINTS[cls]


@dataclass(frozen=True)
class Word:
    """A recognized word; times from the start of the utterance."""

    word: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class VisemeSpan:
    """A mouth shape over a stretch of a clip (kiosk.speech.visemes makes them)."""

    start_s: float
    end_s: float
    viseme: str

    def to_dict(self) -> dict[str, float | str]:
        # round() is a pure function of the float, and neighbouring spans share
        # the very same boundary float, so contiguity survives the rounding.
        return {"start_s": round(self.start_s, 4), "end_s": round(self.end_s, 4), "viseme": self.viseme}


@dataclass(frozen=True)
class Grounded:
    """What retrieval decided for the turn's question, before any answer is written."""

    turn_id: int
    decision: Decision
    sources: tuple[dict[str, Any], ...] = ()
    why: str = ""
    """for a decline: which test the documents failed"""
    nearest: str = ""
    """for a decline: the document of the closest passage (the admin console's questions report)"""

    def __post_init__(self) -> None:
        _enum_fields(self)


@dataclass(frozen=True)
class TurnError:
    """A stage of the turn failed; the turn goes on as well as it can (captions without voice, an apology)."""

    turn_id: int
    code: ErrorCode

    def __post_init__(self) -> None:
        _enum_fields(self)


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
    error_codes: tuple[ErrorCode, ...] = ()
    """which stages failed"""


@dataclass(frozen=True)
class Wake:
    """The visitor asked for attention: the wake phrase, a tap, a key, or an API call."""

    t: float
    source: WakeSource = WakeSource.VOICE
    heard: str = ""
    """what the recognizer heard as the wake phrase (voice only)"""

    def __post_init__(self) -> None:
        _enum_fields(self)


@dataclass(frozen=True)
class SpeechStarted:
    """A question started (after a wake, in the follow-up window, or as a voice barge-in)."""

    t: float


@dataclass(frozen=True)
class SpeechEnded:
    t: float
    """the end of the last speech frame, not of the silence that confirmed it"""
    reason: EndReason = EndReason.SILENCE

    def __post_init__(self) -> None:
        _enum_fields(self)


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
    end_to_heard_ms: float | None = field(default=None, compare=False)
    """wall time from the microphone delivering the end of the visitor's speech to this transcript: the
    end-of-turn wait, recognition and any lag of the listener behind the microphone (live listening only)"""


@dataclass(frozen=True)
class WindowClosed:
    """Nobody spoke in the window after a wake (`question`) or after an answer (`follow_up`): the
    listener sleeps until the next wake."""

    t: float
    window: Window

    def __post_init__(self) -> None:
        _enum_fields(self)


@dataclass(frozen=True)
class Dismissed:
    """An utterance in an open window that did not seem addressed to the kiosk (a bystander, chatter):
    never answered or shown; it does not extend the window."""

    t: float
    reason: DismissReason
    text: str = field(default="", repr=False)
    """what was heard (kept out of logs above DEBUG: it is somebody else's conversation)"""

    def __post_init__(self) -> None:
        _enum_fields(self)


@dataclass(frozen=True)
class MicrophoneStatus:
    """Shown to the visitor as a notice while not listening."""

    state: MicState
    detail: str

    def __post_init__(self) -> None:
        _enum_fields(self)

    @property
    def down(self) -> bool:
        """The microphone is not delivering audio (lost, or being retried)."""
        return self.state in (MicState.LOST, MicState.RETRYING)


@dataclass(frozen=True)
class VisitorChanged:
    """The kiosk loop moved the visitor to `state` (the screen shows it; logs and the local API follow it).
    `t` is the loop's clock (seconds, monotonic)."""

    t: float
    state: VisitorState

    def __post_init__(self) -> None:
        _enum_fields(self)


ListenEvent = (Wake | SpeechStarted | SpeechEnded | HeardPartial | Heard | WindowClosed | Dismissed
               | MicrophoneStatus)
TurnEvent = Grounded | AnswerToken | AnswerSentence | SpeechAudio | TurnError | AnswerDone
Event = TurnEvent | ListenEvent | VisitorChanged
