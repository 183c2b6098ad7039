"""Keeps a months-long process's memory flat.

glibc gives every thread that allocates its own malloc arena (up to 8 per core); the kiosk's worker
threads (speech synthesis, recognition, playback) each fragment theirs, and resident memory crept up
~1.2 MB per answered question (tools/bench_voice.py: +230 MB over 200 turns). With two arenas it stays
flat. glibc reads MALLOC_ARENA_MAX once, at start-up, so `kiosk run` re-executes itself with it set
(same PID, so systemd's notify socket still accepts it); systemd/kiosk.service sets it too.

Even with two arenas, memory a turn frees is not always given back: a small allocation left at the top of
the heap keeps everything below it resident. In the 1,000-turn soak the floor stepped up by ~60 MB once (the
size of what a turn holds in flight) and stayed there; `malloc_trim(0)` on the running kiosk gave back
137 MB of it (docs/reliability.md, Soak). `trim()` does that after every turn.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os
import sys

log = logging.getLogger(__name__)

ARENAS = "2"


def reexec_with_few_arenas(argv: list[str] | None = None) -> None:
    """Replaces this process with itself under MALLOC_ARENA_MAX=2, unless that is already set."""
    if os.environ.get("MALLOC_ARENA_MAX") or sys.platform != "linux":
        return
    os.environ["MALLOC_ARENA_MAX"] = ARENAS
    args = [sys.executable, "-m", "kiosk.cli", *(sys.argv[1:] if argv is None else argv)]
    try:
        os.execv(sys.executable, args)
    except OSError as error:  # keep running, just with the default arenas
        log.warning("could not restart with MALLOC_ARENA_MAX=%s: %s", ARENAS, error)


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def trim() -> bool:
    """Returns the heap's free pages to the system (glibc's malloc_trim); False where there is no such call
    (musl, macOS) or nothing was given back. Takes milliseconds; safe while other threads allocate."""
    libc = _libc()
    fn = getattr(libc, "malloc_trim", None) if libc is not None else None
    return bool(fn(0)) if fn is not None else False
