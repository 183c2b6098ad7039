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
