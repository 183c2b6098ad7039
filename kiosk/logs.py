"""Logging set-up: stderr for people, journald on the appliance (config `logging.journald`)."""

from __future__ import annotations

import logging
import sys

from kiosk.config import LoggingSettings


def setup_logging(settings: LoggingSettings, verbose: bool = False) -> None:
    level = logging.DEBUG if verbose else getattr(logging, settings.level.upper(), logging.INFO)
    root = logging.getLogger()
    root.setLevel(level)
    for h in list(root.handlers):
        root.removeHandler(h)
    handler: logging.Handler | None = None
    if settings.journald:
        try:
            from systemd.journal import JournalHandler  # systemd-python, appliance extra

            handler = JournalHandler(SYSLOG_IDENTIFIER="kiosk")
        except ImportError:
            print("kiosk: logging.journald is set but systemd-python is missing; logging to stderr "
                  "(fix: .venv/bin/pip install systemd-python)", file=sys.stderr)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    root.addHandler(handler)
    # llama.cpp and onnxruntime speak through their own channels; keep third-party Python loggers calm.
    for noisy in ("piper", "onnxruntime"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
