"""The listening state machine with the energy VAD on synthetic bursts and a scripted recognizer (fast).

The real engines on real speech are in test_listen_speech.py; here every rule of the state machine is
pinned down with exact sample positions: wake, follow-up window, refractory period, push-to-talk,
half-duplex gating with its tail, and the three barge-in modes.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from kiosk.config import ListenSettings
from kiosk.events import Heard, SpeechEnded, SpeechStarted, Wake
from kiosk.listen.addressee import level_db
from kiosk.listen.asr import SAMPLE_RATE, Transcript, Word
from kiosk.listen.listener import Listener, State
from kiosk.listen.vad import EnergyVad
from kiosk.listen.wake import TranscriptSpotter, match_phrase, sound_key, strip_phrase

SR = SAMPLE_RATE


class ScriptedAsr:
    """Says the next scripted text for each utterance, its words spread evenly over the loud part of the
    audio it was fed (like a recognizer's word times over speech)."""

    name = "scripted"

    def __init__(self, texts: list[str]) -> None:
        self.texts = list(texts)
        self.fed: list[int] = []  # samples fed per utterance
        self._n = 0

    def start(self) -> None:
        self._pcm = bytearray()

    def feed(self, pcm: bytes) -> Transcript | None:
        self._pcm += pcm
        return None

    def finish(self) -> Transcript:
        audio = np.frombuffer(bytes(self._pcm), dtype=np.int16)
        self.fed.append(audio.size)
        text = self.texts.pop(0) if self.texts else ""
        tokens = text.split()
        loud = np.flatnonzero(np.abs(audio) > 1000)
        a, b = (loud[0] / SR, (loud[-1] + 1) / SR) if loud.size else (0.0, 0.0)
        step = (b - a) / max(1, len(tokens))
        words = tuple(Word(w, a + step * i, a + step * (i + 1)) for i, w in enumerate(tokens))
        return Transcript(text, words, self.name, True)


def tone(seconds: float, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (level * 32767 * np.sin(2 * np.pi * 220 * t)).astype(np.int16)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SR), dtype=np.int16)


def make(texts: list[str], wake: bool = True, **overrides: object) -> tuple[Listener, ScriptedAsr]:
    # The scripted recognizer has no early transcript, so utterances end after the full hangover;
    # these tests were written for 500 ms.
    settings = dataclasses.replace(ListenSettings(), **{"hangover_ms": 500, **overrides})
    asr = ScriptedAsr(texts)
    spotter = TranscriptSpotter(asr, settings.wake_phrase) if wake else None
    return Listener(EnergyVad(), asr, spotter, settings), asr


def run(listener: Listener, *parts: np.ndarray, chunk: int = 1600, end: bool = True) -> list:
    """Feeds the parts; `end` closes the input (more audio may follow when False)."""
    pcm = np.concatenate(parts).tobytes()
    events = []
    for i in range(0, len(pcm), 2 * chunk):
        events += listener.feed(pcm[i:i + 2 * chunk])
    return events + listener.flush() if end else events


def kinds(events: list) -> list[str]:
    return [type(e).__name__ for e in events]


def test_phrase_matching_accepts_spellings_and_rejects_near_misses() -> None:
    for heard in ("Hey coach!", "hey, Coach.", "Hay coach", "Hey Koch", "ok hey coach where"):
        assert match_phrase(heard.split(), "hey coach"), heard
    for heard in ("Hey Joe", "the coach leaves at nine", "Hey folks", "Hi, Josh", "coach hey", "hey", ""):
        assert match_phrase(heard.split(), "hey coach") is None, heard
    assert match_phrase(["then", "hey", "coach"], "hey coach").start == 1
    assert strip_phrase("Hey coach, where is the canteen?", "hey coach") == "where is the canteen?"
    assert strip_phrase("where is the coach?", "hey coach") == "where is the coach?"
    assert sound_key("coach") == sound_key("Coach!") != sound_key("coke")
    # Sensitivity loosens the match: "hey coke" only passes when the kiosk is told to be lenient.
    assert match_phrase(["hey", "coke"], "hey coach", 0.0) is None
    assert match_phrase(["hey", "coke"], "hey coach", 0.5)
    # A short o for the long one: Whisper base writes an espeak-ng female voice's "Hey coach" as "Hey, Kok"
    # (tools/bench_conversation.py, visitor t23); other short words after "hey" still do not wake.
    assert match_phrase(["Hey,", "Kok,", "sorry,", "I", "forgot", "my", "badge", "at", "home"], "hey coach")
    for heard in ("Hey kid", "Hey Kate", "hey, Kirk", "Hey Bob", "hey Scott", "hey call me"):
        assert match_phrase(heard.split(), "hey coach") is None, heard


