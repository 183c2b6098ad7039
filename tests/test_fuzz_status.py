"""Fuzzing the status endpoint (kiosk/appliance/status.py) over real sockets: garbage and odd request lines,
unknown methods, hostile paths and headers, Content-Length lies, HTTP/0.9 and HTTP/2, requests cut off or reset,
and snapshots that raise or cannot be written as JSON. Every answer is one well-formed HTTP/1.0 response with a
sane status and a short JSON body, never a traceback; a normal GET /status still works after each case. Slow
clients, floods and the kiosk beside it: test_status_endpoint.py."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from fuzzing import fuzz
from hypothesis import example, given
from hypothesis import strategies as st
from status_client import Snapshot, exchange, get_status, parse

from kiosk.appliance.status import StatusServer

KNOWN = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PATCH"]
WHITESPACE = set(b" \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0")  # what splits a request line (latin-1 str.split)
PATHS = [b"/status", b"/status?", b"/status?verbose=1&x=%00", b"/status/", b"//status", b"/../status", b"/status/..",
         b"/./status", b"/%73tatus", b"/status%00", b"/status\x00", b"/status#top", b"http://localhost/status", b"*",
         b"/", b"/\xff\xfe\xc3(", b"/st\xc3\xa4tus", b"/status?\x80\x81=\xfe"]
LONG_PATHS = [b"/" + b"a" * 10_000, b"/status?" + b"q" * 10_000, b"/" + b"%2e%2e/" * 2_000, b"/" + b"x" * 70_000]
VERSIONS = [b"HTTP/1.0", b"HTTP/1.1", b"HTTP/0.9", b"HTTP/2.0", b"HTTP/2", b"HTTP/3", b"HTTP/1.10", b"HTTP/01.01",
            b"HTTP/1.", b"HTTP/" + b"1" * 20 + b".0", b"HTTP/1.1 extra", b"http/1.1", b"", b"HTTP/\xff"]
HEADERS = [b"Host: localhost", b"Connection: keep-alive", b"Connection: close", b"Expect: 100-continue",
           b"Transfer-Encoding: chunked", b"Content-Type: application/json", b"Content-Length: 0",
           b"Content-Length: 5", b"Content-Length: -1", b"Content-Length: 99999999999999999999",
           b"Content-Length: abc", b"Content-Length: 5, 7", b": no name", b"no colon", b" folded", b"\tfolded",
           b"X-Big: " + b"b" * 10_000, b"Host: \xff\xfe\x00", b"Cookie: " + b"c=1; " * 2_000]
WHOLE = [b"", b"\r\n", b"\n\n\n", b"GET /status\r\n", b"GET /status\n", b"GET\r\n\r\n", b"GET /status HTTP/1.0",
         b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x64",
         b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,  # a TLS ClientHello
         b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n" * 3, b"\r\n\r\nGET /status HTTP/1.0\r\n\r\n",
         b"GET /status HTTP/1.0\r\n" + b"X-N: 1\r\n" * 101 + b"\r\n",
         b"GET /status HTTP/1.0\r\nX-Huge: " + b"h" * 70_000 + b"\r\n\r\n",
         b"POST /status HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 1_000_000]


def percent(raw: bytes) -> bytes:
    return b"/" + b"".join(b"%%%02X" % c for c in raw)


def plain(path: bytes) -> bytes:
    """A path that stays one word of the request line: whitespace made "_"."""
    return bytes(95 if c in WHITESPACE else c for c in path)


methods = st.sampled_from(KNOWN + ["PRI", "get", "FOO"]).map(str.encode) | st.from_regex(rb"\A[A-Z]{1,12}\Z")
long_paths = st.integers(0, len(LONG_PATHS) - 1).map(LONG_PATHS.__getitem__)  # not shown in statistics
paths = (st.sampled_from(PATHS) | long_paths | st.binary(max_size=300).map(lambda b: b"/" + b)
         | st.binary(max_size=100).map(percent) | st.binary(max_size=300).map(lambda q: b"/status?" + q))
headers = st.lists(st.sampled_from(HEADERS) | st.builds(lambda n, v: n + b": " + v, st.binary(min_size=1, max_size=30),
                                                        st.binary(max_size=200)), max_size=8)


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.binary(max_size=2_000))
    if kind == 1:
        return draw(st.sampled_from(WHOLE))
    end = draw(st.sampled_from([b"\r\n", b"\n", b"\r"]))
    line = b" ".join(part for part in (draw(methods | st.binary(max_size=12)), draw(paths),
                                       draw(st.sampled_from(VERSIONS) | st.binary(max_size=12))) if part)
    lines = [line, *draw(headers), *(b"X-N: %d" % i for i in range(draw(st.sampled_from([0, 0, 50, 100, 101, 1000]))))]
    data = end.join(lines) + end + end + draw(st.sampled_from([b"", b"abc", b"x" * 100_000]) | st.binary(max_size=200))
    cut = draw(st.none() | st.integers(0, 1 << 20))
    return data if cut is None else data[:cut % (len(data) + 1)]


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[StatusServer, Snapshot]]:
    snapshot = Snapshot()
    server = StatusServer(snapshot, port=0).start()
    yield server, snapshot
    server.stop()


def still_serving(server: StatusServer, snapshot: Snapshot, capsys: pytest.CaptureFixture[str]) -> None:
    snapshot.reset()
    assert get_status(server.port)["state"] == "idle"
    assert server._thread.is_alive()
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Exception occurred" not in err, err[-3000:]


@fuzz(300)
@given(data=requests(), close=st.sampled_from(["shut", "shut", "shut", "reset"]))
@example(data=b"GET /status\r\n", close="shut")  # HTTP/0.9: was answered with a bare body, no status line
@example(data=b"GET /status HTTP/1.0 x\r\n\r\n", close="shut")  # was a bare HTML page
@example(data=b"\r\n", close="shut")  # was no answer at all
@example(data=b"HEAD /status HTTP/1.0\r\n\r\n", close="shut")  # was 501
def test_any_request_gets_one_well_formed_answer(served: tuple, capsys: pytest.CaptureFixture[str], data: bytes,
                                                  close: str) -> None:
    server, snapshot = served
    raw = exchange(server.port, data, close=close)
    if close == "shut":
        if data:
            parse(raw, head=data.startswith(b"HEAD"))
        else:
            assert raw == b""
    still_serving(server, snapshot, capsys)


def expected_status(method: str, line: bytes, path: bytes, extra_headers: int) -> int:
    if len(line) > 65_536:  # the request line, with its end
        return 414
    if extra_headers + 1 > 99:  # plus Host; http.client counts the blank line that ends them too
        return 431
    if method not in KNOWN:
        return 501
    if path.startswith(b"//"):
        path = b"/" + path.lstrip(b"/")
    if path.split(b"?", 1)[0] != b"/status":
        return 404
    return 200 if method in ("GET", "HEAD") else 405


@fuzz(200)
@given(method=methods.map(bytes.decode), path=paths.map(plain).filter(lambda p: p.startswith(b"/")),
       version=st.sampled_from([b"HTTP/1.0", b"HTTP/1.1"]), extra=st.sampled_from([0, 0, 10, 99, 100]),
       end=st.sampled_from([b"\r\n", b"\n"]))
def test_each_request_line_gets_the_fitting_status(served: tuple, capsys: pytest.CaptureFixture[str], method: str,
                                                   path: bytes, version: bytes, extra: int, end: bytes) -> None:
    server, snapshot = served
    lines = [method.encode() + b" " + path + b" " + version, b"Host: localhost",
             *(b"X-N: %d" % i for i in range(extra))]
    response = parse(exchange(server.port, end.join(lines) + end + end), head=method == "HEAD")
    assert response.status == expected_status(method, lines[0] + end, path, extra), (method, path[:100])
    still_serving(server, snapshot, capsys)


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no words")


def deep(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def circular() -> dict:
    value: dict[str, Any] = {"turns": []}
    value["turns"].append(value)
    return value


BAD = st.sampled_from([b"bytes", {1, 2}, frozenset(), object(), complex(1, 2), Decimal("1.5"), ...,
                       datetime.date(2026, 1, 1), Unprintable()]) | st.builds(lambda: 10**5000)  # too long to print
SURROGATES = st.sampled_from(["\udcff", "a\ud800b", "file-\udce9t\udce9.pdf"])
LEAVES = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | SURROGATES
          | st.sampled_from([float("nan"), float("inf"), -float("inf")]))
KEYS = st.text(max_size=8) | st.integers() | st.floats() | st.booleans() | st.none() | SURROGATES
VALUES = st.recursive(LEAVES | BAD, lambda c: st.lists(c, max_size=4) | st.dictionaries(KEYS, c, max_size=4)
                      | st.tuples(c, c), max_leaves=12)
ERRORS = st.sampled_from([ValueError, KeyError, RuntimeError, TypeError, OSError, RecursionError, MemoryError,
                          ZeroDivisionError, AttributeError, Unprintable])


@st.composite
def snapshots(draw: st.DrawFn) -> tuple[Callable[[], Any], Any]:
    """(the snapshot callable, what it returns, or None when it raises)."""
    kind = draw(st.sampled_from(["dict", "dict", "dict", "value", "raise", "circular", "deep"]))
    if kind == "raise":
        error = draw(ERRORS)("secret-marker " + draw(st.text(max_size=20)))

        def raises() -> Any:
            raise error

        return raises, None
    if kind == "circular":
        value: Any = circular()
    elif kind == "deep":
        value = {"recent": deep(draw(st.sampled_from([10, 100, 10_000])))}
    elif kind == "value":
        value = draw(VALUES)
    else:
        value = draw(st.dictionaries(KEYS, VALUES, max_size=6))
    return (lambda: value), value


def servable(value: Any) -> Any:
    """What a client should read back for a snapshot returning `value` (NaN and infinities as null), or None
    when it cannot be served: not a dict, or not something JSON can write."""
    if not isinstance(value, dict):
        return None
    try:
        text = json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        return None
    return json.loads(text, parse_constant=lambda _: None)


@fuzz(300)
@given(snapshot=snapshots())
@example(snapshot=(lambda: {"x": {1, 2}}, {"x": {1, 2}}))  # was a dropped connection and a traceback
@example(snapshot=(lambda: {"t": float("nan")}, {"t": float("nan")}))  # was `NaN`: not JSON
@example(snapshot=(lambda: {"source": "\udce9.pdf"}, {"source": "\udce9.pdf"}))  # was a dropped connection
@example(snapshot=(lambda: {float("nan"): 1}, {float("nan"): 1}))
def test_any_snapshot_is_served_or_a_500(served: tuple, capsys: pytest.CaptureFixture[str],
                                         snapshot: tuple[Callable[[], Any], Any]) -> None:
    server, holder = served
    holder.make, value = snapshot
    raw = exchange(server.port, b"GET /status HTTP/1.0\r\n\r\n")
    response = parse(raw)
    expected = servable(value) if value is not None else None
    if expected is None:
        assert response.status == 500, raw[:300]
        assert b"secret-marker" not in raw and b"Traceback" not in raw
    else:
        assert response.status == 200, raw[:300]
        document = response.json()
        for key in ("uptime_s", "rss_mb"):
            document.pop(key)
            expected.pop(key, None)
        assert document == expected
    still_serving(server, holder, capsys)
