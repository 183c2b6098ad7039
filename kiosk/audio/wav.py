"""WAV files: what `kiosk say` and `kiosk demo` write when there is no speaker (or in addition)."""

from __future__ import annotations

import json
import wave
from collections.abc import Sequence
from pathlib import Path

from kiosk.audio.resample import Resampler
from kiosk.events import VisemeSpan


def write_wav(path: Path, pcm: bytes, sample_rate: int) -> None:
    """Mono signed 16-bit PCM."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm)


def read_wav(path: Path) -> tuple[bytes, int]:
    with wave.open(str(path), "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError(f"{path}: expected mono 16-bit audio")
        return w.readframes(w.getnframes()), w.getframerate()


def timeline_json(pcm: bytes, sample_rate: int, visemes: Sequence[VisemeSpan]) -> dict:
    return {"sample_rate": sample_rate, "duration_s": round(len(pcm) / 2 / sample_rate, 4),
            "visemes": [v.to_dict() for v in visemes]}


def write_timeline(path: Path, pcm: bytes, sample_rate: int, visemes: Sequence[VisemeSpan]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(timeline_json(pcm, sample_rate, visemes), indent=1) + "\n", encoding="utf-8")


class AudioFileError(ValueError):
    pass


def read_pcm16k(path: Path, rate: int = 16_000) -> bytes:
    """Any 16-bit PCM WAV, resampled to mono at `rate` (16 kHz: what the recognizers take)."""
    try:
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != 2:
                raise AudioFileError(f"{path}: {8 * w.getsampwidth()}-bit audio; 16-bit PCM WAV is needed "
                                     f"(convert: sox {path} -b 16 out.wav)")
            file_rate, channels, data = w.getframerate(), w.getnchannels(), w.readframes(w.getnframes())
    except (wave.Error, EOFError) as error:
        raise AudioFileError(f"{path}: not a PCM WAV file ({error})") from None
    return Resampler(file_rate, channels, rate).process(data)
