"""The talking head's animation: a pure, deterministic function of a seed, the calls made and the times given.

The renderer calls `Animator.frame(t, playback_s)` once per frame with a monotonic clock `t` and the audio
playback position of the current clip. Everything returned is normalised (0..1, -1..1, the unit disc);
the avatar scales it to pixels and degrees. No I/O and no clock reads: the same seed and the same
sequence of calls give the same faces, so a session can be tested and replayed.

Conventions: gaze +x is the viewer's right, +y is up; head_tilt > 0 rolls clockwise as seen by the viewer.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kiosk.avatar.lipsync import REST, LipSync, MouthPose, ease
from kiosk.events import VisitorState

if TYPE_CHECKING:
    from kiosk.events import SpeechClip


EXPRESSIONS: tuple[str, ...] = ("neutral", "smile", "concern", "thinking")

STATE_BLEND_S = 0.3
EXPRESSION_BLEND_S = 0.25
HANDOVER_S = 0.08  # when a clip starts or stops, the old mouth fades under the new one
EMPHASIS_FADE_S = 0.4  # ...and the head's speech emphasis settles more slowly

BLINK_INTERVAL_S = (2.0, 8.0)  # start to start, uniform
BLINK_CLOSE_S = 0.05  # lids fall faster than they rise
BLINK_OPEN_S = 0.10
BLINK_S = BLINK_CLOSE_S + BLINK_OPEN_S
DOUBLE_BLINK_P = 0.1
DOUBLE_BLINK_GAP_S = 0.1  # eyes open between the two blinks of a double

SACCADE_INTERVAL_S = (0.6, 3.0)
SACCADE_S = 0.04
ATTENTIVE_RADIUS = 0.3  # listening/speaking: looking at the visitor
IDLE_RADIUS = 0.75
THINKING_X = (0.35, 0.65)  # up and to one side
THINKING_Y = (0.4, 0.7)

BREATH_PERIOD_S = 4.6
BREATH_WOBBLE = ((0.4, 23.1), (0.2, 11.7))  # (radians, period s) of phase drift: periods vary ~4-5.4 s
# Mutually incommensurate, and chosen so that no lag up to a minute brings all three phases close together
# (5.3/8.9/13.7 nearly repeat after 26.5 s): the sums never visibly repeat.
TILT_PERIODS_S = (5.8, 9.1, 12.8)
SWAY_X_PERIODS_S = (7.8, 12.4, 16.6)
SWAY_Y_PERIODS_S = (4.7, 6.8, 10.2)
HARMONIC_WEIGHTS = (0.5, 0.3, 0.2)  # sum 1: |sum of sines| <= gain
HEAD_GAIN = {VisitorState.IDLE: 0.6, VisitorState.FOLLOW_UP: 0.6, VisitorState.LISTENING: 0.45,
             VisitorState.THINKING: 0.55, VisitorState.SPEAKING: 0.8}
NOD = 0.15  # head dips with the phrase loudness; max gain + NOD <= 1 keeps sway in -1..1

Pair = tuple[float, float]


@dataclass(frozen=True)
class FaceState:
    mouth: tuple[tuple[str, float], ...]
    """(viseme, weight), heaviest first, weights sum to 1; at most two shapes, except during the
    HANDOVER_S after a clip starts or stops, when the old mouth fades under the new one"""
    openness: float
    """0 closed .. 1 wide; always 0 for sil and PP"""
    blink: float
    """0 open .. 1 closed"""
    gaze: Pair
    """(dx, dy) in the unit disc"""
    head_tilt: float
    """-1..1"""
    head_sway: Pair
    """(dx, dy), each -1..1"""
    breath: float
    """0 exhaled .. 1 inhaled"""
    expression: tuple[tuple[str, float], ...]
    """(name, weight) for every name in EXPRESSIONS, in that order; weights sum to 1"""
    state: str
    state_blend: float
    """0..1 progress of the latest state transition (eased)"""


_GREETING = re.compile(r"\b(hello|hi|hey|good (morning|afternoon|evening)|welcome|thanks?|thank you|glad|"
                       r"pleasure|nice to meet)\b")
_DECLINE = re.compile(r"\b(i don't know|i do not know|i'm sorry|i am sorry|sorry|not sure|i can't|i cannot|"
                      r"unable to)\b")
_SAFETY = re.compile(r"\b(danger\w*|warning\w*|must wear|never|emergency|fire|injur\w*|hazard\w*|caution)\b")


def expression_for_answer(text: str, grounded: bool) -> str:
    """The face to speak an answer with: concern for declines and safety warnings, smile for pleasantries.

    Safety and explicit declines win over a greeting; an ungrounded greeting ("Hello! How can I help?")
    still smiles, any other ungrounded answer is a decline.
    """
    low = text.lower().replace("\u2019", "'")
    if _SAFETY.search(low) or _DECLINE.search(low):
        return "concern"
    if _GREETING.search(low):
        return "smile"
    return "neutral" if grounded else "concern"


class Blinker:
    """Random blinks; `level(t)` is 0 open .. 1 closed. Deterministic for a seed, for increasing t."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(f"{seed}:blink")
        self._next: float | None = None  # start of the next blink not yet scheduled
        self._starts: list[float] = []  # scheduled blinks that may still be visible

    def level(self, t: float) -> float:
        if self._next is None:  # the schedule starts at the first time seen
            self._next = t + self._rng.uniform(*BLINK_INTERVAL_S)
        while self._next <= t:  # skipped frames still consume the schedule in order
            last = self._next
            self._starts.append(last)
            if self._rng.random() < DOUBLE_BLINK_P:
                last += BLINK_S + DOUBLE_BLINK_GAP_S
                self._starts.append(last)
            self._next = last + self._rng.uniform(*BLINK_INTERVAL_S)
        self._starts = [s for s in self._starts if s + BLINK_S > t]
        for s in self._starts:
            u = t - s
            if 0.0 <= u < BLINK_CLOSE_S:
                return ease(u / BLINK_CLOSE_S)
            if BLINK_CLOSE_S <= u < BLINK_S:
                return 1.0 - ease((u - BLINK_CLOSE_S) / BLINK_OPEN_S)
        return 0.0


