"""Who is the kiosk talking to, and has the visitor finished? The judges alone, then through the real
listening stack (Silero VAD, Whisper base, the speaker-embedding model) on synthetic conversations."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from speech_corpus import Line, render

from kiosk.config import ListenSettings
from kiosk.events import Dismissed, Heard, SpeechEnded
from kiosk.listen.addressee import Addressee, AddresseeSettings, looks_addressed
from kiosk.listen.turn_end import sounds_complete


@pytest.mark.parametrize(("text", "addressed"), [
    ("And where do I park?", True), ("What about parking", True), ("Tell me about the canteen.", True),
    ("Is there wifi for guests?", True), ("I need a day pass", True), ("Could you repeat that?", True),
    ("Thanks!", False), ("Okay, great.", False), ("Yeah, I'll see you at lunch later.", False),
    ("The printer on three is broken again.", False), ("Bye.", False),
    # follow-ups of the conversation benchmark Whisper misheard into statements; the lead-in is not the question
    ("Okay, and we'll allow robot to stop if I minute away.", True), ("One more thing, is their wifi forgett", True),
    ("Excuse me, where's the toilet", True), ("Thanks, that's all.", False), ("Great, got it.", False),
    ("Okay, see you at lunch.", False), ("Sorry, I didn't mean you.", False), ("Okay thanks", False),
])
def test_the_form_of_a_follow_up(text: str, addressed: bool) -> None:
    assert looks_addressed(text) is addressed


@pytest.mark.parametrize(("text", "complete"), [
    ("Where is the IT help desk?", True), ("Hey coach.", True), ("Which floor is it on?", True),
    ("Where is the...", False), ("Where is the", False), ("I need the um", False), ("How do I", False),
    ("When is the canteen open", False),  # no punctuation from Whisper: not sure, wait
    # heard in tools/bench_turn_end.py when visitors paused mid-question: Whisper punctuates the fragment
    ("How do I?", False), ("how long do I?", False), ("Quick question!", False), ("Quick question, dude!", False),
    ("ok, so what?", False), ("OK, so what does?", False), ("Excuse me.", False), ("Where am I?", True),
    ("Hey Ava.", True), ("Sorry, where is it?", True), ("How much does it cost?", True),
])
def test_a_finished_question_reads_finished(text: str, complete: bool) -> None:
    assert sounds_complete(text) is complete


def test_a_quieter_or_other_voice_is_a_bystander() -> None:
    judge = Addressee(AddresseeSettings(level_margin_db=7.0, min_similarity=0.5))
    me, other = np.ones(4) / 2, np.array([1.0, -1.0, 0, 0]) / np.sqrt(2)
    judge.learn(-20.0, me)
    assert judge.judge("and where do I park?", -22.0, follow_up=True, voice=me) is None
    assert judge.judge("and where do I park?", -30.0, follow_up=True, voice=me) == "quieter"
    assert judge.judge("and where do I park?", -21.0, follow_up=True, voice=other) == "other_speaker"
    assert judge.judge("see you later", -20.0, follow_up=True, voice=me) == "not_a_question"
    assert judge.judge("see you later", -20.0, follow_up=False, voice=me) is None  # right after a wake
    judge.forget()
    assert judge.judge("and where do I park?", -40.0, follow_up=True) is None  # nothing known yet


@pytest.fixture(scope="module")
def stack():  # noqa: ANN201
    """The real listening stack from the default settings (Whisper base, Silero, speaker model)."""
    from kiosk.config import Settings
    from kiosk.listen.engines import build_listener

    return lambda **listen: build_listener(dataclasses.replace(Settings(), listen=dataclasses.replace(
        Settings().listen, **listen)))


def feed(listener, pcm: np.ndarray) -> list:  # noqa: ANN001
    events = []
    data = pcm.astype(np.int16).tobytes()
    for i in range(0, len(data), 3200):
        events += listener.feed(data[i:i + 3200])
    return events


@pytest.mark.slow
def test_chatter_in_the_follow_up_window_is_not_a_question(stack) -> None:  # noqa: ANN001
    """After the answer a quieter bystander with another voice asks something not meant for the kiosk,
    then the visitor asks a real follow-up: only the visitor's is heard (before: both were, and each
    one extended the window)."""
    listener = stack()
    visitor, _ = render([Line("Hey coach, where is the IT help desk?", "piper", pause_before_s=0.5)], tail_s=1.2)
    events = feed(listener, visitor)
    listener.speaking_started()
    events += feed(listener, np.zeros(32000, np.int16))  # the kiosk answers for 2 s
    listener.speaking_finished()
    chatter, _ = render([Line("Did you watch the match last night?", "en-us+f3", pause_before_s=0.6)],
                        tail_s=0.2, gain=0.3)
    follow_up, _ = render([Line("And where do I park my car?", "piper", pause_before_s=0.5)], tail_s=1.2)
    events += feed(listener, np.concatenate([chatter, follow_up])) + listener.flush()
    heard = [e.text.lower() for e in events if isinstance(e, Heard)]
    assert len(heard) == 2 and "help desk" in heard[0] and "park" in heard[1], events
    assert [e.reason for e in events if isinstance(e, Dismissed)] in (["quieter"], ["other_speaker"]), events


@pytest.mark.slow
def test_a_complete_question_ends_sooner_and_an_unfinished_one_is_not_cut(stack) -> None:  # noqa: ANN001
    listener = stack(wake_phrase="hey coach")
    pcm, _ = render([Line("Hey coach, where is the IT help desk?", "en-us", pause_before_s=0.5)], tail_s=1.5)
    events = feed(listener, pcm) + listener.flush()
    end = next(e for e in events if isinstance(e, SpeechEnded))
    heard = next(e for e in events if isinstance(e, Heard))
    # Heard at ~hangover_complete_ms after the last speech frame (in samples), not after hangover_ms.
    assert heard.t - end.t < 0.45, (end, heard)
    # A hesitation after "the": one question, not two.
    listener = stack(wake_phrase="hey coach")
    pcm, _ = render([Line("Hey coach, where is the", "en-us", pause_before_s=0.5),
                     Line("IT help desk?", "en-us", pause_before_s=0.7)], tail_s=1.5)
    events = feed(listener, pcm) + listener.flush()
    heard = [e.text.lower() for e in events if isinstance(e, Heard)]
    assert len(heard) == 1 and "help desk" in heard[0] and "where" in heard[0], events


def test_settings_reach_the_judge() -> None:
    from kiosk.listen.listener import addressee_settings

    s = addressee_settings(ListenSettings(bystander_level_db=0.0, speaker_similarity=0.0, follow_up_form=False))
    assert s == AddresseeSettings(level_margin_db=0.0, require_form=False, min_similarity=None)


def test_the_kiosks_own_words_are_told_from_a_visitor_interrupting() -> None:
    from kiosk.listen.addressee import OwnSpeech

    own = OwnSpeech()
    assert not own.echoes("register")  # nothing said yet
    own.add("Register your visitor with reception through the visitor form on the intranet by 16:00.")
    own.add("Visitors sign in at reception and wear a badge.")
    own.add("You can park in the visitor car park.")
    # As the residue comes out of the recognizer: fragments, misheard ("intranet by" / "internet bi").
    for echo in ("register,", "Visitor, sign in.", "into the visitor form", "wear a badge", "internet, bi-16-0."):
        assert own.echoes(echo), echo
    for visitor in ("Where do I park?", "Where who I part?", "stop", "wait, what about the canteen", "",
                    "can I bring my dog", "do I need a badge"):
        assert not own.echoes(visitor), visitor
    assert own.echoes("Where", final=False) is None  # may be the start of a visitor's question
    assert own.echoes("register", final=False) is None and own.echoes("register") is True
    own.reset()
    assert not own.echoes("register")
