"""tools/soak.py's bookkeeping: what a turn and a sample hold, and the report made of them (no processes here,
so tests/test_soak.py checks it fast)."""

from __future__ import annotations

import datetime
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Sample:
    turn: int
    t_s: float
    rss_mb: float
    fds: int
    threads: int
    children: int = 0
    children_rss_mb: float = 0.0
    load1: float = 0.0  # the machine's 1-minute load average (other work slows turns down, not memory up)
    anon_mb: float = 0.0  # RssAnon: the heap; VmRSS also counts mapped model pages the kernel may drop and re-read


@dataclass
class Turn:
    kind: str
    asked: str
    heard: str | None = None
    seconds: float | None = None
    error: str | None = None
    cut_off: bool = False
    first_audio_ms: float | None = None
    answer_chars: int = 0


@dataclass
class Tally:
    turns: list[Turn] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    status_errors: list[str] = field(default_factory=list)
    task_restarts: int = 0
    extra_turns: int = 0
    status_failures: int = 0
    stopped: str | None = None  # the kiosk exited (an error)
    cut_short: str | None = None  # --max-minutes ended the run (not an error)


def parse_proc_status(text: str) -> dict[str, int]:
    """/proc/<pid>/status -> {"rss_kb", "anon_kb", "threads"} (the memory lines are missing for a zombie: 0)."""
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)

    def kb(key: str) -> int:
        value = fields.get(key, "0 kB").split()
        return int(value[0]) if value else 0

    return {"rss_kb": kb("VmRSS"), "anon_kb": kb("RssAnon"),
            "threads": int(fields.get("Threads", "0").strip() or 0)}


def slope_per_100(points: Sequence[tuple[float, float]], start: float) -> float | None:
    """Least-squares slope of y over x for the points with x >= start, times 100 (MB per 100 turns)."""
    pts = [(x, y) for x, y in points if x >= start]
    if len(pts) < 2:
        return None
    mx, my = statistics.fmean(x for x, _ in pts), statistics.fmean(y for _, y in pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    if sxx == 0:
        return None
    return round(100 * sum((x - mx) * (y - my) for x, y in pts) / sxx, 3)


def floors(points: Sequence[tuple[float, float]], block: int) -> list[tuple[float, float]]:
    """The lowest point of each run of `block` turns, at that point's turn. Sampled after every turn, memory
    swings by tens of MB with what the turn left in flight (a decode, a sentence being synthesized); the floor
    is what stays, so a leak shows as a rising floor."""
    lows: dict[int, tuple[float, float]] = {}
    for x, y in points:
        key = int(x) // block
        if key not in lows or y < lows[key][1]:
            lows[key] = (x, y)
    return [lows[k] for k in sorted(lows)]


def new_errors(before: list[str], now: list[str]) -> list[str]:
    """The lines `now` adds to `before`: both are the tail of one growing list (/status shows the last 10)."""
    for shift in range(len(before) + 1):
        kept = before[shift:]
        if now[:len(kept)] == kept:
            return now[len(kept):]
    return now


def heard_right(asked: str, heard: str) -> bool:
    """The question the kiosk answered holds at least 60 % of the words asked (informational only)."""
    want, got = ({w.strip(",.?!'\"").lower() for w in text.split()} - {""} for text in (asked, heard))
    return len(want & got) >= 0.6 * len(want)


def spread(values: list[float]) -> dict[str, float] | None:
    return {"start": values[0], "end": values[-1], "min": min(values), "max": max(values)} if values else None


def summarize(tally: Tally, warmup: int, args: dict[str, Any]) -> dict[str, Any]:
    turns, samples = tally.turns, tally.samples
    answered = [t for t in turns if t.seconds is not None]
    times = [t.seconds for t in answered if t.seconds is not None]
    failed = [t for t in answered if t.error]
    missed = [t for t in turns if t.seconds is None]
    spoken = [t for t in answered if t.kind == "spoken" and t.heard is not None]
    errors = (len(failed) + len(missed) + len(tally.status_errors) + tally.task_restarts + tally.status_failures
              + (tally.stopped is not None))

    def median(kind: str | None) -> float | None:
        xs = [t.seconds for t in answered if t.seconds is not None and kind in (None, t.kind)]
        return round(statistics.median(xs), 2) if xs else None

    return {
        "date": datetime.date.today().isoformat(), "settings": args,
        "turns_done": len(turns), "typed": sum(t.kind == "typed" for t in turns),
        "spoken": sum(t.kind == "spoken" for t in turns), "answered": len(answered), "errors": errors,
        "failed_turns": [asdict(t) for t in failed], "missed_turns": [asdict(t) for t in missed],
        "status_errors": tally.status_errors, "task_restarts": tally.task_restarts,
        "extra_turns": tally.extra_turns, "cut_off": sum(t.cut_off for t in answered), "stopped": tally.stopped,
        "status_failures": tally.status_failures, "cut_short": tally.cut_short,
        "spoken_misheard": sum(not heard_right(t.asked, t.heard or "") for t in spoken),
        "typed_garbled": sum(t.kind == "typed" and t.heard != t.asked for t in answered),
        "rss_slope_mb_per_100_turns": slope_per_100([(s.turn, s.rss_mb) for s in samples], warmup),
        "rss_floor_slope_mb_per_100_turns": slope_per_100(floors([(s.turn, s.rss_mb) for s in samples], 10), warmup),
        "anon_floor_slope_mb_per_100_turns": slope_per_100(floors([(s.turn, s.anon_mb) for s in samples], 10),
                                                           warmup),
        "slope_from_turn": warmup,
        "rss_mb": spread([s.rss_mb for s in samples]), "anon_mb": spread([s.anon_mb for s in samples]),
        "fds": spread([s.fds for s in samples]),
        "threads": spread([s.threads for s in samples]), "children": spread([s.children for s in samples]),
        "machine_load1": spread([s.load1 for s in samples]),
        "turn_s": {"median": median(None), "typed_median": median("typed"), "spoken_median": median("spoken"),
                   "p95": round(sorted(times)[int(0.95 * (len(times) - 1))], 2) if times else None,
                   "max": max(times) if times else None},
        "samples": [list(asdict(s).values()) for s in samples],
        "turn_log": [[t.kind[0], t.seconds, t.first_audio_ms, t.answer_chars] for t in turns],
        "sample_fields": list(Sample.__dataclass_fields__),
        "turn_log_fields": ["kind", "seconds", "first_audio_ms", "answer_chars"],
    }
