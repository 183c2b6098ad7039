"""Speaker output through PortAudio (pyaudio), plus device discovery for `doctor`.

PortAudio's ALSA backend prints probe noise to stderr for every missing card; we silence it so
the kiosk's own messages stay readable.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AudioDevice:
    index: int
    name: str
    inputs: int
    outputs: int
    default_rate: float


@contextlib.contextmanager
def _quiet_alsa() -> Iterator[None]:
    """Routes ALSA's C-level error printing to nowhere for the duration."""
    handler_t = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                                 ctypes.c_char_p)
    handler = handler_t(lambda *_: None)
    try:
        asound = ctypes.cdll.LoadLibrary("libasound.so.2")
        asound.snd_lib_error_set_handler(handler)
    except OSError:
        asound = None
    # JACK probing writes straight to fd 2; hide it too.
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
        if asound is not None:
            asound.snd_lib_error_set_handler(None)


def open_portaudio():  # noqa: ANN201 - pyaudio.PyAudio
    import pyaudio

    with _quiet_alsa():
        return pyaudio.PyAudio()


def list_devices() -> list[AudioDevice]:
    try:
        pa = open_portaudio()
    except Exception as error:  # noqa: BLE001 - no audio stack at all is a finding, not a crash
        log.debug("PortAudio unavailable: %s", error)
        return []
    try:
        out = []
        for i in range(pa.get_device_count()):
            d = pa.get_device_info_by_index(i)
            out.append(AudioDevice(i, str(d["name"]), int(d["maxInputChannels"]), int(d["maxOutputChannels"]),
                                   float(d["defaultSampleRate"])))
        return out
    finally:
        pa.terminate()


def pick_device(devices: list[AudioDevice], name: str = "") -> AudioDevice | None:
    """The device whose name contains `name` (case-insensitive); the sound server's when empty."""
    if name:
        return next((d for d in devices if name.lower() in d.name.lower()), None)
    for preferred in ("pulse", "pipewire", "default"):
        match = next((d for d in devices if d.name.lower() == preferred), None)
        if match:
            return match
    return devices[0] if devices else None


def find_output(name: str = "") -> AudioDevice | None:
    return pick_device([d for d in list_devices() if d.outputs > 0], name)


class Player:
    """Blocking playback of mono 16-bit PCM on one device; call `play` from a worker thread.

    `position()` is the playback clock the avatar's lips follow: seconds into the clip being heard,
    from when its first sample was queued, minus the device's output latency (what is still buffered
    in front of it). None when nothing plays.
    """

    def __init__(self, device: AudioDevice) -> None:
        self.device = device
        self._pa = open_portaudio()
        self._stream = None
        self._rate = 0
        self._clock: tuple[float, float, float] | None = None  # (queued at, latency, duration)
        self.generation = 0  # bumped by PlaybackQueue.cancel(): the clip playing stops, queued ones are skipped

    def play(self, pcm: bytes, sample_rate: int) -> None:
        import pyaudio

        if self._stream is None or self._rate != sample_rate:
            self._close_stream()
            self._stream = self._pa.open(format=pyaudio.paInt16, channels=1, rate=sample_rate, output=True,
                                         output_device_index=self.device.index)
            self._rate = sample_rate
        latency = float(self._stream.get_output_latency())
        self._clock = (time.monotonic(), latency, len(pcm) / 2 / sample_rate)
        step = 2 * (sample_rate // 20)  # 50 ms pieces, so a barge-in stops the voice within ~50 ms
        generation = self.generation
        for i in range(0, len(pcm), step):
            if self.generation != generation:
                self._clock = None  # cut short: the lips close now
                break
            self._stream.write(pcm[i:i + step])

    def position(self) -> float | None:
        clock = self._clock
        if clock is None:
            return None
        queued, latency, duration = clock
        at = time.monotonic() - queued - latency
        return at if at <= duration else None

    def _close_stream(self) -> None:
        if self._stream is not None:
            self._stream.stop_stream()
            self._stream.close()
            self._stream = None

    def close(self) -> None:
        self._close_stream()
        self._pa.terminate()


class PlaybackQueue:
    """Plays sentences in order on a worker thread so the loop never blocks on the sound card."""

    def __init__(self, player: Player, pause_s: float = 0.0) -> None:
        import asyncio
        from concurrent.futures import ThreadPoolExecutor

        self._player = player
        self._pause_s = pause_s
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="playback")
        self._pending: list[asyncio.Future] = []

    def submit(self, pcm: bytes, sample_rate: int, on_start: Callable[[], None] | None = None,
               pause: bool = True) -> None:
        """Queues a clip; `on_start` runs on the event loop when it starts playing (lips start then).
        `pause`: followed by the pause between sentences (not after an earcon)."""
        import asyncio

        gap = b"\x00\x00" * int(self._pause_s * sample_rate) if pause else b""
        loop = asyncio.get_running_loop()

        generation = self._player.generation

        def play() -> None:
            if self._player.generation != generation:
                return  # cancelled before it started
            if on_start is not None:
                loop.call_soon_threadsafe(on_start)
            self._player.play(pcm + gap, sample_rate)

        self._pending.append(loop.run_in_executor(self._thread, play))

    def position(self) -> float | None:
        """Seconds into the clip being heard (see Player.position)."""
        return self._player.position()

    def cancel(self) -> None:
        """Barge-in: the clip playing stops within ~50 ms and everything queued is dropped."""
        self._player.generation += 1

    async def drain(self) -> None:
        import asyncio

        pending, self._pending = self._pending, []
        await asyncio.gather(*pending, return_exceptions=True)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self._player.close()


def open_player(device_name: str, pause_s: float) -> PlaybackQueue | None:
    """A playback queue on the configured device, or None (logged) when the machine has none."""
    device = find_output(device_name)
    if device is None:
        log.info("no sound output device%s; answers are not played aloud",
                 f" matching audio.output_device={device_name!r}" if device_name else "")
        return None
    try:
        return PlaybackQueue(Player(device), pause_s)
    except Exception as error:  # noqa: BLE001 - a broken device must not stop the kiosk from answering
        log.warning("cannot open sound device %r: %s", device.name, error)
        return None
