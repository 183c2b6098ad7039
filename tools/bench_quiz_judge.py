#!/usr/bin/env python3
"""The quiz judge on a set of spoken-style answers with honest labels:

    .venv/bin/python tools/bench_quiz_judge.py samples/quiz-answers.jsonl          # written while building it
    .venv/bin/python tools/bench_quiz_judge.py samples/quiz-answers-heldout.jsonl  # by another hand, never tuned on

Prints every answer judged otherwise than its label, then accuracy, right answers marked wrong and wrong
answers marked right.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk.learn.judge import judge  # noqa: E402
from kiosk.learn.quiz_file import load_quiz  # noqa: E402

quizzes = {}
right = wrong_marked_right = right_marked_wrong = n = pos = neg = 0
for line in Path(sys.argv[1] if len(sys.argv) > 1 else "samples/quiz-answers.jsonl").read_text().splitlines():
    r = json.loads(line)
    quiz = quizzes.setdefault(r["quiz"], load_quiz(Path(r["quiz"])))
    q = next(q for q in quiz.questions if q.text == r["question"])
    v = judge(r["heard"], q)
    n += 1
    right += v.correct == r["correct"]
    if r["correct"]:
        pos += 1
        right_marked_wrong += not v.correct
    else:
        neg += 1
        wrong_marked_right += v.correct
    if v.correct != r["correct"]:
        print("MISS", r["correct"], repr(r["heard"]), "->", v.reason, "|", q.text[:50])
print(f"accuracy {right}/{n} = {right / n:.3f}; right answers marked wrong {right_marked_wrong}/{pos}; "
      f"wrong marked right {wrong_marked_right}/{neg}")
