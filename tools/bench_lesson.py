#!/usr/bin/env python3
"""A quiz taken by voice through `kiosk run` (issue 18): how soon the verdict starts after the visitor's answer.

    .venv/bin/python tools/bench_lesson.py [--runs 3] [--quiz samples/quizzes/hall-safety.toml] [--json OUT]

`kiosk run --headless` on a private PulseAudio (tools/kiosk_session.py) with the sample documents and the
quiz in [learn]. Each run: "Hey coach, can I take the safety quiz, please?" (Piper), then every question the
kiosk asks is answered with its first accepted answer, spoken in Piper's voice without the wake phrase (said
again if nothing happens within 12 s, as a visitor would). Per answer, from the kiosk's own
stamps on /status: the microphone delivering the answer's last word -> the transcript (`end_to_heard`: the
end-of-turn wait and recognition), the transcript -> the verdict's first sentence playing (`to_speaker`: the
judge, Piper on the first sentence, the hand-over), and their sum: the visitor's answer to the verdict starting
to play (less the sound device's own few ms). Also how many spoken right answers were judged right.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import bench_report  # noqa: E402
from kiosk_session import KioskRun, question_wav  # noqa: E402
from pulse_sandbox import private_pulse  # noqa: E402
from speech_corpus import Line, render, write_wav  # noqa: E402


def answer_wav(folder: Path, text: str, n: int) -> Path:
    pcm, _ = render([Line(text, "piper", pause_before_s=0.3)], tail_s=1.0)
    return write_wav(folder / f"answer-{n}.wav", pcm)


def steps(kiosk: KioskRun) -> list[dict]:
    return [t for t in kiosk.turns() if t.get("lesson")]


def wait_steps(kiosk: KioskRun, n: int, timeout: float = 90) -> list[dict] | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = steps(kiosk)
        if len(got) >= n and kiosk.status()["state"] in ("listening", "follow_up", "idle"):
            return got
        time.sleep(0.2)
    return None


def taken(kiosk: KioskRun, n: int, quiet_s: float = 10.0) -> bool:
    """Whether the kiosk took the answer (a new step, or it is thinking or speaking); False after `quiet_s` of
    nothing but listening."""
    deadline = time.monotonic() + quiet_s
    while time.monotonic() < deadline:
        if len(steps(kiosk)) >= n or kiosk.status()["state"] in ("thinking", "speaking"):
            return True
        time.sleep(0.2)
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quiz", default=str(ROOT / "samples" / "quizzes" / "hall-safety.toml"))
    parser.add_argument("--json")
    args = parser.parse_args()
    from kiosk.knowledge.index import ingest
    from kiosk.learn.quiz_file import load_quiz

    quiz = load_quiz(Path(args.quiz))
    answers = {q.text: q.answers[0] for q in quiz.questions}
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as name, private_pulse("kiosk-bench-lesson-") as pulse:
        tmp = Path(name)
        kb = tmp / "kb.sqlite"
        ingest(kb, [ROOT / "samples" / "halvorsen"])
        from kiosk.config import Settings

        env = {**pulse, "XDG_DATA_HOME": str(tmp / "data"), "KIOSK_MODELS_DIR": str(Settings().models.resolved_dir)}
        with KioskRun(tmp, env, kb, extra_config=f'\n[learn]\nquizzes = ["{Path(args.quiz).resolve()}"]\n') as kiosk:
            kiosk.start()
            for run in range(args.runs):
                kiosk.wait_idle(120)
                before = len(steps(kiosk))
                kiosk.say(question_wav(tmp, "can I take the safety quiz, please?", f"ask-{run}"))
                got = wait_steps(kiosk, before + 1)
                if got is None:
                    raise RuntimeError(f"the quiz did not start:\n{kiosk.tail()}")
                for n in range(len(quiz.questions)):
                    asked = got[-1]["answer"]
                    question = next(q for q in answers if q in asked)
                    for attempt in (1, 2):  # not heard (nothing happens): the visitor says it again
                        time.sleep(0.5)
                        kiosk.say(answer_wav(tmp, answers[question], n))
                        if attempt == 1 and not taken(kiosk, before + n + 2):
                            continue
                        if (again := wait_steps(kiosk, before + n + 2)):
                            break
                    if again is None:
                        raise RuntimeError(f"answer {answers[question]!r} not taken twice:\n{kiosk.tail()}")
                    got = again
                    step = got[-1]
                    t = step["timings_ms"]
                    total = (t["end_to_heard"] + t["to_speaker"]
                             if t.get("end_to_heard") is not None and t.get("to_speaker") is not None else None)
                    rows.append({"run": run, "question": question, "said": answers[question], "attempts": attempt,
                                 "heard": step["question"], "right": step["answer"].startswith("Right"),
                                 **{k: t.get(k) for k in ("end_to_heard", "reply", "to_speaker")},
                                 "answer_to_verdict_ms": total})
                    print(f"{run} {'right' if rows[-1]['right'] else 'WRONG'} {total} ms  {step['question']!r}",
                          file=sys.stderr, flush=True)
    def med(key: str) -> float | None:
        values = [r[key] for r in rows if r[key] is not None]
        return round(statistics.median(values), 1) if values else None

    report = {"command": "tools/bench_lesson.py " + " ".join(sys.argv[1:]), "runs": args.runs,
              "answers": len(rows), "judged_right": sum(r["right"] for r in rows),
              "said_twice": sum(r["attempts"] > 1 for r in rows),
              "median_ms": {k: med(k) for k in ("end_to_heard", "reply", "to_speaker", "answer_to_verdict_ms")},
              "rows": rows}
    bench_report.emit(report, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