def test_one_breath_wake_and_question() -> None:
    listener, asr = make(["hey coach where is the canteen"])
    events = run(listener, silence(1), tone(2.0), silence(1))
    assert kinds(events) == ["Wake", "SpeechStarted", "SpeechEnded", "Heard"]
    wake, start, end, heard = events
    # The phrase is the first 2 of 6 evenly spread words: it ends a third into the 2 s segment.
    assert wake.source == "voice" and wake.heard == "hey coach"
    assert wake.t == pytest.approx(1.0 + 2.0 / 3, abs=0.05)
    assert start.t == wake.t and end.t == pytest.approx(3.0, abs=0.04)
    assert heard.text == "where is the canteen" and heard.words[0].word == "where"
    assert heard.words[0].start_s == pytest.approx(0.0, abs=0.05)  # times from the question's start
    assert [e.t for e in events] == sorted(e.t for e in events)
    assert listener.state is State.AWAKE


def test_chatter_without_the_phrase_is_ignored() -> None:
    listener, _ = make(["the coach leaves at nine", "hey joe how are you"])
    assert run(listener, silence(0.5), tone(1.5), silence(1), tone(1.5), silence(1)) == []
    assert listener.state is State.ASLEEP


def test_wake_alone_then_question_in_the_window() -> None:
    listener, _ = make(["hey coach", "what time is lunch"], follow_up_s=5.0)
    events = run(listener, silence(0.5), tone(0.6), silence(2), tone(1.2), silence(1))
    assert kinds(events) == ["Wake", "SpeechStarted", "SpeechEnded", "Heard"]
    assert events[1].t == pytest.approx(3.1, abs=0.04)
    assert events[3].text == "what time is lunch"


def test_question_window_closes() -> None:
    listener, _ = make(["hey coach", "what time is lunch"], question_window_s=2.0, follow_up_s=10.0)
    events = run(listener, silence(0.5), tone(0.6), silence(4), tone(1.2), silence(1))
    # The late speech went to the wake spotter, which found no phrase.
    assert kinds(events) == ["Wake", "WindowClosed"] and events[1].window == "question"
    assert events[1].t == pytest.approx(1.1 + 0.5 + 2.0, abs=0.05)  # wake + hangover + window
    assert listener.state is State.ASLEEP


def test_follow_up_window_closes_after_the_answer() -> None:
    listener, _ = make(["hey coach where is hr", "what time is lunch"], question_window_s=10.0, follow_up_s=2.0)
    events = run(listener, tone(1.5), silence(1), end=False)
    listener.speaking_started()
    events += run(listener, silence(2.0), end=False)  # the kiosk answers (gate tail 0.3 s)
    listener.speaking_finished()
    events += run(listener, silence(3.0), tone(1.2), silence(1))
    assert kinds(events) == ["Wake", "SpeechStarted", "SpeechEnded", "Heard", "WindowClosed"]
    assert events[-1].window == "follow_up"
    assert events[-1].t == pytest.approx(2.5 + 2.0 + 0.3 + 2.0, abs=0.05)


def test_conversation_continues_without_wake_phrase_but_not_with_chatter() -> None:
    listener, _ = make(["hey coach where is hr", "and the canteen", "thanks"], follow_up_s=3.0)
    # Pauses longer than listen.merge_s: each utterance is a new one, not the rest of the last.
    events = run(listener, tone(1.5), silence(2.0), tone(1.0), silence(2.0), tone(0.5), silence(1))
    assert [e.text for e in events if isinstance(e, Heard)] == ["where is hr", "and the canteen"]
    # "thanks" is not a question: dismissed, and announced nowhere (no SpeechStarted for it).
    assert kinds(events)[-1] == "Dismissed" and events[-1].reason == "not_a_question"
    assert kinds(events).count("SpeechStarted") == 2


def test_a_wake_phrase_that_lost_its_soft_start_is_stripped_from_a_question() -> None:
    """Whisper on a question whose first ~0.1 s was clipped (tools/soak.py: a visitor speaking right after the
    answer) writes the phrase as these; the question must not keep it (retrieval then missed, and the form
    judgement dismissed "Eycoach, how long is the probation period." in the follow-up window)."""
    for said in ("Eycoach, how long is it?", "A-coach, how long is it?", "A coach, how long is it?",
                 "Coach, how long is it?", "coach, how long is it?", "Hey coach, how long is it?"):
        assert strip_phrase(said, "hey coach") == "how long is it?", said
    for kept in ("The coach leaves at nine.", "A coach leaves at nine, right?", "Couch, where is it?",
                 "Thanks, coach, bye", "where is the coach?", "Approach, the desk", "Approach.", "The coach."):
        assert strip_phrase(kept, "hey coach") == kept
    # Said alone (a pause after it), the clipped phrase needs no comma: seen right after an answer.
    for alone in ("A-coach", "A coach.", "Eycoach!", "Coach."):
        assert strip_phrase(alone, "hey coach") == "", alone