class Gaze:
    """Saccades: a new target every 0.6-3 s, reached in SACCADE_S; targets depend on the state."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(f"{seed}:gaze")
        self._state = VisitorState.IDLE
        self._side = 1.0  # a thinking look keeps to one side per episode
        self._from: Pair = (0.0, 0.0)
        self._to: Pair = (0.0, 0.0)
        self._t_move = -math.inf
        self._next: float | None = None

    def set_state(self, state: VisitorState, t: float) -> None:
        self._advance(t)
        if state is VisitorState.THINKING and self._state is not VisitorState.THINKING:
            self._side = self._rng.choice((-1.0, 1.0))
        self._state = state
        self._saccade(t)  # a new state is a new focus of attention: look at once

    def at(self, t: float) -> Pair:
        self._advance(t)
        return self._position(t)

    def _advance(self, t: float) -> None:
        if self._next is None:
            self._next = t + self._rng.uniform(*SACCADE_INTERVAL_S)
        while self._next <= t:  # scheduled times, not frame times: independent of the frame rate
            self._saccade(self._next)

    def _saccade(self, ts: float) -> None:
        self._from, self._to, self._t_move = self._position(ts), self._pick(), ts
        self._next = ts + self._rng.uniform(*SACCADE_INTERVAL_S)

    def _pick(self) -> Pair:
        rng = self._rng
        if self._state is VisitorState.THINKING:
            return self._side * rng.uniform(*THINKING_X), rng.uniform(*THINKING_Y)
        if self._state in (VisitorState.IDLE, VisitorState.FOLLOW_UP):
            radius = IDLE_RADIUS if rng.random() < 0.65 else ATTENTIVE_RADIUS  # wander, then come back
        else:
            radius = ATTENTIVE_RADIUS
        r, a = radius * math.sqrt(rng.random()), rng.uniform(0.0, 2.0 * math.pi)  # uniform over the disc
        return r * math.cos(a), r * math.sin(a)

    def _position(self, t: float) -> Pair:
        k = ease((t - self._t_move) / SACCADE_S)
        return (self._from[0] + (self._to[0] - self._from[0]) * k,
                self._from[1] + (self._to[1] - self._from[1]) * k)


class Motion:
    """Breathing and head micro-motion: sums of sines with seeded phases, pure functions of t."""

    def __init__(self, seed: int = 0) -> None:
        rng = random.Random(f"{seed}:motion")

        def waves(periods: tuple[float, ...]) -> tuple[tuple[float, float, float], ...]:
            return tuple((w, 2.0 * math.pi / p, rng.uniform(0.0, 2.0 * math.pi))
                         for w, p in zip(HARMONIC_WEIGHTS, periods, strict=True))

        self._tilt, self._sway_x, self._sway_y = waves(TILT_PERIODS_S), waves(SWAY_X_PERIODS_S), waves(SWAY_Y_PERIODS_S)
        self._breath_phases = tuple(rng.uniform(0.0, 2.0 * math.pi) for _ in range(1 + len(BREATH_WOBBLE)))

    def breath(self, t: float) -> float:
        # The wobble bends the phase but never reverses it (its slope stays below the base rate).
        phase = 2.0 * math.pi * t / BREATH_PERIOD_S + self._breath_phases[0]
        for (amp, period), ph in zip(BREATH_WOBBLE, self._breath_phases[1:], strict=True):
            phase += amp * math.sin(2.0 * math.pi * t / period + ph)
        return 0.5 - 0.5 * math.cos(phase)

    def head(self, t: float, gain: float, emphasis: float) -> tuple[float, Pair]:
        def wave(parts: tuple[tuple[float, float, float], ...]) -> float:
            return gain * sum(w * math.sin(omega * t + ph) for w, omega, ph in parts)

        def clamp(x: float) -> float:
            return min(max(x, -1.0), 1.0)

        return clamp(wave(self._tilt)), (clamp(wave(self._sway_x)), clamp(wave(self._sway_y) - NOD * emphasis))


def _onehot(name: str) -> tuple[float, ...]:
    return tuple(1.0 if n == name else 0.0 for n in EXPRESSIONS)


class _Expressions:
    """Expression weights easing towards a target; a held target reverts to the state's default."""

    def __init__(self) -> None:
        self.default = "neutral"
        self.target = "neutral"
        self._from = _onehot("neutral")
        self._t0 = -math.inf
        self._hold_until: float | None = None

    def set(self, name: str, t: float, hold_s: float | None = None) -> None:
        if name not in EXPRESSIONS:
            raise ValueError(f"unknown expression {name!r}; expected one of {EXPRESSIONS}")
        self._expire(t)
        self._retarget(name, t)
        self._hold_until = None if hold_s is None else t + hold_s

    def on_state(self, state: VisitorState, t: float) -> None:
        self._expire(t)
        self.default = "thinking" if state is VisitorState.THINKING else "neutral"
        if state is VisitorState.THINKING or self.target == "thinking":
            self.set(self.default, t)

    def weights(self, t: float) -> tuple[tuple[str, float], ...]:
        self._expire(t)
        return tuple(zip(EXPRESSIONS, self._at(t), strict=True))

    def _expire(self, t: float) -> None:
        if self._hold_until is not None and t >= self._hold_until:
            ts, self._hold_until = self._hold_until, None
            self._retarget(self.default, ts)  # at the hold's end, not at the frame: frame-rate independent

    def _retarget(self, name: str, t: float) -> None:
        self._from, self.target, self._t0 = self._at(t), name, t

    def _at(self, t: float) -> tuple[float, ...]:
        k = ease((t - self._t0) / EXPRESSION_BLEND_S)
        return tuple(f * (1.0 - k) + (k if n == self.target else 0.0) for n, f in zip(EXPRESSIONS, self._from,
                                                                                      strict=True))


