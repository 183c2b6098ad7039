"""Faults on purpose (issue 12): `kiosk ingest` killed, or out of disk, half-way through an update.

The index a running kiosk reads must never be left half-written: an ingest is one SQLite transaction, so
after SIGKILL or a full disk the index is the one from before (integrity checked, every document still
there), the failure is one clear line (no traceback), and the next ingest completes.
"""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def ingest(kb: Path, *paths: Path, limit_bytes: int | None = None) -> subprocess.Popen:
    def limit() -> None:  # the "disk" ends here: writes beyond it fail (EFBIG), as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.Popen([sys.executable, "-m", "kiosk.cli", "ingest", "--kb", str(kb), *map(str, paths)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            preexec_fn=limit if limit_bytes is not None else None)  # noqa: PLW1509


def documents(kb: Path) -> int:
    with sqlite3.connect(kb) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return conn.execute("SELECT count(*) FROM documents").fetchone()[0]


@pytest.fixture()
def kb(tmp_path: Path) -> Path:
    path = tmp_path / "kb.sqlite"
    done = ingest(path, ROOT / "samples" / "halvorsen")
    _, err = done.communicate(timeout=300)
    assert done.returncode == 0, err
    return path


@pytest.fixture()
def many(tmp_path: Path) -> Path:
    """A handbook of 1,000 sections in 200 files: an update that takes a while."""
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(200):
        body = "\n\n".join(f"## Procedure {i}.{j}\n\n" + f"Step {j} of line {i}: check the torque of bolt B{j}, "
                           "log it on the tablet and tell the shift lead before the next station. " * 12
                           for j in range(5))
        (folder / f"line-{i:02d}.md").write_text(f"# Line {i} handbook\n\n{body}\n")
    return folder


def test_sigkill_during_an_ingest_leaves_the_previous_index_whole(kb: Path, many: Path) -> None:
    before = documents(kb)
    proc = ingest(kb, ROOT / "samples" / "halvorsen", many)
    journal = kb.with_name(kb.name + "-journal")
    deadline = time.monotonic() + 120
    while not journal.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)  # the update's transaction has begun once its rollback journal exists
    time.sleep(0.2)  # and some of it is written
    assert proc.poll() is None, "the ingest finished before it could be killed: make the update larger"
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert documents(kb) == before  # all or nothing: the update never half-landed
    done = ingest(kb, ROOT / "samples" / "halvorsen", many)
    _, err = done.communicate(timeout=600)
    assert done.returncode == 0, err
    assert documents(kb) == before + 200


def test_a_full_disk_during_an_ingest_fails_cleanly_and_keeps_the_index(kb: Path, many: Path) -> None:
    before, size = documents(kb), kb.stat().st_size
    proc = ingest(kb, ROOT / "samples" / "halvorsen", many, limit_bytes=size + 64 * 1024)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode != 0
    assert "Traceback" not in err, err
    assert err.strip() and len(err.strip().splitlines()) <= 3, err  # one clear message
    assert documents(kb) == before
    assert not [p for p in kb.parent.iterdir() if p.name.startswith(kb.name + "-")], "a journal left behind"
    os.sync()
