"""Recovery times measured by the fault tests (tests/test_faults_*.py), for tools/bench_faults.py.

Each measurement is printed (see it with `pytest -s`) and, when $KIOSK_FAULT_TIMES names a file, appended
to it as one JSON line. Measured, never asserted: the machine's load must not turn into failures.
"""

from __future__ import annotations

import json
import os


def record(fault: str, measure: str, seconds: float | None) -> None:
    value = None if seconds is None else round(seconds, 3)
    print(f"{fault}: {measure}: {value} s")
    if path := os.environ.get("KIOSK_FAULT_TIMES"):
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"fault": fault, "measure": measure, "seconds": value}) + "\n")