def _mix(old: MouthPose, new: MouthPose, k: float, k_emphasis: float) -> MouthPose:
    weights: dict[str, float] = {}
    for shapes, f in ((old.shapes, 1.0 - k), (new.shapes, k)):
        for v, w in shapes:
            weights[v] = weights.get(v, 0.0) + w * f
    shapes = tuple(sorted(((v, w) for v, w in weights.items() if w > 0.0), key=lambda s: -s[1]))
    return MouthPose(shapes, old.openness + (new.openness - old.openness) * k,
                     old.emphasis + (new.emphasis - old.emphasis) * k_emphasis)


class Animator:
    """Owns lip-sync, blinks, gaze, breathing, head motion, state and expression; one `frame` per frame."""

    def __init__(self, seed: int = 0) -> None:
        self._blinker, self._gaze, self._motion = Blinker(seed), Gaze(seed), Motion(seed)
        self._expressions = _Expressions()
        self._state = self._prev_state = VisitorState.IDLE
        self._t_state = -math.inf
        self._lipsync: LipSync | None = None
        self._clip_no = 0
        self._source: int | None = None  # which clip drove the last mouth (None: at rest)
        self._pose = REST  # the last mouth shown
        self._handover: tuple[float, MouthPose] | None = None

    @property
    def state(self) -> VisitorState:
        return self._state

    def set_state(self, state: VisitorState | str, t: float) -> None:
        state = VisitorState(state)
        if state is self._state:
            return  # a repeated state must not restart its transition
        self._prev_state, self._state, self._t_state = self._state, state, t
        self._gaze.set_state(state, t)
        self._expressions.on_state(state, t)

    def set_expression(self, name: str, t: float, hold_s: float | None = None) -> None:
        """Blend towards `name`; after hold_s, back to the state's default (thinking or neutral)."""
        self._expressions.set(name, t, hold_s)

    def start_clip(self, clip: SpeechClip) -> None:
        self._lipsync = LipSync(clip)
        self._clip_no += 1

    def stop_clip(self) -> None:
        self._lipsync = None

    def frame(self, t: float, playback_s: float | None) -> FaceState:
        """The face at time t; playback_s is the audio position in the current clip (None: not playing)."""
        t = float(t)
        blend = ease((t - self._t_state) / STATE_BLEND_S)
        pose = self._mouth(t, playback_s)
        gain = HEAD_GAIN[self._prev_state] + (HEAD_GAIN[self._state] - HEAD_GAIN[self._prev_state]) * blend
        tilt, sway = self._motion.head(t, gain, pose.emphasis)
        return FaceState(mouth=pose.shapes, openness=pose.openness, blink=self._blinker.level(t),
                         gaze=self._gaze.at(t), head_tilt=tilt, head_sway=sway, breath=self._motion.breath(t),
                         expression=self._expressions.weights(t), state=self._state.value, state_blend=blend)

    def _mouth(self, t: float, playback_s: float | None) -> MouthPose:
        if self._lipsync is not None and playback_s is not None:
            pose, source = self._lipsync.pose(playback_s), self._clip_no
        else:
            pose, source = REST, None
        if source != self._source:  # a clip started, stopped or paused: no jump from the last mouth
            self._source, self._handover = source, (t, self._pose)
        if self._handover is not None:
            t0, old = self._handover
            if t - t0 >= EMPHASIS_FADE_S:
                self._handover = None
            else:
                pose = _mix(old, pose, ease((t - t0) / HANDOVER_S), ease((t - t0) / EMPHASIS_FADE_S))
        self._pose = pose
        return pose
