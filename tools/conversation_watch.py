"""What tools/bench_conversation.py watches during the live run: the kiosk's notify-socket lines (`Notify`:
READY=1 and its STATUS lines, timed) and PulseAudio recordings (`Recorder`: the speaker sink's monitor, one
clock for question and answer; and the microphone source, what the kiosk was given to hear).
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
from conversation_measure import FLOOR
from speech_corpus import RATE


class Notify(threading.Thread):
    """Collects the kiosk's notify-socket lines (READY=1, STATUS=...) with the time they came."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True, name="notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.events: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        self.stopped = False

    def run(self) -> None:
        while not self.stopped:
            try:
                message = self.sock.recv(4096).decode(errors="replace")
            except (TimeoutError, OSError):
                continue
            now = time.monotonic()
            with self.lock:
                for line in message.split("\n"):
                    if line.startswith("STATUS="):
                        self.events.append((now, line[7:].strip()))
                    elif line == "READY=1":
                        self.events.append((now, "READY"))

    def first(self, value: str, after: float) -> float | None:
        with self.lock:
            return next((t for t, v in self.events if t >= after and v == value), None)

    def last(self) -> tuple[float, str]:
        with self.lock:
            return self.events[-1] if self.events else (0.0, "")

    def between(self, t0: float, t1: float) -> list[tuple[float, str]]:
        with self.lock:
            return [(t, v) for t, v in self.events if t0 <= t <= t1]

    def close(self) -> None:
        self.stopped = True
        self.sock.close()


class Recorder(threading.Thread):
    """Records a PulseAudio source for the whole run (one clock), readable while it grows: by default the
    speaker sink's monitor; `virtual_mic` is the microphone the kiosk listens to."""

    def __init__(self, env: dict[str, str], device: str = "kiosk_out.monitor") -> None:
        super().__init__(daemon=True, name=f"recorder {device}")
        self.proc = subprocess.Popen(["parec", f"--device={device}", "--raw", "--format=s16le", f"--rate={RATE}",
                                      "--channels=1", "--latency-msec=20"], env=env, stdout=subprocess.PIPE)
        self.buf = bytearray()
        self.marks: list[tuple[float, int]] = []  # (monotonic time of a read, samples recorded by then)
        self.lock = threading.Lock()

    def run(self) -> None:
        assert self.proc.stdout is not None
        while True:
            data = self.proc.stdout.read1(3200) if hasattr(self.proc.stdout, "read1") else self.proc.stdout.read(640)
            if not data:
                return
            now = time.monotonic()
            with self.lock:
                self.buf += data
                self.marks.append((now, len(self.buf) // 2))

    def samples(self) -> int:
        with self.lock:
            return len(self.buf) // 2

    def sample_at(self, t: float) -> int:
        """The recording's sample for monotonic time `t` (from the read times: a hint, tens of ms off)."""
        with self.lock:
            marks = list(self.marks)
        if not marks:
            return 0
        times = np.array([m[0] for m in marks])
        i = int(np.searchsorted(times, t))
        if i >= len(marks):
            return marks[-1][1] + int((t - marks[-1][0]) * RATE)
        return max(0, marks[i][1] - int((marks[i][0] - t) * RATE))

    def tail(self, seconds: float) -> np.ndarray:
        n = int(seconds * RATE) * 2
        with self.lock:
            return np.frombuffer(bytes(self.buf[-n:]), dtype=np.int16)

    def talking(self, seconds: float = 0.8, share: float = 0.5) -> bool:
        """Speech from the speaker now (most 20-ms frames of the last `seconds` loud), not a short chime."""
        tail = self.tail(seconds)
        frames = tail[: tail.size // 320 * 320].reshape(-1, 320)
        return bool(frames.size and (np.abs(frames.astype(np.int32)).max(axis=1) > FLOOR).mean() > share)

    def audible(self, seconds: float = 0.3) -> bool:
        tail = self.tail(seconds)
        return bool(tail.size and np.abs(tail.astype(np.int32)).max() > FLOOR)

    def audio(self) -> np.ndarray:
        with self.lock:
            return np.frombuffer(bytes(self.buf), dtype=np.int16).copy()

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        if self.proc.poll() is None:
            self.proc.kill()
        self.join(timeout=5)
