#!/usr/bin/env python3
"""Wake recall per voice on accents beyond the conversation corpus, through the kiosk's Listener (its real
decision: transcript, then sound), with the wake phrase's sound templates of the bare phrase only and with the
phrase also run into a question (kiosk.listen.wake_templates.CONTEXTS). docs/benchmarks.md, "Wake phrase by sound".

    .venv/bin/python tools/bench_wake_accents.py --set tuning       # ~10 min
    .venv/bin/python tools/bench_wake_accents.py --set validation   # other variants, other question openings
    .venv/bin/python tools/bench_wake_accents.py --set all --voices en-029 en-029+f4 \
        --add-template-voices en-gb-x-gbclan en-gb-x-gbcwmd   # templates in more accents: does one left out gain?

Neither set uses the conversation corpus's held-out voices (en-gb-scotland, en-us-nyc). Every voice says every
line at three speeds and pitches, and the near misses of tools/bench_wake_acoustic.py once; each clip is fed
alone, with 7 s of silence after it so the question window closes.
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

SETS = {
    "tuning": (("en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029", "en-us+aunty", "en-us+f3", "en-gb+m4", "en-us+edward",
                "en-gb+linda"),
               ("Hey coach.", "Hey coach, where is the canteen?", "Hey coach, how long is the probation period?",
                "Hey coach, what time does the canteen open?")),
    "validation": (("en-gb-x-gbclan+f2", "en-gb-x-gbcwmd+m3", "en-029+f4", "en-us+grandpa", "en-gb+boris",
                    "en-us+belinda"),
                   ("Hey coach.", "Hey coach, when does the canteen close?", "Hey coach, is there parking for bikes?",
                    "Hey coach, do I need a badge?", "Hey coach, who do I ask about my laptop?",
                    "Hey coach, I lost my badge.")),
}
SPEEDS = ((140, 35), (165, 50), (185, 65))  # words a minute, espeak-ng pitch


def main() -> int:
    import kiosk.listen.wake_templates as templates
    from kiosk.cli.listen import listen_file
    from kiosk.config import Settings, with_overrides
    from kiosk.events import Wake
    from kiosk.knowledge.index import ingest
    from kiosk.listen.engines import build_listener

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=(*SETS, "all"), default="tuning")
    parser.add_argument("--voices", nargs="*", help="only these voices' wake lines (near misses: every voice's)")
    parser.add_argument("--add-template-voices", nargs="*", default=[],
                        help="espeak-ng voices added to the sound templates' (compared with the shipped ones)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sets = list(SETS.values()) if args.set == "all" else [SETS[args.set]]
    clips = [clip for voices, lines in sets for clip in _clips(voices, lines, args.voices)]
    report: dict = {"set": args.set, "voices": [v for voices, _ in sets for v in voices],
                    "lines": [line for _, lines in sets for line in lines]}
    shipped = templates.TEMPLATE_VOICES
    if args.add_template_voices:  # at the middle template speed and pitch
        added = shipped + tuple((voice, 160, 50) for voice in args.add_template_voices)
        variants = [("shipped templates", shipped, templates.CONTEXTS),
                    ("templates also in " + ", ".join(args.add_template_voices), added, templates.CONTEXTS)]
    else:
        variants = [("bare phrase only", shipped, ()), ("also run into a question", shipped, templates.CONTEXTS)]
    kb = Path(tempfile.mkdtemp()) / "kb.sqlite"
    ingest(kb, [ROOT / "samples" / "halvorsen"])
    for name, voices_used, said_into in variants:
        templates.TEMPLATE_VOICES, templates.CONTEXTS = voices_used, said_into
        listener = build_listener(with_overrides(Settings(), persona={"knowledge_base": str(kb)}))
        per_voice: dict[str, list[bool]] = {}
        near_miss_wakes = []
        for voice, wake, text, pcm in clips:
            woke = any(isinstance(e, Wake) for e in listen_file(listener, pcm.tobytes()))
            if wake:
                per_voice.setdefault(voice, []).append(woke)
            elif woke:
                near_miss_wakes.append(f"{voice}: {text}")
        hits = [h for v in per_voice.values() for h in v]
        report[name] = {"recall": f"{sum(hits)}/{len(hits)}",
                        "per_voice": {v: f"{sum(h)}/{len(h)}" for v, h in per_voice.items()},
                        "near_miss_wakes": near_miss_wakes}
        print(name, json.dumps(report[name]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


def _clips(voices: tuple[str, ...], lines: tuple[str, ...], only: list[str] | None) -> list[tuple]:
    """(voice, is a wake line, text, audio) for every line at every speed and the near misses once."""
    before, after = np.zeros(RATE // 2, np.int16), np.zeros(7 * RATE, np.int16)
    return [(voice, wake, text, np.concatenate([before, cc.level(cc.synth(text, voice, speed, pitch)), after]))
            for voice in voices
            for wake, texts, speeds in ((True, lines, SPEEDS), (False, NEAR_MISSES, SPEEDS[1:2]))
            if not (wake and only and voice not in only)
            for text in texts for speed, pitch in speeds]


if __name__ == "__main__":
    raise SystemExit(main())
