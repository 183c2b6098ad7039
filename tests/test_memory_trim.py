"""kiosk.appliance.memory.trim gives freed heap back that glibc keeps resident (the soak's one-time step)."""

from __future__ import annotations

import subprocess
import sys

FRAGMENTED = """
from kiosk.appliance.memory import trim

def anon_mb():
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) // 1024

blocks = [bytearray(4000) for _ in range(50_000)]  # ~200 MB through malloc (above pymalloc's small objects)
keep = bytearray(4000)  # allocated last, at the top of the heap: free() cannot shrink the heap past it
del blocks
before = anon_mb()
given_back = trim()
print(before, anon_mb(), given_back)
"""


def run(code: str) -> list[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={"MALLOC_ARENA_MAX": "2", "PATH": "/usr/bin:/bin"}).stdout.split()


def test_trim_gives_back_what_free_kept() -> None:
    before, after, given_back = run(FRAGMENTED)
    assert given_back == "True"
    assert int(before) - int(after) > 150, (before, after)  # ~200 MB freed but resident, then returned
    before, after, _ = run(FRAGMENTED.replace("given_back = trim()", "given_back = None"))
    assert int(before) - int(after) < 20, (before, after)  # without it, the freed memory stays resident
