#!/usr/bin/env python3
"""Whisper biased with the documents' vocabulary (issue 11): word error rate with and without, invented
document words, the wake phrase's survival, decode time.

    .venv/bin/python tools/bench_vocab.py [--kb samples/halvorsen] [--configs off,120,120c0,120e0] [--json FILE]

The knowledge base is ingested into a temporary index; `kiosk.listen.vocabulary` builds the prompt from
it (capped at each config's number of Whisper tokens). Questions are spoken by Piper (joe, with its
random variation) and six espeak-ng voices, clean and with pink noise 15 dB below the speech, padded
with 0.3 s of silence and fed to the engine in 100 ms chunks; every config decodes the same audio.

Two sets, never mixed: TUNE (questions and voices the prompt and its ranking were chosen on) and
HELD-OUT (other questions, other voices: Piper is not in it, en-gb-x-rp, en-us+m7, en-gb+f4 are). Each
has questions that use the documents' rare words (canteen, B-214, the Galley, Kestrel, ...) and
everyday ones (nothing to gain, only something to lose).

- WER: word edit distance / reference words (lower case, punctuation and hyphens dropped, a letter
  and the digits after it split: "B214" = "B-214" = "b 214").
- invented: a word of the prompt's terms in the transcript that the question did not contain.
- wake kept: "Hey coach, <question>" decoded whole, as the transcript wake spotter does; kept = the
  phrase matches (kiosk.listen.wake.match_phrase, sensitivity 0.5). Near misses ("Hey Joe, ...",
  "Hey, could you ..."): a match is a false wake.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from conversation_text import edits as wer  # noqa: E402
from speech_corpus import ESPEAK_VOICES, add_noise, speak  # noqa: E402

from kiosk.config import Settings  # noqa: E402
from kiosk.listen.asr_whisper import ECHO_PROBABILITY  # noqa: E402
from kiosk.listen.engines import build_asr  # noqa: E402
from kiosk.listen.vocabulary import PROMPT_CODES, WhisperRarity, extract, prompt_text  # noqa: E402
from kiosk.listen.wake import match_phrase  # noqa: E402

TUNE_VOICES = ("piper", "en-us", "en-gb", "en-us+f3")
HELD_OUT_VOICES = ("en-gb-x-rp", "en-us+m7", "en-gb+f4")
assert set(TUNE_VOICES[1:] + HELD_OUT_VOICES) == set(ESPEAK_VOICES)

# (spoken text, reference)
TUNE_KB = [
    "What are the canteen opening hours?", "Where is room B-214?", "Where is the Galley?",
    "How do I get to the Fjord room?",
    "What does the Kestrel arm do?", "Who builds the Tern robots?", "What is lockout tagout?",
    "What is the per diem for a trip?", "Does the HDHP plan come with a health savings account?",
    "How do I connect to GlobalProtect?", "Where is the eyewash station?", "Who may drive a forklift?",
]
TUNE_PLAIN = [  # tools/bench_asr.py's questions (the first 12 by default: --plain 20 for all)
    "Where do I pick up my badge?", "What time does orientation start?", "Is there wifi for guests?",
    "Where is the IT help desk?", "How do I reset my password?", "When is the canteen open for lunch?",
    "Can I charge my electric car here?", "Who do I call if I lose my badge?", "Where is the nearest fire exit?",
    "Do I need safety glasses on the assembly floor?", "How many vacation days do I get?",
    "What is the mileage rate for my own car?", "How long is parental leave?", "Where can I park my car?",
    "Is there a quiet room where I can pray?", "How do I book a business trip?",
    "What should I do if a machine jams?", "Who is my onboarding buddy?", "Where are the lockers?",
    "How do I report a near miss?",
]
HELD_KB = [
    "Is the canteen open on Saturdays?", "How do I find room A-104?", "Where do I report a phishing email?",
    "What is the Halvorsen commuter benefit?", "Do I need earplugs near the machining cells?",
    "When does my probation end?", "What is an andon cord?", "Where are the defibrillators?",
]
HELD_PLAIN = [
    "What is the weather like today?", "Can you tell me a joke?", "Where can I get a coffee?",
    "How do I get to the train station?", "Is there a bathroom nearby?", "Can I leave my bag here?",
    "My name is Sarah and I start today.", "Who won the game last night?",
]
NEAR_MISSES = ["Hey Joe, where is the canteen?", "Hey, could you hold the door?", "The coach leaves at nine.",
               "Hey, what time is it?"]


def normalize(text: str) -> list[str]:
    text = text.lower().replace("-", " ")
    text = re.sub(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])", " ", text)
    return re.findall(r"[a-z0-9']+", text)




def decode(engine, pcm: np.ndarray, bias: bool = True) -> tuple[str, list[str], float]:  # noqa: ANN001
    pad = np.zeros(4800, dtype=np.int16)
    data = np.concatenate([pad, pcm, pad]).tobytes()
    engine.start(bias=bias)
    for i in range(0, len(data), 3200):
        engine.feed(data[i:i + 3200])
    t = time.perf_counter()
    result = engine.finish()
    return result.text, [w.word for w in result.words], time.perf_counter() - t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", default=str(ROOT / "samples" / "halvorsen"), help="documents to ingest")
    parser.add_argument("--configs", default="off,120",
                        help="off and/or prompt caps in Whisper tokens, each optionally with a cap on codes (120c0) "
                             "and e0: without decoding again unprimed when Whisper echoes the prompt (120e0)")
    parser.add_argument("--snr", type=float, default=15.0)
    parser.add_argument("--json", help="write the report here")
    parser.add_argument("--quick", action="store_true", help="first 4 questions of each list (a smoke run)")
    parser.add_argument("--plain", type=int, default=12, help="how many of the tune set's everyday questions")
    parser.add_argument("--rescore", help="recompute the results of a report (--json) from its rows, in place")
    args = parser.parse_args()
    if args.rescore:
        return write(score(json.loads(Path(args.rescore).read_text())), args.rescore)

    from kiosk.knowledge.index import ingest

    settings = Settings()
    engine = build_asr(settings)  # Whisper base, embedded; no knowledge base in these settings: no prompt
    rarity = WhisperRarity(engine.model_dir / "tokenizer.json")
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "kb.sqlite"
        ingest(index, [Path(args.kb)])
        terms = extract(index, rarity)
    configs: dict[str, str] = {}
    for c in args.configs.split(","):
        if c == "off":
            configs[c] = ""
            continue
        tokens, _, codes = c.removesuffix("e0").partition("c")  # "120": PROMPT_CODES codes at most; "120c0": none
        cap = int(codes) if codes else PROMPT_CODES
        best_codes = [t.text for t in terms if t.kind == "code"][:cap]
        kept = [t for t in terms if t.kind != "code" or t.text in best_codes]
        configs[c] = prompt_text([t.text for t in kept], rarity.count, int(tokens))
    n = 4 if args.quick else None
    sets = {
        "tune": ([("kb", q) for q in TUNE_KB[:n]] + [("plain", q) for q in TUNE_PLAIN[:n or args.plain]], TUNE_VOICES),
        "held_out": ([("kb", q) for q in HELD_KB[:n]] + [("plain", q) for q in HELD_PLAIN[:n]], HELD_OUT_VOICES),
    }
    rows = []
    for set_name, (questions, voices) in sets.items():
        for kind, q in questions:
            for voice in voices:
                clean = speak(q, voice)
                for condition, pcm in (("clean", clean), (f"pink{args.snr:g}", add_noise(clean, args.snr, "pink"))):
                    for config, prompt in configs.items():
                        engine.prompt = prompt
                        engine.echo_probability = 0.0 if config.endswith("e0") else ECHO_PROBABILITY
                        text, _, secs = decode(engine, pcm)
                        ref, hyp = normalize(q), normalize(text)
                        rows.append({"set": set_name, "kind": kind, "voice": voice, "condition": condition,
                                     "config": config, "question": q, "text": text, "errors": wer(ref, hyp),
                                     "words": len(ref), "decode_s": round(secs, 3)})
                print(f"{set_name} {voice:10} {q[:40]:40} " + " | ".join(
                    r["text"] for r in rows[-2 * len(configs):-len(configs)]), file=sys.stderr, flush=True)
    wake_rows = []
    for voice in TUNE_VOICES:
        lines = [("wake", "Hey coach, " + q[0].lower() + q[1:]) for q in (TUNE_KB[:n or 6] + TUNE_PLAIN[:n or 6])]
        lines += [("near_miss", q) for q in NEAR_MISSES]
        for kind, line in lines:
            pcm = speak(line, voice)
            for config, prompt in configs.items():
                engine.prompt = prompt
                engine.echo_probability = 0.0 if config.endswith("e0") else ECHO_PROBABILITY
                text, words, _ = decode(engine, pcm)
                hit = match_phrase(words, settings.listen.wake_phrase, settings.listen.wake_sensitivity) is not None
                wake_rows.append({"kind": kind, "voice": voice, "config": config, "line": line, "text": text,
                                  "match": hit})

    report: dict = {"kb": args.kb, "snr_db": args.snr, "prompts": configs,
                    "prompt_tokens": {c: rarity.count(p) if p else 0 for c, p in configs.items()},
                    "terms": [t.__dict__ for t in terms[:80]]}
    report["rows"], report["wake_rows"] = rows, wake_rows
    return write(score(report), args.json)


def prompt_words(prompts: Iterable[str]) -> set[str]:
    """The words of the prompts' terms, as normalize() writes them (not the letters and numbers of codes)."""
    return {w for p in prompts for w in normalize(p) if len(w) > 1 and not w.isdigit()}