def test_a_follow_up_with_a_clipped_wake_phrase_is_answered() -> None:
    listener, _ = make(["hey coach where is hr", "Eycoach, how long is the probation period."], follow_up_s=5.0)
    events = run(listener, tone(1.5), silence(1), end=False)
    listener.speaking_started()
    events += run(listener, silence(2.0), end=False)  # the kiosk answers
    listener.speaking_finished()
    events += run(listener, silence(0.6), tone(2.0), silence(1))
    assert [e.text for e in events if isinstance(e, Heard)] == ["where is hr", "how long is the probation period."]
    assert "Dismissed" not in kinds(events)


def _answered(listener: Listener, first: np.ndarray) -> list:
    """A visitor asks (`first`: "hey coach ..." in one breath) and the kiosk answers for 2 s."""
    events = run(listener, first, silence(1), end=False)
    listener.speaking_started()
    events += run(listener, silence(2.0), end=False)
    listener.speaking_finished()
    return events


def test_the_wake_phrase_alone_after_an_answer_opens_the_question_window() -> None:
    """"Hey coach." - a pause - the question, right after an answer: the phrase used to be taken as a follow-up
    with no question in it, the follow-up window (2 s here) ran on and closed during the pause, and the
    question went to the wake spotter, which found no phrase in it: lost."""
    listener, _ = make(["hey coach where is hr", "Hey coach.", "what time is lunch"], follow_up_s=2.0,
                       question_window_s=5.0)
    events = _answered(listener, tone(1.5))
    events += run(listener, silence(0.6), tone(0.6), silence(1.8), tone(1.2), silence(1))
    assert kinds(events) == ["Wake", "SpeechStarted", "SpeechEnded", "Heard",
                             "Wake", "SpeechStarted", "SpeechEnded", "Heard"]
    assert [e.text for e in events if isinstance(e, Heard)] == ["where is hr", "what time is lunch"]
    assert events[4].t == pytest.approx(2.5 + 2.0 + 0.6 + 0.6, abs=0.06)  # the new wake: where "coach" ends


def test_the_next_visitor_naming_the_kiosk_in_the_follow_up_window_is_not_a_bystander() -> None:
    """A quieter voice (another visitor, further away) saying "hey coach, ..." after somebody else's answer
    is a new visitor, not chatter: before, the follow-up's bystander test dismissed it as quieter."""
    listener, _ = make(["hey coach where is hr", "hey coach where is the canteen", "and the lockers?"],
                       follow_up_s=4.0)
    events = _answered(listener, tone(1.5, level=0.5))
    events += run(listener, silence(0.5), tone(2.0, level=0.1), silence(1.0), tone(1.0, level=0.1), silence(1))
    assert [e.text for e in events if isinstance(e, Heard)] == ["where is hr", "where is the canteen",
                                                                 "and the lockers?"]
    assert kinds(events).count("Wake") == 2 and "Dismissed" not in kinds(events)
    # The new visitor's level is the reference now (their own follow-up above was taken at it).
    assert listener.addressee.reference_db == pytest.approx(level_db(tone(1.0, level=0.1).tobytes()), abs=1.5)


def test_refractory_period() -> None:
    listener, _ = make(["hey coach", "hey coach", "hey coach"], question_window_s=1.0, refractory_s=3.0)
    events = run(listener, tone(0.6), silence(0.8), tone(0.6), silence(3.5), tone(0.6), silence(1))
    assert [e.t for e in events if isinstance(e, Wake)] == [pytest.approx(0.6, abs=0.05), pytest.approx(6.1, abs=0.05)]


def test_repeated_wake_phrase_is_stripped_from_a_question() -> None:
    listener, _ = make(["hey coach", "hey coach what is the wifi password", "hey coach"])
    events = run(listener, tone(0.6), silence(1), tone(1.5), silence(1), tone(0.6), silence(1))
    assert [e.text for e in events if isinstance(e, Heard)] == ["what is the wifi password"]
    assert kinds(events).count("Heard") == 1  # "hey coach" alone in the window is not a question


def test_tap_opens_the_window_without_a_phrase() -> None:
    listener, asr = make(["where are the lockers"])
    run(listener, silence(1), end=False)
    tap = listener.wake("tap")
    assert tap == [Wake(1.0, "tap")]
    events = run(listener, silence(0.5), tone(1.0), silence(1))
    assert kinds(events) == ["SpeechStarted", "SpeechEnded", "Heard"]
    assert events[-1].text == "where are the lockers"


