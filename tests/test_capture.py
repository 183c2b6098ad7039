"""Resampler maths, ring buffer, and the real capture path through a private PulseAudio."""

from __future__ import annotations

import subprocess
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import private_pulse, start_pulse

from kiosk.audio.capture import Microphone, RingBuffer, devices_json, find_input
from kiosk.audio.resample import Resampler


def _sine(rate: int, channels: int, freq: float = 1000.0, amp: float = 10000.0, seconds: float = 1.0) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    mono = (amp * np.sin(2 * np.pi * freq * t)).astype("<i2")
    return np.repeat(mono, channels).tobytes()


def _peak(pcm: np.ndarray, rate: int = 16000) -> tuple[float, float]:
    seg = pcm[1000:-1000].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    return np.argmax(spectrum) * rate / len(seg), seg.std() * np.sqrt(2)


@pytest.mark.parametrize("rate", [48000, 44100, 22050, 8000])
def test_sine_keeps_frequency_and_amplitude(rate: int) -> None:
    out = np.frombuffer(Resampler(rate, 2).process(_sine(rate, 2)), dtype="<i2")
    assert abs(len(out) - 16000) <= 1
    freq, amp = _peak(out)
    assert abs(freq - 1000) < 5
    assert abs(amp - 10000) < 100


def test_decimation_filters_out_of_band_tone() -> None:
    out = np.frombuffer(Resampler(48000, 1).process(_sine(48000, 1, freq=12000)), dtype="<i2")
    assert out[200:].astype(np.float64).std() < 5  # would alias to 4 kHz without the low-pass


@pytest.mark.parametrize(("rate", "channels"), [(48000, 2), (44100, 1), (16000, 2)])
def test_chunked_equals_whole(rate: int, channels: int) -> None:
    data = _sine(rate, channels, freq=440) + _sine(rate, channels, freq=3000, seconds=0.5)
    whole = np.frombuffer(Resampler(rate, channels).process(data), dtype="<i2").astype(int)
    r = Resampler(rate, channels)
    step = 2 * channels * 333 + 2  # odd sizes split frames, exercising the carry
    chunked = np.frombuffer(b"".join(r.process(data[i:i + step]) for i in range(0, len(data), step)), dtype="<i2")
    assert len(chunked) == len(whole)
    assert np.abs(chunked.astype(int) - whole).max() <= 1


def test_16k_mono_is_passthrough() -> None:
    data = _sine(16000, 1)
    assert Resampler(16000, 1).process(data) is data


def test_ring_buffer_keeps_latest() -> None:
    ring = RingBuffer(0.001)  # 16 samples
    ring.write(np.arange(10, dtype="<i2").tobytes())
    ring.write(np.arange(10, 20, dtype="<i2").tobytes())
    assert len(ring) == 16
    assert np.frombuffer(ring.last(4), dtype="<i2").tolist() == [16, 17, 18, 19]
    assert len(ring.last(100)) == 32
    assert ring.last(0) == b""


# -- real devices ------------------------------------------------------------------------------------------


class _Recorder:
    def __init__(self) -> None:
        self.chunks: list[tuple[int, bytes]] = []
        self.states: list[str] = []
        self.lock = threading.Lock()

    def frames(self, pcm: bytes, t: int) -> None:
        with self.lock:
            self.chunks.append((t, pcm))

    def status(self, state: str, detail: str) -> None:
        self.states.append(state)

    def samples(self, since: int = 0) -> np.ndarray:
        with self.lock:
            pcm = b"".join(p for t, p in self.chunks if t >= since)
        return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def _wait(cond, timeout: float) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def _speech_wav(tmp_path: Path) -> tuple[Path, np.ndarray]:
    path = tmp_path / "visitor.wav"
    subprocess.run(["espeak-ng", "-w", str(path), "Hello, where is the exhibition about old ships?"], check=True)
    with wave.open(str(path), "rb") as w:
        pcm, rate = w.readframes(w.getnframes()), w.getframerate()
    return path, np.frombuffer(Resampler(rate, 1).process(pcm), dtype="<i2").astype(np.float64)


def _locate(captured: np.ndarray, ref: np.ndarray) -> tuple[int, float]:
    """Lag of `ref` inside `captured` and the normalised correlation there (FFT cross-correlation)."""
    n = len(captured) + len(ref)
    size = 1 << (n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(captured, size) * np.conj(np.fft.rfft(ref, size)), size)[:len(captured)]
    lag = int(np.argmax(corr))
    window = captured[lag:lag + len(ref)]
    norm = np.linalg.norm(window) * np.linalg.norm(ref[:len(window)])
    return lag, float(corr[lag] / norm) if norm else 0.0


def _play_and_check(env: dict[str, str], mic: Microphone, rec: _Recorder, wav: Path, ref: np.ndarray) -> None:
    start = mic.stats.samples
    subprocess.run(["paplay", "--device=mic_feed", str(wav)], env=env, check=True)
    # The ALSA pulse plugin lags ~2 s behind; wait until the whole utterance could have arrived.
    assert _wait(lambda: mic.stats.samples - start > len(ref) + 3 * 16000, 15)
    captured = rec.samples(since=start)
    lag, similarity = _locate(captured, ref)
    assert similarity > 0.8, similarity
    assert 0 <= lag < 5 * 16000
    inside = captured[lag:lag + len(ref)]
    outside = np.concatenate([captured[:lag], captured[lag + len(ref):]])
    assert inside.std() > 300  # the utterance arrived at full level ...
    assert outside.std() < inside.std() / 20  # ... and only in its window, for its duration


