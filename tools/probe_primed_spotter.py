#!/usr/bin/env python3
"""One-breath lines ("Hey coach, <question>") through the Listener, offline, with the wake spotter's decode
unprimed (as shipped) and primed with the documents' words: does the kiosk wake, how far is the question heard
from what was said (WER), and does the answer hold its key facts (docs/benchmarks.md, conversations fifth run).

    .venv/bin/python tools/probe_primed_spotter.py [--part tuning|heldout|all]   # ~5 min on 2 cores
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import conversation_corpus as cc  # noqa: E402
from conversation_text import edits, has_facts, words  # noqa: E402
from speech_corpus import RATE  # noqa: E402


def main() -> int:
    import kiosk.listen.engines as engines
    from kiosk.answer.pipeline import run_turn
    from kiosk.cli.listen import listen_file
    from kiosk.config import Settings, with_overrides
    from kiosk.events import Heard, Wake
    from kiosk.knowledge.index import ingest
    from kiosk.runtime import Runtime

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("all", "tuning", "heldout"), default="tuning")
    args = parser.parse_args()
    os.environ.setdefault("KIOSK_CORPUS_FIXED_PIPER", "1")  # the same Piper audio every run
    kb = Path(tempfile.mkdtemp()) / "kb.sqlite"
    ingest(kb, [ROOT / "samples" / "halvorsen"])
    settings = with_overrides(Settings(), persona={"knowledge_base": str(kb)})
    # two seeds of the corpus: more one-breath lines than one conversation run has
    visitors = [v for seed in (11, 23) for v in cc.visitors_of(cc.generate(seed), args.part) if v.style == "one_breath"]
    clips = []
    for v in visitors:
        silence = np.zeros(RATE // 2, np.int16)
        pcm = np.concatenate([silence, cc.render_wake(v).pcm, silence, silence, silence, silence, silence])
        if v.snr_db is not None:
            bed = cc.scaled_noise(cc.noise_bed(v.noise_bed), v.snr_db)
            pcm = np.clip(pcm.astype(np.int32) + bed[:pcm.size], -32768, 32767).astype(np.int16)
        clips.append((v, np.concatenate([pcm, np.zeros(7 * RATE, np.int16)])))  # the question window closes
    unprimed = engines.Unprimed
    with Runtime(settings, speech=False) as rt:
        for name, wrap in (("spotter unprimed", unprimed), ("spotter primed", lambda engine: engine)):
            engines.Unprimed = wrap
            listener = engines.build_listener(settings)
            woke = answered = errors = said = 0
            for v, pcm in clips:
                events = listen_file(listener, pcm.tobytes())
                heard = " ".join(e.text for e in events if isinstance(e, Heard))
                woke += any(isinstance(e, Wake) for e in events)
                rt.engine.reset()
                done = asyncio.run(run_turn(rt.responder, heard, speak=False)) if heard else None
                answered += bool(done and has_facts(done.answer, v.question.key_facts))
                ref = words(v.question.text)
                errors += edits(ref, words(heard)) if heard else len(ref)
                said += len(ref)
            print(f"{name}: {len(clips)} one-breath lines, woke {woke}, answered with the key facts {answered}, "
                  f"question WER {errors / max(1, said):.3f}", flush=True)
    engines.Unprimed = unprimed
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
