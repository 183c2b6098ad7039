"""A caller over its request budget gets 429 with Retry-After, held back, and the visitor's loop stays free
(kiosk/admin/ratelimit.py); tools/bench_admin.py measures what a client in another process costs the visitor."""

from __future__ import annotations

import asyncio
import time

from aiohttp.test_utils import TestClient
from test_local_api import kiosk, with_client

from kiosk.admin.ratelimit import MAX_CALLERS, RateLimit
from kiosk.config import ServiceSettings
from kiosk.events import VisitorState


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_rate_per_caller() -> None:
    clock = Clock()
    limit = RateLimit(rate=2.0, burst=3, clock=clock)
    assert [limit.take("10.0.0.5") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limit.take("10.0.0.5") == 0.5  # a token comes every half second
    assert limit.take("10.0.0.6") == 0.0  # another caller has its own budget
    clock.now += 0.5
    assert limit.take("10.0.0.5") == 0.0 and limit.take("10.0.0.5") > 0
    clock.now += 60  # a quiet caller gets its whole burst back, never more
    assert [limit.take("10.0.0.5") for _ in range(4)].count(0.0) == 3
    assert limit.refused == 3


def test_no_limit_at_rate_zero_and_callers_are_forgotten_oldest_first() -> None:
    assert all(RateLimit(rate=0.0, burst=1).take("x") == 0.0 for _ in range(1000))
    clock = Clock()
    limit = RateLimit(rate=1.0, burst=1, clock=clock)
    limit.take("first")
    for n in range(MAX_CALLERS):
        limit.take(f"caller-{n}")
    assert len(limit._buckets) == MAX_CALLERS and "first" not in limit._buckets
    assert limit.take("first") == 0.0  # forgotten means a full bucket again: nothing is lost by forgetting


def test_over_the_budget_is_429_with_retry_after_held_back_and_counted() -> None:
    service = ServiceSettings(api_rate=2.0, api_burst=3)

    async def body(client: TestClient) -> None:
        for _ in range(3):
            assert (await client.get("/api/v1/status")).status == 200
        t0 = time.perf_counter()
        refused = await client.post("/api/v1/ask", json={"question": "where is hr"})
        held = time.perf_counter() - t0
        assert refused.status == 429 and (await refused.json())["error"]["code"] == "rate_limited"
        assert int(refused.headers["Retry-After"]) >= 1
        assert held >= 0.2  # held back about the half second until the next token, so loops slow down
        await asyncio.sleep(0.6)
        text = await (await client.get("/metrics")).text()
        assert "kiosk_api_rate_limited_total 1" in text

    asyncio.run(with_client(kiosk(), body, service))


def test_busy_says_when_to_try_again() -> None:
    k = kiosk()

    async def body(client: TestClient) -> None:
        k._set_phase(VisitorState.LISTENING)
        busy = await client.post("/api/v1/ask", json={"question": "where is hr"})
        assert busy.status == 409 and busy.headers["Retry-After"] == "2"

    asyncio.run(with_client(k, body))
