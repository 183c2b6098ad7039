"""`kiosk bench`: latency and throughput of the answer path, every figure from the same run.

Per run and question, in this order:
  cold       KV cache dropped, so the persona prefix is prefilled again → cold TTFT
  llm alone  only the persona cached (not the question), no speech → warm TTFT, time to first
             sentence, decode tokens/s
  tts alone  Piper speaks that first sentence → synthesis time, real-time factor
  pipeline   the full streamed turn with speech → first_audio
overhead_ratio = first_audio ÷ (first sentence alone + its synthesis alone): what streaming the
stages together costs over running them back to back. Temperature 0 keeps the first sentence
identical across the phases. Medians over all runs × questions.
"""

from __future__ import annotations

import asyncio
import json
import logging
import platform
import statistics
import time
from typing import Any

from kiosk.answer.llm import GenerationStats
from kiosk.answer.pipeline import chunker_settings, run_turn
from kiosk.answer.sentences import SentenceChunker
from kiosk.config import REPO_ROOT, Settings, load_settings, with_overrides
from kiosk.events import AnswerDone
from kiosk.runtime import Runtime

log = logging.getLogger(__name__)

QUESTIONS = (
    "What should I bring on my first day?",
    "Where can I get lunch around here?",
    "Who do I call when my laptop breaks?",
)
DEFAULT_PERSONA = REPO_ROOT / "provisioning" / "personas" / "onboarding-coach.toml"


def _llm_alone(rt: Runtime, question: str) -> dict[str, Any]:
    """Generation without speech: TTFT, first sentence, decode speed."""
    turn = rt.engine.gate.begin()
    chunker = SentenceChunker(chunker_settings(rt.settings.answer))
    stats = GenerationStats()
    t0 = time.perf_counter()
    ttft = first = None
    sentence = ""
    for text in rt.engine.generate(turn, question, stats=stats):
        now = time.perf_counter() - t0
        ttft = ttft if ttft is not None else now
        if first is None:
            done = chunker.feed(text)
            if done:
                first, sentence = now, done[0]
    total = time.perf_counter() - t0
    if first is None:  # the whole answer was one chunk
        first, sentence = total, (chunker.flush() or [""])[0]
    decode_s = max(1e-6, total - (ttft or 0))
    return {"ttft": ttft or total, "first_sentence": first, "sentence": sentence,
            "tokens_per_s": max(0, stats.completion_tokens - 1) / decode_s, "prompt_tokens": stats.prompt_tokens,
            "cached_tokens": stats.cached_tokens}


def _tts_alone(rt: Runtime, sentence: str) -> tuple[float, float]:
    assert rt.speaker is not None  # the benchmark loads the voice
    t0 = time.perf_counter()
    chunks = list(rt.speaker.speak(sentence))
    took = time.perf_counter() - t0
    audio = sum(c.duration_s for c in chunks)
    return took, took / audio if audio else float("nan")


async def _pipeline(rt: Runtime, question: str) -> AnswerDone:
    return await run_turn(rt.responder, question)


def _median(rows: list[dict], key: str) -> float:
    return round(statistics.median(r[key] for r in rows), 4)


def measure(rt: Runtime, runs: int) -> dict[str, Any]:
    rows = []
    persona_tokens = rt.llm.count_tokens([{"role": "system", "content": rt.engine.system}])
    for run in range(runs):
        for q in QUESTIONS:
            rt.engine.reset()
            rt.llm.drop_cache()
            cold = _llm_alone(rt, q)
            rt.engine.reset()
            rt.engine.warm()  # cache holds the persona but not this question, as for a new visitor
            alone = _llm_alone(rt, q)
            synth_s, rtf = _tts_alone(rt, alone["sentence"])
            rt.engine.reset()
            rt.engine.warm()
            done = asyncio.run(_pipeline(rt, q))
            rt.engine.reset()
            t = done.timings
            first_audio = (t.first_audio or t.total or 0) / 1000
            rows.append({
                "run": run, "question": q, "cold_ttft_s": cold["ttft"], "warm_ttft_s": alone["ttft"],
                "tokens_per_s": alone["tokens_per_s"], "first_sentence_s": alone["first_sentence"],
                "synth_first_sentence_s": synth_s, "piper_rtf": rtf, "first_audio_s": first_audio,
                "overhead_ratio": first_audio / (alone["first_sentence"] + synth_s),
                "pipeline_first_sentence_s": (t.first_sentence or 0) / 1000,
                "cold_prefill_tokens": cold["prompt_tokens"] - cold["cached_tokens"],
                "warm_prefill_tokens": alone["prompt_tokens"] - alone["cached_tokens"],
                "first_sentence": alone["sentence"],
            })
            log.info("run %d %r: first audio %.3f s, ratio %.3f", run, q, first_audio, rows[-1]["overhead_ratio"])
    keys = ("cold_ttft_s", "warm_ttft_s", "tokens_per_s", "first_sentence_s", "synth_first_sentence_s",
            "piper_rtf", "first_audio_s", "overhead_ratio")
    medians = {k: _median(rows, k) for k in keys}
    medians["warm_over_cold"] = round(medians["warm_ttft_s"] / medians["cold_ttft_s"], 4)
    return {
        "medians": medians,
        "targets": {"overhead_ratio<=1.10": medians["overhead_ratio"] <= 1.10,
                    "warm_ttft<=0.3*cold": medians["warm_over_cold"] <= 0.3,
                    "persona_tokens>=300": persona_tokens >= 300,
                    "first_audio<=1.0s": medians["first_audio_s"] <= 1.0},
        "persona_tokens": persona_tokens, "runs": runs, "questions": list(QUESTIONS),
        "llm": rt.settings.persona.llm, "voice": rt.settings.persona.voice,
        "machine": {"cpu_count": __import__("os").cpu_count(), "platform": platform.platform(),
                    "llm_threads": rt.settings.llm.n_threads, "speech_threads": rt.settings.speech.threads},
        "samples": rows,
    }


def run_bench(settings: Settings, runs: int = 5, json_out: bool = False) -> int:
    if settings.source is None and DEFAULT_PERSONA.exists():
        settings = load_settings(str(DEFAULT_PERSONA))  # a realistic, long persona prefix
    # Deterministic answers so the phases speak the same first sentence.
    settings = with_overrides(settings, answer={"temperature": 0.0})
    with Runtime(settings, speech=True) as rt:
        report = measure(rt, runs)
    if json_out:
        print(json.dumps(report, indent=1))
    else:
        for k, v in report["medians"].items():
            print(f"{k:>24}: {v}")
        for k, ok in report["targets"].items():
            print(f"{'target ' + k:>32}: {'met' if ok else 'MISSED'}")
    return 0
