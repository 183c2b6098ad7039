from __future__ import annotations

import math
import random

import numpy as np
import pytest

from kiosk.avatar.animator import (
    EXPRESSIONS,
    Animator,
    Blinker,
    FaceState,
    expression_for_answer,
)
from kiosk.avatar.lipsync import LipSync
from kiosk.events import SpeechClip, VisitorState
from kiosk.speech.visemes import VISEMES, VisemeSpan

RATE = 16000


def make_clip(spec: list[tuple]) -> SpeechClip:
    """spec: (viseme, duration_s[, amplitude]); PCM is a 180 Hz tone whose amplitude follows the spans."""
    spans, t = [], 0.0
    for viseme, duration, *_ in spec:
        spans.append(VisemeSpan(t, t + duration, viseme))
        t += duration
    ts = np.arange(round(t * RATE)) / RATE
    amp = np.zeros_like(ts)
    for (viseme, _, *level), span in zip(spec, spans, strict=True):
        default = 0.0 if viseme in ("sil", "PP") else 0.6
        amp[(ts >= span.start_s) & (ts < span.end_s)] = level[0] if level else default
    pcm = (amp * np.sin(2 * np.pi * 180 * ts) * 32767).astype("<i2").tobytes()
    return SpeechClip("test", pcm, RATE, tuple(spans))


def weight(shapes: tuple[tuple[str, float], ...], viseme: str) -> float:
    return sum(w for v, w in shapes if v == viseme)


def sweep(sync: LipSync, start: float, end: float, step: float = 0.001):
    return [(p, sync.pose(p)) for p in np.arange(start, end, step)]


def test_mouth_open_in_long_aa_and_shut_in_pp() -> None:
    sync = LipSync(make_clip([("sil", 0.2), ("aa", 0.4), ("PP", 0.1), ("aa", 0.3), ("sil", 0.2)]))
    pose = sync.pose(0.4)
    assert pose.shapes[0][0] == "aa" and pose.shapes[0][1] > 0.5
    assert pose.openness > 0.5
    pose = sync.pose(0.65)  # middle of the PP span
    assert pose.shapes == (("PP", 1.0),)
    assert pose.openness == 0.0


@pytest.mark.parametrize("pp_s", [0.03, 0.012, 0.08])
def test_short_pp_still_closes_fully_for_50_ms(pp_s: float) -> None:
    sync = LipSync(make_clip([("sil", 0.2), ("aa", 0.25), ("PP", pp_s), ("aa", 0.25), ("sil", 0.2)]))
    middle = 0.45 + pp_s / 2
    assert sync.pose(middle).shapes == (("PP", 1.0),)
    assert sync.pose(middle).openness == 0.0
    closed = [p for p, pose in sweep(sync, 0.0, 1.0) if pose.shapes == (("PP", 1.0),)]
    assert len(closed) >= 49  # 1 ms steps
    assert max(closed) - min(closed) == pytest.approx(len(closed) * 0.001, abs=0.002)  # one closure, no gaps


def test_shapes_lead_the_sound_by_60_ms() -> None:
    sync = LipSync(make_clip([("sil", 0.2), ("aa", 0.3), ("oh", 0.3), ("sil", 0.2)]))
    start = 0.5
    assert weight(sync.pose(start - 0.06 - 0.005).shapes, "oh") == 0.0
    assert weight(sync.pose(start - 0.06 + 0.005).shapes, "oh") > 0.0
    assert weight(sync.pose(start - 0.03).shapes, "oh") == pytest.approx(0.5, abs=0.05)
    assert sync.pose(start).shapes == (("oh", 1.0),)  # fully formed as its sound begins


def test_blips_are_never_shown() -> None:
    sync = LipSync(make_clip([("sil", 0.2), ("E", 0.3), ("kk", 0.03), ("oh", 0.3), ("sil", 0.2)]))
    assert all(weight(pose.shapes, "kk") == 0.0 for _, pose in sweep(sync, -0.2, 1.3))
    sync = LipSync(make_clip([("aa", 0.3), ("sil", 0.02), ("aa", 0.3)]))
    assert all(pose.shapes == (("aa", 1.0),) for _, pose in sweep(sync, 0.0, 0.55))


def random_spec(rng: random.Random, n: int) -> list[tuple]:
    spec, prev = [], None
    for _ in range(n):
        viseme = rng.choice([v for v in VISEMES if v != prev])
        spec.append((viseme, rng.uniform(0.008, 0.2), rng.uniform(0.05, 0.9)))
        prev = viseme
    return spec


