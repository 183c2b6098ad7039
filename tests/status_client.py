"""A raw-socket client for the status endpoint's tests (test_fuzz_status.py, test_status_endpoint.py): sends
any bytes, reads whatever comes back, and checks that it is one well-formed HTTP/1.0 response with a short JSON
body, a sane status code and no traceback."""

from __future__ import annotations

import contextlib
import json
import re
import select
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SANE = {200, 400, 404, 405, 408, 414, 431, 500, 501, 505}
STATUS_LINE = re.compile(rb"HTTP/1\.0 ([1-5]\d\d) ([\x20-\x7e]*)\r\n")
HEADER = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+): ([\x20-\x7e]*)\r\n")


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return strict_json(self.body)


def strict_json(body: bytes) -> Any:
    """JSON as a strict parser reads it: UTF-8, no NaN or Infinity."""

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(body.decode("utf-8"), parse_constant=refuse)


def exchange(port: int, data: bytes, *, close: str = "shut", timeout: float = 15.0) -> bytes:
    """Sends `data` and returns all that comes back. `close`: "shut" half-closes after sending (the server
    sees the end of the input); "keep" leaves the connection open (the server must decide on its own);
    "reset" resets it right after sending, without reading (returns b"")."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        with contextlib.suppress(OSError):  # the server answered and closed before reading it all: fine
            s.sendall(data)
        if close == "reset":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return b""
        if close == "shut":
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_WR)
        return read_all(s)


def read_all(s: socket.socket) -> bytes:
    out = bytearray()
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:  # after the answer, for input it did not read; what came before counts
            break
        if not chunk:
            return bytes(out)
        out += chunk
    return bytes(out)


def parse(raw: bytes, head: bool = False) -> Response:
    """The one response in `raw`, checked; `head`: the request was HEAD (the body may be left out)."""
    line = STATUS_LINE.match(raw)
    assert line, raw[:300]
    status = int(line.group(1))
    assert status in SANE, raw[:300]
    at, headers = line.end(), {}
    while not raw.startswith(b"\r\n", at):
        header = HEADER.match(raw, at)
        assert header, raw[:at + 100]
        headers[header.group(1).decode().lower()] = header.group(2).decode()
        at = header.end()
    body = raw[at + 2:]
    shown = raw if status != 200 else raw[:at]  # a 200's body is the snapshot, whatever the test put there
    assert b"Traceback" not in shown and b"File \"" not in shown, shown[:2000]
    assert headers.get("content-type") == "application/json", headers
    length = int(headers["content-length"])
    if not (head and body == b""):
        assert len(body) == length, (length, raw[:300])
        document = strict_json(body)
        assert isinstance(document, dict)
        if status != 200:
            assert list(document) == ["error"] and isinstance(document["error"], str) and len(body) < 200, body
    if status == 405:
        assert headers.get("allow") == "GET, HEAD"
    return Response(status, headers, body)


class Snapshot:
    """A test server's snapshot: GOOD unless a test sets `make` (and then puts GOOD back)."""

    GOOD = {"state": "idle", "turns": 0}

    def __init__(self) -> None:
        self.make: Callable[[], Any] = lambda: self.GOOD

    def __call__(self) -> Any:
        return self.make()

    def reset(self) -> None:
        self.make = lambda: self.GOOD


def get_status(port: int, timeout: float = 15.0) -> dict[str, Any]:
    """A normal GET /status: must be 200 with a JSON object."""
    response = parse(exchange(port, b"GET /status HTTP/1.1\r\nHost: localhost\r\n\r\n", timeout=timeout))
    assert response.status == 200, response
    document = response.json()
    assert isinstance(document["uptime_s"], float) and isinstance(document["rss_mb"], float)
    return document


def slow_exchange(port: int, data: bytes, gap_s: float = 0.1) -> tuple[bytes, float]:
    """Sends `data` one byte every `gap_s` (without half-closing), then reads the answer: (answer, seconds).
    Stops sending when the server has closed the connection."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        for i in range(len(data)):
            try:
                s.sendall(data[i:i + 1])
            except OSError:
                break
            if select.select([s], [], [], gap_s)[0]:  # an answer (or the end) came before the request did
                break
        return read_all(s), time.monotonic() - started
