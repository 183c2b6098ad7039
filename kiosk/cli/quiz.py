"""`kiosk quiz FILE [--json] [--record]` (answers read from standard input, one per line), `kiosk quiz check
FILE` and `kiosk quiz generate --kb FILE --out QUIZ [--questions N] [--force]` (a draft from the documents)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ACTIONS = ("take", "check", "generate")


def run_quiz(args: argparse.Namespace) -> int:
    from kiosk.learn.quiz import QuizRun
    from kiosk.learn.quiz_file import DRAFT_REFUSAL, QuizError, load_quiz

    if args.action not in ACTIONS:  # `kiosk quiz FILE`: the file came first, the action is the default
        if args.file is not None:
            print(f"kiosk quiz: unknown action {args.action!r}; one of {', '.join(ACTIONS)}", file=sys.stderr)
            return 2
        args.action, args.file = "take", args.action
    if args.action == "generate":
        return generate(args)
    if args.file is None:
        print(f"kiosk quiz: which quiz file? e.g. kiosk quiz {args.action} samples/quizzes/"
              "onboarding.toml", file=sys.stderr)
        return 2
    try:
        quiz = load_quiz(Path(args.file))
        if args.action == "check":
            print(f"{args.file}: ok, {len(quiz.questions)} questions, pass at {quiz.pass_score:.0%}"
                  + (f"; {DRAFT_REFUSAL} before it is used" if quiz.draft else ""))
            return 0
        run = QuizRun(quiz, seed=args.seed)  # a draft is refused here
    except QuizError as error:
        print(f"kiosk quiz: {error}", file=sys.stderr)
        return 2
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
    if args.record:
        return _record(args, run)
    return 0


def _record(args: argparse.Namespace, run: Any) -> int:
    """Counts only, into the kiosk's results (kiosk/learn/results.py); retention as the questions report's."""
    from kiosk.appliance.lessons import results_path
    from kiosk.config import load_settings
    from kiosk.learn.results import QuizResults

    settings = load_settings(getattr(args, "config", None))
    results = QuizResults(results_path(), keep_days=settings.service.questions_keep_days)
    if not results.record(run):
        print(f"kiosk quiz: the run could not be recorded in {results.path} (see the log)", file=sys.stderr)
        return 1
    return 0


def generate(args: argparse.Namespace) -> int:
    from kiosk.learn.draft import DraftError, write_draft

    if not args.kb or not args.out:
        print("kiosk quiz generate: needs --kb (the knowledge index made by `kiosk ingest`) and --out (the quiz "
              "file to write), e.g. kiosk quiz generate --kb kb.sqlite --out draft.toml", file=sys.stderr)
        return 2
    try:
        report = write_draft(Path(args.kb), Path(args.out), args.questions, args.title or "", args.force)
    except DraftError as error:
        print(f"kiosk quiz generate: {error}", file=sys.stderr)
        return 2
    print(f"{report.path}: a draft of {report.faq + report.sentences} questions ({report.faq} from FAQ entries, "
          f"{report.sentences} from sentences). Review every question, then remove `draft = true`.")
    return 0


def _say(data: dict[str, Any]) -> None:
    if "score" in data:
        print(f"\n{data['score']} of {data['total']}: {'passed' if data['passed'] else 'not passed'}")
    else:
        print(("Right. " if data["correct"] else "Not quite. ") + data["explanation"]
              + (f" (source: {data['source']})" if data["source"] else ""))


def _count(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 500:
        raise argparse.ArgumentTypeError(f"{text}: from 1 to 500 questions")
    return value


def add_quiz_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("quiz", parents=[common], help="a spoken-style quiz from a quiz file (answers on stdin)",
                       usage="kiosk quiz [take|check] FILE [--json] [--seed N] [--record]\n"
                             "       kiosk quiz generate --kb INDEX --out QUIZ [--questions N] [--title T] [--force]")
    p.add_argument("action", nargs="?", default="take", metavar="ACTION",
                   help="take (default): ask, read answers, judge; check: report the file's problems; "
                        "generate: draft a quiz from a knowledge index")
    p.add_argument("file", nargs="?", help="the quiz file (TOML; docs/learning.md)")
    p.add_argument("--seed", type=int, help="the order of a shuffled quiz (the same seed, the same order)")
    p.add_argument("--json", action="store_true", help="one JSON object per question, then the score")
    p.add_argument("--record", action="store_true",
                   help="count this run in the kiosk's quiz results (`kiosk report`); off: trying a quiz does not "
                        "count")
    p.add_argument("--kb", help="generate: the knowledge index to draft from (made by `kiosk ingest`)")
    p.add_argument("--out", help="generate: the quiz file to write (a draft, to review)")
    p.add_argument("--questions", type=_count, default=10, help="generate: at most this many questions (10)")
    p.add_argument("--title", help="generate: the quiz's title (default: \"Quiz from the documents\")")
    p.add_argument("--force", action="store_true", help="generate: overwrite --out if it exists")
    p.set_defaults(func=run_quiz)
