#!/usr/bin/env python3
"""What to prime Whisper with for a quiz answer: the documents' vocabulary, nothing, the question, or the question
and its choices. Spoken answers (espeak-ng voices and Piper) decoded with each prompt and judged with the quiz's
own judge against the hall-safety quiz (kiosk/learn/judge.py): how many right answers come out judged right, and
how many wrong ones (on purpose) judged right.

    .venv/bin/python tools/probe_answer_prompt.py [--json OUT]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import bench_report  # noqa: E402
from speech_corpus import speak  # noqa: E402

# (what the visitor says, a key word of the question, whether it is a right answer)
ANSWERS = [("One hour.", "fire watch", True), ("Sixty minutes.", "fire watch", True),
           ("Blue, I think.", "colour", False), ("Yellow.", "colour", True),
           ("Eighty-five decibels.", "noise", True), ("Extension three fifty.", "battery", True),
           ("Five miles an hour.", "forklift", True), ("Fifteen miles per hour.", "forklift", False),
           ("I have no idea.", "fire watch", False)]
VOICES = ["piper", "en-us", "en-gb", "en-us+f3"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json")
    args = parser.parse_args()
    from kiosk.config import Settings, with_overrides
    from kiosk.knowledge.index import ingest
    from kiosk.learn.judge import judge
    from kiosk.learn.quiz_file import load_quiz
    from kiosk.listen.engines import build_asr

    quiz = load_quiz(ROOT / "samples" / "quizzes" / "hall-safety.toml")
    with tempfile.TemporaryDirectory() as tmp:
        kb = Path(tmp) / "kb.sqlite"
        ingest(kb, [ROOT / "samples" / "halvorsen"])
        asr = build_asr(with_overrides(Settings(), persona={"knowledge_base": str(kb)}))
    documents = asr.prompt
    rows = []
    for voice in VOICES:
        for said, key, right in ANSWERS:
            q = next(q for q in quiz.questions if key in q.text.lower())
            pcm = speak(said, voice).tobytes()
            prompts = {"documents": documents, "none": "", "question": q.text,
                       "question+choices": f"{q.text} {', '.join(q.choices)}".strip()}
            for name, prompt in prompts.items():
                asr.prompt = prompt
                asr.start(bias=True)
                asr.feed(pcm)
                heard = asr.finish().text
                rows.append({"voice": voice, "said": said, "right_answer": right, "prompt": name, "heard": heard,
                             "judged_right": judge(heard, q).correct})
            print(voice, said, [r["heard"] for r in rows[-len(prompts):]], file=sys.stderr, flush=True)
    summary = {}
    for name in ("documents", "none", "question", "question+choices"):
        mine = [r for r in rows if r["prompt"] == name]
        summary[name] = {"right_judged_right": sum(r["judged_right"] for r in mine if r["right_answer"]),
                         "right_answers": sum(r["right_answer"] for r in mine),
                         "wrong_judged_right": sum(r["judged_right"] for r in mine if not r["right_answer"]),
                         "wrong_answers": sum(not r["right_answer"] for r in mine)}
    bench_report.emit({"command": "tools/probe_answer_prompt.py " + " ".join(sys.argv[1:]), "summary": summary,
                       "rows": rows}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