@pytest.mark.parametrize("seed", range(6))
def test_mouth_invariants_on_random_timelines(seed: int) -> None:
    spec = random_spec(random.Random(seed), 60)
    clip = make_clip(spec)
    sync = LipSync(clip)
    poses = sweep(sync, -0.2, clip.duration_s + 0.3, 0.002)
    for _, pose in poses:
        assert 1 <= len(pose.shapes) <= 2
        assert all(0.0 <= w <= 1.0 and v in VISEMES for v, w in pose.shapes)
        assert sum(w for _, w in pose.shapes) == pytest.approx(1.0)
        assert 0.0 <= pose.openness <= 1.0
        assert 0.0 <= pose.emphasis <= 1.0
    # Every p/b/m reaches a full closure somewhere around its span.
    for span in clip.visemes:
        if span.viseme == "PP":
            near = [pose for p, pose in poses if span.start_s - 0.12 <= p <= span.end_s + 0.12]
            assert any(pose.shapes == (("PP", 1.0),) for pose in near), span
    # Whatever is shown as the target stays up long enough not to flicker.
    runs, current, length = [], None, 0
    for _, pose in poses:
        top = pose.shapes[0][0]
        if top == current:
            length += 1
        else:
            runs.append((current, length))
            current, length = top, 1
    assert all(n * 0.002 >= 0.03 for v, n in runs[1:])  # dominant >= half the way through a >= 50 ms shape


def test_returns_to_sil_after_the_clip() -> None:
    for spec in ([("sil", 0.1), ("aa", 0.3), ("sil", 0.1)], [("sil", 0.1), ("aa", 0.3)]):
        clip = make_clip(spec)
        sync = LipSync(clip)
        assert sync.pose(clip.duration_s + 5.0) == sync.pose(-5.0)  # at rest: sil, closed, no emphasis
        assert sync.pose(clip.duration_s + 0.1).shapes == (("sil", 1.0),)
        assert sync.pose(clip.duration_s + 0.1).openness == 0.0
        assert sync.pose(-0.5).shapes == (("sil", 1.0),)


def test_openness_follows_the_envelope() -> None:
    sync = LipSync(make_clip([("sil", 0.1), ("aa", 0.4, 0.1), ("oh", 0.4, 0.8), ("sil", 0.1)]))
    quiet, loud = sync.pose(0.3), sync.pose(0.7)
    assert quiet.shapes == (("aa", 1.0),) and loud.shapes == (("oh", 1.0),)
    assert 0.3 <= quiet.openness < loud.openness - 0.3
    assert loud.openness > 0.9


def test_animator_stop_clip_fades_to_sil_without_a_jump() -> None:
    anim = Animator(seed=1)
    anim.start_clip(make_clip([("sil", 0.1), ("aa", 1.0), ("sil", 0.1)]))
    first = anim.frame(10.0, 0.4)
    assert first.mouth == (("sil", 1.0),)  # a starting clip also fades in from the resting mouth
    before = anim.frame(10.1, 0.5)
    assert before.mouth == (("aa", 1.0),)
    anim.stop_clip()
    just_after = anim.frame(10.116, 0.516)
    assert weight(just_after.mouth, "aa") > 0.8
    assert abs(just_after.openness - before.openness) < 0.2
    later = anim.frame(10.2, None)
    assert later.mouth == (("sil", 1.0),) and later.openness == 0.0


def blink_runs(levels: np.ndarray, step: float) -> list[tuple[float, float, float]]:
    """(onset, closing_s, opening_s) of every blink in a sampled level signal."""
    out, i, closed = [], 0, levels > 0.0
    while i < len(levels):
        if closed[i]:
            j = i
            while j < len(levels) and closed[j]:
                j += 1
            peak = i + int(np.argmax(levels[i:j]))
            out.append((i * step, (peak - i + 1) * step, (j - peak) * step))
            i = j
        else:
            i += 1
    return out


def test_first_blink_within_10_s_with_fast_close_and_slow_open() -> None:
    blinker = Blinker(seed=3)
    step = 0.001
    levels = np.array([blinker.level(t) for t in np.arange(0.0, 10.0, step)])
    runs = blink_runs(levels, step)
    assert runs
    _, closing, opening = runs[0]
    assert 0.1 <= closing + opening <= 0.25
    assert closing < opening
    assert levels.max() == pytest.approx(1.0, abs=0.01)
    assert levels.min() >= 0.0 and levels.max() <= 1.0


