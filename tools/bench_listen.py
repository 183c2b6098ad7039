#!/usr/bin/env python3
"""Listening benchmarks: wake recall and false accepts per hour, endpoint latency, time to transcript, idle CPU.

    .venv/bin/python tools/bench_listen.py [--config kiosk.toml] [--minutes 30] [--json docs/bench/listen.json]

All speech is synthetic (tools/speech_corpus.py: Piper en_US-joe-medium + six espeak-ng voices) and goes
through the kiosk's own Listener (Silero VAD, endpointer, the configured recognizer and wake spotter):
- wake: "Hey coach, <question>?" and a bare "Hey coach." in every voice, clean and with pink noise
  10 dB below the speech; follow-up window off so every line needs its wake. Recall = planted wakes
  heard inside their line; first_word_kept = the question's first word survives the cut after the phrase.
- false accepts: --minutes of speech without the phrase (sentences of the sample documents, the eval
  questions, and near misses like "hey Joe" / "the coach leaves at nine") with 0.3-1.2 s pauses.
- endpoint latency: stream position when speech_end is emitted minus the true end of speech
  (fed in 32 ms frames); also how far speech_end's `t` is from the truth.
- time to transcript: wall time from the end of the audio to the final transcript, utterances of 2.5-3.5 s.
- idle CPU: the live path (pyaudio -> Listener) on a private PulseAudio virtual microphone in silence,
  process CPU time / wall time over 30 s, in % of one core.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import bench_report  # noqa: E402
from speech_corpus import RATE, VOICES, Line, add_noise, render  # noqa: E402

from kiosk.cli.listen import listen_file  # noqa: E402
from kiosk.config import load_settings, with_overrides  # noqa: E402
from kiosk.events import Heard, SpeechEnded, Wake  # noqa: E402
from kiosk.listen.engines import build_listener, choose_asr  # noqa: E402

QUESTIONS = [
    "where do I pick up my badge", "what time does orientation start", "is there wifi for guests",
    "where is the IT help desk", "how do I reset my password", "when is the cafeteria open",
    "can I charge my electric car here", "who do I call if I lose my badge", "where is the nearest fire exit",
    "do I need safety glasses on the assembly floor", "how many vacation days do I get",
    "what is the mileage rate", "how long is parental leave", "where can I park",
    "is there a quiet room", "how do I book a business trip", "what should I do if a machine jams",
    "who is my onboarding buddy", "where are the lockers", "how do I report a near miss",
]
NEAR_MISSES = [
    "Hey Joe, how are you doing?", "The coach leaves at nine.", "I met the coach yesterday.",
    "Hey, could you hold the door?", "Coach class is cheaper than business.", "Hey, which way to the lobby?",
    "Our coach is parked outside.", "Hey Josh, over here!", "The couch in the lounge is new.",
    "Okay, let's go.", "Hey, nice to meet you.", "The football coach called.",
]


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 1) if values else float("nan")


def wake_lines() -> list[Line]:
    """Every voice says every question after the phrase; every third line is the bare phrase."""
    lines = []
    for i, voice in enumerate(VOICES):
        for j, q in enumerate(QUESTIONS):
            text = "Hey coach." if (i + j) % 3 == 0 else f"Hey coach, {q}?"
            # 2.5 s apart: a bare "Hey coach." opens the question window (listen.question_window_s, set to
            # its minimum of 1 s here), and a wake line said inside it is that visitor's question.
            lines.append(Line(text, voice, pause_before_s=2.5, wake=True))
    return lines


def wake_recall(settings, snr_db: float | None) -> dict:  # noqa: ANN001
    pcm, placed = render(wake_lines())
    if snr_db is not None:
        pcm = add_noise(pcm, snr_db, "pink", seed=11)
    listener = build_listener(with_overrides(settings, listen={"follow_up_s": 0.0, "question_window_s": 1.0}))
    events = listen_file(listener, pcm.tobytes())
    wakes = [e for e in events if isinstance(e, Wake)]
    hit = [any(p.start / RATE <= w.t <= p.end / RATE + 0.2 for w in wakes) for p in placed]
    false = [w for w in wakes if not any(p.start / RATE <= w.t <= p.end / RATE + 0.2 for p in placed)]
    # The question's first word must survive the cut right after the phrase.
    heard = [e for e in events if isinstance(e, Heard)]
    kept = total = 0
    for p, ok in zip(placed, hit, strict=True):
        if not ok or p.line.text == "Hey coach.":
            continue
        first = p.line.text.split(",")[1].split()[0].lower()
        total += 1
        end = p.end / RATE + 2.0
        kept += any(p.start / RATE <= h.t <= end and h.text.lower().lstrip(" ,.").startswith(first[:4])
                    for h in heard)
    by_voice = {v: round(sum(h for h, p in zip(hit, placed, strict=True) if p.line.voice == v)
                         / sum(1 for p in placed if p.line.voice == v), 3) for v in VOICES}
    return {"planted": len(placed), "recall": round(sum(hit) / len(placed), 3), "false_wakes": len(false),
            "first_word_kept": round(kept / total, 3) if total else None, "recall_by_voice": by_voice,
            "audio_s": round(pcm.size / RATE, 1)}


def document_sentences() -> list[str]:
    out = []
    samples = ROOT / "samples"
    for path in sorted((samples / "halvorsen-src").glob("*.md")) + sorted((samples / "halvorsen").glob("*.md")):
        text = re.sub(r"[#*_`>|\[\]()]", " ", path.read_text(encoding="utf-8"))
        for s in re.split(r"(?<=[.?!])\s+|\n\s*\n", text):
            s = " ".join(s.split())
            if 4 <= len(s.split()) <= 25 and "coach" not in s.lower():
                out.append(s)
    for line in (ROOT / "samples" / "halvorsen-eval.jsonl").read_text().splitlines():
        out.append(json.loads(line)["question"].capitalize() + "?")
    return out


def chatter_lines(minutes: float) -> list[Line]:
    """About `minutes` of speech without the wake phrase; every fifth line a near miss."""
    rng = random.Random(5)
    sentences = document_sentences()
    rng.shuffle(sentences)
    lines: list[Line] = []
    speech_s = 0.0
    i = 0
    while speech_s < minutes * 60:
        text = NEAR_MISSES[i // 5 % len(NEAR_MISSES)] if i % 5 == 4 else sentences[i % len(sentences)]
        lines.append(Line(text, VOICES[i % len(VOICES)], pause_before_s=rng.uniform(0.3, 1.2)))
        speech_s += len(text.split()) * 0.33  # rough; the real duration is measured after rendering
        i += 1
    return lines


def false_accepts(settings, minutes: float) -> dict:  # noqa: ANN001
    lines = chatter_lines(minutes)
    pcm, placed = render(lines)
    speech_s = sum(p.end - p.start for p in placed) / RATE
    listener = build_listener(with_overrides(settings, listen={"follow_up_s": 0.0, "question_window_s": 1.0}))
    t0 = time.perf_counter()
    events = listen_file(listener, pcm.tobytes())
    wall = time.perf_counter() - t0
    wakes = [e for e in events if isinstance(e, Wake)]
    heard_as = [e.heard for e in wakes]
    return {"lines": len(lines), "near_misses": sum(1 for ln in lines if ln.text in NEAR_MISSES),
            "speech_minutes": round(speech_s / 60, 1), "audio_minutes": round(pcm.size / RATE / 60, 1),
            "false_wakes": len(wakes), "per_hour_of_speech": round(len(wakes) / (speech_s / 3600), 2),
            "heard_as": heard_as, "processing_rtf": round(wall / (pcm.size / RATE), 3)}


def endpointing(settings) -> dict:  # noqa: ANN001
    """No wake needed: every line is a question; fed frame by frame in real time to time the events."""
    texts = [q.capitalize() + "?" for q in QUESTIONS] + [f"Excuse me, I am new here, {q}?" for q in QUESTIONS]
    lines = [Line(t, VOICES[i % len(VOICES)], pause_before_s=1.5) for i, t in enumerate(texts)]
    pcm, placed = render(lines)
    listener = build_listener(settings, wake=False)
    data = pcm.tobytes()
    latencies, t_errors, finals = [], [], []
    ends = iter(placed)
    current = next(ends)
    step = 2 * 512
    pending_end: float | None = None
    started = time.perf_counter()
    for off in range(0, len(data), step):
        # Paced like a microphone, so work the listener starts early (Whisper during the hangover) has
        # the time it would have live.
        time.sleep(max(0.0, started + off / 2 / RATE - time.perf_counter()))
        t0 = time.perf_counter()
        events = listener.feed(data[off:off + step])
        took = time.perf_counter() - t0
        for e in events:
            if isinstance(e, SpeechEnded):
                latencies.append((listener.position - current.end) / RATE * 1000)
                t_errors.append((e.t * RATE - current.end) / RATE * 1000)
                pending_end = (current.end - current.start) / RATE
            elif isinstance(e, Heard) and pending_end is not None:
                if 2.5 <= pending_end <= 3.5:
                    finals.append(took * 1000)
                pending_end = None
                current = next(ends, current)
    return {"utterances": len(latencies), "hangover_ms": settings.listen.hangover_ms,
            "latency_ms_p50": pct(latencies, 50), "latency_ms_p95": pct(latencies, 95),
            "speech_end_t_error_ms_p50": pct(t_errors, 50),
            "speech_end_to_transcript_ms_3s_median": round(statistics.median(finals), 1) if finals else None,
            "speech_end_to_transcript_samples": len(finals)}


def idle_cpu(settings, seconds: float = 30.0) -> dict:  # noqa: ANN001
    from pulse_sandbox import private_pulse

    from kiosk.listen.live import LiveListener

    listener = build_listener(settings)
    with private_pulse("kiosk-bench-listen-"):
        live = LiveListener(listener, "pulse", lambda e: None)
        with live:
            time.sleep(3)  # the ALSA pulse plugin's first audio arrives after ~2 s
            cpu0, wall0, samples0 = time.process_time(), time.perf_counter(), live.mic.stats.samples
            time.sleep(seconds)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            samples = live.mic.stats.samples - samples0
    return {"seconds": round(wall, 1), "cpu_percent_of_one_core": round(100 * cpu / wall, 1),
            "audio_seconds_processed": round(samples / RATE, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config")
    parser.add_argument("--minutes", type=float, default=30.0, help="speech without the wake phrase")
    parser.add_argument("--skip", nargs="*", default=[], choices=["wake", "false", "endpoint", "idle"])
    parser.add_argument("--json", help="also write the report here")
    args = parser.parse_args()
    settings = load_settings(args.config)
    engine, why = choose_asr(settings)
    report: dict = {"engine": engine, "why": why, "wake_phrase": settings.listen.wake_phrase,
                    "command": "tools/bench_listen.py " + " ".join(sys.argv[1:])}
    if "wake" not in args.skip:
        report["wake_clean"] = wake_recall(settings, None)
        report["wake_pink_10db"] = wake_recall(settings, 10)
        print(json.dumps({k: report[k] for k in ("wake_clean", "wake_pink_10db")}), file=sys.stderr)
    if "endpoint" not in args.skip:
        report["endpoint"] = endpointing(settings)
        print(json.dumps(report["endpoint"]), file=sys.stderr)
    if "idle" not in args.skip:
        report["idle"] = idle_cpu(settings)
        print(json.dumps(report["idle"]), file=sys.stderr)
    if "false" not in args.skip:
        report["false_accepts"] = false_accepts(settings, args.minutes)
    bench_report.emit(report, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
