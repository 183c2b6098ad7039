"""Issue 14 (6): the X display is found, not assumed to be :0 (kiosk/appliance/display.py). Real Unix sockets
in a temporary /tmp/.X11-unix stand in for X servers; logind is a function returning what loginctl would."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.appliance.display import find_display, logind_displays, owned_displays, socket_of, wait_for_display

UID = os.getuid()


@pytest.fixture()
def x11(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / ".X11-unix"
    folder.mkdir()
    yield folder


def serve(x11: Path, n: int) -> socket.socket:
    """An X server's listening socket for display :n."""
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(x11 / f"X{n}"))
    return s


def no_sessions(uid: int) -> list[str]:
    return []


def test_the_configured_display_wins_when_its_server_is_there(x11: Path) -> None:
    with serve(x11, 0), serve(x11, 1):
        assert find_display({"DISPLAY": ":1"}, UID, x11, no_sessions) == ":1"
        assert find_display({"DISPLAY": ":1.0"}, UID, x11, no_sessions) == ":1.0"
    assert find_display({"DISPLAY": "remote:10.0"}, UID, x11, no_sessions) == "remote:10.0"  # no local socket


def test_a_session_on_another_display_than_the_configured_one_is_found(x11: Path) -> None:
    """DISPLAY=:0 written at provisioning, but GDM put the autologin session on :1."""
    with serve(x11, 1):
        assert find_display({"DISPLAY": ":0"}, UID, x11, lambda uid: [":1"]) == ":1"
        assert find_display({"DISPLAY": ":0"}, UID, x11, no_sessions) == ":1"  # logind silent: the user's socket
        assert find_display({}, UID, x11, no_sessions) == ":1"
        assert owned_displays(UID + 1, x11) == []  # somebody else's X server is not ours
    (x11 / "X1").unlink()  # the server is gone (an X server removes its socket when it exits)
    assert find_display({"DISPLAY": ":0"}, UID, x11, no_sessions) is None  # nothing up yet


def test_the_kiosk_waits_for_the_session_to_come_up(x11: Path) -> None:
    """The service starts at boot before the autologin session; the display appears a few seconds later."""
    now = [0.0]
    servers: list[socket.socket] = []

    def sleep(seconds: float) -> None:
        now[0] += seconds
        if now[0] >= 5 and not servers:
            servers.append(serve(x11, 2))

    try:
        display = wait_for_display({"DISPLAY": ":0"}, UID, 90, x11, no_sessions, sleep, lambda: now[0])
        assert display == ":2" and 5 <= now[0] <= 6
        now[0] = 0.0
        servers.pop().close()
        (x11 / "X2").unlink()
        assert wait_for_display({"DISPLAY": ":0"}, UID, 10, x11, no_sessions, sleep=lambda s: None,
                                clock=lambda: (now.__setitem__(0, now[0] + 1), now[0])[1]) is None
    finally:
        for s in servers:
            s.close()


def test_display_names_map_to_their_sockets(x11: Path) -> None:
    assert socket_of(":0", x11) == x11 / "X0" and socket_of(":12.1", x11) == x11 / "X12"
    assert socket_of("host:0", x11) is None and socket_of("garbage", x11) is None


def test_logind_is_optional(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # no loginctl at all (a container, a minimal image)
    assert logind_displays(UID) == []