def test_no_wake_mode_hears_everything() -> None:
    listener, _ = make(["first question", "second question"], wake=False)
    events = run(listener, tone(1), silence(20), tone(1), silence(1))
    assert [e.text for e in events if isinstance(e, Heard)] == ["first question", "second question"]


def test_max_length_cuts_a_long_question() -> None:
    listener, _ = make(["a b c", "d e"], wake=False, max_utterance_s=3.0)
    events = run(listener, tone(4.0), silence(1))
    ends = [e for e in events if isinstance(e, SpeechEnded)]
    assert [e.reason for e in ends] == ["max_length", "silence"]


def test_gate_ignores_the_kiosk_and_its_tail_then_opens_follow_up() -> None:
    listener, asr = make(["is there parking", "ignored"], barge_in="tap", gate_tail_ms=500, follow_up_s=3.0)
    run(listener, silence(1), end=False)
    listener.speaking_started()  # at 1.0 s
    events = run(listener, tone(2.0), silence(0.2), end=False)  # the kiosk's own voice
    listener.speaking_finished()  # at 3.2 s: gated until 3.7 s
    events += run(listener, tone(0.3), silence(1.5), end=False)  # echo in the tail, then the visitor asks
    events += run(listener, tone(1.0), silence(1))
    assert kinds(events) == ["SpeechStarted", "SpeechEnded", "Heard"]
    assert events[0].t == pytest.approx(5.0, abs=0.04) and events[-1].text == "is there parking"
    # Only the visitor's question reached the ASR: 1 s, its 0.5 s hangover, 0.3 s of pre-roll.
    assert asr.fed == [pytest.approx(1.8 * SR, abs=0.05 * SR)]


def test_gate_starts_and_ends_at_given_positions() -> None:
    """Live audio lags the controls: the gate applies at the sample it names, even if already fed past."""
    listener, _ = make(["where is it"], barge_in="tap", gate_tail_ms=0, follow_up_s=10.0)
    listener.wake("api")
    listener.speaking_started(at=SR)  # 1 s, before any audio was fed
    listener.speaking_finished(at=2 * SR)
    events = run(listener, silence(1.0), tone(0.8), silence(0.5), tone(0.8), silence(1))
    assert kinds(events) == ["SpeechStarted", "SpeechEnded", "Heard"]
    assert events[0].t == pytest.approx(2.3, abs=0.04)


def test_barge_in_by_wake_phrase_while_speaking() -> None:
    listener, _ = make(["kiosk talking", "hey coach stop please"], barge_in="wake")
    listener.speaking_started(at=0)
    events = run(listener, tone(1.5), silence(1), tone(2.0), silence(1))
    assert kinds(events) == ["Wake", "SpeechStarted", "SpeechEnded", "Heard"]
    assert events[-1].text == "stop please"
    assert listener._gate is None  # barge-in lifts the gate; the loop stops playback


def test_barge_in_by_voice_with_echo_cancellation() -> None:
    listener, _ = make(["stop"], barge_in="voice")
    listener.speaking_started(at=0)
    events = run(listener, silence(0.5), tone(0.8), silence(1))
    assert kinds(events) == ["SpeechStarted", "SpeechEnded", "Heard"]


def test_voice_barge_in_needs_the_visitors_level() -> None:
    """With echo cancellation the kiosk's own voice leaves a quiet residue in the microphone: speech much
    quieter than the visitor's wake phrase does not interrupt; the visitor speaking up does."""
    listener, _ = make(["hey coach where is hr", "stop"], barge_in="voice")
    events = run(listener, tone(1.5), silence(1), end=False)  # the visitor's level: their wake phrase
    listener.speaking_started()
    events += run(listener, tone(1.0, level=0.03), silence(0.8), end=False)  # the echo's residue
    assert kinds(events) == ["Wake", "SpeechStarted", "SpeechEnded", "Heard"] and listener._gate is not None
    events = run(listener, tone(0.8), silence(1))
    assert kinds(events) == ["SpeechStarted", "SpeechEnded", "Heard"] and events[-1].text == "stop"


@pytest.mark.parametrize("mode", ["wake", "tap"])
def test_the_rest_of_a_question_after_the_answer_began_interrupts_it(mode: str) -> None:
    """"Can I put" (a hesitation) "my phone on the staff wifi": the first half ended the turn and the
    answer began; the visitor goes on within listen.merge_s. Whatever barge_in says, that is the rest of
    the question, not a new one: before, the gate swallowed it unless barge_in was "voice"."""
    listener, _ = make(["hey coach can i put", "my phone on the staff wifi"], barge_in=mode)
    events = run(listener, tone(1.5), silence(0.6), end=False)
    assert kinds(events) == ["Wake", "SpeechStarted", "SpeechEnded", "Heard"]
    listener.speaking_started()
    events = run(listener, silence(0.2), tone(1.2), silence(1))
    assert kinds(events) == ["SpeechStarted", "SpeechEnded", "Heard"]
    assert events[-1].text == "my phone on the staff wifi" and listener._gate is None


