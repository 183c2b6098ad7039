"""Microphone capture through PortAudio (pyaudio callback mode), delivered as 16 kHz mono int16.

Threading: `on_frames` and `on_status` run on PortAudio's callback thread or on the microphone's
supervisor thread, never on the asyncio loop. Asyncio code must hand the data over with
`loop.call_soon_threadsafe(...)` (or a thread-safe queue) and keep the callbacks short, since a slow
callback makes PortAudio drop input (counted in `stats.overflows`).

Device loss: a supervisor thread watches the stream. The stream counts as lost when PortAudio
reports it inactive (ALSA/pulse errors end the callback stream), when no callback has arrived for
`stall_s` (a wedged device), or when the callback raised. It then reports "lost", closes everything,
and retries with exponential backoff ("retrying" before each attempt) on a fresh PortAudio instance,
which rescans the device list, so a replugged USB microphone or a restarted sound server is found
again; "recovered" once audio flows. The process never has to restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from kiosk.audio import pulse_source
from kiosk.audio.playback import AudioDevice, list_devices, open_portaudio, pick_device
from kiosk.audio.resample import Resampler

log = logging.getLogger(__name__)

RATE = 16000
SOURCE_CHECK_S = 3.0  # how often the sound server is asked where the recording is

FramesCallback = Callable[[bytes, int], None]
StatusCallback = Callable[[str, str], None]


def list_inputs() -> list[AudioDevice]:
    return [d for d in list_devices() if d.inputs > 0]


def find_input(name: str = "") -> AudioDevice | None:
    """The input device whose name contains `name` (case-insensitive); the sound server's when empty."""
    return pick_device(list_inputs(), name)


def devices_json() -> dict:
    """What `kiosk devices` prints: every PortAudio input and output device."""
    def row(d: AudioDevice, channels: int) -> dict:
        return {"name": d.name, "index": d.index, "channels": channels, "default_rate": d.default_rate}

    devices = list_devices()
    return {"inputs": [row(d, d.inputs) for d in devices if d.inputs > 0],
            "outputs": [row(d, d.outputs) for d in devices if d.outputs > 0]}


class RingBuffer:
    """The most recent `seconds` of 16 kHz mono int16 audio, for pre-roll before a detected utterance."""

    def __init__(self, seconds: float, rate: int = RATE) -> None:
        self.capacity = max(1, int(seconds * rate)) * 2  # bytes
        self._buf = bytearray()
        self._lock = threading.Lock()  # written on PortAudio's thread, read elsewhere

    def write(self, pcm: bytes) -> None:
        with self._lock:
            self._buf += pcm
            if len(self._buf) > self.capacity:
                del self._buf[:len(self._buf) - self.capacity]

    def last(self, n_samples: int) -> bytes:
        with self._lock:
            return bytes(self._buf[-2 * n_samples:]) if n_samples > 0 else b""

    def __len__(self) -> int:
        return len(self._buf) // 2


@dataclass(frozen=True)
class CaptureStats:
    overflows: int = 0
    samples: int = 0  # 16 kHz samples delivered since start
    losses: int = 0


class _InputStream(Protocol):
    """The part of a pyaudio stream the microphone uses."""

    def close(self) -> None: ...

    def is_active(self) -> bool: ...


class _PortAudio(Protocol):
    """The part of a pyaudio.PyAudio instance the microphone holds on to."""

    def terminate(self) -> None: ...


@dataclass(frozen=True)
class _Opened:
    pa: _PortAudio
    stream: _InputStream
    device: AudioDevice
    rate: int
    channels: int


class AudioSource(Protocol):
    """A microphone port: started, it delivers 16 kHz mono PCM to its `on_frames` and its state changes
    (MicrophoneStatus) to its `on_status`, from its own threads; `stats.samples` counts what it delivered."""

    @property
    def stats(self) -> CaptureStats: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


