"""The playback clock the lips follow, on a real PortAudio device (PulseAudio null sink)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from kiosk.audio.playback import open_player

pytestmark = [pytest.mark.audio, pytest.mark.slow]


def test_position_runs_through_the_clip_being_heard(pulse: dict[str, str]) -> None:  # noqa: ARG001
    queue = open_player("pulse", 0.0)
    assert queue is not None, "no PulseAudio output device"
    rate = 22050
    pcm = (np.sin(np.arange(rate) * 2 * np.pi * 440 / rate) * 8000).astype(np.int16).tobytes()  # 1 s
    started: list[float | None] = []
    seen: list[float] = []

    async def main() -> None:
        assert queue.position() is None  # nothing played yet
        queue.submit(pcm, rate, on_start=lambda: started.append(queue.position()))
        done = asyncio.ensure_future(queue.drain())
        while not done.done():
            p = queue.position()
            if p is not None:
                seen.append(p)
            await asyncio.sleep(0.02)

    try:
        asyncio.run(main())
    finally:
        queue.close()
    assert len(started) == 1  # on_start ran on the loop, once
    assert seen and seen == sorted(seen)  # a clock: it only moves forward
    assert seen[-1] <= 1.0 + 1e-6  # and never past the clip
    assert any(p > 0.3 for p in seen)  # it advanced through the clip while it was heard
