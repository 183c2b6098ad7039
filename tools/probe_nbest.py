#!/usr/bin/env python3
"""Whisper's n-best for misheard questions: does another of its hypotheses hold a question the documents answer?

    .venv/bin/python tools/probe_nbest.py [--audio /tmp/conv11] [--n 5] [--json OUT]

The questions and follow-ups said after a separate wake phrase in a `bench_conversation.py --keep` folder (hall
noise mixed in as the visitor heard it) are decoded as `kiosk transcribe` decodes them, then again with beam search
keeping `--n` hypotheses (the documents' prompt, the question window), and every hypothesis is asked of the
responder (follow-ups after their visitor's typed question). Counted: visitors whose typed question is answered
right; for each, whether the top transcript is, whether any hypothesis is, and what "the first hypothesis the
documents answer" would say (right, or a wrong answer where the kiosk declined before). docs/benchmarks.md,
"Whisper's n-best".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import conversation_corpus as cc  # noqa: E402
from conversation_text import has_facts  # noqa: E402
from replay_heard import visitors_heard  # noqa: E402


def nbest(engine: Any, pcm: bytes, n: int) -> list[str]:
    """`n` hypotheses of one utterance, best first, decoded as the engine decodes a question."""
    from faster_whisper.tokenizer import Tokenizer

    from kiosk.listen.asr_whisper import _FRAMES_30S, _FRAMES_PER_S, _prompt_tokens

    tok = Tokenizer(engine._model.hf_tokenizer, True, task="transcribe", language="en")
    audio = np.frombuffer(pcm[: len(pcm) // 2 * 2], np.int16).astype(np.float32) / 32768.0
    duration = len(audio) / cc.RATE
    features = engine._model.feature_extractor(audio)
    engine._content = int(duration * _FRAMES_PER_S) + 1
    engine._frames = min(_FRAMES_30S, int(max(engine.question_window_s, duration + 1.0) * _FRAMES_PER_S))
    if engine._frames > features.shape[-1]:
        features = np.pad(features, ((0, 0), (0, engine._frames - features.shape[-1])))
    encoded = engine._encode_window(features[None])
    prompt = [tok.sot_prev, *_prompt_tokens(engine.model_dir, engine.prompt)] if engine.prompt else []
    prompt += [*tok.sot_sequence, tok.no_timestamps]
    result = engine._model.model.generate(encoded, [prompt], beam_size=n, num_hypotheses=n,
                                          max_length=len(prompt) + int(duration * 8) + 12)
    return [tok.decode([t for t in seq if t < tok.eot]).strip() for seq in result[0].sequences_ids]


def main() -> int:
    from kiosk.answer.pipeline import run_turn
    from kiosk.config import load_settings
    from kiosk.listen.engines import build_asr
    from kiosk.listen.transcribe import transcribe
    from kiosk.runtime import Runtime

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audio", type=Path, default=Path("/tmp/conv11"))
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--json")
    args = parser.parse_args()
    folder = args.audio
    settings = load_settings(str(folder / "kiosk.toml"))  # its knowledge base and the documents' prompt
    asr = build_asr(settings)

    rows = []
    with Runtime(settings, speech=False) as rt:
        def ask(text: str, before: str | None, facts: Any) -> tuple[bool, bool]:
            rt.engine.reset()
            if before:
                asyncio.run(run_turn(rt.responder, before, speak=False))
            done = asyncio.run(run_turn(rt.responder, text, speak=False))
            return bool(done and done.grounded), has_facts(done.answer if done else "", facts)

        for v, kind, truth, audio in visitors_heard(folder):
            if kind == "question" and v.style == "one_breath":
                continue  # decoded with the wake phrase by the spotter: not this decode
            before = v.question.text if kind == "follow_up" else None
            if not ask(truth.text, before, truth.key_facts)[1]:
                continue
            heard = transcribe(asr, audio, settings, wake=False, questions=True)["questions"]
            text = heard[-1] if heard else ""
            grounded, right = ask(text, before, truth.key_facts)
            hyps = []
            for h in nbest(asr, asr._last, args.n):
                h_grounded, h_right = ask(h, before, truth.key_facts)
                hyps.append({"text": h, "grounded": h_grounded, "right": h_right})
            rows.append({"id": v.id, "part": v.part, "kind": kind, "truth": truth.text, "heard": text,
                         "grounded": grounded, "right": right, "nbest": hyps})
    report: dict[str, Any] = {"command": " ".join(sys.argv), "n": args.n, "parts": {}}
    for part in ("tuning", "heldout"):
        mine = [r for r in rows if r["part"] == part]
        first = [r if r["grounded"] else next((h for h in r["nbest"] if h["grounded"]), None) for r in mine]
        report["parts"][part] = {
            "typed_right": len(mine), "top_right": sum(r["right"] for r in mine),
            "top_wrong": sum(r["grounded"] and not r["right"] for r in mine),
            "any_hypothesis_right": sum(r["right"] or any(h["right"] for h in r["nbest"]) for r in mine),
            "first_grounded_right": sum(bool(f and f["right"]) for f in first),
            "first_grounded_wrong": sum(bool(f and not f["right"]) for f in first)}
    print(json.dumps(report["parts"], indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps({**report, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
