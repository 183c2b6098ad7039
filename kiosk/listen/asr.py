"""Speech-recognition interface shared by the Vosk (Korean, streaming) and Whisper (English) engines.

One engine instance serves one utterance at a time: ``start()``, any number of ``feed()`` calls with
16 kHz mono int16 PCM, then ``finish()``. Endpointing (deciding when an utterance ends) lives elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from kiosk.events import Word

SAMPLE_RATE = 16000
BYTES_PER_SAMPLE = 2  # int16


@dataclass(frozen=True)
class Transcript:
    text: str
    words: tuple[Word, ...]
    engine: str
    final: bool
    encoding: Any = field(default=None, compare=False, repr=False)
    """what the recognizer heard, acoustically: Whisper's encoder frames (20 ms each, unit length) for
    verifying a wake phrase by its sound (kiosk.listen.wake_templates); None for other engines"""


@runtime_checkable
class AsrEngine(Protocol):
    name: str

    def start(self) -> None:
        """Begin a new utterance, dropping any audio of the previous one."""
        ...

    def feed(self, pcm: bytes) -> Transcript | None:
        """Add 16 kHz mono int16 audio; may return a partial transcript (``final=False``)."""
        ...

    def finish(self) -> Transcript:
        """End the utterance and return the final transcript with word times."""
        ...


def pcm_seconds(pcm: bytes | bytearray, sample_rate: int = SAMPLE_RATE) -> float:
    return len(pcm) / (BYTES_PER_SAMPLE * sample_rate)
