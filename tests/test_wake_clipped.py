"""The wake phrase with its soft start lost ("A coach." for "Hey coach."), heard from sleep.

Whisper base writes Piper joe's "Hey coach, where is the IT help desk?" as "A coach." + the question for about
one alignment of the audio in four (the microphone's chunks fall where they fall); the full-window retry
hears the same, and the sound templates find it at 0.17 (threshold 0.15). The end-to-end test missed its
wake that way in CI. What stands for the lost start must be there: a bare "Coach, ..." (or "Anna, ..." for
"hey Anna") is someone talking to a person of that name, not to the kiosk."""

from __future__ import annotations

import numpy as np
import pytest
from speech_corpus import Line, render

from kiosk.listen.asr import Transcript, Word
from kiosk.listen.wake import TranscriptSpotter, clipped_phrase


@pytest.mark.parametrize(("heard", "phrase", "cut"), [
    ("A coach.", "hey coach", 2),
    ("A-coach, where is the canteen?", "hey coach", 1),
    ("Eycoach, how long is the probation period?", "hey coach", 1),
    ("Eh coach, where do I park?", "hey coach", 2),
    ("Coach, pass me the ball.", "hey coach", 0),  # a bare name: someone else's coach
    ("Coach.", "hey coach", 0),
    ("Coaches, listen up.", "hey coach", 0),
    ("A coach to the team.", "hey coach", 0),  # "They coached the team", no pause after the name
    ("The coach.", "hey coach", 0),
    ("Anna, where are my keys?", "hey anna", 0),
    ("A Anna, where is it?", "hey anna", 2),
])
def test_from_sleep_something_must_stand_for_the_lost_start(heard: str, phrase: str, cut: int) -> None:
    assert clipped_phrase(heard.split(), phrase, onset=True) == cut


def test_after_an_answer_the_bare_name_still_counts() -> None:
    """Inside a conversation the visitor is already talking to the kiosk (unchanged)."""
    assert clipped_phrase(["Coach,", "where", "is", "it?"], "hey coach") == 1


class Said:
    """An engine that hears the given words (timed 0.3 s apart); no encoder frames, so no sound check."""

    def __init__(self, text: str) -> None:
        self.text = text

    def start(self) -> None: ...

    def feed(self, pcm: bytes) -> None: ...

    def finish(self) -> Transcript:
        words = tuple(Word(w, 0.3 * i, 0.3 * i + 0.25) for i, w in enumerate(self.text.split()))
        return Transcript(text=self.text, words=words, engine="said", final=True)


def test_the_spotter_wakes_on_the_phrase_with_its_start_lost_and_keeps_the_question() -> None:
    spotter = TranscriptSpotter(Said("A coach, where is the IT help desk?"), "hey coach")  # type: ignore[arg-type]
    hit = spotter.finish()
    assert hit is not None and hit.rest is not None and hit.rest.text == "where is the IT help desk?"
    assert hit.end_s == pytest.approx(0.55)
    assert TranscriptSpotter(Said("A coach."), "hey coach").finish() is not None  # type: ignore[arg-type]
    assert TranscriptSpotter(Said("Coach, pass me the ball."), "hey coach").finish() is None  # type: ignore[arg-type]


@pytest.mark.slow
def test_a_soft_h_wake_phrase_wakes_the_kiosk_wherever_the_microphone_chunks_fall() -> None:
    """Real Whisper base and Silero VAD through `kiosk transcribe --wake`'s path: the end-to-end test's question,
    shifted by 5-ms steps (0-35 ms), is heard after its wake every time (before: 2 of 8 missed here)."""
    from kiosk.config import Settings
    from kiosk.listen.engines import build_asr
    from kiosk.listen.transcribe import transcribe

    settings = Settings()
    pcm, _ = render([Line("Hey coach, where is the IT help desk?", "piper", pause_before_s=0.5)], tail_s=1.0)
    engine = build_asr(settings)
    heard = {}
    for shift in range(0, 640, 80):
        shifted = np.concatenate([np.zeros(shift, np.int16), pcm]).tobytes()
        heard[shift] = transcribe(engine, shifted, settings, wake=True)["questions"]
    # woken, and the question after the phrase kept (however this CPU's Whisper spells "help desk")
    assert all(any("help" in q.lower() for q in qs) for qs in heard.values()), heard
