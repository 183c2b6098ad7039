"""The listening state machine: 16 kHz audio in; wake, speech and transcript events out.

    ASLEEP     each VAD segment goes to the wake spotter; nothing else is heard.
    AWAKE      a window is open: the *question* window after a wake or tap (`question_window_s`), or
               the *follow-up* window after the kiosk's answer (`follow_up_s`, short). Speech that
               starts in it is a question if it seems addressed to the kiosk (kiosk.listen.addressee);
               chatter is dismissed and does not extend the window. When the window passes, back to
               ASLEEP with a WindowClosed event (never, when no wake phrase is needed).
    CAPTURING  a question is being recognized. It ends after a short silence when the transcript so
               far reads as complete, after a longer one when it does not (kiosk.listen.turn_end).
    GATED      half-duplex: the kiosk is speaking. Audio is ignored, except that the wake phrase
               (barge_in = "wake") or a visitor's speech (barge_in = "voice", with echo cancellation; told
               from the kiosk's own echo by kiosk.listen.barge_in) interrupts.
               Speech that began before the kiosk started speaking is never cut: it is heard to its end
               (the kiosk stops talking when it learns of it).

One module on purpose: the transitions above share the audio history, the endpointer and the windows, and are
read together; the judgements live beside it (addressee, barge_in, turn_end, wake). Everything is counted in
samples, never in wall-clock time, so a file and a live microphone give the
same events. Event times (`t`) are stream positions in seconds. Not thread-safe: one thread calls
feed / wake / speaking_started / speaking_finished (kiosk.listen.live queues them for the microphone).
"""

from __future__ import annotations

import enum
import logging
import time

import numpy as np

from kiosk.config import ListenSettings
from kiosk.events import (
    Dismissed,
    DismissReason,
    EndReason,
    Heard,
    HeardPartial,
    ListenEvent,
    SpeechEnded,
    SpeechStarted,
    Wake,
    WakeSource,
    Window,
    WindowClosed,
)
from kiosk.listen.addressee import Addressee, AddresseeSettings, LevelMeter, level_db
from kiosk.listen.asr import SAMPLE_RATE, AsrEngine, Transcript, Word
from kiosk.listen.barge_in import BargeInJudge, Verdict
from kiosk.listen.endpoint import Endpointer, EndpointSettings, SpeechEnd, SpeechStart
from kiosk.listen.speaker import SpeakerEmbedder
from kiosk.listen.turn_end import sounds_complete
from kiosk.listen.vad import Vad
from kiosk.listen.wake import WakeHit, WakeSpotter, leading_phrase, strip_phrase

log = logging.getLogger(__name__)


class State(enum.Enum):
    ASLEEP = "asleep"
    AWAKE = "awake"
    CAPTURING = "capturing"
    GATED = "gated"


def endpoint_settings(listen: ListenSettings) -> EndpointSettings:
    return EndpointSettings(
        start_threshold=listen.vad_threshold, end_threshold=max(0.05, listen.vad_threshold - 0.15),
        min_speech_ms=listen.min_speech_ms, hangover_ms=listen.hangover_ms,
        max_utterance_ms=int(listen.max_utterance_s * 1000), preroll_ms=listen.preroll_ms, sample_rate=SAMPLE_RATE)


def _t(sample: int) -> float:
    return sample / SAMPLE_RATE


def _ms(ms: float) -> int:
    return int(ms * SAMPLE_RATE / 1000)


QUESTION, FOLLOW_UP = Window.QUESTION, Window.FOLLOW_UP


def addressee_settings(listen: ListenSettings) -> AddresseeSettings:
    return AddresseeSettings(level_margin_db=listen.bystander_level_db, require_form=listen.follow_up_form,
                             min_similarity=listen.speaker_similarity or None)


