"""`kiosk report [--json] [--file RESULTS]`: the quiz results for the training team (kiosk/learn/results.py):
per quiz the runs passed, failed and stopped, per question how often it was answered right, wrong or not at
all. With --json one object: {"quizzes": {...}, "first_day", "last_day", "keep_days"}."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any


def run_report(args: argparse.Namespace) -> int:
    from kiosk.appliance.lessons import results_path
    from kiosk.config import load_settings
    from kiosk.learn.results import QuizResults

    keep_days = load_settings(getattr(args, "config", None)).service.questions_keep_days
    results = QuizResults(Path(args.file) if args.file else results_path(), keep_days=keep_days)
    results.forget_older_than(keep_days)  # nothing shown that retention should have deleted
    try:
        summary = {**results.summary(), "keep_days": keep_days}
    except sqlite3.Error as error:  # damaged, or not a results file
        print(f"kiosk report: {results.path} cannot be read ({error}); move it away: a new one is "
              "started with the next run recorded", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
        return 0
    print(_text(summary, results.path))
    return 0


def _text(summary: dict[str, Any], path: Path) -> str:
    if not summary["quizzes"]:
        return (f"No quiz results yet ({path}). Runs are counted by the kiosk's quiz mode and by "
                "`kiosk quiz FILE --record`.")
    lines = [f"Quiz results {summary['first_day']} to {summary['last_day']} (counts only; days older than "
             f"{summary['keep_days']} are deleted)"]
    for title, quiz in summary["quizzes"].items():
        lines += ["", f"{title}: {quiz['runs']} runs, {quiz['passed']} passed, {quiz['failed']} failed, "
                      f"{quiz['stopped']} stopped"]
        for text, q in quiz["questions"].items():
            share = "  -- " if q["share_right"] is None else f"{q['share_right']:>5.0%}"
            lines.append(f"  {share} right  {text}  ({q['right']} right, {q['wrong']} wrong, "
                         f"{q['skipped']} not answered)")
    return "\n".join(lines)


def add_report_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("report", parents=[common], help="quiz results for the training team (counts only)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.add_argument("--file", help="the results file (default: quiz-results.sqlite in the kiosk's data folder, "
                                  "$XDG_DATA_HOME/kiosk or ~/.local/share/kiosk)")
    p.set_defaults(func=run_report)
