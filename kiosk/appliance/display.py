"""Which X display the kiosk draws on: found, not assumed.

The service starts from systemd, outside the kiosk user's desktop session, so it is told where the session's
X server is. A fixed DISPLAY=:0 breaks wherever the display manager gives the session another display (GDM
runs its greeter on :0 and the user session on :1 on some releases; a second seat or a VNC server shifts the
numbers), and the service would wait and fail forever. So `DISPLAY` is a first guess: if its socket is not
there, the display is discovered from logind (the Display property of the user's X11 session, what
`loginctl show-session` shows) or else from the X sockets in /tmp/.X11-unix that belong to the user, and the
kiosk waits for one to appear (the session comes up after the service starts at boot).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

X11_DIR = Path("/tmp/.X11-unix")
_DISPLAY_RE = re.compile(r"^:(\d+)(?:\.\d+)?$")


def socket_of(display: str, x11_dir: Path = X11_DIR) -> Path | None:
    """/tmp/.X11-unix/X<n> for ":<n>" or ":<n>.<screen>"; None for remote displays (host:n), which need no socket."""
    match = _DISPLAY_RE.match(display)
    return x11_dir / f"X{match.group(1)}" if match else None


def _is_socket(path: Path) -> bool:
    try:
        return path.is_socket()
    except OSError:
        return False


def logind_displays(uid: int) -> list[str]:
    """The Display of each active X11 session of `uid`, from logind (empty when loginctl is absent or fails)."""
    def run(*args: str) -> str:
        return subprocess.run(["loginctl", *args], capture_output=True, text=True, timeout=5, check=True).stdout

    try:
        sessions = [line.split()[0] for line in run("list-sessions", "--no-legend").splitlines() if line.strip()]
        found = []
        for session in sessions:
            props = dict(line.partition("=")[::2] for line in run(
                "show-session", session, "-p", "User", "-p", "Type", "-p", "Display", "-p", "Active").splitlines())
            if props.get("User") == str(uid) and props.get("Type") == "x11" and props.get("Display"):
                found.append((props.get("Active") != "yes", props["Display"]))
        return [display for _, display in sorted(found)]  # active sessions first
    except (OSError, subprocess.SubprocessError):
        return []


def owned_displays(uid: int, x11_dir: Path = X11_DIR) -> list[str]:
    """":<n>" for each X socket in x11_dir that belongs to `uid` (the user's own X server), lowest first."""
    found = []
    try:
        entries = list(x11_dir.iterdir())
    except OSError:
        return []
    for path in entries:
        match = re.fullmatch(r"X(\d+)", path.name)
        try:
            if match and _is_socket(path) and path.stat().st_uid == uid:
                found.append(int(match.group(1)))
        except OSError:
            continue
    return [f":{n}" for n in sorted(found)]


def find_display(env: dict[str, str], uid: int, x11_dir: Path = X11_DIR,
                 sessions: Callable[[int], list[str]] = logind_displays) -> str | None:
    """The display to draw on now, or None when none is up yet. `env`'s DISPLAY wins when its socket exists."""
    configured = env.get("DISPLAY", "")
    if configured:
        sock = socket_of(configured, x11_dir)
        if sock is None or _is_socket(sock):
            return configured
    for display in [*sessions(uid), *owned_displays(uid, x11_dir)]:
        sock = socket_of(display, x11_dir)
        if sock is not None and _is_socket(sock):
            return display
    return None


def wait_for_display(env: dict[str, str], uid: int, timeout_s: float, x11_dir: Path = X11_DIR,
                     sessions: Callable[[int], list[str]] = logind_displays,
                     sleep: Callable[[float], None] = time.sleep,
                     clock: Callable[[], float] = time.monotonic) -> str | None:
    """find_display, tried every second until timeout_s (the session comes up after the service at boot)."""
    deadline = clock() + timeout_s
    while True:
        display = find_display(env, uid, x11_dir, sessions)
        if display is not None or clock() >= deadline:
            configured = env.get("DISPLAY", "")
            if display is not None and display != configured:
                log.warning("DISPLAY=%s has no X server; drawing on %s (the session's display)",
                            configured or "(unset)", display)
            return display
        sleep(1.0)


def use_session_display(timeout_s: float) -> str | None:
    """Sets DISPLAY for this process to the kiosk user's X display (waiting for it); None: no display came up."""
    display = wait_for_display(dict(os.environ), os.getuid(), timeout_s)
    if display is not None:
        os.environ["DISPLAY"] = display
    return display
