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


@pytest.mark.slow
@pytest.mark.parametrize(("text", "voice", "speed", "words"), [
    ("Hey coach, how long is the probation period?", "en-gb-x-gbcwmd", 165, ("probation", "period")),
    ("Hey coach, where is the canteen?", "en-us+aunty", 140, ("where", "canteen")),
    ("Hey coach, is there parking for bikes?", "en-gb-x-gbcwmd", 140, ("parking",))])
def test_the_phrase_said_in_one_breath_with_the_question_wakes_it_by_sound(
        listener, text: str, voice: str, speed: int, words: tuple[str, ...]) -> None:  # noqa: ANN001
    """Run into the question, the phrase sounds otherwise than alone: Whisper base writes nothing like it
    ("Hey, go where is the canteen?") and its sound lies ~0.18 from templates of the bare phrase, so these
    visitors were never heard (before: no wake, tools/ab_wake_settings.py). Templates of the phrase said
    before a question opening hear it, also before an opening they were not made with ("is there")."""
    import conversation_corpus as cc

    from kiosk.cli.listen import listen_file

    rate = 16000
    pitch = {140: 35, 165: 50}[speed]
    pcm = np.concatenate([np.zeros(rate // 2, np.int16), cc.level(cc.synth(text, voice, speed, pitch)),
                          np.zeros(3 * rate, np.int16)])
    events = listen_file(listener(), pcm.tobytes())
    assert [type(e).__name__ for e in events if isinstance(e, Wake | Heard)] == ["Wake", "Heard"], events
    question = next(e for e in events if isinstance(e, Heard)).text.lower()
    assert "coach" not in question and any(w in question for w in words), question


@pytest.mark.slow
@pytest.mark.parametrize(("text", "voice", "speed", "pitch", "words"), [
    ("Hey coach, I lost my badge.", "en-029+f4", 165, 50, ("lost", "badge")),
    ("Hey coach, where is the canteen?", "en-029", 185, 65, ("where", "canteen")),
    ("Hey coach, is there parking for bikes?", "en-gb-x-gbclan+f2", 165, 50, ("parking",))])
def test_regional_accents_wake_it_by_sound(listener, monkeypatch, text: str, voice: str, speed: int, pitch: int,
                                           words: tuple[str, ...]) -> None:  # noqa: ANN001
    """Caribbean and Lancashire voices (other variants, speeds and pitches than the templates'): Whisper writes
    "Here called, ...", "Hey, Crop, ..." and the phrase's sound was far from the five template voices of
    American and southern British English; templates in those accents too hear it."""
    import conversation_corpus as cc

    import kiosk.listen.wake_templates as templates
    from kiosk.cli.listen import listen_file

    rate = 16000
    pcm = np.concatenate([np.zeros(rate // 2, np.int16), cc.level(cc.synth(text, voice, speed, pitch)),
                          np.zeros(3 * rate, np.int16)]).tobytes()
    events = listen_file(listener(), pcm)
    assert [type(e).__name__ for e in events if isinstance(e, Wake | Heard)] == ["Wake", "Heard"], events
    question = next(e for e in events if isinstance(e, Heard)).text.lower()
    assert "coach" not in question and any(w in question for w in words), question
    monkeypatch.setattr(templates, "TEMPLATE_VOICES", templates.TEMPLATE_VOICES[:5])  # as it was before
    assert not any(isinstance(e, Wake) for e in listen_file(listener(), pcm))


class CountingEncoder:
    """Stands in for Whisper's encoder: frames that depend on the audio, and how often it was asked."""

    model_dir, window_s = "/models/whisper-test", 20.0

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, pcm: bytes) -> np.ndarray:
        self.calls += 1
        x = np.frombuffer(pcm, np.int16).astype(np.float32)
        frames = x[: x.size // 320 * 320].reshape(-1, 320)[:, :8] + 1.0
        return frames / np.linalg.norm(frames, axis=1, keepdims=True)


def test_templates_are_made_once_and_kept_for_the_next_start(tmp_path, monkeypatch, caplog) -> None:  # noqa: ANN001
    from kiosk.listen.wake_templates import CONTEXTS, TEMPLATE_VOICES, PhraseTemplates

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = CountingEncoder()
    made = PhraseTemplates.build(first, "hey coach", 0.15)
    assert made is not None and first.calls == len(TEMPLATE_VOICES) * (1 + len(CONTEXTS)) == len(made.templates)
    again = CountingEncoder()
    kept = PhraseTemplates.build(again, "hey coach", 0.15)
    assert again.calls == 0 and kept is not None
    assert all(np.array_equal(a, b) for a, b in zip(made.templates, kept.templates, strict=True))
    other = CountingEncoder()
    PhraseTemplates.build(other, "hey ava", 0.15)  # another phrase: its own templates
    assert other.calls == first.calls
    # A damaged file is made again (with a warning), never trusted.
    for damage in (lambda b: b"not a numpy file", lambda b: b[: len(b) // 2]):  # garbage, a file cut short
        for path in (tmp_path / "kiosk" / "wake-templates").glob("*.npz"):
            path.write_bytes(damage(path.read_bytes()))
        broken = CountingEncoder()
        caplog.clear()
        with caplog.at_level("WARNING"):
            assert PhraseTemplates.build(broken, "hey coach", 0.15) is not None
        assert broken.calls == first.calls and "unreadable" in caplog.text


def test_a_cache_folder_it_cannot_write_costs_only_time(tmp_path, monkeypatch, caplog) -> None:  # noqa: ANN001
    from kiosk.listen.wake_templates import PhraseTemplates

    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    with caplog.at_level("WARNING"):
        made = PhraseTemplates.build(CountingEncoder(), "hey coach", 0.15)
    assert made is not None and made.templates and "not kept" in caplog.text


def test_a_stack_of_templates_is_searched_as_each_one_alone() -> None:
    query = np.concatenate([unit_rows(7, 2), unit_rows(10, 5), unit_rows(9, 3)])
    stack = np.stack([unit_rows(10, 1), unit_rows(10, 5)[::-1], unit_rows(10, 5)])
    alone = min(subsequence_dtw(t, query) for t in stack)
    distance, end = subsequence_dtw(stack, query)
    assert distance == pytest.approx(alone[0]) and end == alone[1] == 17
