"""Speaker output through PortAudio (pyaudio), plus device discovery for `doctor`.

PortAudio's ALSA backend prints probe noise to stderr for every missing card; we silence it so
the kiosk's own messages stay readable.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)
KEEP_ALIVE_S = 0.05  # silence written at a time while nothing plays (PlaybackQueue keep_alive)
KEEP_ALIVE_BUFFER_S = 0.05  # a stream that must never run dry gets periods this long (not a few ms)


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

    def __init__(self, device: AudioDevice, buffer_s: float | None = None, name: str = "") -> None:
        """`buffer_s`: the device's buffer (None: PortAudio's low-latency default, a few ms). `name`: how the
        device was chosen (audio.output_device), to find it again after it went away."""
        self.device, self.buffer_s, self.name = device, buffer_s, name
        self._pa = open_portaudio()
        self._lost = False  # the device failed: look for it afresh before the next clip
        self._stream: Any = None  # a pyaudio stream, opened at the first clip
        self._rate = 0
        self._clock: tuple[float, float, float] | None = None  # (queued at, latency, duration)
        self.generation = 0  # bumped by PlaybackQueue.cancel(): the clip playing stops, queued ones are skipped

    def play(self, pcm: bytes, sample_rate: int) -> None:
        """Raises when the device fails (unplugged); the clip is lost (its captions are not), and the next
        clip looks for the device again, so sound comes back when it does."""
        try:
            if self._lost:
                self._find_again()
            self._play(pcm, sample_rate)
        except Exception as error:
            if not self._lost:
                log.warning("sound output %r failed (%s); looking for it again at the next sentence",
                            self.device.name, error)
            self.reset()
            self._lost = True
            raise

    def _find_again(self) -> None:
        """PortAudio lists devices once, when it starts: a re-plugged speaker needs a fresh start."""
        with contextlib.suppress(Exception):
            self._pa.terminate()
        self._pa = open_portaudio()
        device = find_output(self.name)
        if device is None:
            raise OSError(f"no sound output device matching audio.output_device={self.name!r}")
        self.device, self._lost = device, False
        log.info("sound output back: %s", device.name)

    def _play(self, pcm: bytes, sample_rate: int) -> None:
        import pyaudio

        if self._stream is None or self._rate != sample_rate:
            self._close_stream()
            buffer = {} if self.buffer_s is None else {"frames_per_buffer": int(self.buffer_s * sample_rate)}
            self._stream = self._pa.open(format=pyaudio.paInt16, channels=1, rate=sample_rate, output=True,
                                         output_device_index=self.device.index, **buffer)
            self._rate = sample_rate
        stream = self._stream
        latency = float(stream.get_output_latency())
        self._clock = (time.monotonic(), latency, len(pcm) / 2 / sample_rate)
        step = 2 * (sample_rate // 20)  # 50 ms pieces, so a barge-in stops the voice within ~50 ms
        generation = self.generation
        for i in range(0, len(pcm), step):
            if self.generation != generation:
                self._clock = None  # cut short: the lips close now
                break
            stream.write(pcm[i:i + step])

    @property
    def is_open(self) -> bool:
        return self._stream is not None

    def silence(self, seconds: float) -> None:
        """Keeps an open stream fed (blocks for about `seconds`, at the device's pace)."""
        if self._stream is not None:
            try:
                self._stream.write(b"\x00\x00" * int(seconds * self._rate))
            except Exception:
                self.reset()
                self._lost = True
                raise

    def reset(self) -> None:
        """Drops a stream that failed; the next clip opens a new one."""
        with contextlib.suppress(Exception):
            self._close_stream()
        self._stream = None

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
    """Plays sentences in order on a worker thread so the loop never blocks on the sound card.

    `keep_alive`: once a stream is open, silence is written whenever nothing plays, so it never runs dry.
    A stream that underruns and restarts makes PulseAudio rewind the sink, and an echo canceller on that
    sink loses its alignment for the next second or more (docs/benchmarks.md, "Voice barge-in"): exactly
    when the kiosk starts to speak and a visitor's voice must be told from its echo."""

    def __init__(self, player: Player, pause_s: float = 0.0, keep_alive: bool = False) -> None:
        self._player = player
        self._pause_s = pause_s
        self._keep_alive = keep_alive
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._pending: list[Any] = []
        self._thread = threading.Thread(target=self._work, name="playback", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            idle = self._keep_alive and self._player.is_open
            try:
                job = self._jobs.get_nowait() if idle else self._jobs.get()
            except queue.Empty:
                try:
                    self._player.silence(KEEP_ALIVE_S)
                except Exception:  # noqa: BLE001 - the device went away: the next clip reopens it
                    log.warning("sound output: writing silence failed; the stream is reopened for the next clip")
                    self._player.reset()
                continue
            if job is None:
                return
            job()

    def submit(self, pcm: bytes, sample_rate: int, on_start: Callable[[], None] | None = None,
               pause: bool = True) -> None:
        """Queues a clip; `on_start` runs on the event loop when it starts playing (lips start then).
        `pause`: followed by the pause between sentences (not after an earcon)."""
        import asyncio

        gap = b"\x00\x00" * int(self._pause_s * sample_rate) if pause else b""
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        generation = self._player.generation

        def play() -> None:
            error: BaseException | None = None
            try:
                if self._player.generation == generation:  # else cancelled before it started
                    if on_start is not None:
                        loop.call_soon_threadsafe(on_start)
                    self._player.play(pcm + gap, sample_rate)
            except Exception as failed:  # noqa: BLE001 - handed to whoever drains
                error = failed
            loop.call_soon_threadsafe(_settle, done, error)

        self._pending.append(done)
        self._jobs.put(play)

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
        self._jobs.put(None)
        self._thread.join(timeout=10)
        self._player.close()


def _settle(future: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def open_player(device_name: str, pause_s: float, keep_alive: bool = False) -> PlaybackQueue | None:
    """A playback queue on the configured device, or None (logged) when the machine has none."""
    device = find_output(device_name)
    if device is None:
        log.info("no sound output device%s; answers are not played aloud",
                 f" matching audio.output_device={device_name!r}" if device_name else "")
        return None
    try:
        player = Player(device, KEEP_ALIVE_BUFFER_S if keep_alive else None, device_name)
        return PlaybackQueue(player, pause_s, keep_alive)
    except Exception as error:  # noqa: BLE001 - a broken device must not stop the kiosk from answering
        log.warning("cannot open sound device %r: %s", device.name, error)
        return None
