#!/usr/bin/env python3
"""Choose the Whisper wake matcher's settings by measurement: recall vs false accepts per hour.

    .venv/bin/python tools/tune_wake.py [--minutes 30] [--cache /tmp/wake-segments.json] [--floor-db -65]

Transcribes every VAD segment of the wake set (clean and pink noise at 10 dB) and of --minutes of chatter
without the phrase (tools/bench_listen.py builds both) once, exactly as the TranscriptSpotter sees them
(same VAD, endpointer, lead-in and recognizer, with no wake needed), caches the transcripts, then
scores `match_phrase` at several sensitivities in milliseconds. --floor-db adds a microphone noise
floor to all audio (digital silence is not what a microphone delivers).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from bench_listen import chatter_lines, wake_lines  # noqa: E402
from speech_corpus import RATE, add_noise, noise, render  # noqa: E402

from kiosk.cli.listen import listen_file  # noqa: E402
from kiosk.config import load_settings  # noqa: E402
from kiosk.events import Heard, SpeechStarted  # noqa: E402
from kiosk.listen.engines import build_listener  # noqa: E402
from kiosk.listen.wake import match_phrase  # noqa: E402

SENSITIVITIES = (0.0, 0.25, 0.4, 0.5, 0.6, 0.75, 1.0)


def segments(settings, pcm: np.ndarray, placed: list, hotwords: str | None = None) -> list[dict]:  # noqa: ANN001
    listener = build_listener(settings, wake=False)
    listener.asr.hotwords = hotwords
    events = listen_file(listener, pcm.tobytes())
    out, start = [], 0.0
    for e in events:
        if isinstance(e, SpeechStarted):
            start = e.t
        elif isinstance(e, Heard):
            wake = any(p.line.wake and p.start / RATE - 0.3 <= start <= p.end / RATE for p in placed)
            out.append({"t": start, "text": e.text, "words": [w.word for w in e.words], "wake": wake})
    return out


def with_floor(pcm: np.ndarray, floor_db: float | None) -> np.ndarray:
    if floor_db is None:
        return pcm
    level = 32768 * 10 ** (floor_db / 20)
    return np.clip(pcm + noise(pcm.size, level, "white", np.random.default_rng(1)), -32768, 32767).astype(np.int16)


def collect(settings, minutes: float, floor_db: float | None, hotwords: str | None) -> dict:  # noqa: ANN001
    data: dict = {}
    pcm, placed = render(wake_lines())
    data["planted"] = len(placed)
    data["clean"] = segments(settings, with_floor(pcm, floor_db), placed, hotwords)
    noisy = add_noise(pcm, 10, "pink", seed=11)
    data["pink10"] = segments(settings, with_floor(noisy, floor_db), placed, hotwords)
    pcm, placed = render(chatter_lines(minutes))
    data["chatter_speech_h"] = sum(p.end - p.start for p in placed) / RATE / 3600
    data["chatter"] = segments(settings, with_floor(pcm, floor_db), placed, hotwords)
    return data


def score(data: dict, phrase: str, sensitivity: float) -> dict:
    def hits(segs: list[dict]) -> list[dict]:
        return [s for s in segs if match_phrase(s["words"] or s["text"].split(), phrase, sensitivity)]

    row = {"sensitivity": sensitivity}
    for cond in ("clean", "pink10"):
        found = hits(data[cond])
        row[f"recall_{cond}"] = round(sum(s["wake"] for s in found) / data["planted"], 3)
    false = hits(data["chatter"])
    row["false_per_hour"] = round(len(false) / data["chatter_speech_h"], 2)
    row["false_heard"] = [s["text"] for s in false][:8]
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--cache", type=Path, help="transcripts are read from / written to this JSON file")
    parser.add_argument("--floor-db", type=float, help="microphone noise floor, dBFS (e.g. -65)")
    parser.add_argument("--hotwords", help="bias Whisper towards these words (e.g. \"Hey coach\")")
    args = parser.parse_args()
    settings = load_settings(args.config)
    if args.cache and args.cache.exists():
        data = json.loads(args.cache.read_text())
    else:
        data = collect(settings, args.minutes, args.floor_db, args.hotwords)
        if args.cache:
            args.cache.write_text(json.dumps(data, ensure_ascii=False))
    missed = [s["text"] for s in data["clean"] if s["wake"]
              and not match_phrase(s["words"] or s["text"].split(), settings.listen.wake_phrase, 0.5)]
    report = {"phrase": settings.listen.wake_phrase, "floor_db": args.floor_db, "hotwords": args.hotwords,
              "chatter_speech_minutes": round(data["chatter_speech_h"] * 60, 1),
              "sweep": [score(data, settings.listen.wake_phrase, s) for s in SENSITIVITIES],
              "missed_clean_at_0.5": missed[:20]}
    print(json.dumps(report, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
