"""Joins per-sentence audio into one clip whose viseme timeline still covers it exactly."""

from __future__ import annotations

from collections.abc import Sequence

from kiosk.events import SpeechClip
from kiosk.speech.visemes import VisemeSpan


def join_clips(parts: Sequence[SpeechClip], pause_s: float, empty_rate: int = 22050) -> SpeechClip:
    """Concatenates `parts` with `pause_s` of silence between them.

    Offsets are counted in samples so the joined timeline has no float gaps at the seams.
    """
    if not parts:
        return SpeechClip("", b"", empty_rate, ())
    rate = parts[0].sample_rate
    if any(p.sample_rate != rate for p in parts):
        raise ValueError("cannot join audio of different sample rates")
    pause = int(round(pause_s * rate))
    pcm: list[bytes] = []
    spans: list[VisemeSpan] = []
    at = 0  # samples

    def add(start: float, end: float, viseme: str) -> None:
        if end <= start:
            return
        if spans and spans[-1].viseme == viseme:
            spans[-1] = VisemeSpan(spans[-1].start_s, end, viseme)
        else:
            spans.append(VisemeSpan(start, end, viseme))

    for i, part in enumerate(parts):
        if i and pause:
            pcm.append(b"\x00\x00" * pause)
            add(at / rate, (at + pause) / rate, "sil")
            at += pause
        n = len(part.pcm) // 2
        base = at / rate
        for j, s in enumerate(part.visemes):
            # The last span ends exactly where the next part begins.
            end = (at + n) / rate if j == len(part.visemes) - 1 else base + s.end_s
            add(base + s.start_s if j else base, end, s.viseme)
        pcm.append(part.pcm)
        at += n
    return SpeechClip(" ".join(p.text for p in parts if p.text), b"".join(pcm), rate, tuple(spans))
