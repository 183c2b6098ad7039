"""The screen task: draws at its frame rate without blocking the loop; taps and typing raise the same
events as the microphone (a typed question is the same Heard event the recognizer produces)."""

from __future__ import annotations

import asyncio
import os

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import pygame  # noqa: E402

from kiosk.avatar.backend import PygameBackend  # noqa: E402
from kiosk.avatar.build import build_pack, builtin_packs  # noqa: E402
from kiosk.avatar.pack import BUILTIN_DIR, load_pack  # noqa: E402
from kiosk.avatar.screen import Screen  # noqa: E402
from kiosk.events import Heard, HeardPartial, MicrophoneStatus, Wake  # noqa: E402


@pytest.fixture(scope="module")
def screen_parts() -> tuple[PygameBackend, object]:
    for pack in builtin_packs():
        build_pack(pack)
    return PygameBackend((960, 540), mode="headless"), load_pack(BUILTIN_DIR / "ava")


def make(screen_parts) -> tuple[Screen, list]:  # noqa: ANN001
    got: list = []
    backend, pack = screen_parts
    pygame.event.clear()
    return Screen(backend, pack, got.append, fps=30), got


def centre(rect) -> tuple[int, int]:  # noqa: ANN001
    x, y, w, h = rect
    return x + w // 2, y + h // 2


def test_tap_button_and_space_raise_wake(screen_parts) -> None:  # noqa: ANN001
    screen, got = make(screen_parts)
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=centre(screen.overlay.talk_rect), button=1))
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_SPACE, unicode=" ", mod=0))
    assert screen.handle_input()
    assert [type(e) for e in got] == [Wake, Wake] and all(e.source == "tap" for e in got)


def test_typed_question_is_the_same_event_as_speech(screen_parts) -> None:  # noqa: ANN001
    screen, got = make(screen_parts)
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=centre(screen.overlay.keyboard_rect), button=1))
    screen.handle_input()
    assert screen.keyboard.is_open
    for ch in "wifi?":  # a physical keyboard
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=0, unicode=ch, mod=0))
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_RETURN, unicode="\r", mod=0))
    screen.handle_input()
    assert got == [Heard(got[0].t, "wifi?", "keyboard", ())]
    assert not screen.keyboard.is_open
    # Typing without opening the keyboard first starts a question too.
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=0, unicode="h", mod=0))
    screen.handle_input()
    assert screen.keyboard.is_open and screen.keyboard.text == "h"


def test_runs_at_its_frame_rate_without_blocking_the_loop(screen_parts, runtime) -> None:  # noqa: ANN001
    screen, _ = make(screen_parts)
    clip = runtime.speaker.speak_joined("Hello there, welcome!")
    ticks = []

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(screen.run(stop))
        loop = asyncio.get_running_loop()
        start = loop.time()
        screen.listen_event(Wake(0.0, "tap"))
        screen.listen_event(HeardPartial(0.1, "hello"))
        screen.listen_event(Heard(0.2, "hello there", "whisper"))
        screen.speak(clip, "Onboarding handbook", lambda: loop.time() - start)
        screen.listen_event(MicrophoneStatus("lost", "unplugged"))
        while loop.time() - start < 1.0:  # another task of the loop keeps getting its turns
            ticks.append(screen.frames)
            await asyncio.sleep(0.01)
        stop.set()
        await task

    asyncio.run(main())
    assert screen.frames <= 32  # paced at 30 fps, not drawing flat out (speed itself: kiosk bench --render)
    # The other task ran between frames again and again: the screen never held the loop.
    assert len(set(ticks)) >= min(10, screen.frames) and ticks == sorted(ticks)