def test_blink_intervals_over_ten_minutes() -> None:
    blinker = Blinker(seed=11)
    step = 0.005
    levels = np.array([blinker.level(t) for t in np.arange(0.0, 600.0, step)])
    onsets = [onset for onset, _, _ in blink_runs(levels, step)]
    gaps = np.diff(onsets)
    doubles = gaps[gaps < 1.0]
    singles = gaps[gaps >= 1.0]
    assert len(doubles) >= 3  # ~10 % of ~120 blinks
    assert all(0.2 <= g <= 0.3 for g in doubles)
    assert singles.min() >= 2.0 - 2 * step and singles.max() <= 8.0 + 2 * step
    assert singles.min() < 3.0 and singles.max() > 7.0  # uniform over the whole range


def test_skipped_frames_give_the_same_blinks() -> None:
    dense, sparse = Blinker(seed=5), Blinker(seed=5)
    times = np.arange(0.0, 60.0, 0.01)
    expected = {round(t, 2): dense.level(t) for t in times}
    for t in times[::37]:
        assert sparse.level(t) == expected[round(t, 2)]


def script(seed: int) -> list[FaceState]:
    anim = Animator(seed=seed)
    clip = make_clip([("sil", 0.1), ("aa", 0.3), ("PP", 0.05), ("oh", 0.4), ("sil", 0.1)])
    frames = []
    for i in range(1200):
        t = 100.0 + i / 30
        if i == 100:
            anim.set_state("listening", t)
        if i == 300:
            anim.set_state(VisitorState.THINKING, t)
        if i == 500:
            anim.set_state(VisitorState.SPEAKING, t)
            anim.set_expression("smile", t, hold_s=2.0)
            anim.start_clip(clip)
        playing = 500 <= i < 530
        frames.append(anim.frame(t, (i - 500) / 30 if playing else None))
    return frames


def test_deterministic_for_a_seed_and_different_across_seeds() -> None:
    a, b, c = script(4), script(4), script(5)
    assert a == b
    assert [f.gaze for f in a] != [f.gaze for f in c]
    assert [f.head_tilt for f in a] != [f.head_tilt for f in c]
    assert [f.blink for f in a] != [f.blink for f in c]


def test_head_motion_does_not_repeat_within_a_minute() -> None:
    anim = Animator(seed=2)
    step = 0.05
    frames = [anim.frame(t, None) for t in np.arange(0.0, 90.0, step)]
    window = round(20.0 / step)
    for x in (np.array([f.head_tilt for f in frames]), np.array([f.head_sway[0] for f in frames]),
              np.array([f.head_sway[1] for f in frames])):
        diffs = [np.abs(x[:window] - x[lag:lag + window]).mean() for lag in range(round(1.0 / step), round(60 / step))]
        assert min(diffs) > 0.3 * x.std()  # unrelated signals give ~1.1 std; a repeat gives ~0
    breath = np.array([f.breath for f in frames])
    periods = np.diff(np.flatnonzero((breath[1:] >= 0.5) & (breath[:-1] < 0.5))) * step
    assert periods.min() >= 3.8 and periods.max() <= 5.6 and periods.std() > 0.05  # ~4.6 s, slightly irregular


def test_values_stay_in_range_over_a_long_random_walk() -> None:
    rng = random.Random(9)
    anim = Animator(seed=9)
    clips = [make_clip(random_spec(rng, 12)) for _ in range(3)]
    t, playback = 1000.0, None
    for _ in range(6000):
        t += rng.choice([0.0, rng.uniform(0.0, 0.05), rng.uniform(0.0, 2.0)])
        event = rng.random()
        if event < 0.02:
            anim.set_state(rng.choice(list(VisitorState)), t)
        elif event < 0.04:
            anim.set_expression(rng.choice(EXPRESSIONS), t, rng.choice([None, rng.uniform(0.1, 3.0)]))
        elif event < 0.05:
            anim.start_clip(rng.choice(clips))
            playback = 0.0
        elif event < 0.06:
            anim.stop_clip()
            playback = None
        elif playback is not None:
            playback += rng.uniform(0.0, 0.1)
        f = anim.frame(t, rng.choice([playback, playback, None]))
        assert all(0.0 <= w <= 1.0 for _, w in f.mouth) and sum(w for _, w in f.mouth) == pytest.approx(1.0)
        assert len({v for v, _ in f.mouth}) == len(f.mouth)
        assert 0.0 <= f.openness <= 1.0 and 0.0 <= f.blink <= 1.0 and 0.0 <= f.breath <= 1.0
        assert math.hypot(*f.gaze) <= 1.0 + 1e-9
        assert -1.0 <= f.head_tilt <= 1.0 and all(-1.0 <= s <= 1.0 for s in f.head_sway)
        assert [n for n, _ in f.expression] == list(EXPRESSIONS)
        assert all(0.0 <= w <= 1.0 for _, w in f.expression)
        assert sum(w for _, w in f.expression) == pytest.approx(1.0)
        assert 0.0 <= f.state_blend <= 1.0 and f.state in {s.value for s in VisitorState}


