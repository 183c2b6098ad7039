"""Re-indexing in a process of its own, at the lowest CPU priority, for the admin console.

Indexing a folder (parsing PDFs, embedding passages) in a thread of `kiosk run` competed with the visitor's
turn for the interpreter and both cores: re-indexing a 200-page PDF back to back dropped the screen from 30 to
16 fps and made the first audio 4.3x slower (docs/benchmarks.md, "The local API and the admin console"). In
its own process with SCHED_IDLE (else nice 19) it gets only the CPU the kiosk leaves.

    python -m kiosk.knowledge.index_worker KB PATH...   (the settings, pickled, on stdin)

stdout: one JSON object per line, {"progress": [done, total, name]} as files are read, then {"report": ...}
(kiosk.knowledge.index.IngestReport.to_json) or {"error": "..."}; exit code 0 or 1.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kiosk.config import Settings


def lowest_priority() -> str:
    """SCHED_IDLE where the kernel allows it (Linux), else the highest nice value; which one, for the log."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # type: ignore[attr-defined]
        return "SCHED_IDLE"
    except (AttributeError, OSError):
        try:
            os.nice(19)
            return "nice 19"
        except OSError:
            return "unchanged"


def main(argv: Sequence[str]) -> int:
    from kiosk.knowledge.rebuild import ingest_configured

    lowest_priority()
    settings: Settings = pickle.loads(sys.stdin.buffer.read())  # noqa: S301 - from the kiosk, our parent

    def progress(done: int, total: int, name: str) -> None:
        print(json.dumps({"progress": [done, total, name]}), flush=True)

    try:
        report = ingest_configured(settings, [Path(p) for p in argv[1:]], Path(argv[0]), progress)
    except Exception as error:  # noqa: BLE001 - reported to the console; the old index stays in use
        print(json.dumps({"error": f"{type(error).__name__}: {error}"}), flush=True)
        return 1
    print(json.dumps({"report": report.to_json()}), flush=True)
    return 0


async def index_in_background(settings: Settings, paths: Sequence[Path], kb: Path,
                              progress: Callable[[int, int, str], None]) -> dict[str, Any]:
    """Runs the worker and relays its progress; its report (IngestReport.to_json). RuntimeError with the
    worker's message when it failed. The worker is waited for on a thread (plain subprocess), not with
    asyncio's child watchers: those hung the kiosk's shutdown when its loop runs outside the main thread."""
    return await asyncio.to_thread(_run_worker, settings, paths, kb, progress)


def _run_worker(settings: Settings, paths: Sequence[Path], kb: Path,
                progress: Callable[[int, int, str], None]) -> dict[str, Any]:
    import subprocess

    proc = subprocess.Popen([sys.executable, "-m", "kiosk.knowledge.index_worker", str(kb), *map(str, paths)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # its log goes where the kiosk's goes
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(pickle.dumps(settings))
    proc.stdin.close()
    result: dict[str, Any] = {}
    for raw in proc.stdout:
        line = json.loads(raw)
        if "progress" in line:
            progress(*line["progress"])
        else:
            result = line
    proc.wait()
    if "report" in result:
        return dict(result["report"])
    raise RuntimeError(result.get("error") or f"indexing ended with code {proc.returncode} (see the log)")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
