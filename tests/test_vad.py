"""VADs: Silero ONNX on real synthesized speech (espeak-ng + sox), and the energy fallback."""

from __future__ import annotations

import shutil
import subprocess
import sys
import wave

import numpy as np
import pytest

from kiosk.listen.endpoint import segments
from kiosk.listen.vad import EnergyVad, SileroVad, Vad, find_silero_model

SR = 16000
FRAME = 512
TOL = int(0.150 * SR)  # ±150 ms on detected boundaries
LEAD, TRAIL = int(1.2 * SR), int(1.5 * SR)


def probs_of(vad: Vad, audio: np.ndarray) -> list[float]:
    vad.reset()
    n = len(audio) // vad.frame_samples * vad.frame_samples
    return [vad.prob(audio[i : i + vad.frame_samples]) for i in range(0, n, vad.frame_samples)]


def noise(n: int, dbfs: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(n) * (10 ** (dbfs / 20) * 32768)).astype(np.float32)


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """Clean espeak-ng speech, 16 kHz mono int16, trimmed to where the voice really is."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: run tools/dev setup")
    d = tmp_path_factory.mktemp("vad")
    raw, wav16 = d / "raw.wav", d / "out16.wav"
    text = "Hello, and welcome. I can tell you about our products and opening hours."
    subprocess.run(["espeak-ng", "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", str(wav16)], check=True)
    with wave.open(str(wav16), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (SR, 1, 2)
        audio = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    # espeak pads its output with a little silence; ground truth = first/last 10 ms above -45 dBFS.
    hop = SR // 100
    frames = audio[: len(audio) // hop * hop].astype(np.float64).reshape(-1, hop) / 32768
    loud = np.flatnonzero(20 * np.log10(np.sqrt((frames**2).mean(axis=1)) + 1e-10) > -45)
    return audio[loud[0] * hop : (loud[-1] + 1) * hop]


def padded(speech: np.ndarray, noise_dbfs: float | None) -> np.ndarray:
    audio = np.concatenate([np.zeros(LEAD), speech.astype(np.float32), np.zeros(TRAIL)]).astype(np.float32)
    if noise_dbfs is not None:
        audio += noise(len(audio), noise_dbfs)
    return np.clip(audio, -32768, 32767).astype(np.int16)


@pytest.fixture(scope="module")
def silero() -> SileroVad:
    return SileroVad()


def test_model_located_without_importing_package() -> None:
    path = find_silero_model()
    assert path.name == "silero_vad.onnx" and path.is_file()
    SileroVad(path)
    assert "silero_vad" not in sys.modules  # importing it would drag in torch


def test_silero_rejects_wrong_frame(silero: SileroVad) -> None:
    with pytest.raises(ValueError):
        silero.prob(np.zeros(480, dtype=np.int16))
    with pytest.raises(TypeError):
        silero.prob(np.zeros(512, dtype=np.int32))


def test_protocol() -> None:
    assert isinstance(EnergyVad(), Vad)
    assert EnergyVad.frame_samples == SileroVad.frame_samples == 512


@pytest.mark.slow
@pytest.mark.parametrize("noise_dbfs", [None, -55.0], ids=["silence", "noise"])
def test_silero_finds_speech_boundaries(silero: SileroVad, speech: np.ndarray, noise_dbfs: float | None) -> None:
    audio = padded(speech, noise_dbfs)
    segs = segments(probs_of(silero, audio), FRAME)
    assert len(segs) == 1, segs
    start, end = segs[0]
    assert abs(start - LEAD) <= TOL, (start, LEAD)
    assert abs(end - (LEAD + len(speech))) <= TOL, (end, LEAD + len(speech))


@pytest.mark.slow
def test_silero_int16_and_float32_agree_and_reset_repeats(silero: SileroVad, speech: np.ndarray) -> None:
    audio = padded(speech, -55.0)
    a = probs_of(silero, audio)
    b = probs_of(silero, audio.astype(np.float32) / 32768)
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert max(a) > 0.9


@pytest.mark.slow
@pytest.mark.parametrize("dbfs", [None, -55.0, -40.0], ids=["silence", "quiet-noise", "noise"])
def test_silero_no_speech_in_silence_or_noise(silero: SileroVad, dbfs: float | None) -> None:
    n = 4 * SR
    audio = np.zeros(n, dtype=np.int16) if dbfs is None else np.clip(noise(n, dbfs, seed=1), -32768, 32767)
    probs = probs_of(silero, audio.astype(np.int16))
    assert segments(probs, FRAME) == []
    assert max(probs) < 0.5


def test_energy_vad_levels() -> None:
    vad = EnergyVad(threshold_dbfs=-40)
    assert vad.prob(np.zeros(512, dtype=np.int16)) == 0.0
    assert vad.prob(noise(512, -20).astype(np.int16)) == 1.0
    assert vad.prob(noise(512, -70) / 32768) == 0.0
    assert abs(vad.dbfs(np.full(512, 0.5, dtype=np.float32)) - (-6.02)) < 0.01


def test_energy_vad_segments_on_speech_like_bursts() -> None:
    t = np.arange(SR) / SR
    tone = (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype(np.int16)
    audio = np.concatenate([np.zeros(SR, dtype=np.int16), tone, np.zeros(SR, dtype=np.int16)])
    audio = np.clip(audio + noise(len(audio), -60), -32768, 32767).astype(np.int16)
    [(start, end)] = segments(probs_of(EnergyVad(), audio), FRAME)
    assert abs(start - SR) <= FRAME and abs(end - 2 * SR) <= FRAME
