#!/usr/bin/env python3
"""Speech recognition accuracy and speed on synthetic kiosk questions, clean and at 10 dB SNR.

    .venv/bin/python tools/bench_asr.py [--config kiosk.toml] [--voices 4] [--json]

Questions are spoken by Piper (en_US-joe-medium) and espeak-ng voices, resampled to 16 kHz, padded
with 0.3 s of silence, and fed through the engine `[listen]` selects, in 100 ms chunks like the
microphone. Noise: white noise scaled to 10 dB below the utterance's RMS. WER is the word edit
distance over the reference length (lower-case, punctuation removed, numbers as spoken). Time to
final is measured from the last fed chunk to `finish()` returning.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk.audio.wav import read_pcm16k  # noqa: E402
from kiosk.config import load_settings  # noqa: E402
from kiosk.listen.engines import build_asr, choose_asr  # noqa: E402

QUESTIONS = [
    "where do i pick up my badge", "what time does orientation start", "is there wifi for guests",
    "where is the it help desk", "how do i reset my password", "when is the canteen open for lunch",
    "can i charge my electric car here", "who do i call if i lose my badge", "where is the nearest fire exit",
    "do i need safety glasses on the assembly floor", "how many vacation days do i get",
    "what is the mileage rate for my own car", "how long is parental leave", "where can i park my car",
    "is there a quiet room where i can pray", "how do i book a business trip",
    "what should i do if a machine jams", "who is my onboarding buddy", "where are the lockers",
    "how do i report a near miss",
]
ESPEAK_VOICES = ["en-us", "en-gb", "en-us+f3"]


def normalize(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower().replace("-", " "))


def wer(ref: list[str], hyp: list[str]) -> tuple[int, int]:
    d = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
    return d[len(hyp)], len(ref)


def synthesize(tmp: Path, voices: int) -> list[tuple[str, str, np.ndarray]]:
    from kiosk.config import Settings
    from kiosk.runtime import build_speaker

    speaker = build_speaker(Settings())
    out = []
    for i, q in enumerate(QUESTIONS):
        clip = speaker.speak_joined(q.capitalize() + "?")
        wav = tmp / f"piper{i}.wav"
        from kiosk.audio.wav import write_wav

        write_wav(wav, clip.pcm, clip.sample_rate)
        out.append(("piper-joe", q, np.frombuffer(read_pcm16k(wav), dtype=np.int16)))
        for voice in ESPEAK_VOICES[: max(0, voices - 1)]:
            wav = tmp / f"{voice}{i}.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), q], check=True)
            out.append((f"espeak-{voice}", q, np.frombuffer(read_pcm16k(wav), dtype=np.int16)))
    return out


def with_noise(pcm: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    signal = pcm.astype(np.float64)
    rms = np.sqrt(np.mean(signal[np.abs(signal) > 100] ** 2))
    noise = rng.normal(0, rms / (10 ** (snr_db / 20)), size=signal.shape)
    return np.clip(signal + noise, -32768, 32767).astype(np.int16)


def run(engine, pcm: np.ndarray) -> tuple[str, float]:  # noqa: ANN001 - AsrEngine
    pad = np.zeros(4800, dtype=np.int16)
    data = np.concatenate([pad, pcm, pad]).tobytes()
    engine.start()
    for i in range(0, len(data), 3200):
        engine.feed(data[i:i + 3200])
    t = time.perf_counter()
    text = engine.finish().text
    return text, time.perf_counter() - t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config")
    parser.add_argument("--voices", type=int, default=4, help="Piper + up to 3 espeak-ng voices")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    settings = load_settings(args.config)
    engine_name, why = choose_asr(settings)
    engine = build_asr(settings)
    rng = np.random.default_rng(7)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        clips = synthesize(Path(tmp), args.voices)
    for condition in ("clean", "snr10"):
        errors = words = 0
        finals, per_voice = [], {}
        for voice, ref, pcm in clips:
            audio = pcm if condition == "clean" else with_noise(pcm, 10, rng)
            text, final_s = run(engine, audio)
            e, n = wer(normalize(ref), normalize(text))
            errors, words = errors + e, words + n
            v = per_voice.setdefault(voice, [0, 0])
            v[0], v[1] = v[0] + e, v[1] + n
            if 2.0 <= len(pcm) / 16000 <= 4.0:
                finals.append(final_s)
        results[condition] = {"wer": round(errors / words, 4), "utterances": len(clips),
                              "wer_by_voice": {k: round(e / n, 4) for k, (e, n) in per_voice.items()},
                              "final_s_median_2_to_4s_audio": round(statistics.median(finals), 3) if finals else None}
    report = {"engine": engine_name, "why": why, "results": results}
    print(json.dumps(report, indent=1) if args.json else report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
