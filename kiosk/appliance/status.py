"""A localhost status endpoint for monitoring: GET /status -> JSON (state, last turn, errors, uptime, memory).

A stdlib HTTP server on its own threads; the snapshot it serves is a plain dict the event loop replaces
atomically, so a slow or hostile client can never stall the kiosk. Only GET and HEAD of /status are served,
and whatever arrives gets a status line and a short JSON body (docs/reliability.md, "Fuzzing"):

- one request per connection; its request line and headers must arrive within `request_timeout_s` in all
  (else 408), so a silent client, or one that sends a byte now and then, holds a thread for seconds only;
- at most `max_connections` are handled at once, one thread each; more wait in the listen queue, so a flood
  of connections cannot use up the file descriptors or threads of the kiosk process;
- a snapshot that raises or cannot be written as JSON is answered 500 with a one-line JSON error (and
  logged), never with a dropped connection or a traceback; NaN and infinities are written as null;
- errors carry the standard reason phrase and never quote the request.
"""

from __future__ import annotations

import io
import json
import logging
import math
import resource
import socket
import sys
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)

PATH = "/status"
REQUEST_TIMEOUT_S = 10.0
"""the whole request (line and headers) must arrive within this; a normal client needs milliseconds"""
MAX_CONNECTIONS = 32
"""connections handled at once; the status endpoint is polled by one monitor, not browsed"""


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
    def __init__(self, snapshot: Callable[[], dict[str, Any]], bind: str = "127.0.0.1", port: int = 8787, *,
                 request_timeout_s: float | None = None, max_connections: int | None = None) -> None:
        """`request_timeout_s`, `max_connections`: REQUEST_TIMEOUT_S and MAX_CONNECTIONS unless given."""
        self.snapshot = snapshot
        self.started = time.monotonic()
        self._last_failure = ""
        timeout = REQUEST_TIMEOUT_S if request_timeout_s is None else request_timeout_s
        connections = MAX_CONNECTIONS if max_connections is None else max_connections
        self._server = _Server(self, (bind, port), timeout, connections)
        self.port: int = self._server.server_address[1]
        # poll_interval: how soon stop() returns (serve_forever checks for shutdown between polls)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="status", daemon=True)

    def report(self) -> dict[str, Any]:
        return {**self.snapshot(), "uptime_s": round(time.monotonic() - self.started, 1), "rss_mb": rss_mb()}

    def render(self) -> tuple[int, bytes]:
        """(200, the report as JSON) or (500, a one-line JSON error): the snapshot is the kiosk's live state,
        and nothing wrong in it may take the endpoint (or the kiosk) down."""
        try:
            report = _finite(self.report())
            text = json.dumps(report, ensure_ascii=False, allow_nan=False)
            try:
                body = text.encode()
            except UnicodeEncodeError:  # a lone surrogate (a file name that is not UTF-8): as \u escapes
                body = json.dumps(report, allow_nan=False).encode()
        except Exception as error:  # any failure of the snapshot is a 500, logged
            failure = f"{type(error).__name__}: {_describe(error)}"[:300]
            (log.warning if failure != self._last_failure else log.debug)("status snapshot failed: %s", failure)
            self._last_failure = failure
            return 500, json.dumps({"error": f"the status snapshot failed ({type(error).__name__})"}).encode()
        self._last_failure = ""
        return 200, body

    def start(self) -> StatusServer:
        self._thread.start()
        log.info("status endpoint on http://%s:%d/status", *self._server.server_address[:2])
        return self

    def stop(self) -> None:
        self._server.closing.set()
        self._server.shutdown()
        self._server.server_close()


