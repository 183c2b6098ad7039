#!/usr/bin/env python3
"""Wake recall for the voices the synthetic templates miss, once the phrase has been recorded in them
(kiosk.listen.wake_samples, `kiosk wake record`), through the kiosk's Listener (its real decision).

    .venv/bin/python tools/bench_wake_samples.py [--json FILE]       # ~35 min
    .venv/bin/python tools/bench_wake_samples.py --conversation      # the conversation corpus's wake lines, ~10 min

Voices: the accents and voices that wake the kiosk least (the conversation corpus's held-out Scottish and New
York voices, the accents of tools/bench_wake_accents.py, en-us+f3/f4). Each says "Hey coach." and five
one-breath lines at three speeds and pitches (the visitor), and the near misses of tools/bench_wake_acoustic.py.
Three conditions, each a fresh samples folder:
- none: the synthetic templates only (as shipped);
- self: the visitor's own voice recorded the phrase (two bare takes and one run into a question, at speeds and
  pitches the test lines do not use): a kiosk its staff use every day;
- accent: another person with the same accent recorded it (the same espeak-ng language, another variant:
  other timbre and pitch), which is what a company can do for visitors it has never met.
Near misses are counted in every voice, with every voice's samples in the folder at once (the `all` rows):
a company that recorded seven accents.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import conversation_corpus as cc  # noqa: E402
from bench_wake_acoustic import NEAR_MISSES  # noqa: E402
from speech_corpus import RATE  # noqa: E402

# (visitor voice, pitch; another person with that accent)
VOICES = (("en-gb-scotland", 45, "en-gb-scotland+m3"), ("en-us-nyc+f1", 64, "en-us-nyc+f4"),
          ("en-029", 44, "en-029+m2"), ("en-gb-x-gbcwmd", 48, "en-gb-x-gbcwmd+f3"),
          ("en-gb-x-gbclan", 48, "en-gb-x-gbclan+m4"), ("en-us+f3", 62, "en-us+f5"), ("en-us+f4", 66, "en-us+f1"))
LINES = ("Hey coach.", "Hey coach, where is the canteen?", "Hey coach, when does my shift start?",
         "Hey coach, is there parking for bikes?", "Hey coach, who do I ask about my laptop?",
         "Hey coach, I lost my badge.")
SPEEDS = ((140, -6), (165, 0), (185, 6))  # words a minute, pitch offset from the voice's
SAMPLE_TAKES = (("Hey coach.", 150, -3), ("Hey coach.", 175, 3), ("Hey coach, where is the lift?", 160, 0))
"""what the recording person says: speeds and pitches the test lines do not use"""


def write_samples(folder: Path, voice: str, pitch: int) -> None:
    from kiosk.audio.wav import write_wav

    folder.mkdir(parents=True, exist_ok=True)
    for i, (text, speed, offset) in enumerate(SAMPLE_TAKES):
        pcm = cc.level(cc.synth(text, voice, speed, pitch + offset))
        room = np.zeros(int(0.4 * RATE), np.int16)  # a take starts and ends with a little silence
        write_wav(folder / f"{voice.replace('+', '_')}-{i}.wav", np.concatenate([room, pcm, room]).tobytes(), RATE)


def main() -> int:
    from kiosk.cli.listen import listen_file
    from kiosk.config import Settings, with_overrides
    from kiosk.events import Wake
    from kiosk.knowledge.index import ingest
    from kiosk.listen.engines import build_listener
    from kiosk.listen.wake_samples import phrase_folder

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--conversation", action="store_true",
                        help="instead: the conversation corpus's wake lines, without and with every accent's samples")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    kb = tmp / "kb.sqlite"
    ingest(kb, [ROOT / "samples" / "halvorsen"])
    if args.conversation:
        return conversation(tmp, kb, args.json)
    before, after = np.zeros(RATE // 2, np.int16), np.zeros(7 * RATE, np.int16)

    def clip(text: str, voice: str, speed: int, pitch: int) -> bytes:
        return np.concatenate([before, cc.level(cc.synth(text, voice, speed, pitch)), after]).tobytes()

    wakes = {v: [clip(t, v, s, p + o) for t in LINES for s, o in SPEEDS] for v, p, _ in VOICES}
    misses = {v: [(t, clip(t, v, 165, p)) for t in NEAR_MISSES] for v, p, _ in VOICES}

    def listener(folder: Path):  # noqa: ANN202
        return build_listener(with_overrides(Settings(), persona={"knowledge_base": str(kb)},
                                             listen={"wake_samples": str(folder)}))

    def recall(heard_by, voice: str) -> list[bool]:  # noqa: ANN001
        return [any(isinstance(e, Wake) for e in listen_file(heard_by, pcm)) for pcm in wakes[voice]]

    report: dict = {"voices": VOICES, "lines": LINES, "speeds": SPEEDS, "sample_takes": SAMPLE_TAKES,
                    "threshold": Settings().listen.wake_acoustic, "conditions": {}}
    for condition in ("none", "self", "accent"):
        per_voice = {}
        for voice, pitch, other in VOICES:
            folder = tmp / condition / voice
            if condition != "none":
                speaker = voice if condition == "self" else other
                write_samples(folder / phrase_folder("hey coach"), speaker, pitch)
            hits = recall(listener(folder), voice)
            per_voice[voice] = f"{sum(hits)}/{len(hits)}"
            print(condition, voice, per_voice[voice], flush=True)
        total = sum(int(v.split("/")[0]) for v in per_voice.values())
        report["conditions"][condition] = {"recall": f"{total}/{len(VOICES) * len(LINES) * len(SPEEDS)}",
                                           "per_voice": per_voice}
    for condition in ("none", "self", "accent"):  # every voice's samples at once: near misses in every voice
        folder = tmp / f"all-{condition}"
        if condition != "none":
            for voice, pitch, other in VOICES:
                write_samples(folder / phrase_folder("hey coach"), voice if condition == "self" else other, pitch)
        heard_by = listener(folder)
        woke = [f"{v}: {t}" for v, lines in misses.items() for t, pcm in lines
                if any(isinstance(e, Wake) for e in listen_file(heard_by, pcm))]
        hits = [h for v, _, _ in VOICES for h in recall(heard_by, v)]
        report["conditions"][condition]["all_samples"] = {
            "recall": f"{sum(hits)}/{len(hits)}", "near_misses_woke": f"{len(woke)}/{len(NEAR_MISSES) * len(VOICES)}",
            "near_miss_wakes": woke}
        print(condition, "all samples:", report["conditions"][condition]["all_samples"], flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


def conversation(tmp: Path, kb: Path, out: Path | None) -> int:
    """The conversation corpus's wake lines (tools/ab_wake_settings.py's clips: its voices, pauses and hall noise)
    with no samples and with the `accent` samples of every voice above (none of them is a corpus voice's own)."""
    from kiosk.cli.listen import listen_file
    from kiosk.config import Settings, with_overrides
    from kiosk.events import Wake
    from kiosk.listen.engines import build_listener
    from kiosk.listen.wake_samples import phrase_folder

    folder = tmp / "conversation-accents"
    for _voice, pitch, other in VOICES:
        write_samples(folder / phrase_folder("hey coach"), other, pitch)
    gap = np.zeros(7 * RATE, np.int16)
    clips = []
    for v in cc.visitors_of(cc.generate(11), "all"):
        pcm = np.concatenate([np.zeros(RATE // 2, np.int16), cc.render_wake(v).pcm,
                              np.zeros(int(2.5 * RATE), np.int16)])
        if v.snr_db is not None:
            bed = cc.scaled_noise(cc.noise_bed(v.noise_bed), v.snr_db)
            pcm = np.clip(pcm.astype(np.int32) + bed[:pcm.size], -32768, 32767).astype(np.int16)
        clips.append((v, np.concatenate([pcm, gap]).tobytes()))
    report: dict = {"samples_of": [other for _, _, other in VOICES]}
    for name, samples in (("none", tmp / "empty"), ("every accent's samples", folder)):
        listener = build_listener(with_overrides(Settings(), persona={"knowledge_base": str(kb)},
                                                 listen={"wake_samples": str(samples)}))
        hits: dict[str, list[bool]] = {}
        for v, pcm in clips:
            woke = any(isinstance(e, Wake) for e in listen_file(listener, pcm))
            hits.setdefault(f"{v.part}:{v.voice}", []).append(woke)
        parts = {p: f"{sum(sum(h) for k, h in hits.items() if k.startswith(p))}/"
                    f"{sum(len(h) for k, h in hits.items() if k.startswith(p))}" for p in ("tuning", "heldout")}
        report[name] = {"parts": parts, "per_voice": {k: f"{sum(h)}/{len(h)}" for k, h in sorted(hits.items())}}
        print(name, json.dumps(report[name]), flush=True)
    if out:
        out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
