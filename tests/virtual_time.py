"""An asyncio event loop on virtual time, for loop tests that would otherwise sleep.

When nothing is ready, the loop would wait (in its selector) until its next timer; here the clock jumps to
that timer instead, so `asyncio.sleep(2.0)` takes no wall time and every timer fires in the same order and
at the same loop time as on a real clock. While a worker thread runs (`run_in_executor`, `to_thread`) the
clock stands still and the loop really waits for it: virtual time never runs ahead of real work.
Other threads' `call_soon_threadsafe` wakes the loop as usual.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
_THREAD_POLL_S = 0.005


class _Selector(selectors.DefaultSelector):
    def __init__(self) -> None:
        super().__init__()
        self.loop: VirtualTimeLoop | None = None

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        loop = self.loop
        assert loop is not None
        if loop.threads:  # real work under way: wait for it a moment, on the real clock
            return super().select(_THREAD_POLL_S if timeout is None else min(timeout, _THREAD_POLL_S))
        ready = super().select(0)
        if ready or timeout is None or timeout <= 0:
            return ready if ready or timeout is not None else super().select(None)
        loop.advance(timeout)
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        selector = _Selector()
        super().__init__(selector)
        selector.loop = self
        self._now = 0.0
        self.threads = 0

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds

    def run_in_executor(self, executor: Any, func: Any, *args: Any) -> asyncio.Future:
        future = super().run_in_executor(executor, func, *args)
        self.threads += 1
        future.add_done_callback(self._thread_done)
        return future

    def _thread_done(self, _: asyncio.Future) -> None:
        self.threads -= 1


def run(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run on virtual time."""
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(coro)