def _finite(value: Any) -> Any:
    """NaN and infinities as None (JSON has no such numbers; json.dumps would write `NaN`), as keys "NaN" etc."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {json.dumps(key) if isinstance(key, float) and not math.isfinite(key) else key: _finite(item)
                for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _describe(error: BaseException) -> str:
    try:
        return str(error)
    except Exception:  # an exception whose __str__ fails is still logged
        return "?"


class _RequestTimeout(Exception):
    """The request line and headers did not arrive within the time allowed."""


class _DeadlineReader(io.RawIOBase):
    """The connection's input, with one deadline for the whole request: a timeout per read alone lets a
    client that sends a byte every few seconds hold its thread for hours."""

    def __init__(self, sock: socket.socket, seconds: float) -> None:
        self._sock, self._deadline = sock, time.monotonic() + seconds

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise _RequestTimeout
        self._sock.settimeout(left)
        try:
            return self._sock.recv_into(buffer)
        except TimeoutError:
            raise _RequestTimeout from None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # listen backlog: a burst of clients waits here instead of in SYN retries (1, 3, 7 s)

    def __init__(self, status: StatusServer, address: tuple[str, int], request_timeout_s: float,
                 max_connections: int) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.status, self.request_timeout_s = status, request_timeout_s
        self.closing = threading.Event()
        self._slots = threading.BoundedSemaphore(max_connections)
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Waits for a free slot before starting a thread; meanwhile new connections stay in the listen queue,
        which holds no file descriptor of the kiosk's."""
        while not self._slots.acquire(timeout=0.1):
            if self.closing.is_set():
                self.shutdown_request(request)
                return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that left early (reset, broken pipe): one debug line, not a traceback on stderr."""
        log.debug("status: connection from %s ended: %r", client_address, sys.exc_info()[1])


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    raw_requestline: bytes
    server_version = "kiosk-status"
    default_request_version = "HTTP/1.0"  # garbage is answered with a status line too, not a bare body

    def setup(self) -> None:
        super().setup()
        self.requestline, self.command, self.request_version = "", "", self.default_request_version
        self.rfile.close()
        self.rfile = io.BufferedReader(_DeadlineReader(self.connection, self.server.request_timeout_s))

    def handle(self) -> None:
        try:
            super().handle()
        except _RequestTimeout:
            self.send_error(HTTPStatus.REQUEST_TIMEOUT)

    def parse_request(self) -> bool:
        line = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        if len(line.split()) != 3:  # blank, garbage or HTTP/0.9 ("GET /status"): a 400 in HTTP/1.0
            self.requestline, self.close_connection = line[:200], True
            self.send_error(HTTPStatus.BAD_REQUEST)
            return False
        if not super().parse_request():
            return False
        if self.request_version.startswith("HTTP/0."):  # "GET /status HTTP/0.9": no such request in HTTP
            self.send_error(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED)
            return False
        return True

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self._is_status():
            self._send(*self.server.status.render())

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()  # _send leaves out the body

    def _refuse(self) -> None:
        if self._is_status():
            self._send(HTTPStatus.METHOD_NOT_ALLOWED, _error("only GET and HEAD"), ("Allow", "GET, HEAD"))

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _refuse

    def _is_status(self) -> bool:
        if self.path.split("?", 1)[0] == PATH:
            return True
        self._send(HTTPStatus.NOT_FOUND, _error("only /status is served"))
        return False

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (400, 414, 431, 501, 505) as JSON, without quoting the request."""
        self._send(code, _error(HTTPStatus(code).phrase.lower()))

    def _send(self, code: int, body: bytes, *headers: tuple[str, str]) -> None:
        self.connection.settimeout(self.server.request_timeout_s)  # the reader leaves only what was left
        self.close_connection = True
        self.request_version = "HTTP/1.0"  # for "HTTP/0.9" http.server would leave out the status line and headers
        self.send_response(code)
        for name, value in (("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                            ("Cache-Control", "no-store"), ("Connection", "close"), *headers):
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def version_string(self) -> str:
        return self.server_version  # not the Python version

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("status: " + format, *args)


def _error(message: str) -> bytes:
    return json.dumps({"error": message}).encode()