class Listener:
    def __init__(self, vad: Vad, asr: AsrEngine, spotter: WakeSpotter | None,
                 settings: ListenSettings | None = None, speaker: SpeakerEmbedder | None = None) -> None:
        """`spotter` None: no wake phrase needed, every utterance is a question. `speaker`: voices are
        compared in the follow-up window (kiosk.listen.speaker), when the model is installed."""
        self.vad, self.asr, self.spotter, self.speaker = vad, asr, spotter, speaker
        self.settings = s = settings or ListenSettings()
        self.endpoint = Endpointer(endpoint_settings(s))
        self.addressee = Addressee(addressee_settings(s))
        self._frame_samples = vad.frame_samples
        self._windows = {QUESTION: _ms(s.question_window_s * 1000), FOLLOW_UP: _ms(s.follow_up_s * 1000)}
        self._window = QUESTION
        self._complete_after = _ms(s.hangover_complete_ms) if s.hangover_complete_ms < s.hangover_ms else None
        self._checked = False  # the current pause has been judged complete or not
        self._merge = _ms(s.merge_s * 1000)
        self._last_question_end: int | None = None
        self._announced = True  # the current capture's SpeechStarted went out (held back in follow-ups)
        self._barged = False  # the current capture interrupted the kiosk (voice barge-in)
        # Voice barge-in: a segment taken for the kiosk's own (echo-cancelled) voice at its start, from
        # this sample; its level is watched on, since a visitor may start speaking inside it.
        self._residue: int | None = None
        self._judge = BargeInJudge(self.addressee, SAMPLE_RATE)
        self.own = self._judge.own  # what the kiosk says in its current answer
        self._documents_prompt: str | None = None  # the recognizer's own prompt while `expect` replaces it
        self._confirm_at: int | None = 0  # None: a barge-in judged at its end (_rest_of_question)
        self._spoke_until: int | None = None  # where the kiosk last stopped speaking (its echo may go on)
        self._gate_window = FOLLOW_UP  # the window that opens when the kiosk stops speaking
        self._meter = LevelMeter()
        self._refractory = _ms(s.refractory_s * 1000)
        self._tail = _ms(s.gate_tail_ms)
        self._early_after = _ms(s.early_decode_ms) if s.early_decode_ms < s.hangover_ms else None
        self._early = False  # an early decode of the current utterance is under way
        # Recognizers get `preroll_ms` of audio before the detected start too: VAD onsets land after soft
        # consonants ("h" of "hey"), and Whisper drops a first word that starts right at the cut.
        self._lead = _ms(s.preroll_ms)
        self._keep = _ms(2 * s.preroll_ms + s.min_speech_ms) + 2 * self._frame_samples
        self._pending = bytearray()  # < one VAD frame of audio not yet processed
        self._history = bytearray()  # recent audio; _hist_start is the sample index of its first byte
        self._hist_start = 0
        self.state = State.ASLEEP if spotter else State.AWAKE
        self._mode: str | None = None  # "spot" | "capture": who gets the audio of the current utterance
        self._start = 0  # sample where the current segment (spot) or question (capture) began
        self._fed_from = 0  # sample where the audio given to the spotter / recognizer begins
        self._open_from = 0  # where the last gate ended: the pre-roll never reaches into the kiosk's voice
        self._deadline: int | None = None  # AWAKE: speech must start by this sample
        self._last_wake: int | None = None
        self._gate: tuple[int, int | None] | None = None  # (start, end incl. tail) while the kiosk speaks

    @property
    def position(self) -> int:
        """Samples processed so far."""
        return self.endpoint.position

    @property
    def now(self) -> int:
        """Samples received so far (including a partial frame not yet processed)."""
        return self.endpoint.position + len(self._pending) // 2

    # -- inputs ------------------------------------------------------------------------------------------

    def feed(self, pcm: bytes) -> list[ListenEvent]:
        self._pending += pcm
        step = 2 * self._frame_samples
        events: list[ListenEvent] = []
        while len(self._pending) >= step:
            frame = bytes(self._pending[:step])
            del self._pending[:step]
            events += self._step(frame)
        return events

    def flush(self) -> list[ListenEvent]:
        """End of input: the last partial frame, then an utterance still open ends (reason end_of_input)."""
        events: list[ListenEvent] = []
        if self._pending:
            events += self.feed(b"\0" * (2 * self._frame_samples - len(self._pending)))
        for ev in self.endpoint.flush():
            if isinstance(ev, SpeechEnd):
                events += self._on_end(ev.sample, EndReason.END_OF_INPUT)
        return events

    def wake(self, source: WakeSource | str = WakeSource.TAP, at: int | None = None) -> list[ListenEvent]:
        """Push-to-talk (tap, key, API): always works, also as barge-in while the kiosk speaks."""
        at = self.now if at is None else at
        if self.state is State.CAPTURING:
            return []  # already taking a question
        events: list[ListenEvent] = [Wake(_t(at), WakeSource(source))]
        self._gate = None
        self.addressee.forget()  # whoever tapped: their voice is learnt from their question
        if self._mode == "spot":  # the visitor is mid-sentence: what follows the tap is the question
            self._mode = None  # the spotter's audio is dropped by its next start()
            return events + self._begin_capture(max(at, self._start))
        self._await_question(at, QUESTION)
        return events

    def speaking_started(self, at: int | None = None) -> None:
        """The kiosk starts speaking (sample position in the microphone stream); half-duplex gate opens there."""
        self._gate = (self.now if at is None else at, None)
        self.own.reset()

    def saying(self, text: str) -> None:
        """What the kiosk is saying (each sentence as it is played): its echo is not a visitor."""
        self.own.add(text)

    def expect(self, context: str) -> None:
        """What the visitor's next words answer (a quiz question), to prime the recognizer with instead of the
        documents' vocabulary, which makes Whisper repeat itself on a two-word answer ("extension, free-fifted,
        extension, ..."; docs/benchmarks.md, "Answers to a quiz"); "" goes back to the documents'."""
        if not hasattr(self.asr, "prompt"):
            return  # Vosk and the test engines are not primed
        if self._documents_prompt is None:
            self._documents_prompt = self.asr.prompt
        self.asr.prompt = context or self._documents_prompt

    def speaking_finished(self, at: int | None = None, window: str = FOLLOW_UP) -> None:
        """`window`: what opens when the gate ends; `question` after a greeting or prompt (the visitor
        has not asked yet), `follow_up` after an answer."""
        self._gate_window = Window(window)
        if self._gate is not None:
            self._gate = (self._gate[0], (self.now if at is None else at) + self._tail)

    # -- per frame ---------------------------------------------------------------------------------------

    def _step(self, frame: bytes) -> list[ListenEvent]:
        begin = self.position
        self._remember(frame)
        events: list[ListenEvent] = []
        if self._gated(begin) and not self._before_gate():
            if self.state is not State.GATED:
                self._abandon()
                self.state = State.GATED
            if self.settings.barge_in == "tap" and not self._continues(begin):  # nothing to hear: no VAD
                self.endpoint.process(self._frame_samples, 0.0)
                return events
        elif self.state is State.GATED:
            end = self._gate[1] if self._gate and self._gate[1] is not None else begin
            self._gate, self._spoke_until = None, end
            self._open_from = begin
            self._last_question_end = None  # the kiosk has answered: nothing left to continue
            self.vad.reset()
            self.endpoint.cancel()
            self._await_question(end, self._gate_window)
        prob = self.vad.prob(np.frombuffer(frame, dtype=np.int16))
        if self._mode is not None and prob >= self.settings.vad_threshold:
            self._meter.add(frame)
        fed = False
        for ev in self.endpoint.process(self._frame_samples, prob):
            if isinstance(ev, SpeechStart):
                events += self._on_start(ev.sample)
                fed = True  # the start slice includes this frame
            else:
                if not fed:
                    events += self._feed_active(frame)
                    fed = True
                events += self._on_end(ev.sample, EndReason(ev.reason))  # the endpointer's reasons are strings
        if not fed and self._mode is not None:
            events += self._feed_active(frame)
        if self._residue is not None:
            events += self._watch_residue(prob, self._residue)
        if self._mode == "capture" and self._barged and not self._announced and self._confirm_at is not None:
            events += self._confirm_barge_in()
        if self._mode is not None and self._early_after is not None:
            self._decode_early(self._early_after)
        if self._mode is not None:
            events += self._end_if_complete()
        if (self.state is State.AWAKE and self._deadline is not None and self.position >= self._deadline
                and self.endpoint.idle):
            log.debug("%s window closed at %.2f s", self._window, _t(self.position))
            self.state, self._deadline = State.ASLEEP, None
            events.append(WindowClosed(_t(self.position), self._window))
        return events

    def _end_if_complete(self) -> list[ListenEvent]:
        """Adaptive end of turn: at `hangover_complete_ms` into a pause, the transcript so far decides
        whether the visitor has finished (end now) or is thinking mid-sentence (wait for the full
        hangover). Decided at a sample position, so files and the microphone agree."""
        quiet = self.endpoint.quiet_samples
        if quiet == 0:
            self._checked = False
            return []
        if self._checked or self._complete_after is None or quiet < self._complete_after:
            return []
        self._checked = True
        target = self.spotter if self._mode == "spot" else self.asr
        peek = getattr(target, "peek", None)
        text = peek() if peek is not None else None
        if peek is not None and hasattr(target, "discard_early"):
            self._early = True  # peeking may have started the early decode: drop it if speech resumes
        if text is None or not sounds_complete(text, punctuated=getattr(target, "punctuates", True)):
            log.debug("pause after %r: waiting for more", text)
            return []
        events: list[ListenEvent] = []
        for ev in self.endpoint.end_now():
            events += self._on_end(ev.sample, EndReason.SILENCE)
        return events

    def _before_gate(self) -> bool:
        """The utterance under way (or about to be confirmed) began before the kiosk started speaking:
        the visitor was already talking, so the gate must not swallow it."""
        if self._gate is None or self.state is State.ASLEEP or self.state is State.GATED:
            return False
        if self._mode == "capture" and self._barged:
            return True  # a voice barge-in being confirmed: the gate lifts if it is the visitor
        # The whole first frame before the gate: a frame that straddles it may hold the kiosk's voice.
        start = self._gate[0] - self._frame_samples
        if self._mode == "capture":
            return self._start < start
        pending = self.endpoint.pending_start
        # Not the visitor if much quieter than them: the echo of the kiosk's chime running into its answer.
        return (self.state is State.AWAKE and pending is not None and pending < start
                and not self._judge.quieter_than_visitor(self._since(pending)))

    def _decode_early(self, early_after: int) -> None:
        """A pause of `early_decode_ms` (`early_after` samples): the recognizer may start on the audio so far
        (the hangover then overlaps the decode); speech resuming throws that decode away."""
        quiet = self.endpoint.quiet_samples
        target = self._spotting() if self._mode == "spot" else self.asr
        if not self._early and quiet >= early_after:
            if hasattr(target, "decode_early"):
                target.decode_early()
                self._early = True
        elif self._early and quiet == 0:
            if not hasattr(target, "discard_early"):  # _early is only set for engines that decode early
                raise TypeError(f"{type(target).__name__} has no early decode to discard")
            target.discard_early()
            self._early = False

    def _spotting(self) -> WakeSpotter:
        """The wake spotter, which has the audio while the mode is "spot" (only set when there is one)."""
        if self.spotter is None:
            raise RuntimeError("spotting for a wake phrase without a wake spotter")
        return self.spotter

    def _gated(self, sample: int) -> bool:
        if self._gate is None:
            return False
        start, end = self._gate
        return sample >= start and (end is None or sample < end)

    def _on_start(self, sample: int) -> list[ListenEvent]:
        self._early = self._checked = False
        self._meter.reset()
        continues = self.state is State.GATED and self.settings.barge_in != "voice" and self._continues(sample)
        listens_for_wake = self.state is State.ASLEEP or (
            self.state is State.GATED and self.settings.barge_in == "wake" and not continues)
        if listens_for_wake and self.spotter is not None:
            self._mode, self._start = "spot", sample
            self.spotter.start()
            hit = self.spotter.feed(self._lead_in(sample))
            return self._on_hit(hit, None) if hit else []
        if self.state is State.AWAKE:
            # A follow-up is announced only once it is taken (bystanders are shown nothing); speech
            # resuming right after a question may be its continuation, and the kiosk must know at once,
            # unless it is much quieter than the visitor (the echo of the kiosk's chime, a bystander).
            resumed = self._continues(sample) and not self._judge.quieter_than_visitor(self._since(sample))
            announce = self._window == QUESTION or resumed or self.spotter is None
            return self._begin_capture(sample, lead_in=True, announce=announce)
        if continues:
            return self._rest_of_question(sample)
        if self.state is State.GATED and self.settings.barge_in == "voice":
            if self._judge.quieter_than_visitor(self._since(sample)):
                # What is left of the kiosk's own voice after echo cancellation, or a bystander: the
                # kiosk goes on speaking (a visitor interrupting speaks up, at their own level).
                self._residue = sample
                self._log_level(sample, "not a barge-in")
                return []
            self._log_level(sample, "barge-in")
            return self._barge_in(sample)
        return []

    def _rest_of_question(self, sample: int) -> list[ListenEvent]:
        """Speech within `merge_s` of a question while the kiosk has begun to answer it: after a hesitation
        the visitor goes on ("can I put ..." / "my phone on the staff wifi"). Whatever barge_in says it is
        heard to its end, unannounced (the kiosk speaks on), and taken only if it is not the kiosk's own
        words: without echo cancellation the answer's first words reach the microphone at the visitor's
        level, and a whole utterance tells them apart far better than its first half second."""
        if self._judge.quieter_than_visitor(self._since(sample)):
            return []  # the canceller's residue, a bystander
        self._log_level(sample, "maybe the rest of the question")
        events = self._begin_capture(sample, lead_in=True, announce=False)
        self._barged, self._confirm_at = True, None
        return events

    def _barge_in(self, sample: int) -> list[ListenEvent]:
        """Voice barge-in, from `sample`: the visitor's words ("wait", "stop"), in any form. Announced (the
        kiosk stops) once the first BARGE_IN_CONFIRM_MS are recognized as not the kiosk's own words."""
        self._residue = None
        events = self._begin_capture(sample, lead_in=True, announce=False)
        self._barged, self._confirm_at = True, self.position + self._judge.confirm_after
        return events

    def _confirm_barge_in(self) -> list[ListenEvent]:
        if self._confirm_at is None or self.position < self._confirm_at:
            return []
        text = None
        verdict = self._judge.confirm(self._meter.db, None)  # the level first: no decode for a burst
        if verdict is Verdict.VISITOR and hasattr(self.asr, "peek"):
            text = self.asr.peek()
            if hasattr(self.asr, "discard_early"):
                if self.endpoint.quiet_samples == 0:
                    self.asr.discard_early()  # the visitor goes on: decoded again at the end
                else:
                    self._early = True  # kept if nothing more is said (see _decode_early)
            verdict = self._judge.confirm(self._meter.db, text)
        if verdict is Verdict.WAIT:
            self._confirm_at = self.position + self._judge.confirm_after // 2
            return []
        if verdict is Verdict.OWN:
            log.info("speech at %.2f s while the kiosk speaks is its own words: not a barge-in", _t(self._start))
            log.debug("own words: %r", text)
            self._mode, self._early, self._barged = None, False, False
            self.state, self._residue = State.GATED, self.position  # a visitor may still speak up in it
            return []
        log.debug("speech at %.2f s while the kiosk speaks: %r is not its own words", _t(self._start), text)
        self._gate, self._announced, self._spoke_until = None, True, self.position
        return [SpeechStarted(_t(self._start))]

    def _watch_residue(self, prob: float, residue: int) -> list[ListenEvent]:
        """The kiosk's residue (or a bystander) rarely pauses long enough for the VAD to end its segment
        before a visitor speaks up, so the level is judged on, over the latest LEVEL_WINDOW_MS: once it
        reaches the visitor's, the visitor is interrupting, from the start of that window. `residue`: where
        the segment taken for the kiosk's own voice began (self._residue)."""
        if self.state is not State.GATED or self._mode is not None or self.endpoint.idle:
            self._residue = None
            return []
        if prob < self.settings.vad_threshold:
            return []
        start = max(residue, self.position - self._judge.window)
        if self._judge.quieter_than_visitor(self._since(start)):
            return []
        self._log_level(start, "rose to the visitor's level: barge-in")
        self._meter.reset()
        return self._barge_in(start)

    def _log_level(self, start: int, what: str) -> None:
        log.debug("speech at %.2f s while the kiosk speaks, %s: %.1f dB, the visitor %s dB", _t(start), what,
                  level_db(self._since(start)), self.addressee.reference_db)

    def _on_end(self, sample: int, reason: EndReason) -> list[ListenEvent]:
        mode, self._mode, self._early = self._mode, None, False
        started = time.perf_counter()
        if mode == "spot":
            hit = self._spotting().finish()
            return self._on_hit(hit, sample, reason, started) if hit else []
        if mode != "capture":
            return []
        ended = SpeechEnded(_t(sample), reason)
        events: list[ListenEvent] = [ended] if self._announced else []
        # Announced speech that comes to nothing is said so: the kiosk may have stopped talking for it.
        nothing = [Dismissed(_t(sample), DismissReason.NO_WORDS)] if self._announced else []
        try:
            result = self.asr.finish()
        except Exception:  # noqa: BLE001 - a failed decode loses one question, never the listener
            log.exception("speech recognition failed; the visitor can ask again")
            self._resume_window()
            return events + nothing
        lead_s = (self._start - self._fed_from) / SAMPLE_RATE
        resumed = self._continues(self._start)
        follow_up = self._window == FOLLOW_UP and not resumed and not self._barged
        if follow_up and self.spotter is not None:
            # "Hey coach, ..." right after an answer is a wake, not a follow-up to judge: it may be the next
            # visitor (another voice, another level), or this one pausing after the phrase.
            hit = leading_phrase(result, self.settings.wake_phrase, self.settings.wake_sensitivity,
                                 getattr(self.spotter, "sound", None), lead_s)
            woken = self._on_hit(hit, sample, reason, started) if hit is not None else []
            if woken:
                return woken
        heard = self._question(result, lead_s, started)
        if heard is None:
            self._resume_window()
            return events + nothing
        voice = self._voice() if follow_up else None
        judged = self.addressee.judge(heard.text, self._meter.db, follow_up=follow_up, voice=voice)
        why = None if judged is None else DismissReason(judged)
        # Overlapping the kiosk's voice or right after it (the canceller's tail, the buffered last words).
        near = self._spoke_until is not None and self._start <= self._spoke_until + self._merge
        if (self._barged or near) and self.own.echoes(heard.text):
            # A barge-in the kiosk stopped for (at the visitor's level, not its words at first) that then
            # reads as its own words: the visitor spoke over it and was drowned; they are asked to go on.
            why = DismissReason.UNCLEAR if self._barged and self._announced else DismissReason.OWN_VOICE
        if why is not None and (self.spotter is not None or why in (DismissReason.OWN_VOICE, DismissReason.UNCLEAR)):
            log.info("utterance at %.2f s dismissed (%s)", _t(self._start), why)
            log.debug("dismissed: %r", heard.text)
            if why is DismissReason.UNCLEAR:
                self._await_question(self.position, QUESTION)
            elif self._barged and self._gate is not None:
                self.state = State.GATED  # still speaking, or the gate's end is handled at the next frame
            else:
                self._resume_window()
            return events + [Dismissed(_t(sample), why, heard.text)]
        if not self._announced:
            events = [SpeechStarted(_t(self._start)), ended]
            if self._barged:
                self._gate, self._spoke_until = None, self.position  # the kiosk stops for it
        if voice is None and self.addressee.voice is None:  # after a tap: the first question is the reference
            voice = self._voice()
        self.addressee.learn(self._meter.db, voice)
        self._last_question_end = sample
        self._await_question(self.position, FOLLOW_UP)  # a conversation: the next one needs no wake phrase
        return events + [heard]

    def _feed_active(self, frame: bytes) -> list[ListenEvent]:
        if self._mode == "spot":
            hit = self._spotting().feed(frame)
            return self._on_hit(hit, None) if hit else []
        if self._mode == "capture":
            partial = self.asr.feed(frame)
            if self._announced and partial is not None and partial.text:
                return [HeardPartial(_t(self.position), partial.text)]
        return []

    def _on_hit(self, hit: WakeHit, segment_end: int | None, reason: EndReason = EndReason.SILENCE,
                ended: float | None = None) -> list[ListenEvent]:
        """A wake phrase in the current segment; `segment_end` None while the segment is still going."""
        at = self._fed_from + int(hit.end_s * SAMPLE_RATE)
        if self._last_wake is not None and at - self._last_wake < self._refractory:
            log.info("wake %r at %.2f s ignored (refractory)", hit.heard, _t(at))
            return []
        self._last_wake, self._gate = at, None
        self.addressee.forget()  # a wake starts a visitor: their level and voice are their wake phrase's
        self.addressee.learn(self._meter.db, self._voice())
        events: list[ListenEvent] = [Wake(_t(at), WakeSource.VOICE, hit.heard)]
        if segment_end is None:  # streaming spotter, mid-utterance: the rest streams into the recognizer
            self._mode = None
            self._window = QUESTION
            return events + self._begin_capture(at)
        rest = hit.rest
        heard = self._question(rest, 0.0, ended) if rest is not None and rest.text else None
        if heard is not None:  # "hey coach where is ..." in one breath: the spotter's decode has it all
            events += [SpeechStarted(_t(at)), SpeechEnded(_t(segment_end), reason), heard]
            self._last_question_end = segment_end
            self._await_question(self.position, FOLLOW_UP)
        else:
            self._await_question(self.position, QUESTION)
        return events

    def _begin_capture(self, sample: int, lead_in: bool = False, announce: bool = True) -> list[ListenEvent]:
        """`lead_in`: at a detected speech start (not right after a wake phrase, which must stay out).
        `announce` False: SpeechStarted and partials wait until the utterance is known to be a question."""
        self.state, self._mode, self._start, self._early = State.CAPTURING, "capture", sample, False
        self._announced, self._barged = announce, False
        self.asr.start()
        events: list[ListenEvent] = [SpeechStarted(_t(sample))] if announce else []
        partial = self.asr.feed(self._lead_in(sample) if lead_in else self._audio(sample))
        if announce and partial is not None and partial.text:
            events.append(HeardPartial(_t(self.position), partial.text))
        return events

    def _question(self, result: Transcript, lead_s: float, ended: float | None) -> Heard | None:
        """The transcript as a question, without a (repeated) wake phrase; None when nothing is left.
        Word times move from the fed audio's start to the question's start (`lead_s` later); `ended`:
        perf_counter() when the end of speech was detected."""
        text = result.text.strip()
        words = result.words
        if self.spotter is not None:
            stripped = strip_phrase(text, self.settings.wake_phrase, self.settings.wake_sensitivity)
            if stripped != text:
                words = words[len(text.split()) - len(stripped.split()):]
                text = stripped
        if not any(ch.isalnum() for ch in text):
            return None
        waited = None if ended is None else round((time.perf_counter() - ended) * 1000, 1)
        return Heard(_t(self.position), text, result.engine,
                     tuple(Word(w.word, max(0.0, w.start_s - lead_s), max(0.0, w.end_s - lead_s)) for w in words),
                     waited)

    def _continues(self, sample: int) -> bool:
        """Speech from `sample` may be the rest of the last question (`merge_s` after its end)."""
        return self._last_question_end is not None and sample - self._last_question_end <= self._merge

    def _await_question(self, at: int, window: Window) -> None:
        self.state, self._window = State.AWAKE, window
        self._deadline = None if self.spotter is None else at + self._windows[window]

    def _resume_window(self) -> None:
        """After an utterance that was not a question: the window goes on as it was (chatter never
        extends it); if it has passed meanwhile, the next frame closes it."""
        self.state = State.AWAKE

    def recover(self) -> None:
        """After an engine raised mid-utterance: drop the utterance, keep listening (the window stays open)."""
        self._abandon()
        if self.state is State.CAPTURING:
            self._resume_window()

    def _abandon(self) -> None:
        """The gate closed over an utterance in progress: drop it (the engines' next start() clears them;
        finishing would waste a decode)."""
        self._mode, self._early = None, False
        self.endpoint.cancel()

    # -- audio history -----------------------------------------------------------------------------------

    def _remember(self, frame: bytes) -> None:
        self._history += frame
        keep_from = self.position + len(frame) // 2 - self._keep
        if self._mode is not None:
            keep_from = min(keep_from, self._fed_from)
        drop = keep_from - self._hist_start
        if drop > 0:
            del self._history[:2 * drop]
            self._hist_start += drop

    def _audio(self, start: int) -> bytes:
        """Audio from sample `start` to the end of the frame just processed."""
        self._fed_from = max(start, self._hist_start)
        return bytes(self._history[2 * (self._fed_from - self._hist_start):])

    def _voice(self) -> np.ndarray | None:
        """The speaker embedding of the utterance fed so far (None without a model, or if it fails)."""
        if self.speaker is None:
            return None
        try:
            return self.speaker.embed(bytes(self._history[2 * max(0, self._fed_from - self._hist_start):]))
        except Exception:  # noqa: BLE001 - a missing signal, never a lost question
            log.exception("speaker embedding failed; judging without it")
            return None

    def _since(self, start: int) -> bytes:
        """Audio from sample `start` to the end of the frame just processed, without feeding anybody."""
        return bytes(self._history[2 * max(0, start - self._hist_start):])

    def _lead_in(self, start: int) -> bytes:
        return self._audio(max(start - self._lead, self._open_from))
