"""Quizzes: the file format with every problem reported by line, the answer judge (numbers as words, clock
times, hedges, negations), measured on spoken-style answer sets, and the `kiosk quiz` CLI contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.learn.judge import judge, normalize
from kiosk.learn.question import Question
from kiosk.learn.quiz import QuizRun
from kiosk.learn.quiz_file import QuizError, load_quiz

ROOT = Path(__file__).resolve().parents[1]
QUIZZES = sorted((ROOT / "samples" / "quizzes").glob("*.toml"))


def test_the_sample_quizzes_load() -> None:
    assert len(QUIZZES) >= 2
    for path in QUIZZES:
        quiz = load_quiz(path)
        assert quiz.title and quiz.questions and all(q.explanation for q in quiz.questions)


def test_every_problem_of_a_quiz_file_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[quiz]\ntitle = "Hall safety"\npass_score = 2\ncolour = "red"\n\n'
                   '[[question]]\ntext = "Which hall?"\nanswers = []\n\n'
                   '[[question]]\ntext = "Which colour?"\nanswers = ["yellow"]\nchoices = ["Green", "Blue"]\n')
    with pytest.raises(QuizError) as error:
        load_quiz(bad)
    problems = error.value.problems
    assert any(p.startswith("3: quiz.pass_score") for p in problems)
    assert any(p.startswith("4: quiz.colour: unknown") for p in problems)
    assert any(p.startswith("8: question 1: answers") for p in problems)
    assert any(p.startswith("13: question 2: choices: none of them") for p in problems)
    broken = tmp_path / "broken.toml"
    broken.write_text('[quiz]\ntitle = "x"\n[[question]\ntext = "y"\n')
    with pytest.raises(QuizError, match="not valid TOML"):
        load_quiz(broken)


@pytest.mark.parametrize("heard, right", [
    ("um, I think it's hall two", True), ("2", True), ("hall 3", False), ("not hall 2", False),
    ("hall 2 or 3", False), ("", False)])
def test_the_judge_on_a_room(heard: str, right: bool) -> None:
    assert judge(heard, Question("Which hall needs hearing protection?", ("hall 2",))).correct is right


@pytest.mark.parametrize("heard, right", [
    ("two pm", True), ("14.00", True), ("2 in the afternoon", True), ("two o'clock", True),
    ("two in the morning", False), ("21:30", False), ("three pm", False)])
def test_the_judge_on_a_time(heard: str, right: bool) -> None:
    assert judge(heard, Question("When does the canteen close?", ("14:00",))).correct is right


@pytest.mark.parametrize("heard, right", [
    ("5 mph an hour", True),  # Whisper's writing of "five miles an hour" when primed with "5 mph"
    ("five miles an hour", True), ("5 miles per hour", True), ("10 mph an hour", False),
    ("5 or 10 mph", False), ("5 mph, 1 more", False)])
def test_the_judge_on_a_speed(heard: str, right: bool) -> None:
    assert judge(heard, Question("How fast may a forklift drive inside the plant?",
                                 ("5 mph", "five miles an hour", "5 miles per hour"))).correct is right


def test_normalized_forms() -> None:
    assert normalize("Twenty-one days") == ["21", "days"]
    assert normalize("quarter to eight") == ["07:45"] and normalize("half past two p.m.") == ["14:30"]
    assert normalize("Room B214") == ["room", "b", "214"]


def judged(path: Path) -> tuple[float, float, float]:
    """(accuracy, right answers marked wrong, wrong answers marked right) of the judge on an answer set."""
    quizzes: dict[str, object] = {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    hits = right_wrong = wrong_right = 0
    for row in rows:
        quiz = quizzes.setdefault(row["quiz"], load_quiz(ROOT / row["quiz"]))
        question = next(q for q in quiz.questions if q.text == row["question"])  # type: ignore[attr-defined]
        verdict = judge(row["heard"], question)
        hits += verdict.correct == row["correct"]
        right_wrong += row["correct"] and not verdict.correct
        wrong_right += not row["correct"] and verdict.correct
    right = sum(r["correct"] for r in rows)
    return hits / len(rows), right_wrong / right, wrong_right / (len(rows) - right)


def test_the_judge_on_spoken_answers() -> None:
    """samples/quiz-answers.jsonl was written while building the judge (tuning); the held-out set was written
    by another hand without seeing the judge. docs/benchmarks.md reports both."""
    accuracy, right_marked_wrong, _ = judged(ROOT / "samples" / "quiz-answers.jsonl")
    assert len((ROOT / "samples" / "quiz-answers.jsonl").read_text().splitlines()) >= 100
    assert accuracy >= 0.95 and right_marked_wrong <= 0.05
    held_out = ROOT / "samples" / "quiz-answers-heldout.jsonl"
    if held_out.is_file():
        accuracy, _, wrong_marked_right = judged(held_out)
        assert accuracy >= 0.75 and wrong_marked_right <= 0.15  # a floor, not a target: the figures are in the docs


def test_a_run_scores_and_stops() -> None:
    quiz = load_quiz(ROOT / "samples" / "quizzes" / "onboarding.toml")
    run = QuizRun(quiz)
    assert [q.text for q in run.order] == [q.text for q in quiz.questions]  # shuffle = false
    assert run.answer("half past nine").correct  # type: ignore[union-attr]
    assert not run.answer("A-104").correct  # type: ignore[union-attr]
    assert run.answer("stop") is None and run.stopped and run.current is None
    assert run.score == 1 and not run.passed


def test_the_cli_contract(tmp_path: Path) -> None:
    path = ROOT / "samples" / "quizzes" / "onboarding.toml"
    answers = "nine thirty\nB two one four\ntwenty five\nthe guest network\n"
    done = subprocess.run([sys.executable, "-m", "kiosk.cli", "quiz", str(path), "--json"], input=answers,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["correct"] for line in lines[:-1]] == [True, True, False, True]
    assert set(lines[0]) == {"question", "heard", "correct", "reason", "explanation", "source"}
    assert lines[-1] == {"score": 3, "total": 4, "passed": True, "stopped": False}
    bad = tmp_path / "bad.toml"
    bad.write_text('[quiz]\ntitle = ""\n')
    checked = subprocess.run([sys.executable, "-m", "kiosk.cli", "quiz", "check", str(bad)], capture_output=True,
                             text=True, timeout=60)
    assert checked.returncode == 2 and f"{bad}:2: quiz.title" in checked.stderr and "Traceback" not in checked.stderr
