#!/usr/bin/env python3
"""Practice conversations, measured (docs/benchmarks.md, "Practice conversations (issue 18)"):

    .venv/bin/python tools/bench_roleplay.py [--runs 7] [--json]

1. The rubric's rules on scripted transcripts with known ratings, separately for the set written while building
   the rules (samples/scenarios/transcripts.jsonl, tuned on) and the held-out set written with its labels before
   the rules ever ran on it (samples/scenarios/transcripts-heldout.jsonl, never tuned on). Every miss is printed.
2. Time to the character's first reply with the embedded SmolLM2, from the learner's words to the whole checked
   reply (and to its first token), with the scenario's prefix already in the KV cache (`Roleplay.warm`, as at the
   start of a conversation) and without (cache dropped), median of --runs each, for both sample scenarios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kiosk.learn.rubric import Turn, rate_all  # noqa: E402
from kiosk.learn.scenario_file import load_scenario  # noqa: E402

SETS = {"tuned": ROOT / "samples/scenarios/transcripts.jsonl",
        "held_out": ROOT / "samples/scenarios/transcripts-heldout.jsonl"}
FIRST_LINES = {"buddy-first-week.toml": "Just yourself! So, how is your first week going?",
               "upset-visitor.toml": "I'm so sorry you've been waiting, let me call Tomas's team right now."}


def rubric(path: Path, show: bool) -> dict:
    hits = total = 0
    by_check: dict[str, list[int]] = {}
    misses = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        scenario = load_scenario(ROOT / row["scenario"])
        turns = [Turn(t["role"], t["text"], t.get("interrupted", False), t.get("seconds")) for t in row["turns"]]
        for criterion, rating in zip(scenario.criteria, rate_all(scenario.criteria, turns), strict=True):
            want = row["ratings"][criterion.name]
            ok = rating.rating == want
            hits, total = hits + ok, total + 1
            by_check.setdefault(criterion.check, [0, 0])[0] += ok
            by_check[criterion.check][1] += 1
            if not ok:
                misses.append(f"{row['id']}: {criterion.name}: labelled {want}, rated {rating.rating} "
                              f"({rating.reason})")
    if show:
        for miss in misses:
            print("  MISS", miss)
    return {"transcripts": len(path.read_text().splitlines()), "ratings": total, "right": hits,
            "accuracy": round(hits / total, 3), "by_check": {k: f"{v[0]}/{v[1]}" for k, v in sorted(by_check.items())},
            "misses": misses}


def first_reply(runs: int) -> dict:
    from kiosk.answer.llm import LlamaEngine
    from kiosk.config import Settings
    from kiosk.learn.roleplay import Roleplay
    from kiosk.models.locate import locate

    settings = Settings()
    path = locate(settings, settings.persona.llm, "llm", "persona.llm").path
    llm = LlamaEngine(path, settings.llm)
    out: dict = {"model": path.name, "threads": settings.llm.n_threads or "auto", "runs": runs}
    for name, line in FIRST_LINES.items():
        scenario = load_scenario(ROOT / "samples/scenarios" / name)
        result = {}
        for mode in ("cached", "uncached"):
            rows = []
            for run_no in range(runs):
                run = Roleplay(scenario, llm, seed=run_no)
                llm.drop_cache()
                if mode == "cached":
                    run.warm()
                run.reply(line)
                rows.append(run.stats[-1])
            result[mode] = {
                "reply_ms_median": round(statistics.median(s.reply_ms for s in rows)),
                "first_token_ms_median": round(statistics.median(s.first_token_ms for s in rows)),
                "prompt_tokens": rows[0].prompt_tokens,
                "prefilled_tokens": round(statistics.median(s.prompt_tokens - s.cached_tokens for s in rows)),
            }
        # a later turn: only the new messages are prefilled
        run = Roleplay(scenario, llm, seed=0)
        llm.drop_cache()
        run.warm()
        run.reply(line)
        run.reply("And what would help you most right now?")
        later = run.stats[-1]
        result["second_turn"] = {"reply_ms": round(later.reply_ms), "prompt_tokens": later.prompt_tokens,
                                 "prefilled_tokens": later.prompt_tokens - later.cached_tokens}
        out[name] = result
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed replies per scenario and mode (median)")
    parser.add_argument("--no-llm", action="store_true", help="the rubric only")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report: dict = {}
    for name, path in SETS.items():
        if not args.json:
            print(f"rubric, {name} ({path.name}):")
        report[f"rubric_{name}"] = rubric(path, show=not args.json)
        if not args.json:
            r = report[f"rubric_{name}"]
            print(f"  {r['right']}/{r['ratings']} ratings right = {r['accuracy']:.3f} "
                  f"({r['transcripts']} transcripts); by check: {r['by_check']}")
    if not args.no_llm:
        report["first_reply"] = first_reply(args.runs)
    if args.json:
        print(json.dumps(report, indent=1))
    elif "first_reply" in report:
        fr = report["first_reply"]
        print(f"first reply, {fr['model']}, median of {fr['runs']}:")
        for name in FIRST_LINES:
            r = fr[name]
            for mode in ("cached", "uncached"):
                m = r[mode]
                print(f"  {name:24} {mode:9} reply {m['reply_ms_median']:5} ms, first token "
                      f"{m['first_token_ms_median']:5} ms, prefilled {m['prefilled_tokens']} of {m['prompt_tokens']}")
            s = r["second_turn"]
            print(f"  {name:24} 2nd turn  reply {s['reply_ms']:5} ms, prefilled {s['prefilled_tokens']} of "
                  f"{s['prompt_tokens']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
