"""The wake phrase heard by its sound when Whisper misspells it (kiosk.listen.wake_templates): the warping
search alone, then the real stack (Whisper base's encoder, espeak-ng templates) on voices it mishears."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from speech_corpus import Line, render

from kiosk.config import Settings
from kiosk.events import Heard, Wake
from kiosk.listen.wake_templates import subsequence_dtw


def unit_rows(n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, 16))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_a_template_is_found_inside_a_longer_stretch_even_when_said_slower() -> None:
    template = unit_rows(10, 1)
    slow = np.repeat(template, 2, axis=0)  # the same sounds, twice as long
    query = np.concatenate([unit_rows(7, 2), slow, unit_rows(9, 3)])
    distance, end = subsequence_dtw(template, query)
    assert distance == pytest.approx(0.0, abs=1e-6) and 7 + 19 <= end <= 7 + 20
    assert subsequence_dtw(template, unit_rows(40, 4))[0] > 0.5  # other sounds: far


@pytest.fixture(scope="module")
def listener():  # noqa: ANN201
    from kiosk.listen.engines import build_listener

    return lambda **listen: build_listener(dataclasses.replace(Settings(), listen=dataclasses.replace(
        Settings().listen, **listen)))


def hear(build, lines: list[Line], **listen: object) -> list:  # noqa: ANN001
    pcm, _ = render(lines, tail_s=1.2)
    stack = build(**listen)
    return stack.feed(pcm.tobytes()) + stack.flush()


@pytest.mark.slow
def test_a_wake_phrase_whisper_mishears_still_wakes_the_kiosk(listener) -> None:  # noqa: ANN001
    """espeak-ng's en-us+f3 voice says "Hey coach." and, after a pause, its question; Whisper base writes
    the phrase "take off" (before: the kiosk never woke)."""
    lines = [Line("Hey coach.", "en-us+f3", pause_before_s=0.5),
             Line("Where is the canteen?", "en-us+f3", pause_before_s=1.0)]
    without = hear(listener, lines, wake_acoustic=0.0)
    assert not any(isinstance(e, Wake) for e in without), without  # the spelling alone misses it
    events = hear(listener, lines)
    assert [type(e).__name__ for e in events if isinstance(e, Wake | Heard)] == ["Wake", "Heard"], events
    question = next(e for e in events if isinstance(e, Heard)).text.lower()
    assert "canteen" in question or "where" in question, question


@pytest.mark.slow
@pytest.mark.parametrize(("text", "voice"), [("Hey Joe, how are you?", "en-us"),
                                             ("The coach leaves at nine.", "en-gb"),
                                             ("Okay, so we need to book the room.", "en-us+f3")])
def test_near_misses_do_not_wake_it(listener, text: str, voice: str) -> None:  # noqa: ANN001
    events = hear(listener, [Line(text, voice, pause_before_s=0.5)])
    assert not any(isinstance(e, Wake) for e in events), events
