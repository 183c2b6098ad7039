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


class CountingPlayer:
    """A Player's surface, recording what the queue writes (no sound card)."""

    def __init__(self) -> None:
        self.generation = 0
        self.is_open = False
        self.writes: list[str] = []

    def play(self, pcm: bytes, sample_rate: int) -> None:
        self.is_open = True
        self.writes.append(f"clip{len(pcm)}")

    def silence(self, seconds: float) -> None:
        import time

        time.sleep(seconds / 5)  # a device takes it at its pace; faster here
        self.writes.append("silence")

    def position(self) -> float | None:
        return None

    def reset(self) -> None:
        self.is_open = False

    def close(self) -> None:
        pass


@pytest.mark.parametrize("keep_alive", [False, True])
def test_a_kept_alive_stream_never_runs_dry_between_clips(keep_alive: bool) -> None:
    """With an echo canceller on the sink, the loudspeaker stream must not underrun and restart: once
    open, the queue fills every pause with silence; without keep-alive it writes nothing between clips."""
    from kiosk.audio.playback import PlaybackQueue

    player = CountingPlayer()
    queue = PlaybackQueue(player, 0.0, keep_alive=keep_alive)  # type: ignore[arg-type]

    async def main() -> None:
        queue.submit(b"\0\0" * 100, 16000)
        await queue.drain()
        await asyncio.sleep(0.1)  # a pause between answers
        queue.submit(b"\0\0" * 200, 16000)
        queue.cancel()  # dropped before it plays
        queue.submit(b"\0\0" * 300, 16000)
        await queue.drain()

    try:
        asyncio.run(main())
    finally:
        queue.close()
    clips = [w for w in player.writes if w.startswith("clip")]
    assert clips == ["clip200", "clip600"]
    between = player.writes[player.writes.index("clip200") + 1:player.writes.index("clip600")]
    assert (len(between) >= 3 and set(between) == {"silence"}) if keep_alive else between == []
