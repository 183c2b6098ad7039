#!/usr/bin/env python3
"""Speaker embeddings on synthetic voices: same voice vs different voice, in quiet, in noise, from further away.

The situation measured: the kiosk has heard utterance A (the visitor who woke it) and then, a few seconds
after answering, utterance B. Is B the same voice as A? Every pair is two *different* sentences of 1.5-4 s.

Voices (tools/speech_corpus.py): Piper joe and espeak-ng. espeak-ng's "voices" are one formant
synthesizer: its accents (en-gb, en-gb-x-rp) keep the timbre of en-us, so they are reported apart, not
counted as other speakers; its variants (+f3, +m7, +f4) change the timbre. Pitch-only variants (-p) keep
the formants and are the hard case. Conditions, applied to both sides unless said:
  clean          as synthesized
  noise15        pink noise 15 dB below the speech (different noise on A and B)
  quiet_b        B 10 dB quieter (the bystander further away)
  quiet_b_noise  B 10 dB quieter, and room noise 15 dB below A's speech on both (B at 5 dB SNR)

Prints JSON; docs/bench/2026-12-05-speaker.json is its output. About a minute on one core.
    nice .venv/bin/python tools/bench_speaker.py > docs/bench/DATE-speaker.json
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import speech_corpus as sc  # noqa: E402

from kiosk.listen import speaker  # noqa: E402

SENTENCES = [
    "Where is the canteen, please?",
    "Can you tell me when the next bus leaves?",
    "I am looking for the meeting room on the second floor.",
    "What time does the museum close today?",
    "Is there a pharmacy near the main entrance?",
    "How do I get to the parking garage?",
    "Who should I ask about a lost badge?",
    "Thanks, and where are the toilets?",
]
# name -> (espeak voice or "piper", speed wpm, pitch or None)
TIMBRES = {"piper": ("piper", 160, None), "en-us": ("en-us", 160, None), "en-us+f3": ("en-us+f3", 160, None),
           "en-us+m7": ("en-us+m7", 160, None), "en-us+f4": ("en-us+f4", 160, None)}
PITCHES = {"en-us-p25": ("en-us", 160, 25), "en-us-p80": ("en-us", 160, 80)}
SPEEDS = {"en-us-s130": ("en-us", 130, None), "en-us-s190": ("en-us", 190, None)}
ACCENTS = {"en-gb": ("en-gb", 160, None), "en-gb-x-rp": ("en-gb-x-rp", 160, None)}
SPEAKERS = {**TIMBRES, **PITCHES}  # each one counts as its own speaker
CONDITIONS = ("clean", "noise15", "quiet_b", "quiet_b_noise")
THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75)


def say(text: str, spec: tuple[str, int, int | None]) -> np.ndarray:
    voice, speed, pitch = spec
    return sc.speak(text, voice, speed, pitch)


def condition(pcm: np.ndarray, name: str, side: str, seed: int) -> np.ndarray:
    if name == "clean":
        return pcm
    if name == "noise15":
        return sc.add_noise(pcm, 15.0, "pink", seed)
    quiet = side == "b"
    level = sc.speech_rms(pcm)  # A's level stands for the visitor's: the room noise is set from it
    out = np.clip(pcm.astype(np.float64) * 10 ** (-10 / 20), -32768, 32767).astype(np.int16) if quiet else pcm
    if name == "quiet_b":
        return out
    if name == "quiet_b_noise":
        return sc.add_noise(out, 15.0, "pink", seed, reference_rms=level)
    raise ValueError(name)


def eer(same: np.ndarray, diff: np.ndarray) -> tuple[float, float]:
    """Equal error rate and the threshold where misses (same < t) and false accepts (diff >= t) meet."""
    ts = np.sort(np.concatenate([same, diff]))
    miss = np.searchsorted(np.sort(same), ts, side="left") / same.size
    fa = 1.0 - np.searchsorted(np.sort(diff), ts, side="left") / diff.size
    i = int(np.argmin(np.abs(miss - fa)))
    return float((miss[i] + fa[i]) / 2), float(ts[i])


def stats(x: list[float]) -> dict:
    a = np.asarray(x)
    return {"n": int(a.size), "median": round(float(np.median(a)), 3), "p10": round(float(np.percentile(a, 10)), 3),
            "p90": round(float(np.percentile(a, 90)), 3), "min": round(float(a.min()), 3),
            "max": round(float(a.max()), 3)}


def run(threads: int) -> dict:
    t0 = time.perf_counter()
    voices = {**SPEAKERS, **SPEEDS, **ACCENTS}
    audio = {(v, i): say(s, spec) for v, spec in voices.items() for i, s in enumerate(SENTENCES)}
    synth_s = time.perf_counter() - t0
    durations = [a.size / sc.RATE for a in audio.values()]

    t1 = time.perf_counter()
    emb = speaker.DVectorEmbedder(threads=threads).load()
    load_ms = (time.perf_counter() - t1) * 1000

    identical = {}  # espeak "voices" that are byte-for-byte the same sound
    for a, b in (("en-gb+f4", "en-gb"), ("en-gb-x-rp", "en-gb"), ("en-us", "en-gb")):
        identical[f"{a} == {b}"] = bool(np.array_equal(sc.speak(SENTENCES[0], a), sc.speak(SENTENCES[0], b)))

    results = {}
    for cond in CONDITIONS:
        ea = {k: emb.embed(condition(a, cond, "a", 11 + 7 * k[1]).tobytes()) for k, a in audio.items()}
        eb = {k: emb.embed(condition(a, cond, "b", 101 + 7 * k[1]).tobytes()) for k, a in audio.items()}
        same: list[float] = []
        diff_timbre: list[float] = []
        diff_pitch: list[float] = []  # a pair where one side is a pitch-only variant of the other's voice
        speed: list[float] = []
        accent: list[float] = []
        matrix = {}
        for (va, ia), (vb, ib) in itertools.product(audio, audio):
            if ia == ib:
                continue
            s = float(ea[(va, ia)] @ eb[(vb, ib)])
            if va in SPEAKERS and vb in SPEAKERS:
                matrix.setdefault((va, vb), []).append(s)
                if va == vb:
                    same.append(s)
                elif va in TIMBRES and vb in TIMBRES:
                    diff_timbre.append(s)
                else:
                    diff_pitch.append(s)
            elif va == "en-us" and vb in SPEEDS:
                speed.append(s)
            elif va == "en-us" and vb in ACCENTS:
                accent.append(s)
        s_arr, dt, dp = np.array(same), np.array(diff_timbre), np.array(diff_pitch)
        eer_t, th_t = eer(s_arr, dt)
        eer_all, th_all = eer(s_arr, np.concatenate([dt, dp]))
        results[cond] = {
            "eer_other_timbre": round(eer_t, 3), "eer_threshold_other_timbre": round(th_t, 3),
            "eer_incl_pitch_only": round(eer_all, 3), "eer_threshold_incl_pitch_only": round(th_all, 3),
            "same_voice": stats(same), "other_timbre": stats(diff_timbre), "pitch_only_variant": stats(diff_pitch),
            "en-us_vs_its_speed_variants": stats(speed), "en-us_vs_accents_same_timbre": stats(accent),
            "at_threshold": {str(t): {"same_voice_rejected": round(float((s_arr < t).mean()), 3),
                                      "other_timbre_accepted": round(float((dt >= t).mean()), 3),
                                      "pitch_only_accepted": round(float((dp >= t).mean()), 3)} for t in THRESHOLDS},
        }
        if cond == "clean":
            names = list(SPEAKERS)
            results[cond]["median_by_voice_pair"] = {
                "voices": names,
                "rows": [[round(float(np.median(matrix[(a, b)])), 2) for b in names] for a in names]}

    two_s = next(a for a in audio.values() if a.size >= 2 * sc.RATE)[: 2 * sc.RATE].tobytes()
    def timed(pcm: bytes) -> tuple[float, float]:
        """(CPU ms of this process, wall ms): on a shared machine the wall time also counts waiting."""
        c, t = time.process_time(), time.perf_counter()
        emb.embed(pcm)
        return (time.process_time() - c) * 1000, (time.perf_counter() - t) * 1000

    per_utt = np.array([timed(a.tobytes()) for a in list(audio.values())[:40]])
    per_2s = np.array([timed(two_s) for _ in range(20)])

    def ms(a: np.ndarray) -> dict:
        cpu, wall = a[:, 0], a[:, 1]
        return {"cpu_median": round(float(np.median(cpu)), 1), "cpu_p90": round(float(np.percentile(cpu, 90)), 1),
                "wall_median": round(float(np.median(wall)), 1), "wall_min": round(float(wall.min()), 1)}

    import onnxruntime

    model = Path(emb.model_path)
    return {
        "what": "speaker embeddings: same voice vs other voice, pairs of different sentences (tools/bench_speaker.py)",
        "model": {"name": speaker.MODEL_NAME, "package": f"{speaker.PACKAGE}=={speaker.PACKAGE_VERSION}",
                  "file": model.name, "size": model.stat().st_size,
                  "sha256": hashlib.sha256(model.read_bytes()).hexdigest(), "dim": speaker.DIM},
        "machine": {"python": platform.python_version(), "onnxruntime": onnxruntime.__version__,
                    "cpus": os.cpu_count(), "threads": threads, "machine": platform.machine()},
        "corpus": {"sentences": len(SENTENCES), "speakers": list(SPEAKERS), "speed_variants": list(SPEEDS),
                   "accent_variants": list(ACCENTS), "utterances": len(audio),
                   "duration_s": {"min": round(min(durations), 2), "median": round(float(np.median(durations)), 2),
                                  "max": round(max(durations), 2)},
                   "espeak_identical_sounds": identical, "synthesis_s": round(synth_s, 1)},
        "conditions": results,
        "cpu": {"session_load_ms": round(load_ms, 1),
                "ms_per_utterance": ms(per_utt), "ms_per_2s_utterance": ms(per_2s),
                "load_average_1min": round(os.getloadavg()[0], 2)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads (the kiosk uses 1)")
    args = ap.parse_args()
    print(json.dumps(run(args.threads), indent=1))


if __name__ == "__main__":
    main()
