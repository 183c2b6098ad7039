"""Live = file for tools/bench_conversation.py: `kiosk transcribe` on the audio the kiosk's microphone got.

During the live run a second Recorder keeps what the PulseAudio source the kiosk listens to (`virtual_mic`)
delivered: the visitor, the hall's noise and the bystanders, through PulseAudio's buffering. After the run
every question and follow-up is cut out of that recording (`cut`: from PRE_S before the utterance, never
back into the visitor's wake line, to AFTER_S after its speech ends) and transcribed by
kiosk.listen.transcribe.transcribe with the run's own settings (vocabulary priming, early decode, window,
VAD): the words `kiosk transcribe` prints for that audio. The kiosk, which has a wake phrase, acts on less:
in one breath ("Hey coach, where ...") its wake spotter keeps the words after the phrase, and every question
loses a leading (repeated) phrase (kiosk.listen.listener `_on_hit`, `_question`); `kiosk_words` does the same
to the transcript.
"""

from __future__ import annotations

import time
from typing import Any

import conversation_corpus as cc
import numpy as np
from conversation_measure import locate
from speech_corpus import RATE

PRE_S = 0.5
"""audio kept before the utterance's clip starts (more than listen.preroll_ms, the pre-roll the kiosk adds)"""
AFTER_S = 1.0
"""audio kept after its speech ends"""
GAP_S = 0.1
"""a question asked after the wake line: the cut starts at least this long after the wake line's speech"""


def cut(size: int, start: int, speech_end: int, not_before: int = 0, pre_s: float = PRE_S,
        after_s: float = AFTER_S) -> tuple[int, int]:
    """(first, end) sample of the stretch of a recording of `size` samples kept for an utterance whose clip
    starts at `start` and whose speech ends `speech_end` samples into the clip: from `pre_s` before it (not
    before `not_before`) to `after_s` after its speech."""
    lo = min(size, max(0, not_before, start - int(pre_s * RATE)))
    hi = min(size, start + speech_end + int(after_s * RATE))
    return lo, max(lo, hi)


def kiosk_words(text: str, phrase: str, sensitivity: float, one_breath: bool) -> str:
    """The question the kiosk would act on in `text` (a transcript of the utterance): in one breath, the
    words after the wake phrase (kiosk.listen.wake.TranscriptSpotter.finish: the first run of words that
    sounds like it, anywhere); then without a leading phrase (Listener._question: strip_phrase). "" when
    nothing is left (the kiosk takes no question)."""
    from kiosk.listen.wake import match_phrase, strip_phrase

    text = text.strip()
    if one_breath:
        tokens = text.split()
        m = match_phrase(tokens, phrase, sensitivity)
        if m is not None:
            text = " ".join(tokens[m.end:]).lstrip(" ,.!?;:")
    text = strip_phrase(text, phrase, sensitivity)
    return text if any(ch.isalnum() for ch in text) else ""


def replay(live: dict[str, Any], visitors: list[cc.Visitor], files: dict[str, Any], asr: Any,
           settings: Any) -> None:
    """Adds `mic` to every question and follow-up step: what `kiosk transcribe` (the run's `settings`, its
    recognizer `asr`) hears in the microphone's recording of it, and the question the kiosk would take."""
    from kiosk.listen.transcribe import transcribe

    audio, rec = live.get("mic_recording"), live.get("mic_rec")
    if audio is None or rec is None:
        return
    listen = settings.listen
    for row, v in zip(live["rows"], visitors, strict=False):
        for step in row["steps"]:
            if step["kind"] not in ("question", "follow_up") or "play" not in step:
                continue
            rendered = files[v.id][step["wav"]][1]
            start = locate(audio, rendered.pcm, rec.sample_at(step["play"][0]))
            one_breath = step["wav"] == "wake"  # the question in the wake line's breath
            not_before = 0
            if step["kind"] == "question" and not one_breath:
                w = files[v.id]["wake"][1]
                w_start = locate(audio, w.pcm, rec.sample_at(row["t_wake"][0]))
                not_before = w_start + w.speech_end + int(GAP_S * RATE)
            lo, hi = cut(audio.size, start, rendered.speech_end, not_before)
            t0 = time.perf_counter()
            heard = transcribe(asr, np.ascontiguousarray(audio[lo:hi]).tobytes(), settings)["text"]
            step["mic"] = {"transcript": heard,
                           "question": kiosk_words(heard, listen.wake_phrase, listen.wake_sensitivity, one_breath),
                           "cut_s": [round(lo / RATE, 2), round(hi / RATE, 2)], "lead_s": round((start - lo) / RATE, 2),
                           "asr_s": round(time.perf_counter() - t0, 3)}
