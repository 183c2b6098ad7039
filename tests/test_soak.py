"""tools/soak.py: its arithmetic and parsing (fast), and a short soak through a real `kiosk run` (slow)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import soak
from soak_report import (
    Sample,
    Tally,
    Turn,
    floors,
    heard_right,
    new_errors,
    parse_proc_status,
    slope_per_100,
    summarize,
)

ROOT = Path(__file__).resolve().parents[1]

PROC_STATUS = """Name:\tpython3
Umask:\t0022
State:\tS (sleeping)
Pid:\t4242
VmPeak:\t 2345678 kB
VmRSS:\t  912340 kB
RssAnon:\t  700000 kB
Threads:\t23
voluntary_ctxt_switches:\t17
"""


def test_proc_status_gives_resident_memory_and_threads() -> None:
    assert parse_proc_status(PROC_STATUS) == {"rss_kb": 912340, "anon_kb": 700000, "threads": 23}
    zombie = "Name:\tkiosk\nState:\tZ (zombie)\nThreads:\t1\n"  # no VmRSS line at all
    assert parse_proc_status(zombie) == {"rss_kb": 0, "anon_kb": 0, "threads": 1}


def test_proc_status_of_this_process() -> None:
    mine = parse_proc_status(Path("/proc/self/status").read_text())
    assert mine["rss_kb"] > 1000 and mine["threads"] >= 1


def test_slope_is_least_squares_after_the_warmup_in_mb_per_100_turns() -> None:
    flat = [(t, 900.0) for t in range(0, 1001, 10)]
    assert slope_per_100(flat, 100) == 0.0
    growing = [(t, 900.0 + 0.02 * t) for t in range(0, 1001, 10)]  # 2 MB per 100 turns
    assert slope_per_100(growing, 100) == pytest.approx(2.0)
    warm = [(t, 700.0 + 2 * t if t < 100 else 900.0 + (1 if t % 20 else -1)) for t in range(0, 1001, 10)]
    after, whole = slope_per_100(warm, 100), slope_per_100(warm, 0)
    assert after is not None and abs(after) < 0.05  # the warm-up's climb is left out; noise averages away
    assert whole is not None and whole > 5  # ...and would dominate if it were not
    assert slope_per_100([(0, 1.0), (10, 2.0)], 100) is None  # nothing after the warm-up
    assert slope_per_100([(100, 1.0), (100, 2.0)], 100) is None  # one turn only: no slope


def test_floor_fit_ignores_what_a_turn_held_in_flight() -> None:
    # a flat heap with 0-60 MB in flight at random turns: the samples' fit wanders, the floors' does not
    import random

    rng = random.Random(7)
    flat = [(t, 600.0 + rng.choice((0.0, 0.0, 20.0, 60.0))) for t in range(1000)]
    lows = floors(flat, 10)
    assert len(lows) == 100 and all(y == 600.0 for _, y in lows)  # turns 0-9, 10-19, ..., 990-999
    assert slope_per_100(lows, 100) == 0.0
    leak = [(t, 600.0 + 0.05 * t + rng.choice((0.0, 40.0))) for t in range(1, 1001)]  # 5 MB per 100 turns
    assert slope_per_100(floors(leak, 10), 100) == pytest.approx(5.0, abs=0.3)
    assert floors([(3, 5.0), (5, 2.0), (12, 9.0)], 10) == [(5, 2.0), (12, 9.0)]  # at the turn of the low


def test_new_status_errors_from_a_sliding_tail() -> None:
    assert new_errors([], []) == []
    assert new_errors([], ["a"]) == ["a"]
    assert new_errors(["a", "b"], ["a", "b"]) == []
    assert new_errors(["a", "b"], ["a", "b", "c"]) == ["c"]
    tail = [str(i) for i in range(10)]
    assert new_errors(tail, tail[2:] + ["x", "y"]) == ["x", "y"]  # /status shows the last 10
    assert new_errors(["a", "a"], ["a", "a", "a"]) == ["a"]  # the same message again counts again
    assert new_errors(["a"], ["q", "r"]) == ["q", "r"]  # all replaced


def test_heard_right_is_a_loose_word_match() -> None:
    assert heard_right("where is the IT help desk?", "Where is the IT help desk?")
    assert heard_right("where is the IT help desk?", "hey coach where is the IT help desk")
    assert not heard_right("where is the IT help desk?", "how long is probation")


def test_summary_counts_errors_missed_turns_and_the_slope() -> None:
    tally = Tally()
    tally.turns = [Turn("typed", "where is the IT help desk?", "where is the IT help desk?", 5.0),
                   Turn("spoken", "how long is the probation period?", "how long is the probation period", 7.0),
                   Turn("typed", "can I park?", "can I park?", 6.0, error="speech"),
                   Turn("spoken", "where can I park my car?")]  # never answered
    tally.samples = [Sample(0, 0.0, 800.0, 30, 20), Sample(2, 10.0, 850.0, 34, 24), Sample(4, 20.0, 851.0, 33, 25)]
    tally.status_errors = ["task screen failed"]
    report = summarize(tally, 2, {"turns": 4})
    assert (report["turns_done"], report["typed"], report["spoken"], report["answered"]) == (4, 2, 2, 3)
    assert report["errors"] == 3  # the failed turn, the missed one, the status line
    assert len(report["failed_turns"]) == 1 and report["missed_turns"][0]["asked"] == "where can I park my car?"
    assert report["rss_slope_mb_per_100_turns"] == pytest.approx(50.0)
    assert report["fds"] == {"start": 30, "end": 33, "min": 30, "max": 34}
    assert report["threads"]["max"] == 25
    assert report["turn_s"]["median"] == 6.0 and report["turn_s"]["typed_median"] == 5.5
    assert report["spoken_misheard"] == 0 and report["typed_garbled"] == 0
    json.dumps(report)  # the report is plain JSON


def test_children_of_finds_a_grandchild() -> None:
    code = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'import time; time.sleep(30)'])"
    parent = subprocess.Popen([sys.executable, "-c", code])
    try:
        for _ in range(100):
            kids = soak.children_of(parent.pid)
            if kids:
                break
            subprocess.run(["sleep", "0.05"])
        assert len(kids) == 1
        sample = soak.sample(parent.pid, 0, 0.0)
        assert sample.children == 1 and sample.fds >= 3 and sample.threads >= 1 and sample.rss_mb > 1
    finally:
        for pid in soak.children_of(parent.pid):
            subprocess.run(["kill", str(pid)])
        parent.kill()
        parent.wait()


@pytest.mark.slow
@pytest.mark.audio
def test_a_short_soak_answers_every_typed_and_spoken_turn(tmp_path: Path) -> None:
    """Six turns (three typed on the kiosk's X window, three spoken into its microphone) through `kiosk run`:
    every one answered, no errors of any kind. Nothing about the words or the timings: on a busy machine a turn
    may take minutes, so the kiosk's hung-turn limit and the missed-turn limit are set far out."""
    out = tmp_path / "soak.json"
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "soak.py"), "--turns", "6", "--warmup", "0",
                          "--every", "2", "--hang-after", "600", "--turn-timeout", "600", "--json", str(out),
                          "--keep", str(tmp_path / "work")],
                         capture_output=True, text=True, timeout=3600)
    log = (tmp_path / "work" / "kiosk.log")
    assert out.exists(), run.stderr[-3000:] + (log.read_text()[-3000:] if log.exists() else "")
    report = json.loads(out.read_text())
    assert (report["turns_done"], report["typed"], report["spoken"]) == (6, 3, 3), report
    assert report["answered"] == 6 and report["errors"] == 0, (report, log.read_text()[-3000:])
    assert report["missed_turns"] == [] and report["failed_turns"] == [] and report["status_errors"] == []
    assert report["task_restarts"] == 0 and report["stopped"] is None
    assert len(report["samples"]) == 4 and all(s[2] > 50 for s in report["samples"])  # turn 0, 2, 4, 6
    assert run.returncode == 0, run.stderr[-3000:]
