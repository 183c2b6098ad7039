"""Lip-sync: one speech clip's viseme timeline plus its audio envelope -> the mouth at a playback position.

All work happens once per clip, so a frame costs a bisect and an interpolation. The caller passes the
AUDIO playback position (from the output device's clock), never wall time: lips that follow wall time
drift away from the sound as soon as playback stutters.

The display timeline is kept in look-ahead time q = p + LOOKAHEAD_S: the shape shown at playback position
p is driven by the span active at p + 60 ms, because lips move before the sound they make. A shape fades
in over CROSSFADE_S from its segment start, so it is fully formed just as its sound begins.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from kiosk.events import SpeechClip
    from kiosk.speech.visemes import VisemeSpan

LOOKAHEAD_S = 0.060  # shapes lead their sound
CROSSFADE_S = 0.060  # one shape to the next, ease in-out
MIN_SHAPE_S = 0.050  # shorter non-PP spans merge into a neighbour, so the mouth does not flicker
MIN_CLOSURE_S = 0.050  # p/b/m: lips fully shut at least this long, whatever the span length
RELEASE_S = 0.080  # back to sil after the clip
OPEN_MIN = 0.35  # openness of a fully formed open shape in the quietest audio
HOP_S = 0.010  # envelope resolution
EMPHASIS_S = 0.25  # window of the slow envelope that drives head emphasis
LOUD_PERCENTILE = 95  # the clip's "loud" level, robust against a few peaks

CLOSED = frozenset({"sil", "PP"})


def ease(x: float) -> float:
    """Smoothstep, clamped to [0, 1]: ease in-out with zero speed at both ends."""
    x = min(max(x, 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


@dataclass(frozen=True)
class Segment:
    """A shape on the display timeline (look-ahead time), reached from the previous shape over fade_s."""

    start_s: float
    end_s: float
    viseme: str
    fade_s: float


@dataclass(frozen=True)
class MouthPose:
    shapes: tuple[tuple[str, float], ...]
    """(viseme, weight), heaviest first; weights sum to 1"""
    openness: float
    """0 closed .. 1 wide open"""
    emphasis: float
    """slow loudness 0..1, for head motion"""


REST = MouthPose((("sil", 1.0),), 0.0, 0.0)


def _collapse(segs: list[list]) -> list[list]:
    out: list[list] = []
    for s in segs:
        if out and out[-1][2] == s[2]:
            out[-1][1] = s[1]
        else:
            out.append(s)
    return out


def _length(s: list) -> float:
    return s[1] - s[0]


def _merge_blips(segs: list[list]) -> list[list]:
    """Fold every non-PP segment shorter than MIN_SHAPE_S into a neighbour, shortest first."""
    while len(segs) > 1:
        blips = [i for i, s in enumerate(segs) if s[2] != "PP" and _length(s) < MIN_SHAPE_S]
        if not blips:
            break
        i = min(blips, key=lambda j: _length(segs[j]))
        # An open neighbour first, so a blip never shifts a closure; then the longer one.
        j = max((j for j in (i - 1, i + 1) if 0 <= j < len(segs)),
                key=lambda j: (segs[j][2] != "PP", _length(segs[j])))
        if j < i:
            segs[j][1] = segs[i][1]
        else:
            segs[j][0] = segs[i][0]
        del segs[i]
        segs = _collapse(segs)
    return segs


def _make_closure(segs: list[list], i: int) -> None:
    """Give PP segment i a fade-in plus MIN_CLOSURE_S at full weight, stealing time from its neighbours.

    It is first held LOOKAHEAD_S past its span, so the lips stay shut for the whole audio span and open on
    the release, as a real p/b does; the previous shape only gives time when that is not enough.
    """
    start, end = segs[i][0], segs[i][1]
    prv = segs[i - 1] if i > 0 else None
    nxt = segs[i + 1] if i + 1 < len(segs) else None
    end += LOOKAHEAD_S if nxt is None else min(LOOKAHEAD_S, max(0.0, _length(nxt) - MIN_SHAPE_S))
    short = CROSSFADE_S + MIN_CLOSURE_S - (end - start)
    if short > 0:
        take = short if prv is None else min(short, max(0.0, _length(prv) - MIN_SHAPE_S))
        start, short = start - take, short - take
    # Still short: the closure wins over the neighbours' minimum length (they may vanish).
    if short > 0 and nxt is not None:
        take = min(short, nxt[1] - end)
        end, short = end + take, short - take
    if short > 0 and prv is not None:
        start -= min(short, start - prv[0])
    segs[i][0], segs[i][1] = start, end
    if prv is not None:
        prv[1] = start
    if nxt is not None:
        nxt[0] = end


def build_timeline(spans: Iterable[VisemeSpan]) -> tuple[Segment, ...]:
    """The display timeline for a clip's spans: blips merged, closures guaranteed, sil after the end."""
    segs = _collapse([[s.start_s, s.end_s, s.viseme] for s in sorted(spans, key=lambda s: s.start_s)
                      if s.end_s > s.start_s])
    segs = _merge_blips(segs)
    for i, s in enumerate(segs):
        if s[2] == "PP":
            _make_closure(segs, i)
    segs = _merge_blips(_collapse([s for s in segs if _length(s) > 0]))
    out = [Segment(a, b, v, min(CROSSFADE_S, b - a)) for a, b, v in segs]
    # The last shape is held forever; ending on sil, the mouth relaxes over RELEASE_S.
    if out and out[-1].viseme == "sil":
        out[-1] = Segment(out[-1].start_s, math.inf, "sil", RELEASE_S)
    else:
        end = out[-1].end_s if out else 0.0
        out.append(Segment(end, math.inf, "sil", RELEASE_S))
    return tuple(out)


