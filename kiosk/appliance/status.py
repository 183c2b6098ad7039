"""A localhost status endpoint for monitoring: GET /status -> JSON (state, last turn, errors, uptime, memory).

A stdlib HTTP server on its own thread; the snapshot it serves is a plain dict the event loop replaces
atomically, so a slow or hostile client can never stall the kiosk. Nothing but /status is served.
"""

from __future__ import annotations

import json
import logging
import resource
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)


def rss_mb() -> float:
    """Resident memory now (from /proc; the peak from getrusage where /proc is missing)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class StatusServer:
    def __init__(self, snapshot: Callable[[], dict[str, Any]], bind: str = "127.0.0.1", port: int = 8787) -> None:
        self.snapshot = snapshot
        self.started = time.monotonic()
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path.split("?")[0] != "/status":
                    self.send_error(404, "only /status is served")
                    return
                body = json.dumps(server_self.report(), ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, fmt: str, *args: Any) -> None:
                log.debug("status: " + fmt, *args)

        self._server = ThreadingHTTPServer((bind, port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="status", daemon=True)

    def report(self) -> dict[str, Any]:
        return {**self.snapshot(), "uptime_s": round(time.monotonic() - self.started, 1), "rss_mb": rss_mb()}

    def start(self) -> StatusServer:
        self._thread.start()
        log.info("status endpoint on http://%s:%d/status", *self._server.server_address[:2])
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
