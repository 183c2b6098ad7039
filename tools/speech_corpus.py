"""Synthetic speech for listening tests and benchmarks: Piper and espeak-ng voices, noise, long scripts.

Everything is 16 kHz mono int16 numpy arrays. A *script* is a list of lines spoken one after another
with silences between them; `render` returns the audio and, for every line, where its speech really
starts and ends (found from the synthesized clip's own samples, not assumed), so benchmarks can measure
endpoint latency against the truth and tests can check event times.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

RATE = 16000
FIXED_PIPER_ENV = "KIOSK_CORPUS_FIXED_PIPER"  # set (tests/conftest.py): the same Piper audio every run
ESPEAK_VOICES = ("en-us", "en-gb", "en-us+f3", "en-gb-x-rp", "en-us+m7", "en-gb+f4")
VOICES = ("piper",) + ESPEAK_VOICES


@lru_cache(maxsize=1)
def _piper():  # noqa: ANN202 - PiperSpeaker
    from kiosk.config import Settings
    from kiosk.runtime import build_speaker

    speaker = build_speaker(Settings())
    if os.environ.get(FIXED_PIPER_ENV):
        # Piper varies its voice at random on every run (noise_scale, noise_w); without that variation a
        # text always sounds the same, so a test passes or fails the same way every time. Benchmarks keep
        # the variation: more like many speakers.
        speaker.voice.config.noise_scale = 0.0
        speaker.voice.config.noise_w_scale = 0.0
    return speaker


def _to16k(path: Path) -> np.ndarray:
    from kiosk.audio.wav import read_pcm16k

    return np.frombuffer(read_pcm16k(path), dtype=np.int16).copy()


@lru_cache(maxsize=4096)
def _speak(text: str, voice: str, speed: int, pitch: int | None = None) -> bytes:
    if voice == "piper":
        from kiosk.audio.resample import Resampler

        clip = _piper().speak_joined(text)
        return Resampler(clip.sample_rate, 1, RATE).process(clip.pcm)
    if not shutil.which("espeak-ng"):
        raise RuntimeError("espeak-ng is needed for test speech: run tools/dev setup")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "e.wav"
        # stdin, so text starting with "-" is not taken for an option
        pitch_args = [] if pitch is None else ["-p", str(pitch)]
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), *pitch_args, "-w", str(wav), "--stdin"],
                       input=text.encode(), check=True)
        return _to16k(wav).tobytes()


def speak(text: str, voice: str = "piper", speed: int = 160, pitch: int | None = None) -> np.ndarray:
    """`text` spoken by Piper (en_US-joe-medium) or an espeak-ng voice, trimmed to its speech.

    `speed` (words per minute) and `pitch` (0-99, espeak-ng's -p; None = the voice's own) apply to espeak-ng
    voices only; Piper ignores them."""
    pcm = np.frombuffer(_speak(text, voice, speed, pitch), dtype=np.int16)
    start, end = speech_bounds(pcm)
    return pcm[start:end].copy()


def speech_bounds(pcm: np.ndarray, floor: int = 300) -> tuple[int, int]:
    """First and last sample above `floor` (about -40 dBFS): where the synthesized speech really is."""
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > floor)
    return (int(loud[0]), int(loud[-1]) + 1) if loud.size else (0, 0)


def noise(n: int, rms: float, kind: str, rng: np.random.Generator) -> np.ndarray:
    """White, or pink (1/f, like ventilation and crowd rumble), scaled to `rms`."""
    white = rng.normal(0.0, 1.0, n)
    if kind == "pink":
        spectrum = np.fft.rfft(white)
        f = np.arange(spectrum.size, dtype=np.float64)
        f[0] = 1.0
        white = np.fft.irfft(spectrum / np.sqrt(f), n)
    elif kind != "white":
        raise ValueError(f"unknown noise {kind!r}")
    return white * (rms / max(float(np.sqrt(np.mean(white * white))), 1e-12))


def speech_rms(pcm: np.ndarray) -> float:
    x = pcm.astype(np.float64)
    active = x[np.abs(x) > 100]
    return float(np.sqrt(np.mean(active * active))) if active.size else 0.0


def add_noise(pcm: np.ndarray, snr_db: float, kind: str = "pink", seed: int = 7,
              reference_rms: float | None = None) -> np.ndarray:
    """`pcm` plus noise `snr_db` below the speech level (of `reference_rms`, or of `pcm` itself)."""
    level = (reference_rms or speech_rms(pcm)) / 10 ** (snr_db / 20)
    mixed = pcm.astype(np.float64) + noise(pcm.size, level, kind, np.random.default_rng(seed))
    return np.clip(mixed, -32768, 32767).astype(np.int16)


@dataclass(frozen=True)
class Line:
    text: str
    voice: str = "piper"
    pause_before_s: float = 1.0
    wake: bool = False
    """this line starts with the wake phrase"""


@dataclass(frozen=True)
class Placed:
    line: Line
    start: int
    """sample where its speech starts in the rendered audio"""
    end: int


def render(lines: list[Line], tail_s: float = 1.5, gain: float = 1.0) -> tuple[np.ndarray, list[Placed]]:
    parts: list[np.ndarray] = []
    placed: list[Placed] = []
    pos = 0
    for line in lines:
        gap = np.zeros(int(line.pause_before_s * RATE), dtype=np.int16)
        clip = speak(line.text, line.voice)
        if gain != 1.0:
            clip = np.clip(clip.astype(np.float64) * gain, -32768, 32767).astype(np.int16)
        parts += [gap, clip]
        pos += gap.size
        placed.append(Placed(line, pos, pos + clip.size))
        pos += clip.size
    parts.append(np.zeros(int(tail_s * RATE), dtype=np.int16))
    return np.concatenate(parts), placed


def write_wav(path: Path, pcm: np.ndarray) -> Path:
    from kiosk.audio.wav import write_wav as write

    write(path, pcm.astype(np.int16).tobytes(), RATE)
    return path
