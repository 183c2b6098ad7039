"""Sound output removed mid-answer and plugged back (a fake PortAudio: no sound card here).

The clip playing when the device goes is lost (its captions are not); the next sentences are tried on a
freshly started PortAudio, which is how a re-plugged USB speaker becomes visible, and sound comes back."""

from __future__ import annotations

import asyncio

import pytest

from kiosk.audio import playback
from kiosk.audio.playback import AudioDevice, PlaybackQueue, Player


class Room:
    """The one speaker, which the test unplugs and plugs back."""

    def __init__(self) -> None:
        self.plugged = True
        self.played: list[int] = []  # bytes written per clip that reached the speaker
        self.starts = 0  # PortAudio initialisations


class FakeStream:
    def __init__(self, room: Room) -> None:
        self.room, self.dead = room, False

    def get_output_latency(self) -> float:
        return 0.0

    def write(self, data: bytes) -> None:
        if not self.room.plugged or self.dead:  # a stream whose device went away never works again
            self.dead = True
            raise OSError(-9999, "Unanticipated host error")
        self.room.played.append(len(data))

    def stop_stream(self) -> None:
        pass

    def close(self) -> None:
        pass


class FakePortAudio:
    def __init__(self, room: Room) -> None:
        self.room = room
        room.starts += 1

    def open(self, **_: object) -> FakeStream:
        if not self.room.plugged:
            raise OSError(-9996, "Invalid output device")
        return FakeStream(self.room)

    def terminate(self) -> None:
        pass


@pytest.fixture()
def room(monkeypatch: pytest.MonkeyPatch) -> Room:
    room = Room()
    speaker = AudioDevice(3, "USB Speaker", 0, 2, 48000.0)
    monkeypatch.setattr(playback, "open_portaudio", lambda: FakePortAudio(room))
    monkeypatch.setattr(playback, "find_output", lambda name="": speaker if room.plugged else None)
    return room


def test_a_speaker_unplugged_mid_answer_comes_back_when_plugged_in(room: Room) -> None:
    queue = PlaybackQueue(Player(AudioDevice(3, "USB Speaker", 0, 2, 48000.0), name="USB"), 0.0)
    clip = b"\0\0" * 2400  # 0.1 s at 24 kHz

    async def main() -> None:
        queue.submit(clip, 24000)
        await queue.drain()
        assert sum(room.played) == len(clip)
        room.plugged = False  # pulled out
        queue.submit(clip, 24000)
        queue.submit(clip, 24000)
        await queue.drain()  # both lost, nothing raised at the caller
        assert sum(room.played) == len(clip)
        room.plugged = True  # back
        queue.submit(clip, 24000)
        await queue.drain()

    try:
        asyncio.run(main())
    finally:
        queue.close()
    assert sum(room.played) == 2 * len(clip)  # the sentence after the speaker came back was heard
    assert room.starts >= 2  # PortAudio was started afresh to see the re-plugged device
