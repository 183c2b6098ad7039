"""How well an LLM judges whether a document sentence answers a question (knowledge.judge), per model.

For every single question of an eval file (conversations' first turns included): the sentences the kiosk's
judge would read (`Grounder.sentences_to_judge`, best by the words first), the LLM's probability of "yes" for
each (`LlmJudge`, the kiosk's own prompt), then:
- the words' first sentence / the judge's surest sentence / any of them holds the key facts;
- AUC of the surest odds, answerable vs unanswerable (can the judge tell a question the documents answer?);
- for the questions the kiosk declines today (`kiosk eval --json` output given with --eval), what a threshold
  would rescue, rightly and wrongly, and how many unanswerable questions it would answer.

    .venv/bin/python tools/probe_judge.py samples/halvorsen-paraphrases.jsonl --kb /tmp/kbh.sqlite \
        --llm qwen2.5-coder-1.5b-instruct-q4km --eval before.json --json out.json

--meaning: no LLM; the "odds" are the embedded meaning check's cosine (knowledge.answer_check, all-MiniLM-L6-v2)
between the question and each sentence, with thresholds on that scale.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kiosk.answer.evaluate import has_facts, load_cases  # noqa: E402
from kiosk.answer.judge import LlmJudge  # noqa: E402
from kiosk.config import load_settings, with_overrides  # noqa: E402
from kiosk.knowledge.grounding import judged_text  # noqa: E402
from kiosk.runtime import build_grounder, build_llm  # noqa: E402

THRESHOLDS = (0.6, 0.65, 0.7, 0.75, 0.8)
COSINES = (0.4, 0.45, 0.5, 0.55, 0.6)


def auc(pos: list[float], neg: list[float]) -> float | None:
    if not pos or not neg:
        return None
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cases", type=Path)
    ap.add_argument("--kb", type=Path, required=True)
    ap.add_argument("--config", type=Path, default=ROOT / "provisioning/personas/onboarding-coach.toml")
    ap.add_argument("--llm", default="qwen2.5-coder-1.5b-instruct-q4km", help="the judging model (manifest name)")
    ap.add_argument("--eval", type=Path, help="kiosk eval --json of the same file without the judge")
    ap.add_argument("--meaning", action="store_true", help="judge by the embedded meaning check's cosine instead")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()

    settings = load_settings(a.config)
    if not a.meaning:
        settings = with_overrides(settings, persona={"llm": a.llm}, llm={"n_ctx": 2048})
    llm = build_llm(settings)
    grounder = build_grounder(settings, a.kb, llm)
    if a.meaning:
        def judge(question: str, texts: list[str]) -> list[float]:
            return [grounder._similar(question, text) for text in texts]  # noqa: SLF001 - the kiosk's own check
    else:
        judge = LlmJudge(llm)
    before = {}
    if a.eval:
        before = {r["question"]: r for r in json.loads(a.eval.read_text())["per_question"] if not r["follow_up"]}
    rows = []
    t0 = time.perf_counter()
    for case in (c for c in load_cases(a.cases) if not c.follow_up):
        hits = list(grounder._search(case.question, settings.knowledge.top_k * 2))  # noqa: SLF001 - the turn's
        shown = grounder.sentences_to_judge(case.question, case.question, hits)
        odds = judge(case.question, [judged_text(c) for c in shown]) if shown else []
        ok = [has_facts(c.text, case.key_facts) for c in shown] if case.answerable else [False] * len(shown)
        best = max(range(len(odds)), key=odds.__getitem__) if odds else None
        rows.append({"question": case.question, "answerable": case.answerable, "odds": [round(o, 4) for o in odds],
                     "holds": ok, "surest": max(odds, default=0.0), "judge_ok": best is not None and ok[best],
                     "declined_before": before.get(case.question, {}).get("decision") == "decline"})
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    n = max(1, len(answerable))
    report = {
        "llm": "meaning check (cosine)" if a.meaning else a.llm, "cases": str(a.cases),
        "answerable": len(answerable), "unanswerable": len(unanswerable),
        "words_first_holds": round(sum(bool(r["holds"] and r["holds"][0]) for r in answerable) / n, 3),
        "judge_surest_holds": round(sum(r["judge_ok"] for r in answerable) / n, 3),
        "any_holds": round(sum(any(r["holds"]) for r in answerable) / n, 3),
        "auc": auc([r["surest"] for r in answerable], [r["surest"] for r in unanswerable]),
        "seconds_per_question": round((time.perf_counter() - t0) / max(1, len(rows)), 2),
    }
    if before:
        report["rescue"] = {str(t): {
            "right": sum(r["declined_before"] and r["surest"] >= t and r["judge_ok"] for r in answerable),
            "wrong": sum(r["declined_before"] and r["surest"] >= t and not r["judge_ok"] for r in answerable),
            "unanswerable_answered": sum(r["declined_before"] and r["surest"] >= t for r in unanswerable),
        } for t in (COSINES if a.meaning else THRESHOLDS)}
    print(json.dumps(report, indent=1))
    if a.json:
        a.json.write_text(json.dumps({**report, "per_question": rows}, indent=1))


if __name__ == "__main__":
    main()
