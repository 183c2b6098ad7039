"""Audio timing for tools/bench_conversation.py, from the recording of the kiosk's speaker (one clock for the
visitor's question and the kiosk's answer): where a played clip sits in it (`locate`), stretches of sound
(`segments`), the answer's first sample past the wake chime (`answer_onset`), and from them each question's
voice-to-voice time (`measure`).
"""

from __future__ import annotations

from typing import Any

import conversation_corpus as cc
import numpy as np
from speech_corpus import RATE

FLOOR = 300  # about -40 dBFS: where speech starts and ends (speech_corpus.speech_bounds, bench_voice)


def locate(audio: np.ndarray, clip: np.ndarray, hint: int, before_s: float = 0.5, after_s: float = 2.0) -> int:
    """Where `clip` starts in `audio`, searched around `hint` (FFT cross-correlation)."""
    lo = max(0, hint - int(before_s * RATE))
    hi = min(audio.size, hint + int(after_s * RATE) + clip.size)
    seg = audio[lo:hi].astype(np.float64)
    if seg.size < clip.size or not clip.size:
        return hint
    n = 1 << int(np.ceil(np.log2(seg.size + clip.size)))
    corr = np.fft.irfft(np.fft.rfft(seg, n) * np.conj(np.fft.rfft(clip.astype(np.float64), n)), n)
    corr = corr[: seg.size - clip.size + 1]
    return lo + int(np.argmax(corr))


def segments(audio: np.ndarray, start: int, stop: int, gap_s: float = 0.15) -> list[tuple[int, int]]:
    """Stretches of sound above the floor in audio[start:stop], joined over gaps shorter than `gap_s`."""
    loud = np.flatnonzero(np.abs(audio[start:stop].astype(np.int32)) > FLOOR)
    if not loud.size:
        return []
    breaks = np.flatnonzero(np.diff(loud) > int(gap_s * RATE))
    starts = np.concatenate([[loud[0]], loud[breaks + 1]])
    ends = np.concatenate([loud[breaks], [loud[-1]]])
    return [(start + int(a), start + int(b) + 1) for a, b in zip(starts, ends, strict=True)]


EARCON_BANDS = ((620, 700), (950, 1030), (1280, 1360), (1940, 2020))  # kiosk/audio/earcon.py: 660 + 990 Hz


def is_earcon(x: np.ndarray) -> bool:
    """The wake chime (two sine notes and their octaves, 0.16 s), not speech: nearly all its energy sits in
    four narrow bands."""
    if x.size < 400:
        return False
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64) * np.hanning(x.size))) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / RATE)
    tonal = sum(spectrum[(freqs >= lo) & (freqs <= hi)].sum() for lo, hi in EARCON_BANDS)
    return bool(tonal > 0.6 * spectrum.sum())


def answer_onset(audio: np.ndarray, q_end: int, speaking_hint: int | None) -> tuple[int | None, int]:
    """The answer's first sample (above the floor) after the question's end, skipping the wake chime and any
    sound that ended well before the kiosk said it was speaking; (onset, chimes skipped)."""
    pos, chimes = q_end + int(0.1 * RATE), 0
    stop = min(audio.size, q_end + 40 * RATE)
    while pos < stop:
        loud = np.flatnonzero(np.abs(audio[pos:stop].astype(np.int32)) > FLOOR)
        if not loud.size:
            return None, chimes
        a = pos + int(loud[0])
        if is_earcon(audio[a: a + int(0.16 * RATE)]):
            pos, chimes = a + int(0.17 * RATE), chimes + 1
            continue
        segs = segments(audio, a, stop)
        b = segs[0][1] if segs else a
        if speaking_hint is not None and b < speaking_hint - int(0.5 * RATE):
            pos = b + 1  # before the answer began: not the answer (a greeting cut short, a stray sound)
            continue
        return a, chimes
    return None, chimes


def measure(live: dict[str, Any], visitors: list[cc.Visitor], files: dict[str, Any]) -> None:
    """Adds the voice-to-voice times (true end of speech -> first answer sample) to the question steps."""
    audio, rec = live["recording"], live["rec"]
    for row, v in zip(live["rows"], visitors, strict=False):
        for step in row["steps"]:
            if step["kind"] not in ("question", "follow_up"):
                continue
            wav, rendered = files[v.id][step["wav"]]
            start = locate(audio, rendered.pcm, rec.sample_at(step["play"][0]))
            q_end = start + rendered.speech_end
            step["speech_end_sample"] = q_end
            if step["kind"] == "question" and v.style == "separate":  # the real pause after the wake
                w = files[v.id]["wake"][1]
                w_start = locate(audio, w.pcm, rec.sample_at(row["t_wake"][0]))
                step["pause_actual_s"] = round((start - (w_start + w.speech_end)) / RATE, 2)
                heard = segments(audio, w_start + w.speech_end + int(0.05 * RATE), start - int(0.02 * RATE))
                step["kiosk_sound_before_question_s"] = round(sum(b - a for a, b in heard) / RATE, 2)
            step["v2v_s"] = None
            if step.get("thinking") is not None:
                stop = step.get("end") or step["thinking"]
                step["thinking_count"] = sum(1 for t, st in live["notify"] if step["play"][0] <= t <= stop
                                             and st == "thinking")
                hint = rec.sample_at(step["speaking"]) if step.get("speaking") else None
                onset, step["chimes_skipped"] = answer_onset(audio, q_end, hint)
                if onset is not None:
                    step["v2v_s"] = round((onset - q_end) / RATE, 3)
