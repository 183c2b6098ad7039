#!/usr/bin/env python3
"""The system calls systemd/kiosk.service's SystemCallFilter= does NOT allow, as an strace expression.

    strace -f --seccomp-bpf -qq -e signal=none -e trace=$(.venv/bin/python tools/unit_syscalls.py) -o OUT CMD

OUT then lists every call CMD made that the unit would refuse (with EPERM, SystemCallErrorNumber=). The unit's
SystemCallFilter= lines are read and their @groups expanded by `systemd-analyze syscall-filter`; names this
machine's strace does not know (other architectures' calls) are left out. Used for docs/reliability.md,
"Service sandbox": `tools/soak.py --kiosk "strace ... .venv/bin/kiosk"` runs real turns under it.
"""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

UNIT = Path(__file__).resolve().parents[1] / "systemd" / "kiosk.service"


@functools.cache
def group(name: str) -> frozenset[str]:
    """A @group's system calls, nested groups expanded; a plain name is itself."""
    if not name.startswith("@"):
        return frozenset({name})
    out = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True, text=True, check=True)
    lines = [line.strip() for line in out.stdout.splitlines()[1:]]
    return frozenset().union(*(group(line) for line in lines if line and not line.startswith("#")))


def allowed(unit: str) -> set[str]:
    """Allow-list lines add, ~deny lines take away, in order (systemd's rule when the first is an allow-list)."""
    calls: set[str] = set()
    for line in unit.splitlines():
        if line.startswith("SystemCallFilter="):
            value = line.split("=", 1)[1].strip()
            names = set().union(*(group(n) for n in value.lstrip("~").split()))
            calls = calls - names if value.startswith("~") else calls | names
    return calls


def known_to_strace(name: str) -> bool:
    return subprocess.run(["strace", "-qq", "-e", f"trace={name}", "-o", "/dev/null", "true"],
                          capture_output=True).returncode == 0


def main() -> int:
    calls = sorted(c for c in allowed(UNIT.read_text()) if known_to_strace(c))
    if not calls:
        print("no SystemCallFilter= allow-list in the unit", file=sys.stderr)
        return 1
    print("!" + ",".join(calls))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