@pytest.mark.parametrize("mode", ["wake", "tap"])
def test_speech_well_after_the_question_does_not_stop_the_answer(mode: str) -> None:
    """Beyond listen.merge_s only barge_in's own rule interrupts: a bystander talking over the answer
    neither stops it nor reaches the recognizer as a question."""
    listener, _ = make(["hey coach where is hr", "and the canteen"], barge_in=mode)
    run(listener, tone(1.5), silence(0.6), end=False)
    listener.speaking_started()
    events = run(listener, tone(1.0, level=0.001), silence(1.5), tone(1.0), silence(1), end=False)
    assert kinds(events) == [] and listener._gate is not None


def test_a_visitor_speaking_up_inside_the_residue_interrupts() -> None:
    """The residue rarely pauses long enough to end its VAD segment: a visitor who starts speaking while it
    goes on interrupts as soon as the level reaches theirs, from about where they began."""
    listener, asr = make(["hey coach where is hr", "stop"], barge_in="voice")
    events = run(listener, tone(1.5), silence(1), end=False)
    listener.speaking_started()
    residue_from = listener.now
    events += run(listener, tone(1.0, level=0.03), end=False)  # the residue alone: no barge-in
    assert kinds(events) == ["Wake", "SpeechStarted", "SpeechEnded", "Heard"] and listener._gate is not None
    visitor_from = listener.now
    # No gap: the visitor's voice over the residue (the louder one dominates).
    events = run(listener, tone(0.8), silence(1))
    assert kinds(events) == ["SpeechStarted", "SpeechEnded", "Heard"] and events[-1].text == "stop"
    started = events[0].t * SR
    assert visitor_from - 0.3 * SR <= started <= visitor_from + 0.1 * SR, (started, visitor_from, residue_from)
    assert listener._gate is None


def test_speech_resuming_after_a_question_is_announced_only_at_the_visitors_level() -> None:
    """Right after a question, resumed speech makes the kiosk stop thinking at once (its continuation);
    something much quieter (the echo of the kiosk's chime, a bystander) is held back and judged first."""
    listener, _ = make(["hey coach where is hr", "mm", "and the canteen"], barge_in="voice", merge_s=1.5)
    events = run(listener, tone(1.5), silence(0.6), end=False)
    assert kinds(events) == ["Wake", "SpeechStarted", "SpeechEnded", "Heard"]
    quiet = run(listener, tone(0.5, level=0.02), silence(0.7), end=False)
    assert kinds(quiet) == ["Dismissed"] and quiet[0].reason == "quieter"
    loud = run(listener, silence(0.1), tone(0.6), silence(1))
    assert kinds(loud)[:1] == ["SpeechStarted"]


def test_announced_speech_that_comes_to_nothing_is_said_so() -> None:
    """The kiosk stops talking for announced speech; when nothing is recognized in it, it must learn that
    (and answer on) rather than wait for a question that will not come."""
    listener, _ = make(["hey coach", ""])
    events = run(listener, tone(0.6), silence(1), tone(0.8), silence(1), end=False)
    assert kinds(events) == ["Wake", "SpeechStarted", "SpeechEnded", "Dismissed"]
    assert events[-1].reason == "no_words"


class PeekingAsr(ScriptedAsr):
    """Also tells the transcript so far (the next scripted text), like Whisper's early decode."""

    def peek(self) -> str:
        return self.texts[0] if self.texts else ""


ANSWER = "Register your visitor with reception the day before."


def answering(asr: ScriptedAsr, barge_in: str, pause_s: float = 1.0) -> Listener:
    """A listener that heard "hey coach <question>" (the recognizer's first text), the visitor silent for
    `pause_s`, and the kiosk now saying ANSWER."""
    settings = dataclasses.replace(ListenSettings(), hangover_ms=500, barge_in=barge_in)
    listener = Listener(EnergyVad(), asr, TranscriptSpotter(asr, settings.wake_phrase), settings)
    run(listener, tone(1.5), silence(pause_s), end=False)
    listener.speaking_started()
    listener.saying(ANSWER)
    return listener


