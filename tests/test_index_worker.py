"""Re-indexing for the admin console in a process of its own at the lowest priority (kiosk/knowledge/index_worker.py):
progress relayed, the report returned, a failure reported with its message, the old index left in place."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.config import Settings, with_overrides
from kiosk.knowledge.index_worker import index_in_background

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # a second Python process per test


def test_a_folder_is_indexed_by_the_worker_with_progress(tmp_path: Path) -> None:
    kb = tmp_path / "kb.sqlite"
    seen: list[tuple[int, int, str]] = []
    settings = with_overrides(Settings(), knowledge={"embedding": ""})
    report = asyncio.run(index_in_background(settings, [ROOT / "samples" / "halvorsen"], kb,
                                             lambda *p: seen.append(p)))
    assert report["added"] >= 5 and report["chunks"] > 0 and seen and seen[-1][0] == seen[-1][1]
    with sqlite3.connect(kb) as db:
        assert db.execute("SELECT count(*) FROM chunks").fetchone()[0] == report["chunks"]


def test_a_failure_is_reported_and_the_index_kept(tmp_path: Path) -> None:
    kb = tmp_path / "kb.sqlite"
    kb.write_text("not an index")  # what is there stays there
    with pytest.raises(RuntimeError, match=r"\w"):
        asyncio.run(index_in_background(Settings(), [ROOT / "samples" / "halvorsen"], kb, lambda *p: None))
    assert kb.read_text() == "not an index"


def test_the_worker_runs_at_the_lowest_priority() -> None:
    code = ("import os; from kiosk.knowledge.index_worker import lowest_priority; how = lowest_priority(); "
            "print(how, os.sched_getscheduler(0) == os.SCHED_IDLE or os.nice(0) == 19)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] in ("SCHED_IDLE", "nice") and out[-1] == "True"
    assert os.sched_getscheduler(0) != os.SCHED_IDLE  # only the worker, never the kiosk itself