def _smooth(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Centred moving filter (odd kernel) that keeps the length, also for signals shorter than the kernel."""
    half = len(kernel) // 2
    return np.convolve(np.pad(x, half), kernel, mode="valid")


def envelope(pcm: bytes, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(loudness, slow loudness) per HOP_S frame, 0..1 relative to the clip's loud level."""
    x = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64) / 32768.0
    hop = max(1, round(HOP_S * sample_rate))
    n = len(x) // hop
    if n == 0:
        return np.zeros(1), np.zeros(1)
    rms = np.sqrt(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1))
    rms = _smooth(rms, np.array([0.25, 0.5, 0.25]))  # keeps syllables, drops pitch ripple
    voiced = rms[rms > 0.05 * rms.max()]  # pauses must not drag the loud level down
    ref = max(float(np.percentile(voiced, LOUD_PERCENTILE)) if voiced.size else 0.0, 1e-4)
    env = np.clip(rms / ref, 0.0, 1.0)
    k = 2 * round(EMPHASIS_S / HOP_S / 2) + 1
    return env, _smooth(env, np.ones(k) / k)


class LipSync:
    """The mouth for one clip as a pure function of the playback position."""

    def __init__(self, clip: SpeechClip) -> None:
        self.segments = build_timeline(clip.visemes)
        self._starts = [s.start_s for s in self.segments]
        env, slow = envelope(clip.pcm, clip.sample_rate)
        hop = max(1, round(HOP_S * clip.sample_rate)) / clip.sample_rate
        times = (np.arange(len(env)) + 0.5) * hop
        # Ramp to zero beyond the clip (over a hop, or half the emphasis window) instead of dropping to it.
        self._env = self._ramped(times, env, hop)
        self._slow = self._ramped(times, slow, EMPHASIS_S / 2)

    @staticmethod
    def _ramped(times: np.ndarray, values: np.ndarray, ramp_s: float) -> tuple[np.ndarray, np.ndarray]:
        return (np.concatenate(([times[0] - ramp_s], times, [times[-1] + ramp_s])),
                np.clip(np.concatenate(([0.0], values, [0.0])), 0.0, 1.0))

    @staticmethod
    def _level(curve: tuple[np.ndarray, np.ndarray], p: float) -> float:
        return float(np.interp(p, curve[0], curve[1], left=0.0, right=0.0))

    def pose(self, playback_s: float) -> MouthPose:
        playback_s = float(playback_s)  # numpy scalars in, plain floats out
        q = playback_s + LOOKAHEAD_S
        i = bisect.bisect_right(self._starts, q) - 1
        if i < 0:
            return REST
        seg = self.segments[i]
        prev = self.segments[i - 1].viseme if i > 0 else "sil"
        w = ease((q - seg.start_s) / seg.fade_s) if seg.fade_s > 0 else 1.0
        if w >= 1.0 or prev == seg.viseme:
            shapes: tuple[tuple[str, float], ...] = ((seg.viseme, 1.0),)
        elif w <= 0.0:
            shapes = ((prev, 1.0),)
        else:
            shapes = tuple(sorted(((seg.viseme, w), (prev, 1.0 - w)), key=lambda s: -s[1]))
        # The jaw opens a little ahead of the loudness, like the shapes do.
        loud = self._level(self._env, playback_s + LOOKAHEAD_S / 2)
        open_weight = sum(wt for v, wt in shapes if v not in CLOSED)
        openness = open_weight * (OPEN_MIN + (1.0 - OPEN_MIN) * loud)
        return MouthPose(shapes, min(max(float(openness), 0.0), 1.0), self._level(self._slow, playback_s))
