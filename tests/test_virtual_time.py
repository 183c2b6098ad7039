"""The loop tests' virtual clock (tests/virtual_time.py): sleeps cost no wall time, order is kept, and the
clock waits for worker threads instead of running ahead of them."""

from __future__ import annotations

import asyncio
import time

import virtual_time


def test_timers_fire_in_order_at_their_loop_time_without_waiting() -> None:
    fired: list[tuple[str, float]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(30.0, lambda: fired.append(("b", loop.time())))
        loop.call_later(10.0, lambda: fired.append(("a", loop.time())))
        await asyncio.sleep(3600.0)
        fired.append(("end", loop.time()))

    wall = time.monotonic()
    virtual_time.run(main())
    assert fired == [("a", 10.0), ("b", 30.0), ("end", 3600.0)]
    assert time.monotonic() - wall < 5.0  # an hour of loop time (the bound only catches real sleeping)


def test_the_clock_stands_still_while_a_thread_works() -> None:
    async def main() -> tuple[float, bool]:
        loop = asyncio.get_running_loop()
        timer = asyncio.ensure_future(asyncio.sleep(0.01))
        await asyncio.to_thread(time.sleep, 0.1)  # real work, ten times longer than the timer
        return loop.time(), timer.done()

    now, timer_done = virtual_time.run(main())
    assert now < 0.01 and not timer_done