def test_the_kiosks_own_first_words_are_not_the_rest_of_the_question() -> None:
    """Without echo cancellation the answer's first words reach the microphone within listen.merge_s of the
    question, at the visitor's level: recognized as the kiosk's own, they do not stop it."""
    listener = answering(PeekingAsr(["hey coach where is hr", "register your visitor"]), "wake", pause_s=0.6)
    echo = run(listener, tone(1.2), silence(0.8), end=False)
    assert kinds(echo) == ["Dismissed"] and echo[0].reason == "own_voice"  # never announced: the kiosk spoke on
    assert listener._gate is not None and listener.state is State.GATED


def test_the_kiosks_own_words_at_the_visitors_level_do_not_interrupt_it() -> None:
    """The canceller's residue can be as loud as the visitor; recognized, it is the answer's own words."""
    asr = PeekingAsr(["hey coach where is hr", "register your visitor", "where do i park"])
    listener = answering(asr, "voice")
    echo = run(listener, tone(1.2), silence(0.8), end=False)
    assert kinds(echo) == [] and listener._gate is not None and listener.state is State.GATED
    asr.texts.pop(0)  # (the scripted recognizer never decoded the rejected echo to its end)
    visitor_from = listener.now
    events = run(listener, tone(1.0), silence(1), end=False)
    assert kinds(events) == ["SpeechStarted", "SpeechEnded", "Heard"] and events[-1].text == "where do i park"
    assert events[0].t == pytest.approx(visitor_from / SR, abs=0.35) and listener._gate is None


class ChangingMindAsr(PeekingAsr):
    """The early transcript is the visitor's first words; the whole utterance is drowned by the echo."""

    def peek(self) -> str:
        return "where do i" if len(self.texts) == 1 else super().peek()


def test_a_visitor_drowned_by_the_kiosks_voice_is_asked_to_go_on() -> None:
    listener = answering(ChangingMindAsr(["hey coach where is hr", "register your visitor with reception"]), "voice")
    events = run(listener, tone(1.2), silence(0.8), end=False)
    assert kinds(events) == ["SpeechStarted", "SpeechEnded", "Dismissed"] and events[-1].reason == "unclear"
    assert listener.state is State.AWAKE and listener._window == "question"


def test_the_echo_of_the_kiosks_last_words_is_not_a_follow_up() -> None:
    """Right after the kiosk stops, the canceller's tail still holds its last words: not a question."""
    settings = dataclasses.replace(ListenSettings(), hangover_ms=500, barge_in="voice")
    asr = PeekingAsr(["hey coach where is hr", "with no exceptions", "and on weekends"])
    listener = Listener(EnergyVad(), asr, TranscriptSpotter(asr, settings.wake_phrase), settings)
    run(listener, tone(1.5), silence(1), end=False)
    listener.speaking_started()
    listener.saying("Hard hats are required in every work area, with no exceptions.")
    run(listener, silence(1.0), end=False)
    listener.speaking_finished()
    tail = run(listener, silence(0.3), tone(0.8), silence(1), end=False)
    assert kinds(tail) == ["Dismissed"] and tail[0].reason == "own_voice"
    later = run(listener, tone(0.8), silence(1))  # the visitor's own follow-up is still taken
    assert kinds(later) == ["SpeechStarted", "SpeechEnded", "Heard"]


def test_tap_barges_in() -> None:
    listener, _ = make(["which floor is it on"], barge_in="tap")
    listener.speaking_started(at=0)
    run(listener, tone(1.0), end=False)
    assert listener.wake("tap")[0].source == "tap"
    events = run(listener, silence(0.6), tone(1.0), silence(1))
    assert events[-1].text == "which floor is it on"


@pytest.mark.parametrize("chunk", [160, 777, 16000])
def test_events_do_not_depend_on_chunk_size(chunk: int) -> None:
    texts = ["hey coach", "question one", "hey coach and two"]
    parts = (silence(0.3), tone(0.6), silence(1), tone(1.3), silence(9), tone(2.2), silence(1))
    reference = run(make(texts, follow_up_s=5.0)[0], *parts)
    assert kinds(reference) == ["Wake", "SpeechStarted", "SpeechEnded", "Heard", "WindowClosed"] + [
        "Wake", "SpeechStarted", "SpeechEnded", "Heard"]
    assert run(make(texts, follow_up_s=5.0)[0], *parts, chunk=chunk) == reference


def test_preroll_reaches_the_recognizer() -> None:
    settings = dataclasses.replace(ListenSettings(), preroll_ms=300, hangover_ms=500)
    asr = ScriptedAsr(["q"])
    listener = Listener(EnergyVad(), asr, None, settings)
    events = run(listener, silence(1), tone(1), silence(1))
    assert isinstance(events[0], SpeechStarted) and events[0].t == pytest.approx(1.0, abs=0.04)
    # 1 s of speech + its hangover + the 0.3 s before the detected start.
    assert asr.fed[0] / SR == pytest.approx(1.0 + 0.5 + 0.3, abs=0.1)


