#!/usr/bin/env python3
"""Time of retrieval + sentence choice + meaning check per question (Grounder.ground), on real eval sets.

    .venv/bin/python tools/bench_grounding.py --kb /tmp/kbh.sqlite samples/halvorsen-eval.jsonl ... \
        [--config provisioning/personas/onboarding-coach.toml] [--no-check] [--json]

Each question is asked once, as a visitor would (its own term weights and embeddings are not cached yet;
the synonym table and the documents' cached vectors are, as in a running kiosk); follow-ups carry their
conversation's topic. Reports median, p95 and max in milliseconds per file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk.answer.evaluate import load_cases  # noqa: E402
from kiosk.config import load_settings, with_overrides  # noqa: E402
from kiosk.runtime import Runtime  # noqa: E402


def percentile(sorted_ms: list[float], q: float) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, int(q * (len(sorted_ms) - 1) + 0.5))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--kb", required=True, type=Path)
    parser.add_argument("--config", default="provisioning/personas/onboarding-coach.toml")
    parser.add_argument("--no-check", action="store_true", help="without knowledge.answer_check")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    settings = load_settings(args.config)
    if args.no_check:
        settings = with_overrides(settings, knowledge={"answer_check": ""})
    results = []
    with Runtime(settings, speech=False, kb=args.kb) as rt:
        grounder = rt.grounder
        assert grounder is not None
        grounder.ground("where is the reception")  # first search: SQLite pages, the synonym table
        for path in args.files:
            times: list[float] = []
            topic = None
            for case in load_cases(path):
                topic = topic if case.follow_up else None
                t = time.perf_counter()
                found = grounder.ground(case.question, topic)
                times.append((time.perf_counter() - t) * 1000)
                topic = found.query  # the last question asked, answered or not (as the kiosk keeps it)
            times.sort()
            results.append({"file": str(path), "questions": len(times), "median_ms": round(statistics.median(times), 1),
                            "p95_ms": round(percentile(times, 0.95), 1), "max_ms": round(times[-1], 1)})
    if args.json:
        print(json.dumps({"check": not args.no_check, "results": results}, indent=2))
    else:
        for r in results:
            print(f"{r['file']}: {r['questions']} questions, median {r['median_ms']} ms, p95 {r['p95_ms']} ms, "
                  f"max {r['max_ms']} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
