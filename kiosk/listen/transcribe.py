"""`kiosk transcribe FILE.wav`: a file through the same streaming path the kiosk listens with."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

from kiosk.audio.resample import Resampler
from kiosk.listen.asr import SAMPLE_RATE, AsrEngine

CHUNK_S = 0.1  # the microphone delivers ~100 ms chunks too


class AudioFileError(ValueError):
    pass


def read_pcm16k(path: Path) -> bytes:
    """Any 16-bit PCM WAV, resampled to 16 kHz mono."""
    try:
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != 2:
                raise AudioFileError(f"{path}: {8 * w.getsampwidth()}-bit audio; 16-bit PCM WAV is needed "
                                     f"(convert: sox {path} -b 16 out.wav)")
            rate, channels, data = w.getframerate(), w.getnchannels(), w.readframes(w.getnframes())
    except (wave.Error, EOFError) as error:
        raise AudioFileError(f"{path}: not a PCM WAV file ({error})") from None
    return Resampler(rate, channels, SAMPLE_RATE).process(data)


def transcribe(engine: AsrEngine, pcm: bytes) -> dict[str, Any]:
    """Feeds 16 kHz mono PCM in microphone-sized chunks; the `kiosk transcribe --json` contract."""
    step = int(CHUNK_S * SAMPLE_RATE) * 2
    engine.start()
    for i in range(0, len(pcm), step):
        engine.feed(pcm[i:i + step])
    result = engine.finish()
    return {"text": result.text, "engine": result.engine,
            "words": [{"word": w.word, "start_s": round(w.start_s, 3), "end_s": round(w.end_s, 3)}
                      for w in result.words]}
