"""The last configuration the kiosk started with, kept for the day someone saves a broken one.

An operator edits kiosk.toml and makes a mistake; at the next restart (a reboot, systemd after a crash) the
kiosk would refuse to start and the screen would stay dark. Instead `kiosk run` starts with the last
configuration that worked, logs what is wrong with the new one (file:line, every problem) and lists it
on /status, and `kiosk doctor` names it too (its config check fails), so nothing is hidden and nothing is lost.
The copy is written after the models loaded, atomically, next to the models (XDG data dir).
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from kiosk.config import ConfigError, Settings, parse_settings

log = logging.getLogger(__name__)


def default_path() -> Path:
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "kiosk" / "last-good.toml"


def remember(settings: Settings, path: Path | None = None) -> None:
    """Keeps the text of the config `settings` came from (it just worked); nothing without a file."""
    if settings.source is None:
        return
    path = path or default_path()
    try:
        text = Path(settings.source).read_text(encoding="utf-8-sig")
        if path.exists() and path.read_text(encoding="utf-8") == text:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, encoding="utf-8") as tmp:
            tmp.write(text)
        os.replace(tmp.name, path)  # never half a file, even on power loss mid-write
    except OSError as error:  # a read-only or full disk must not stop the kiosk
        log.warning("could not keep a copy of the working configuration at %s: %s", path, error)


def fallback(error: ConfigError, path: Path | None = None) -> tuple[Settings, str]:
    """The last configuration that worked, and the message saying why it is used; re-raises `error` when
    there is none (or it is broken too), so `kiosk run` exits with the configuration problem."""
    path = path or default_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        raise error from None
    try:
        # Relative paths in it resolve as they did: against the broken file's folder, where the old one was.
        settings = parse_settings(text, error.file if error.file is not None else path)
    except ConfigError:
        raise error from None
    first = str(error).splitlines()
    message = (f"configuration problem, running the last configuration that worked ({path}): "
               + "; ".join(first[:3]) + (" ..." if len(first) > 3 else ""))
    log.error("%s", message)
    return settings, message
