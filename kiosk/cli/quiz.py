"""`kiosk quiz FILE [--json]` (answers read from standard input, one per line) and `kiosk quiz check FILE`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def run_quiz(args: argparse.Namespace) -> int:
    from kiosk.learn.quiz import QuizRun
    from kiosk.learn.quiz_file import QuizError, load_quiz

    try:
        quiz = load_quiz(Path(args.file))
    except QuizError as error:
        print(f"kiosk quiz: {error}", file=sys.stderr)
        return 2
    if args.action == "check":
        print(f"{args.file}: ok, {len(quiz.questions)} questions, pass at {quiz.pass_score:.0%}")
        return 0
    run = QuizRun(quiz, seed=args.seed)
    out = (lambda d: print(json.dumps(d, ensure_ascii=False))) if args.json else _say
    while (question := run.current) is not None:
        if not args.json:
            print(f"\nQ: {question.text}" + (f"  [{' / '.join(question.choices)}]" if question.choices else ""))
        line = sys.stdin.readline()
        if not line:
            break
        heard = line.rstrip("\n")
        verdict = run.answer(heard)
        if verdict is None:
            break
        out({"question": question.text, "heard": heard, "correct": verdict.correct, "reason": verdict.reason,
             "explanation": question.explanation, "source": question.source})
    out({"score": run.score, "total": len(run.order), "passed": run.passed, "stopped": run.stopped})
    return 0


def _say(data: dict[str, Any]) -> None:
    if "score" in data:
        print(f"\n{data['score']} of {data['total']}: {'passed' if data['passed'] else 'not passed'}")
    else:
        print(("Right. " if data["correct"] else "Not quite. ") + data["explanation"]
              + (f" (source: {data['source']})" if data["source"] else ""))


def add_quiz_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("quiz", parents=[common], help="a spoken-style quiz from a quiz file (answers on stdin)")
    p.add_argument("action", nargs="?", choices=("take", "check"), default="take",
                   help="take (default): ask, read answers, judge; check: report the file's problems")
    p.add_argument("file", help="the quiz file (TOML; docs/learning.md)")
    p.add_argument("--seed", type=int, help="the order of a shuffled quiz (the same seed, the same order)")
    p.add_argument("--json", action="store_true", help="one JSON object per question, then the score")
    p.set_defaults(func=run_quiz)