def test_state_transition_blends_over_300_ms() -> None:
    anim = Animator(seed=0)
    assert anim.frame(5.0, None).state_blend == 1.0
    anim.set_state("listening", 10.0)
    blends = [anim.frame(t, None).state_blend for t in np.arange(10.0, 10.5, 0.01)]
    assert blends[0] == 0.0 and blends[15] == pytest.approx(0.5, abs=0.05) and blends[30] == 1.0
    assert all(b2 >= b1 for b1, b2 in zip(blends, blends[1:], strict=False))
    assert max(b2 - b1 for b1, b2 in zip(blends, blends[1:], strict=False)) < 0.1  # no jump
    anim.set_state("listening", 10.6)  # same state: no new transition
    assert anim.frame(10.6, None).state == "listening" and anim.frame(10.6, None).state_blend == 1.0


def test_gaze_targets_follow_the_state() -> None:
    anim = Animator(seed=6)
    anim.set_state(VisitorState.LISTENING, 1.0)
    near = [anim.frame(t, None).gaze for t in np.arange(1.05, 20.0, 0.02)]
    assert all(math.hypot(*g) <= 0.3 + 1e-9 for g in near)
    assert len(set(near)) > 5  # saccades still happen
    anim.set_state(VisitorState.THINKING, 20.0)
    up = [anim.frame(t, None).gaze for t in np.arange(20.05, 40.0, 0.02)]
    assert all(g[1] >= 0.4 and abs(g[0]) >= 0.3 for g in up)
    assert len({math.copysign(1, g[0]) for g in up}) == 1  # one side per thinking episode


def test_expressions_blend_and_follow_state() -> None:
    anim = Animator(seed=0)

    def expr(t: float) -> dict[str, float]:
        return dict(anim.frame(t, None).expression)

    assert expr(0.0)["neutral"] == 1.0
    anim.set_expression("smile", 1.0, hold_s=2.0)
    assert expr(1.0)["neutral"] == 1.0
    mid = expr(1.125)
    assert 0.3 < mid["smile"] < 0.7 and mid["smile"] + mid["neutral"] == pytest.approx(1.0)
    assert expr(1.3)["smile"] == 1.0
    assert expr(3.3)["neutral"] == 1.0  # the hold ended at 3.0
    anim.set_state(VisitorState.THINKING, 4.0)
    assert expr(4.3)["thinking"] == 1.0
    anim.set_state(VisitorState.SPEAKING, 6.0)
    assert expr(6.3)["neutral"] == 1.0
    with pytest.raises(ValueError):
        anim.set_expression("angry", 7.0)


@pytest.mark.parametrize(("text", "grounded", "expected"), [
    ("Hello! Welcome to ACME. How can I help you?", False, "smile"),
    ("You're welcome, have a nice day.", True, "smile"),
    ("Thanks for visiting!", True, "smile"),
    ("I don't know that, sorry.", True, "concern"),
    ("I\u2019m sorry, I could not find that in the documents.", False, "concern"),
    ("I'm not sure about the opening hours.", True, "concern"),
    ("The canteen opens at 8 am.", False, "concern"),
    ("You must wear safety glasses in the workshop.", True, "concern"),
    ("In an emergency, use the fire exits on the left.", True, "concern"),
    ("Never touch the press while it is running.", True, "concern"),
    ("Danger: high voltage behind this door.", True, "concern"),
    ("The canteen opens at 8 am.", True, "neutral"),
    ("Parking is behind building B.", True, "neutral"),
])
def test_expression_for_answer(text: str, grounded: bool, expected: str) -> None:
    assert expression_for_answer(text, grounded) == expected