@pytest.mark.audio
@pytest.mark.slow
def test_devices_json_lists_pulse(pulse: dict[str, str]) -> None:
    info = devices_json()
    assert any(d["name"] == "pulse" for d in info["inputs"])
    assert any(d["name"] == "pulse" for d in info["outputs"])
    assert find_input("PULSE").name == "pulse"


@pytest.mark.audio
@pytest.mark.slow
def test_captures_visitor_speech(pulse: dict[str, str], tmp_path: Path) -> None:
    wav, ref = _speech_wav(tmp_path)
    rec = _Recorder()
    with Microphone("pulse", rec.frames, rec.status) as mic:
        assert _wait(lambda: mic.stats.samples > 0, 10), rec.states
        assert rec.states == ["listening"]
        _play_and_check(pulse, mic, rec, wav, ref)
        assert len(mic.ring.last(16000)) == 32000
    ts = [t for t, _ in rec.chunks]
    assert ts == sorted(ts) and ts[0] == 0  # contiguous sample clock


@pytest.fixture
def own_pulse() -> Iterator[dict[str, str]]:
    """A private PulseAudio this test may kill and restart without disturbing the shared `pulse`."""
    with private_pulse("kiosk-pulse-own-") as env:
        yield env


@pytest.mark.audio
@pytest.mark.slow
def test_recovers_when_sound_server_restarts(own_pulse: dict[str, str], tmp_path: Path) -> None:
    # Unloading the remap source does not break the stream (pulse moves it to another source), so the
    # "unplug" is the whole sound server going away, then coming back.
    wav, ref = _speech_wav(tmp_path)
    rec = _Recorder()
    with Microphone("pulse", rec.frames, rec.status, backoff_initial_s=0.2, backoff_max_s=1.0) as mic:
        assert _wait(lambda: mic.stats.samples > 0, 10), rec.states
        subprocess.run(["pactl", "exit"], env=own_pulse, check=True)
        assert _wait(lambda: "lost" in rec.states, 8), rec.states
        assert _wait(lambda: rec.states.count("retrying") >= 2, 8), rec.states  # server still gone
        assert "recovered" not in rec.states
        start_pulse(own_pulse)
        assert _wait(lambda: "recovered" in rec.states, 20), rec.states
        assert rec.states[:3] == ["listening", "lost", "retrying"]
        assert rec.states[-1] == "recovered"
        assert mic.stats.losses == 1
        _play_and_check(own_pulse, mic, rec, wav, ref)


SOURCE_OUTPUTS = """Source Output #0
\tDriver: module-remap-source.c
\tSource: 0
\tProperties:
\t\tmedia.name = "Remapped Stream"

Source Output #7
\tDriver: protocol-native.c
\tSource: 3
\tProperties:
\t\tapplication.name = "ALSA plug-in [python3]"
\t\tapplication.process.id = "4242"
"""


def test_the_source_a_process_records_from_is_read_from_pactl() -> None:
    from kiosk.audio import pulse_source

    assert pulse_source.sources_of(4242, SOURCE_OUTPUTS) == ["3"] and pulse_source.sources_of(1, SOURCE_OUTPUTS) == []
    names = pulse_source.source_names("0\tmic_feed.monitor\tmodule-null-sink.c\ts16le 2ch 44100Hz\tRUNNING\n"
                                      "3\talsa_input.usb-Jabra.analog-mono\tmodule-alsa-card.c\t...\tRUNNING\n")
    assert names == {"0": "mic_feed.monitor", "3": "alsa_input.usb-Jabra.analog-mono"}
    assert pulse_source.moved_to_monitor(["alsa_output.hdmi.monitor"]) == "alsa_output.hdmi.monitor"
    assert pulse_source.moved_to_monitor(["alsa_input.usb-Jabra.analog-mono"]) is None
    assert pulse_source.moved_to_monitor([]) is None and pulse_source.moved_to_monitor(None) is None


@pytest.mark.audio
@pytest.mark.slow
def test_a_microphone_pulled_while_the_sound_server_moves_the_stream_is_lost_then_recovered(
        own_pulse: dict[str, str], tmp_path: Path) -> None:
    """Issue 12's fault tests: PulseAudio does not end the stream when the microphone goes, it moves it to a
    monitor source, so PortAudio saw nothing and the kiosk listened to silence with no notice."""
    from kiosk_session import plug_back, unplug

    wav, ref = _speech_wav(tmp_path)
    rec = _Recorder()
    with Microphone("pulse", rec.frames, rec.status) as mic:
        assert _wait(lambda: mic.stats.samples > 0, 10), rec.states
        assert _wait(lambda: mic._moved is False, 10)  # the first look at where it records: a microphone
        unplug(own_pulse)
        assert _wait(lambda: "lost" in rec.states, 10), rec.states
        assert mic.stats.losses == 1 and "retrying" not in rec.states  # the stream itself lives on
        plug_back(own_pulse)
        assert _wait(lambda: "recovered" in rec.states, 10), rec.states
        # (PulseAudio may move the stream once more while the devices come back; the supervisor's stall
        # check can then reopen it: either way it ends recovered.)
        assert rec.states[:2] == ["listening", "lost"] and rec.states[-1] == "recovered"
        _play_and_check(own_pulse, mic, rec, wav, ref)  # and the microphone's audio arrives again
