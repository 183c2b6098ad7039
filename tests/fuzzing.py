"""Shared Hypothesis settings for the fuzz tests (tests/test_fuzz_*.py).

The suite runs each property a small, fixed number of times with a derandomized seed, so CI stays fast
and never flakes. KIOSK_FUZZ_EXAMPLES=N runs every property N times with fresh random inputs instead:

    KIOSK_FUZZ_EXAMPLES=2000 .venv/bin/python -m pytest -q tests/test_fuzz_*.py -m 'not slow'
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

LONG_RUN = int(os.environ.get("KIOSK_FUZZ_EXAMPLES", "0") or 0)


def fuzz(examples: int) -> settings:
    """`examples` in the normal suite (derandomized); KIOSK_FUZZ_EXAMPLES random ones in a long run."""
    return settings(
        max_examples=LONG_RUN or examples,
        deadline=None,  # inputs are small, but a loaded CI machine must not turn slowness into failures
        derandomize=not LONG_RUN,
        database=None if not LONG_RUN else settings.default.database,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.function_scoped_fixture],
        print_blob=True,
    )


def mutate(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    """Applies byte edits (op, position, value): 0 flips bits of a byte, 1 inserts a byte, 2 deletes one,
    3 truncates. Positions wrap around, so any generated edit applies to any input."""
    buf = bytearray(data)
    for op, pos, value in edits:
        if not buf:
            break
        i = pos % len(buf)
        if op == 0:
            buf[i] ^= value or 1
        elif op == 1:
            buf.insert(i, value)
        elif op == 2:
            del buf[i]
        else:
            del buf[i:]
    return bytes(buf)
