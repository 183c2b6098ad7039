"""`kiosk eval QA.jsonl`: how well the kiosk answers from its documents.

Each line: {"question", "answerable": true, "source": "faq.md", "also": [...], "key_facts": [...]}
or {"question", "answerable": false}, or a conversation: {"conversation": [case, case, ...]}, whose
turns after the first are follow-ups asked by the same visitor ("and is it free?"). A key fact is a
string, or a list of alternatives; an answer scores when it contains every key fact (case-insensitive).

Reports retrieval recall@1/@3 (the source document among the top distinct documents), key-fact
accuracy of the spoken answers, the decline rate on unanswerable questions, and how often an
answerable question was wrongly declined: for single questions (with conversations' first turns,
which are single questions too) and, apart, for follow-ups.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.events import AnswerDone


class EvalFileError(ValueError):
    pass


@dataclass(frozen=True)
class Case:
    question: str
    answerable: bool
    sources: tuple[str, ...] = ()
    key_facts: tuple[tuple[str, ...], ...] = field(default=())
    follow_up: bool = False
    """asked after the cases before it in the same conversation (the same visitor)"""


def _case(raw: dict[str, Any], follow_up: bool) -> Case:
    answerable = bool(raw["answerable"])
    sources = (raw["source"], *raw.get("also", ())) if answerable else ()
    facts = tuple((f,) if isinstance(f, str) else tuple(f) for f in raw.get("key_facts", ()))
    return Case(str(raw["question"]), answerable, tuple(sources), facts, follow_up)


def load_cases(path: Path) -> list[Case]:
    cases = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            turns = raw["conversation"] if isinstance(raw, dict) and "conversation" in raw else [raw]
            if not isinstance(turns, list) or not turns:
                raise ValueError("a conversation needs a list of turns")
            cases += [_case(turn, follow_up=i > 0) for i, turn in enumerate(turns)]
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise EvalFileError(
                f"{path}:{n}: not an evaluation case ({error}); expected "
                '{"question", "answerable", "source", "key_facts"} or {"conversation": [...]}'
            ) from None
    if not cases:
        raise EvalFileError(f"{path}: no evaluation cases")
    return cases


def has_facts(answer: str, facts: tuple[tuple[str, ...], ...]) -> bool:
    low = answer.lower()
    return all(any(alt.lower() in low for alt in group) for group in facts)


def _ranked_paths(hits: list) -> list[str]:  # noqa: ANN001 - retrieve.Hit
    seen: list[str] = []
    for h in hits:
        if h.path not in seen:
            seen.append(h.path)
    return seen


async def _answer(rt, case: Case) -> AnswerDone:  # noqa: ANN001 - Runtime
    from kiosk.answer.pipeline import run_turn

    if not case.follow_up:
        rt.engine.reset()  # a new visitor
    return await run_turn(rt.responder, case.question, speak=False)


def evaluate(rt, cases: list[Case], answers: bool = True) -> dict[str, Any]:  # noqa: ANN001 - Runtime
    """Runs every case; `answers=False` measures retrieval and the decline decision only."""
    grounder = rt.grounder
    rows = []
    topic = None  # the conversation's, as the kiosk keeps it (kiosk.answer.pipeline.Responder.ground)
    for case in cases:
        topic = topic if case.follow_up else None
        t = time.perf_counter()
        grounding = grounder.ground(case.question, topic)
        hits = grounder._search(grounding.query or case.question, 10)  # noqa: SLF001 - the turn's search
        search_ms = (time.perf_counter() - t) * 1000
        topic = grounding.query
        decision = grounding.decision
        paths = _ranked_paths(hits)
        row: dict[str, Any] = {
            "question": case.question,
            "answerable": case.answerable,
            "follow_up": case.follow_up,
            "decision": decision,
            "why": grounding.why,
            "top": paths[:3],
            "search_ms": round(search_ms, 2),
        }
        if case.answerable:
            row["hit@1"] = bool(set(paths[:1]) & set(case.sources))
            row["hit@3"] = bool(set(paths[:3]) & set(case.sources))
        if answers:
            done = asyncio.run(_answer(rt, case))
            row["answer"] = done.answer
            row["grounded"] = done.grounded
            decision = "decline" if not done.grounded else decision
            row["decision"] = decision
            if case.answerable:
                row["facts_ok"] = has_facts(done.answer, case.key_facts)
        rows.append(row)
    single = [r for r in rows if not r["follow_up"]]
    report = {**_scores(single, answers),
              "search_ms_median": round(statistics.median(r["search_ms"] for r in rows), 2),
              "search_ms_p95": round(sorted(r["search_ms"] for r in rows)[int(0.95 * (len(rows) - 1))], 2)}
    follow_ups = [r for r in rows if r["follow_up"]]
    if follow_ups:
        report["follow_ups"] = _scores(follow_ups, answers)
    report["per_question"] = rows
    return report


def _scores(rows: list[dict[str, Any]], answers: bool) -> dict[str, Any]:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]

    def share(items: list, pred) -> float | None:  # noqa: ANN001
        return round(sum(1 for r in items if pred(r)) / len(items), 4) if items else None

    return {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "recall_at_1": share(answerable, lambda r: r["hit@1"]),
        "recall_at_3": share(answerable, lambda r: r["hit@3"]),
        "key_fact_accuracy": share(answerable, lambda r: r.get("facts_ok", False)) if answers else None,
        "decline_rate": share(unanswerable, lambda r: r["decision"] == "decline"),
        "false_decline_rate": share(answerable, lambda r: r["decision"] == "decline"),
        "faq_verbatim_rate": share(answerable, lambda r: r["decision"] == "faq"),
    }
