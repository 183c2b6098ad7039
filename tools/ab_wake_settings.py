#!/usr/bin/env python3
"""Wake recall of the conversation corpus's wake lines through the Listener, fed offline (deterministic), with the
end-of-turn settings before and after 2026-12-06 (does the faster end of turn cost wakes?), with the wake
phrase's sound templates of the bare phrase only and with the phrase also run into a question, or with and
without waking on the phrase with its soft start lost ("A coach.", `onset`), or with the wake decode's window
at 20 s (as shipped) or 10 s (`window`), or with the sound templates in the first five voices or in all of
kiosk.listen.wake_templates.TEMPLATE_VOICES (`accents`, 2026-12-07) (docs/benchmarks.md)

    .venv/bin/python tools/ab_wake_settings.py [--compare settings|templates|priming|onset|window]
                                               [--part all|tuning|heldout]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import conversation_corpus as cc  # noqa: E402
from speech_corpus import RATE  # noqa: E402

CONFIGS = {"after": {}, "before": {"whisper_question_window_s": 20.0, "early_decode_ms": 120,
                                   "hangover_complete_ms": 250}}


def main() -> int:
    import argparse

    import kiosk.listen.engines as engines
    import kiosk.listen.wake as wake
    import kiosk.listen.wake_templates as templates
    from kiosk.cli.listen import listen_file
    from kiosk.config import Settings, with_overrides
    from kiosk.events import Wake
    from kiosk.knowledge.index import ingest
    from kiosk.listen.engines import build_listener

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", default="settings",
                        choices=("settings", "templates", "priming", "onset", "window", "accents"))
    parser.add_argument("--part", choices=("all", "tuning", "heldout"), default="all")
    args = parser.parse_args()
    contexts = templates.CONTEXTS
    unprimed = engines.Unprimed
    # (name, [listen] overrides, phrases the sound templates run into)
    if args.compare == "settings":
        variants = [(name, listen, contexts) for name, listen in CONFIGS.items()]
    elif args.compare == "templates":
        variants = [("bare phrase only", {}, ()), ("also run into a question", {}, contexts)]
    elif args.compare == "priming":  # the spotter's decode unprimed (as shipped) or primed with the documents' words
        variants = [("spotter unprimed", {}, contexts), ("spotter primed", {"_primed": True}, contexts)]
    elif args.compare == "accents":  # and the template voices
        variants = [("five template voices", {}, contexts, templates.TEMPLATE_VOICES[:5]),
                    (f"{len(templates.TEMPLATE_VOICES)} template voices", {}, contexts, templates.TEMPLATE_VOICES)]
    elif args.compare == "window":
        variants = [(f"wake window {w:g} s", {"whisper_window_s": w}, contexts) for w in (20.0, 10.0)]
    else:
        variants = [("start lost: no wake", {"_no_onset": True}, contexts), ("start lost: wakes", {}, contexts)]
    clipped = wake.clipped_phrase
    kb = Path(tempfile.mkdtemp()) / "kb.sqlite"
    ingest(kb, [ROOT / "samples" / "halvorsen"])
    clips = []
    for v in cc.visitors_of(cc.generate(11), args.part):
        pcm = np.concatenate([np.zeros(RATE // 2, np.int16), cc.render_wake(v).pcm,
                              np.zeros(int(2.5 * RATE), np.int16)])
        if v.snr_db is not None:
            bed = cc.scaled_noise(cc.noise_bed(v.noise_bed), v.snr_db)
            pcm = np.clip(pcm.astype(np.int32) + bed[:pcm.size], -32768, 32767).astype(np.int16)
        clips.append((v, pcm))
    gap = np.zeros(7 * RATE, np.int16)  # the question window (5 s) closes between visitors
    all_voices = templates.TEMPLATE_VOICES
    for name, listen, said_into, *voices in variants:
        templates.CONTEXTS = said_into
        templates.TEMPLATE_VOICES = voices[0] if voices else all_voices
        listen = dict(listen)
        engines.Unprimed = (lambda engine: engine) if listen.pop("_primed", False) else unprimed
        wake.clipped_phrase = ((lambda *a, onset=False, **k: 0 if onset else clipped(*a, **k))
                               if listen.pop("_no_onset", False) else clipped)
        listener = build_listener(with_overrides(Settings(), persona={"knowledge_base": str(kb)}, listen=listen))
        hits: dict[tuple[str, str], list[bool]] = {}
        for v, pcm in clips:
            events = listen_file(listener, np.concatenate([pcm, gap]).tobytes())
            hits.setdefault((v.part, v.voice), []).append(any(isinstance(e, Wake) for e in events))
        by_part = {p: f"{sum(sum(h) for (q, _), h in hits.items() if q == p)}/"
                      f"{sum(len(h) for (q, _), h in hits.items() if q == p)}" for p in ("tuning", "heldout")}
        per_voice = {f"{p}:{voice}": f"{sum(h)}/{len(h)}" for (p, voice), h in sorted(hits.items())}
        print(name, by_part, per_voice, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
