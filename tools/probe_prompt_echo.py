#!/usr/bin/env python3
"""Whisper writing a word of its prompt that it did not hear: the kiosk's engine, primed as in `kiosk run`,
on every question and follow-up of a conversation benchmark, with the echo guard on and off.

    .venv/bin/python tools/probe_prompt_echo.py --keep /tmp/conv8 docs/bench/2026-12-07-conversation-8.json \
        [--json FILE]

`--keep` is the directory `tools/bench_conversation.py --keep` left (each visitor's lines as WAV files and
the kiosk's index); the report gives the lines' texts and SNRs. Each line is decoded clean and, for visitors in
a noisy hall, mixed with its own hall noise at the visitor's SNR. Prints the word error rate both ways and
every transcript the guard changes (kiosk.listen.asr_whisper.ECHO_PROBABILITY; docs/benchmarks.md, "Words
from the prompt, not from the audio").
"""

from __future__ import annotations

import argparse
import json
import sys
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from conversation_text import edits, spoken  # noqa: E402
from speech_corpus import speech_rms  # noqa: E402

from kiosk.listen.asr_whisper import ECHO_PROBABILITY, WhisperEngine  # noqa: E402
from kiosk.listen.vocabulary import whisper_prompt  # noqa: E402
from kiosk.models.manifest import load_manifest  # noqa: E402

PAD = np.zeros(4800, dtype=np.float64)  # 0.3 s of silence either side, as the listener's pre-roll gives


def read(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)


def lines(keep: Path, report: dict) -> list[tuple[str, str, np.ndarray]]:
    """(name, what was said, audio) for every question and follow-up, clean and in its hall noise."""
    out = []
    for row in report["rows"]:
        for key, suffix in (("question", "question"), ("follow_up", "follow-up")):
            said, wav = row.get(key), keep / f"{row['id']}-{suffix}.wav"
            if not said or not wav.is_file():
                continue
            pcm = read(wav)
            out.append((f"{row['id']} {key} clean", said["text"], pcm))
            bed = keep / f"{row['id']}-noise.wav"
            if row.get("snr_db") is not None and bed.is_file():
                noise = read(bed)[: len(pcm)]
                scale = speech_rms(pcm.astype(np.int16)) / 10 ** (row["snr_db"] / 20)
                out.append((f"{row['id']} {key} noise", said["text"],
                            pcm + noise / max(float(np.sqrt(np.mean(noise * noise))), 1e-9) * scale))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="the conversation benchmark's --json report")
    parser.add_argument("--keep", type=Path, required=True, help="its --keep directory")
    parser.add_argument("--json", type=Path, help="write the transcripts and totals here")
    args = parser.parse_args()
    model = load_manifest().locate("whisper-base-ct2").path
    prompt, _ = whisper_prompt(args.keep / "kb.sqlite", model / "tokenizer.json")
    engine = WhisperEngine(model, prompt=prompt, question_window_s=10.0)
    rows = []
    for name, said, pcm in lines(args.keep, json.loads(args.report.read_text())):
        audio = np.concatenate([PAD, pcm, PAD]).clip(-32768, 32767).astype(np.int16).tobytes()
        heard = {}
        for guard, probability in (("off", 0.0), ("on", ECHO_PROBABILITY)):
            engine.echo_probability = probability
            engine.start()
            engine.feed(audio)
            heard[guard] = engine.finish().text
        rows.append({"line": name, "said": said, **heard,
                     "errors": {g: edits(spoken(said), spoken(t)) for g, t in heard.items()},
                     "words": len(spoken(said))})
        if heard["off"] != heard["on"]:
            print(f"{name}: {heard['off']!r} -> {heard['on']!r}  (said: {said!r})", flush=True)
    totals = {}
    for condition in ("clean", "noise"):
        sel = [r for r in rows if r["line"].endswith(condition)]
        words = max(1, sum(r["words"] for r in sel))
        totals[condition] = {"lines": len(sel), "changed": sum(r["off"] != r["on"] for r in sel),
                             **{f"wer_guard_{g}": round(sum(r["errors"][g] for r in sel) / words, 3)
                                for g in ("off", "on")}}
    print(json.dumps(totals, indent=1))
    if args.json:
        args.json.write_text(json.dumps({"prompt": prompt, "echo_probability": ECHO_PROBABILITY, "totals": totals,
                                         "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
