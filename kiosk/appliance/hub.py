"""The kiosk's event stream, fanned out: every typed event the loop sees (kiosk.events) goes to each
listener (metrics, a callback) and to each subscriber's bounded queue (the local API's event stream).

Publishing never blocks the loop: a subscriber that does not keep up loses its oldest events (counted in
`dropped`), never the kiosk's time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

log = logging.getLogger(__name__)

QUEUE = 256
"""events a subscriber may fall behind by before its oldest are dropped"""


class EventHub:
    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[Any]] = set()
        self._listeners: list[Callable[[Any], None]] = []
        self.dropped = 0

    def listen(self, callback: Callable[[Any], None]) -> None:
        """`callback(event)` on the loop for every event (it must be quick and must not raise)."""
        self._listeners.append(callback)

    def publish(self, event: Any) -> None:
        for callback in self._listeners:
            try:
                callback(event)
            except Exception:  # noqa: BLE001 - a listener's bug must not break the kiosk's loop
                log.exception("event listener failed on %s", type(event).__name__)
        at = time.time()  # when the kiosk emitted it: a subscriber measures its delay from this
        for queue in self._queues:
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                self.dropped += 1
            queue.put_nowait((at, event))

    @property
    def subscribers(self) -> int:
        return len(self._queues)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Any]]:
        """A queue that receives (wall-clock time published, event) for every event until the block ends."""
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=QUEUE)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)