def test_preroll_never_reaches_into_the_kiosks_voice() -> None:
    settings = dataclasses.replace(ListenSettings(), preroll_ms=300, gate_tail_ms=0, barge_in="tap", hangover_ms=500)
    asr = ScriptedAsr(["q"])
    listener = Listener(EnergyVad(), asr, None, settings)
    listener.speaking_started(at=0)
    listener.speaking_finished(at=SR)  # the gate ends at 1.0 s, right where the visitor starts
    events = run(listener, tone(1.0, level=0.5), tone(1.0), silence(1))
    assert kinds(events) == ["SpeechStarted", "SpeechEnded", "Heard"]
    assert asr.fed[0] / SR == pytest.approx(1.0 + 0.5, abs=0.1)  # no pre-roll from before 1.0 s


def test_listen_json_lines() -> None:
    from kiosk.cli.listen import event_json

    assert event_json(Wake(1.23456, "voice", "hey coach")) == {
        "event": "wake", "t": 1.235, "source": "voice", "heard": "hey coach"}
    assert event_json(SpeechEnded(2.0, "max_length")) == {"event": "speech_end", "t": 2.0, "reason": "max_length"}
    row = event_json(Heard(3.0, "hi", "whisper", (Word("hi", 0.0, 0.25),)))
    assert row == {"event": "transcript", "t": 3.0, "text": "hi", "engine": "whisper",
                   "words": [{"word": "hi", "start_s": 0.0, "end_s": 0.25}]}


def test_live_worker_survives_a_recognizer_failure_and_relays_microphone_status() -> None:
    from kiosk.events import MicrophoneStatus
    from kiosk.listen.live import LiveListener

    class FlakyAsr(ScriptedAsr):
        def finish(self) -> Transcript:
            if not self.fed:
                self.fed.append(0)
                raise RuntimeError("decoder crashed")
            return super().finish()

    asr = FlakyAsr(["second question"])
    got: list = []
    live = LiveListener(Listener(EnergyVad(), asr, None, ListenSettings()), "no-such-device", got.append)
    utterance = np.concatenate([tone(1.0), silence(1.0)]).tobytes()
    live._on_status("lost", "USB microphone unplugged")
    live._on_frames(utterance, 0)  # this utterance's decode fails: logged, dropped
    live._on_frames(utterance, 0)
    live._queue.put(None)
    live._work()  # runs the worker loop on this thread until the sentinel
    assert got[0] == MicrophoneStatus("lost", "USB microphone unplugged")
    assert [e.text for e in got if isinstance(e, Heard)] == ["second question"]


def test_live_questions_say_how_long_after_the_last_word_they_came() -> None:
    from kiosk.listen.live import LiveListener

    got: list = []
    live = LiveListener(Listener(EnergyVad(), ScriptedAsr(["where is hr"]), None, ListenSettings()),
                        "no-such-device", got.append)
    speech, pause = tone(1.0).tobytes(), silence(1.5).tobytes()
    step = 2 * 512
    audio = speech + pause
    arrived = time.monotonic() - 0.3  # the microphone delivered it all 0.3 s ago: the listener is behind
    for off in range(0, len(audio), step):
        live._queue.put(("pcm", audio[off:off + step], arrived))
    live._queue.put(None)
    live._work()
    heard = [e for e in got if isinstance(e, Heard)]
    assert len(heard) == 1 and heard[0].end_to_heard_ms is not None
    assert 300 <= heard[0].end_to_heard_ms < 2000  # from when the last word arrived, lag included


