#!/usr/bin/env python3
"""Recovery times of the faults on purpose (docs/reliability.md): each fault test run a few times.

    .venv/bin/python tools/bench_faults.py [--repeat 3] [-k EXPR] [--json docs/bench/faults.json]

Runs the fault tests that measure a recovery (tests/test_faults_packs.py, test_faults_answer.py,
test_faults_microphone.py: the real `kiosk pack install` and `kiosk run` with faults injected from outside)
--repeat times with pytest, each run writing its measurements to $KIOSK_FAULT_TIMES (tests/fault_times.py),
and reports every measure's runs and median, with the tests' pass/fail counts and the machine's load (the
kiosk shares the cores with whatever else runs: see `load_avg`). -k selects tests as pytest's -k does.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import bench_report  # noqa: E402

TESTS = ["tests/test_faults_packs.py", "tests/test_faults_answer.py", "tests/test_faults_microphone.py"]


def run_tests(times: Path, select: str | None) -> dict[str, int]:
    """One pytest run of the fault tests; the count of passed and failed tests."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not xfail", *TESTS]
    if select:
        command += ["-k", select]
    done = subprocess.run(command, cwd=ROOT, env={**os.environ, "KIOSK_FAULT_TIMES": str(times)},
                          capture_output=True, text=True)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-500:]
    print(summary, file=sys.stderr)
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|error)", summary)}
    return {"passed": counts.get("passed", 0), "failed": counts.get("failed", 0) + counts.get("error", 0)}


def table(times: Path) -> list[dict[str, Any]]:
    """Every (fault, measure) with its runs and median, in the order first measured."""
    runs: dict[tuple[str, str], list[float | None]] = {}
    for line in times.read_text().splitlines() if times.exists() else []:
        row = json.loads(line)
        runs.setdefault((row["fault"], row["measure"]), []).append(row["seconds"])
    rows = []
    for (fault, measure), values in runs.items():
        known = [v for v in values if v is not None]
        rows.append({"fault": fault, "measure": measure, "runs_s": values,
                     "median_s": round(statistics.median(known), 2) if known else None})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("-k", dest="select", help="only the tests matching this pytest -k expression")
    parser.add_argument("--json", help="also write the report here")
    args = parser.parse_args()
    started, load = time.monotonic(), [os.getloadavg()[0]]
    outcomes = {"passed": 0, "failed": 0}
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp:
        times = Path(tmp) / "times.jsonl"
        for i in range(args.repeat):
            print(f"run {i + 1} of {args.repeat} ...", file=sys.stderr)
            for key, n in run_tests(times, args.select).items():
                outcomes[key] += n
            load.append(os.getloadavg()[0])
        rows = table(times)
    report = {"command": " ".join(["tools/bench_faults.py", *sys.argv[1:]]), "repeat": args.repeat,
              "tests": outcomes, "minutes": round((time.monotonic() - started) / 60, 1),
              "cores": os.cpu_count(), "load_avg": [round(x, 2) for x in load], "recovery": rows}
    bench_report.emit(report, args.json)
    for row in rows:
        print(f"{row['fault']:<40} {row['measure']:<44} {row['median_s']} s  (runs: {row['runs_s']})",
              file=sys.stderr)
    return 0 if outcomes["failed"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
