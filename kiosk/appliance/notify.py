"""systemd's notify protocol: READY=1, STATUS=..., WATCHDOG=1, STOPPING=1 as datagrams to $NOTIFY_SOCKET.

The datagrams go through a plain, non-blocking socket (the same bytes systemd-python's
`systemd.daemon.notify` would send, so the protocol is tested without systemd): the notify calls run on
the event loop, and a reader that falls behind (a full socket buffer) must cost a dropped status line, never
a frozen kiosk. Outside a systemd service (no NOTIFY_SOCKET) every call is a no-op.

The watchdog is fed from a task of the event loop itself: if the loop stalls (a stage blocks it), the
task stops running, WATCHDOG=1 stops arriving, and systemd kills and restarts the service
(`WatchdogSec=` in systemd/kiosk.service).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.address = env.get("NOTIFY_SOCKET", "")
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        # The watchdog applies to us only if systemd says so (WATCHDOG_PID, when set, must be our pid).
        self.watchdog_s = int(usec) / 1e6 if usec.isdigit() and (not pid or pid == str(os.getpid())) else None

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def send(self, *lines: str) -> bool:
        if not self.address:
            return False
        message = "\n".join(lines)
        try:
            address = "\0" + self.address[1:] if self.address.startswith("@") else self.address
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK) as sock:
                sock.sendto(message.encode(), address)
            return True
        except OSError as error:  # systemd gone (shutdown) or not reading (EAGAIN): dropped, the loop goes on
            log.debug("sd_notify %r failed: %s", message, error)
            return False

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    async def feed_watchdog(self, stop: asyncio.Event, healthy: Callable[[], bool] = lambda: True) -> None:
        """Sends WATCHDOG=1 at half the configured interval, from the event loop, until `stop`; not while
        `healthy()` is False (a stage hung off the loop, e.g. in a worker thread)."""
        if self.watchdog_s is None or not self.address:
            await stop.wait()
            return
        period = max(0.05, self.watchdog_s / 2)
        while not stop.is_set():
            if healthy():
                self.watchdog()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=period)
