"""Quiz results for the training team: counts per quiz and per question, retention by day, nothing a visitor
said stored anywhere in the file, and the `kiosk report` / `kiosk quiz --record` CLI."""

from __future__ import annotations

import datetime
import io
import json
import sqlite3
from pathlib import Path

import pytest

from kiosk.appliance.lessons import results_path
from kiosk.cli.main import main
from kiosk.learn.question import Question
from kiosk.learn.quiz import QuizRun
from kiosk.learn.quiz_file import Quiz
from kiosk.learn.results import FILE_NAME, QuizResults, outcome

ROOT = Path(__file__).resolve().parents[1]
TODAY = datetime.date(2026, 3, 2)
SAFETY = Quiz("Hall safety", (Question("Which hall needs hearing protection?", ("hall 2",)),
                              Question("What is the speed limit?", ("5 mph",)),
                              Question("Where is the assembly point?", ("car park",))), pass_score=0.6, shuffle=False)


def _run(*heard: str, quiz: Quiz = SAFETY) -> QuizRun:
    run = QuizRun(quiz)
    for text in heard:
        run.answer(text)
    return run


def test_counts_per_quiz_and_question(tmp_path: Path) -> None:
    results = QuizResults(tmp_path / "results.sqlite")
    assert results.summary() == {"quizzes": {}, "first_day": None, "last_day": None}
    assert not results.path.exists()  # reading does not create it
    runs = [_run("hall two", "five", "the car park"),  # passed, 3 right
            _run("hall 3", "five mph", "the canteen"),  # failed, 1 right
            _run("hall 2", "stop"),  # stopped, the rest not answered
            _run("hall 2")]  # left after one answer: stopped too
    assert [outcome(r) for r in runs] == ["passed", "failed", "stopped", "stopped"]
    for run in runs:
        assert results.record(run, day=TODAY)
    results.record(_run("hall 2", "5", "car park"), day=TODAY - datetime.timedelta(days=1))
    summary = results.summary()
    assert json.loads(json.dumps(summary)) == summary  # JSON as it is
    assert summary["first_day"] == "2026-03-01" and summary["last_day"] == "2026-03-02"
    quiz = summary["quizzes"]["Hall safety"]
    assert {k: quiz[k] for k in ("runs", "passed", "failed", "stopped")} == \
        {"runs": 5, "passed": 2, "failed": 1, "stopped": 2}
    questions = quiz["questions"]
    assert questions["Which hall needs hearing protection?"] == {"right": 4, "wrong": 1, "skipped": 0,
                                                                  "share_right": 0.8}
    assert questions["What is the speed limit?"] == {"right": 3, "wrong": 0, "skipped": 2, "share_right": 1.0}
    assert questions["Where is the assembly point?"] == {"right": 2, "wrong": 1, "skipped": 2,
                                                         "share_right": 0.67}
    assert list(questions)[0] == "Where is the assembly point?"  # the hardest first


def test_retention_deletes_old_days(tmp_path: Path) -> None:
    results = QuizResults(tmp_path / "results.sqlite", keep_days=30)
    results.record(_run("hall 2", "5", "car park"), day=TODAY - datetime.timedelta(days=35))
    results.record(_run("hall 3", "5", "car park"), day=TODAY - datetime.timedelta(days=10))
    assert results.summary()["quizzes"]["Hall safety"]["runs"] == 2
    results.record(_run("hall 2", "5", "car park"), day=TODAY)  # recording applies the retention
    summary = results.summary()
    assert summary["first_day"] == (TODAY - datetime.timedelta(days=10)).isoformat()
    assert summary["quizzes"]["Hall safety"]["runs"] == 2
    assert results.forget_older_than(5, today=TODAY) == 4  # one runs row and three answers rows
    assert summary != (after := results.summary()) and after["first_day"] == after["last_day"] == "2026-03-02"
    assert QuizResults(tmp_path / "missing.sqlite").forget_older_than(1) == 0


def test_nothing_a_visitor_said_is_stored(tmp_path: Path) -> None:
    results = QuizResults(tmp_path / "results.sqlite")
    heard = ["hall two, my name is Ada Lovelace", "five, badge 4711", "the car park near my desk"]
    results.record(_run(*heard), day=TODAY)
    results.record(_run("Grace Hopper says hall 3", "stop"), day=TODAY)
    conn = sqlite3.connect(results.path)
    tables = {name: [c[1] for c in conn.execute(f"PRAGMA table_info({name})")]
              for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    # the whole schema: a day, the trainer's titles and questions, counters; no time, session, run or answer
    assert tables == {"runs": ["day", "quiz", "passed", "failed", "stopped"],
                      "answers": ["day", "quiz", "question", "right", "wrong", "skipped"]}
    values = [v for name in tables for row in conn.execute(f"SELECT * FROM {name}") for v in row]
    conn.close()
    texts = {v for v in values if isinstance(v, str)}
    assert texts == {"2026-03-02", "Hall safety", *(q.text for q in SAFETY.questions)}
    assert all(isinstance(v, int) for v in values if not isinstance(v, str))
    raw = results.path.read_bytes()  # nor in a free page or a journal left behind
    for secret in ("Ada", "Lovelace", "4711", "Grace", "desk"):
        assert secret.encode() not in raw
    assert not list(tmp_path.glob("*-journal"))


def test_a_file_that_cannot_be_written_is_logged_not_raised(tmp_path: Path) -> None:
    blocked = tmp_path / "dir.sqlite"
    blocked.mkdir()
    assert QuizResults(blocked).record(_run("hall 2")) is False


def test_the_default_path_is_the_kiosk_data_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert results_path() == tmp_path / "kiosk" / FILE_NAME


def test_the_cli_records_only_when_asked_and_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    config = tmp_path / "kiosk.toml"
    config.write_text("[service]\nquestions_keep_days = 7\n")
    quiz = str(ROOT / "samples" / "quizzes" / "onboarding.toml")
    answers = "nine thirty\nB two one four\ntwenty five\nthe guest network\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(answers))
    assert main(["quiz", quiz, "--json", "--config", str(config)]) == 0
    assert not (tmp_path / "data" / "kiosk" / FILE_NAME).exists()  # trying a quiz does not count
    assert main(["report", "--json", "--config", str(config)]) == 0
    capsys.readouterr()
    for text in (answers, "nine thirty\nstop\n"):
        monkeypatch.setattr("sys.stdin", io.StringIO(text))
        assert main(["quiz", quiz, "--json", "--record", "--config", str(config)]) == 0
    assert (tmp_path / "data" / "kiosk" / FILE_NAME).is_file()
    capsys.readouterr()
    assert main(["report", "--json", "--config", str(config)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["keep_days"] == 7 and set(report) == {"quizzes", "first_day", "last_day", "keep_days"}
    first_week = report["quizzes"]["Your first week"]
    assert (first_week["runs"], first_week["passed"], first_week["failed"], first_week["stopped"]) == (2, 1, 0, 1)
    vacation = first_week["questions"]["How many vacation days do full-time employees get a year?"]
    assert vacation == {"right": 0, "wrong": 1, "skipped": 1, "share_right": 0.0}
    assert main(["report", "--config", str(config)]) == 0
    text = capsys.readouterr().out
    assert "Your first week: 2 runs, 1 passed, 0 failed, 1 stopped" in text and "nine thirty" not in text
    assert main(["report", "--json", "--file", str(tmp_path / "other.sqlite"), "--config", str(config)]) == 0
    assert json.loads(capsys.readouterr().out)["quizzes"] == {}
