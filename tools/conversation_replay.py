"""Live = file for tools/bench_conversation.py: `kiosk transcribe --wake` on the audio the kiosk's microphone got.

During the live run a second Recorder keeps what the PulseAudio source the kiosk listens to (`virtual_mic`)
delivered: the visitor, the hall's noise and the bystanders, through PulseAudio's buffering. After the run
every question is cut out of that recording together with the visitor's wake line (`cut`: from PRE_S before
the wake line to AFTER_S after the question's speech) and heard by kiosk.listen.transcribe.transcribe with
the run's own settings and its wake phrase (`wake=True`: the words `kiosk transcribe --wake` prints, the
question the kiosk would act on: in one breath the words after the phrase, decoded in the wake phrase's
window; after a pause the question alone). A follow-up is cut alone and heard as after a tap (`questions`).
(Until 2026-12-06 the question was cut without its wake line and decoded as a plain question; a line said in
one breath was then decoded in another window than the kiosk's, and Whisper base wrote other words.)
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import conversation_corpus as cc
import numpy as np
from conversation_measure import locate
from speech_corpus import RATE

PRE_S = 0.5
"""audio kept before the utterance's clip starts (more than listen.preroll_ms, the pre-roll the kiosk adds)"""
AFTER_S = 1.0
"""audio kept after its speech ends"""


def cut(size: int, start: int, speech_end: int, not_before: int = 0, pre_s: float = PRE_S,
        after_s: float = AFTER_S) -> tuple[int, int]:
    """(first, end) sample of the stretch of a recording of `size` samples kept for an utterance whose clip
    starts at `start` and whose speech ends `speech_end` samples into the clip: from `pre_s` before it (not
    before `not_before`) to `after_s` after its speech."""
    lo = min(size, max(0, not_before, start - int(pre_s * RATE)))
    hi = min(size, start + speech_end + int(after_s * RATE))
    return lo, max(lo, hi)


def replay(live: dict[str, Any], visitors: list[cc.Visitor], files: dict[str, Any], asr: Any,
           settings: Any) -> None:
    """Adds `mic` to every question and follow-up step: what `kiosk transcribe` (the run's `settings`, its
    recognizer `asr`) hears in the microphone's recording of it, and the question the kiosk would take."""
    from kiosk.listen.transcribe import transcribe

    audio, rec = live.get("mic_recording"), live.get("mic_rec")
    if audio is None or rec is None:
        return
    for row, v in zip(live["rows"], visitors, strict=False):
        for step in row["steps"]:
            if step["kind"] not in ("question", "follow_up") or "play" not in step:
                continue
            rendered = files[v.id][step["wav"]][1]
            start = locate(audio, rendered.pcm, rec.sample_at(step["play"][0]))
            if step["kind"] == "question" and step["wav"] != "wake":  # asked after a pause: from the wake line on
                start = locate(audio, files[v.id]["wake"][1].pcm, rec.sample_at(row["t_wake"][0]))
                rendered_end = locate(audio, rendered.pcm, rec.sample_at(step["play"][0])) + rendered.speech_end
                speech_end = rendered_end - start
            else:
                speech_end = rendered.speech_end
            lo, hi = cut(audio.size, start, speech_end)
            t0 = time.perf_counter()
            heard = transcribe(asr, np.ascontiguousarray(audio[lo:hi]).tobytes(), settings,
                               wake=step["kind"] == "question", questions=step["kind"] == "follow_up")
            step["mic"] = {"transcript": heard["text"], "questions": heard["questions"],
                           "question": heard["questions"][-1] if heard["questions"] else "",
                           "cut_s": [round(lo / RATE, 2), round(hi / RATE, 2)], "lead_s": round((start - lo) / RATE, 2),
                           "asr_s": round(time.perf_counter() - t0, 3)}


def compare_heard(acted: list[str], heard: list[str]) -> tuple[int, list[str], list[str]]:
    """How many questions the kiosk acted on the replay heard word for word: (count, those it did not, replayed
    transcripts left over). Each replayed transcript counts once. A question the visitor went on with after a
    pause reaches the kiosk as two transcripts (or more, if it went on again), which it joins ("sorry." + "where
    is ..." -> "sorry. where is ..."; kiosk.appliance.app): the replay's neighbours joined the same way count as
    that question."""
    left, same, differ = list(heard), 0, []
    for text in acted:
        if text in left:
            left.remove(text)
            same += 1
            continue
        run = next(((i, k) for k in (2, 3, 4) for i in range(len(left) - k + 1)
                    if " ".join(left[i:i + k]) == text), None)
        if run is None:
            differ.append(text)
        else:
            del left[run[0]:run[0] + run[1]]
            same += 1
    return same, differ, left


def replay_kiosk_recording(live: dict[str, Any], folder: Path, settings: Any) -> dict[str, Any]:
    """The kiosk's own flight recording (listen.record_dir: what its listener consumed, and its control calls)
    heard again by a fresh listener, as `kiosk listen --input REC.wav --controls REC.jsonl` hears it: of the
    questions the kiosk acted on (its turn log), how many the replay heard with exactly the same text (each
    replayed transcript counted once)."""
    from kiosk.audio.wav import read_pcm16k
    from kiosk.events import Heard
    from kiosk.listen.engines import build_listener
    from kiosk.listen.flight import read_controls
    from kiosk.listen.flight import replay as replay_flight

    recordings = sorted(folder.glob("listen-*.wav"))
    if len(recordings) != 1:
        return {"recordings": len(recordings)}
    pcm = read_pcm16k(recordings[0])
    t0 = time.perf_counter()
    events = replay_flight(build_listener(settings), pcm, read_controls(recordings[0].with_suffix(".jsonl")))
    heard = [e.text for e in events if isinstance(e, Heard)]
    acted = [t["question"] for t in live.get("turn_log", []) if t.get("question")]
    same, differ, left = compare_heard(acted, heard)
    return {"recordings": 1, "audio_minutes": round(len(pcm) / 2 / RATE / 60, 1), "kiosk_questions": len(acted),
            "replayed_identically": same, "share": round(same / len(acted), 3) if acted else None,
            "not_replayed": differ[:12], "replay_only": left[:12], "replay_s": round(time.perf_counter() - t0, 1)}
