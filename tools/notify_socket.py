"""The receiving end of systemd's notify protocol, for tests and benchmarks that run `kiosk run`."""

from __future__ import annotations

import socket
import time


def wait_for(sock: socket.socket, wanted: str, timeout: float, seen: list[str] | None = None) -> float | None:
    """Reads notify datagrams until one holds the line `wanted`; the monotonic time it came, or None.
    Every message read is appended to `seen`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            message = sock.recv(4096).decode()
        except TimeoutError:
            return None
        if seen is not None:
            seen.append(message)
        if wanted in message.split("\n"):
            return time.monotonic()
    return None


FIRST_AUDIO = "first audio from the microphone"  # logged by kiosk.audio.capture once capture delivers


def wait_for_log(path: str | object, text: str, timeout: float) -> bool:
    """Waits until the log file at `path` holds `text` (the ALSA pulse plugin delivers the first captured
    audio ~2 s after the stream opens, later on a busy machine: wait for FIRST_AUDIO before playing a question)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(str(path), encoding="utf-8", errors="replace") as f:
                if text in f.read():
                    return True
        except FileNotFoundError:
            pass
        time.sleep(0.1)
    return False