class EarlyAsr(ScriptedAsr):
    """A batch recognizer with early decoding, like WhisperEngine: finish() returns the early decode's
    result (its audio ends where the pause began) unless speech resumed and discarded it."""

    def __init__(self, texts: list[str]) -> None:
        super().__init__(texts)
        self.calls: list[tuple[str, int]] = []
        self._early: bytes | None = None

    def decode_early(self) -> None:
        self.calls.append(("early", len(self._pcm) // 2))
        self._early = bytes(self._pcm)

    def discard_early(self) -> None:
        self.calls.append(("discard", len(self._pcm) // 2))
        self._early = None

    def finish(self) -> Transcript:
        if self._early is not None:
            self._pcm, self._early = bytearray(self._early), None
        return super().finish()


def test_early_decode_starts_in_a_pause_and_is_dropped_when_speech_resumes() -> None:
    settings = dataclasses.replace(ListenSettings(), early_decode_ms=120, preroll_ms=0, hangover_ms=500)
    asr = EarlyAsr(["where is the lobby"])
    listener = Listener(EnergyVad(), asr, None, settings)
    # 1 s of speech, a 0.3 s pause (shorter than the hangover), 0.8 s more, then quiet.
    events = run(listener, silence(0.5), tone(1.0), silence(0.3), tone(0.8), silence(1.5))
    assert kinds(events) == ["SpeechStarted", "SpeechEnded", "Heard"]
    assert [c[0] for c in asr.calls] == ["early", "discard", "early"]
    # Both early decodes began ~120 ms into a pause (the second 0.3 + 0.8 s after the first); the second
    # is what finish() used: the utterance up to ~120 ms after it ended, not through the 500 ms hangover.
    assert (asr.calls[2][1] - asr.calls[0][1]) / SR == pytest.approx(0.3 + 0.8, abs=0.07)
    assert asr.fed == [asr.calls[2][1]]
    plain = ScriptedAsr(["where is the lobby"])
    run(Listener(EnergyVad(), plain, None, dataclasses.replace(settings, early_decode_ms=500)),
        silence(0.5), tone(1.0), silence(0.3), tone(0.8), silence(1.5))
    assert (plain.fed[0] - asr.fed[0]) / SR == pytest.approx(0.5 - 0.12, abs=0.07)
    assert events[-1].text == "where is the lobby" and events[-1].recognition_ms is not None


@pytest.mark.parametrize("early_ms", [120, 500])
def test_early_decoding_changes_no_event(early_ms: int) -> None:
    """Early decoding only moves work earlier: the events are those of a listener without it (500 ms =
    the hangover: off)."""
    texts = ["hey coach", "question one", "hey coach and two"]
    parts = (silence(0.3), tone(0.6), silence(1), tone(1.3), silence(0.25), tone(0.5), silence(9), tone(2.2),
             silence(1))
    reference = run(make(texts, follow_up_s=5.0, early_decode_ms=500)[0], *parts)
    settings = dataclasses.replace(ListenSettings(), follow_up_s=5.0, early_decode_ms=early_ms, hangover_ms=500)
    asr = EarlyAsr(texts)
    listener = Listener(EnergyVad(), asr, TranscriptSpotter(asr, settings.wake_phrase), settings)
    assert run(listener, *parts) == reference
    assert bool(asr.calls) == (early_ms < 500)


class SecondOpinionAsr(ScriptedAsr):
    """A quick first decode that can lose the phrase's soft start, and a full-window second opinion."""

    def __init__(self, texts: list[str], full: list[str]) -> None:
        super().__init__(texts)
        self.full = list(full)
        self.asked = 0

    def finish_again_full(self) -> Transcript | None:
        self.asked += 1
        self.texts.insert(0, self.full.pop(0))
        self._pcm = bytearray(self._last)
        return super().finish()

    def finish(self) -> Transcript:
        self._last = bytes(self._pcm)
        return super().finish()


@pytest.mark.parametrize(("quick", "full", "asked", "woken"), [
    ("A coach, where is the lobby", "Hey coach, where is the lobby", 1, True),  # the soft "hey" lost
    ("The coach leaves at nine", "The coach leaves at nine", 1, False),  # a near miss stays one
    ("Good morning everyone", "", 0, False),  # nothing like the phrase: no second decode
    ("Hey coach, where is the lobby", "", 0, True),  # found at once
])
def test_a_doubtful_wake_gets_a_second_opinion(quick: str, full: str, asked: int, woken: bool) -> None:
    settings = dataclasses.replace(ListenSettings(), hangover_ms=500)
    asr = SecondOpinionAsr([quick], [full])
    listener = Listener(EnergyVad(), asr, TranscriptSpotter(asr, settings.wake_phrase), settings)
    events = run(listener, silence(0.5), tone(2.0), silence(1.0))
    assert asr.asked == asked
    assert kinds(events) == (["Wake", "SpeechStarted", "SpeechEnded", "Heard"] if woken else [])
    if woken:
        assert events[-1].text == "where is the lobby"


def test_a_quiz_question_primes_recognition_instead_of_the_documents() -> None:
    asr = ScriptedAsr(["one hour"])
    asr.prompt = "Halvorsen B-214 canteen"  # type: ignore[attr-defined]  # like WhisperEngine's
    listener = Listener(EnergyVad(), asr, None, ListenSettings())
    listener.expect("How long does the fire watch stay after hot work ends?")
    assert asr.prompt == "How long does the fire watch stay after hot work ends?"
    listener.expect("A battery starts smoking. Which extension do you call?")
    listener.expect("")
    assert asr.prompt == "Halvorsen B-214 canteen"
    Listener(EnergyVad(), ScriptedAsr([]), None, ListenSettings()).expect("no prompt to replace: ignored")