class Microphone:
    """Captures one input device; see the module docstring for threading and loss handling."""

    def __init__(self, device_name: str = "", on_frames: FramesCallback | None = None,
                 on_status: StatusCallback | None = None, *, chunk_ms: int = 32, ring_seconds: float = 2.0,
                 backoff_initial_s: float = 0.5, backoff_max_s: float = 8.0, stall_s: float = 3.0,
                 first_audio_s: float = 6.0) -> None:
        self.device_name = device_name
        self.on_frames = on_frames
        self.on_status = on_status
        self.ring = RingBuffer(ring_seconds)
        self.chunk_ms = chunk_ms
        self.backoff_initial_s, self.backoff_max_s = backoff_initial_s, backoff_max_s
        self.stall_s = stall_s
        # The ALSA pulse plugin buffers ~2 s before the first callback, so the first chunk gets longer.
        self.first_audio_s = first_audio_s
        self.state = "stopped"
        self.device: AudioDevice | None = None
        self._opened: _Opened | None = None
        self._resampler: Resampler | None = None
        self._overflows = self._samples = self._losses = 0
        self._last_callback = 0.0
        self._callback_failed = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_source_check = 0.0
        self._moved: bool | None = None  # recording moved to a monitor by PulseAudio (None: not known yet)

    @property
    def stats(self) -> CaptureStats:
        return CaptureStats(self._overflows, self._samples, self._losses)

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> None:
        """Opens the device and starts the supervisor; a missing device is retried, not raised."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._supervise, name="microphone", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._close()
        self.state = "stopped"

    def __enter__(self) -> Microphone:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- internals ---------------------------------------------------------------------------------------

    def _status(self, state: str, detail: str) -> None:
        self.state = state
        log.info("microphone %s: %s", state, detail)
        if self.on_status is not None:
            try:
                self.on_status(state, detail)
            except Exception:  # noqa: BLE001 - a listener bug must not kill the supervisor
                log.exception("on_status callback failed")

    def _open(self) -> _Opened:
        import pyaudio

        pa = open_portaudio()  # a fresh instance rescans devices (PortAudio caches the list otherwise)
        try:
            inputs = []
            for i in range(pa.get_device_count()):
                d = pa.get_device_info_by_index(i)
                if int(d["maxInputChannels"]) > 0:
                    inputs.append(AudioDevice(i, str(d["name"]), int(d["maxInputChannels"]),
                                              int(d["maxOutputChannels"]), float(d["defaultSampleRate"])))
            device = pick_device(inputs, self.device_name)
            if device is None:
                raise OSError(f"no input device matching {self.device_name!r}" if self.device_name
                              else "no input device")
            rate, channels = RATE, 1
            try:
                ok = pa.is_format_supported(RATE, input_device=device.index, input_channels=1,
                                            input_format=pyaudio.paInt16)
            except ValueError:
                ok = False
            if not ok:  # fall back to what the hardware does natively; we resample
                rate, channels = int(device.default_rate), min(device.inputs, 2)
            self._resampler = Resampler(rate, channels, RATE)
            self._callback_failed = False
            self._last_callback = 0.0
            stream = pa.open(format=pyaudio.paInt16, channels=channels, rate=rate, input=True,
                             input_device_index=device.index, frames_per_buffer=max(1, rate * self.chunk_ms // 1000),
                             stream_callback=self._callback)
            return _Opened(pa, stream, device, rate, channels)
        except BaseException:
            pa.terminate()
            raise

    def _close(self) -> None:
        opened, self._opened = self._opened, None
        if opened is None:
            return
        try:
            opened.stream.close()  # Pa_CloseStream aborts an active stream; stop_stream could block on a dead server
        except Exception as error:  # noqa: BLE001 - closing a broken stream is best effort
            log.debug("closing input stream: %s", error)
        try:
            opened.pa.terminate()
        except Exception as error:  # noqa: BLE001
            log.debug("terminating PortAudio: %s", error)

    def _callback(self, data: bytes | None, frame_count: int, time_info: dict, status: int):  # noqa: ANN202
        import pyaudio

        self._last_callback = time.monotonic()
        if status & pyaudio.paInputOverflow:
            self._overflows += 1
        try:
            resampler = self._resampler
            if resampler is None:  # set by _open before the stream exists
                raise RuntimeError("microphone callback before the stream was opened")
            pcm = resampler.process(data or b"")
            if pcm:
                t = self._samples
                self._samples += len(pcm) // 2
                self.ring.write(pcm)
                if self.on_frames is not None:
                    self.on_frames(pcm, t)
        except Exception:  # noqa: BLE001 - must not propagate into PortAudio; the supervisor reopens
            log.exception("microphone callback failed")
            self._callback_failed = True
            return (None, pyaudio.paAbort)
        return (None, pyaudio.paContinue)

    def _healthy(self, opened_at: float) -> tuple[bool, str]:
        opened = self._opened
        if opened is None:
            return False, "no stream"
        try:
            active = opened.stream.is_active()
        except Exception as error:  # noqa: BLE001
            return False, f"stream error: {error}"
        if self._callback_failed:
            return False, "callback failed"
        if not active:
            return False, "stream stopped (device error or removal)"
        now = time.monotonic()
        if self._last_callback == 0.0:
            if now - opened_at > self.first_audio_s:
                return False, f"no audio within {self.first_audio_s:.0f} s of opening"
        elif now - self._last_callback > self.stall_s:
            return False, f"no audio for {self.stall_s:.0f} s"
        return True, ""

    def _try_open(self) -> str | None:
        """Opens the stream; None on success, else why not."""
        try:
            self._opened = self._open()
            self.device = self._opened.device
            return None
        except Exception as error:  # noqa: BLE001 - any failure means "try again later"
            self._close()
            return str(error) or type(error).__name__

    def _describe_open(self) -> str:
        """The stream a successful _try_open just opened, for the status line."""
        d = self._opened
        if d is None:
            raise RuntimeError("microphone stream is not open")
        return f"{d.device.name} at {d.rate} Hz x{d.channels}"

    def _supervise(self) -> None:
        error = self._try_open()
        recovering = error is not None
        if error is None:
            self._status("listening", self._describe_open())
        else:
            self._losses += 1
            self._status("lost", error)
        delay = self.backoff_initial_s
        opened_at = time.monotonic()
        first_audio = False
        while not self._stop.is_set():
            if not recovering:
                ok, why = self._healthy(opened_at)
                if ok:
                    if not first_audio and self._samples:  # what a test or an installer waits for
                        first_audio = True
                        log.info("first audio from the microphone %.1f s after opening",
                                 time.monotonic() - opened_at)
                    self._watch_sound_server()
                    self._stop.wait(0.1)
                    continue
                self._losses += 1
                self._close()
                self._status("lost", why)
                recovering, delay = True, self.backoff_initial_s
            attempt = 0
            while recovering and not self._stop.is_set():
                attempt += 1
                self._status("retrying", f"attempt {attempt} in {delay:g} s")
                if self._stop.wait(delay):
                    return
                delay = min(delay * 2, self.backoff_max_s)
                error = self._try_open()
                if error is None and self._wait_first_audio():
                    self._status("recovered", self._describe_open())
                    recovering, delay = False, self.backoff_initial_s
                    opened_at = time.monotonic()
                elif error is None:
                    self._close()
                    log.debug("microphone reopened but delivered no audio")
                else:
                    log.debug("microphone reopen failed: %s", error)

    def _watch_sound_server(self) -> None:
        """Every few seconds: has PulseAudio moved our recording to a monitor source (the microphone was pulled
        and the stream did not end)? Reported as lost, and as recovered once it is back on a microphone."""
        now = time.monotonic()
        if now < self._next_source_check:
            return
        self._next_source_check = now + SOURCE_CHECK_S
        names = pulse_source.recording_from()
        if names is None or not names:
            return  # not recording through a PulseAudio server: nothing to ask
        monitor = pulse_source.moved_to_monitor(names)
        if self._moved is None:  # the first look: a monitor chosen on purpose is not a lost microphone
            self._moved = False if monitor is None else None
            return
        if monitor is not None and not self._moved:
            self._moved = True
            self._losses += 1
            self._status("lost", f"the sound server moved the recording to {monitor}: the microphone is gone")
        elif monitor is None and self._moved:
            self._moved = False
            self._status("recovered", f"recording from {', '.join(names)} again")

    def _wait_first_audio(self) -> bool:
        """A reopened stream counts as recovered only once audio actually flows."""
        deadline = time.monotonic() + self.first_audio_s
        while time.monotonic() < deadline and not self._stop.is_set():
            if self._last_callback:
                return True
            if self._opened is None or not self._opened.stream.is_active():
                return False
            self._stop.wait(0.05)
        return False