def score(report: dict) -> dict:
    """Results from the rows: WER, invented words, the documents' words heard (of those said), decode time,
    by set, condition and kind of question, and by voice; wake phrase kept."""
    configs, rows, wake_rows = report["prompts"], report["rows"], report["wake_rows"]
    vocab = prompt_words(configs.values())
    for r in rows:
        ref, hyp = normalize(r["question"]), normalize(r["text"])
        r["invented"] = sorted({w for w in hyp if w in vocab and w not in ref})
        r["targets"] = [w for w in ref if w in vocab]
        r["targets_heard"] = sum(w in hyp for w in r["targets"])

    def summary(selected: list[dict]) -> dict:
        out = {}
        for config in configs:
            rs = [r for r in selected if r["config"] == config]
            if not rs:
                continue
            said = sum(len(r["targets"]) for r in rs)
            out[config] = {"wer": round(sum(r["errors"] for r in rs) / max(1, sum(r["words"] for r in rs)), 4),
                           "utterances": len(rs), "invented": sum(len(r["invented"]) for r in rs),
                           "doc_words_heard": round(sum(r["targets_heard"] for r in rs) / said, 3) if said else None,
                           "decode_s_median": round(statistics.median(r["decode_s"] for r in rs), 3)}
        return out

    report["results"] = {}
    for set_name in ("tune", "held_out"):
        for condition in sorted({r["condition"] for r in rows}):
            for kind in ("kb", "plain"):
                sel = [r for r in rows if r["set"] == set_name and r["condition"] == condition and r["kind"] == kind]
                report["results"][f"{set_name}/{condition}/{kind}"] = summary(sel)
            for voice in sorted({r["voice"] for r in rows if r["set"] == set_name}):
                sel = [r for r in rows if r["set"] == set_name and r["condition"] == condition and r["voice"] == voice]
                report["results"][f"{set_name}/{condition}/voice={voice}"] = summary(sel)
    report["wake"] = {config: {
        "kept": round(statistics.mean(r["match"] for r in wake_rows
                                      if r["config"] == config and r["kind"] == "wake"), 3),
        "false_wakes": sum(r["match"] for r in wake_rows if r["config"] == config and r["kind"] == "near_miss"),
        "near_misses": sum(1 for r in wake_rows if r["config"] == config and r["kind"] == "near_miss")}
        for config in configs}
    return report


def write(report: dict, path: str | None) -> int:
    if path:
        rest = {k: v for k, v in report.items() if k not in ("rows", "wake_rows")}
        Path(path).write_text(json.dumps({**rest, "rows": report["rows"], "wake_rows": report["wake_rows"]},
                                         indent=1, ensure_ascii=False) + "\n")
    for key, value in report["results"].items():
        print(key, json.dumps(value), file=sys.stderr)
    print("wake", json.dumps(report["wake"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
