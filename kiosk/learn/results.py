"""Quiz results for the training team: per quiz and per question, how often it was answered right, wrong or
not at all, and how many runs passed, failed or were stopped.

Anonymous counts only. Never what a visitor said, never audio, and no row per run: each day keeps one counter
row per quiz and one per question, added to by every run, so nothing links answers to one run, to a session
or to a person (on a day with a single run, that day's counts are of course that run's). The day is there for
retention: days older than `service.questions_keep_days` are deleted whenever a run is recorded. The questions
report's other switch, `service.questions_report`, keeps its meaning here: there is no text of visitors to
keep, so with it off the counts are kept just the same. Quiz titles and question texts are the training
team's own words, stored so that the counts can be read.

A SQLite file in the kiosk's data folder (`quiz-results.sqlite` next to the console's files), created on the
first run recorded. A run is two tiny upserts in one transaction: cheap enough for the asyncio loop."""

from __future__ import annotations

import datetime
import logging
import sqlite3
from pathlib import Path
from typing import Any

from kiosk.learn.quiz import QuizRun

log = logging.getLogger(__name__)

FILE_NAME = "quiz-results.sqlite"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS runs(day TEXT NOT NULL, quiz TEXT NOT NULL, passed INTEGER NOT NULL DEFAULT 0, "
    "failed INTEGER NOT NULL DEFAULT 0, stopped INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(day, quiz))",
    "CREATE TABLE IF NOT EXISTS answers(day TEXT NOT NULL, quiz TEXT NOT NULL, question TEXT NOT NULL, "
    "right INTEGER NOT NULL DEFAULT 0, wrong INTEGER NOT NULL DEFAULT 0, skipped INTEGER NOT NULL DEFAULT 0, "
    "PRIMARY KEY(day, quiz, question))",
)


def outcome(run: QuizRun) -> str:
    """passed | failed | stopped (a run left before its last question counts as stopped)."""
    if run.stopped or len(run.verdicts) < len(run.order):
        return "stopped"
    return "passed" if run.passed else "failed"


class QuizResults:
    def __init__(self, path: Path, keep_days: int = 30) -> None:
        """`path`: kiosk.appliance.lessons.results_path() on a kiosk (its data folder)."""
        self.path = Path(path)
        self.keep_days = keep_days

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=2.0)
        for statement in _SCHEMA:
            conn.execute(statement)
        return conn

    def record(self, run: QuizRun, day: datetime.date | None = None) -> bool:
        """Count one run (False when the file could not be written: logged, the quiz goes on without it)."""
        day = day or datetime.date.today()
        result = outcome(run)
        rows = []
        for i, question in enumerate(run.order):
            verdict = run.verdicts[i] if i < len(run.verdicts) else None
            rows.append((day.isoformat(), run.quiz.title, question.text, int(bool(verdict and verdict.correct)),
                         int(bool(verdict and not verdict.correct)), int(verdict is None)))
        try:
            with self._connect() as conn:
                conn.execute(f"INSERT INTO runs(day, quiz, {result}) VALUES (?, ?, 1) "
                             f"ON CONFLICT(day, quiz) DO UPDATE SET {result} = {result} + 1",
                             (day.isoformat(), run.quiz.title))
                conn.executemany(
                    "INSERT INTO answers(day, quiz, question, right, wrong, skipped) VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT(day, quiz, question) DO UPDATE SET right = right + excluded.right, "
                    "wrong = wrong + excluded.wrong, skipped = skipped + excluded.skipped", rows)
                self._forget(conn, day - datetime.timedelta(days=self.keep_days))
            conn.close()
        except sqlite3.Error as error:  # the results are a nicety: the visitor's quiz does not depend on them
            log.warning("quiz results %s: %s", self.path, error)
            return False
        return True

    @staticmethod
    def _forget(conn: sqlite3.Connection, before: datetime.date) -> int:
        deleted = conn.execute("DELETE FROM runs WHERE day < ?", (before.isoformat(),)).rowcount
        return deleted + conn.execute("DELETE FROM answers WHERE day < ?", (before.isoformat(),)).rowcount

    def forget_older_than(self, days: int, today: datetime.date | None = None) -> int:
        """Delete the counts of days more than `days` ago; the number of rows deleted (0 without a file)."""
        if not self.path.is_file():
            return 0
        before = (today or datetime.date.today()) - datetime.timedelta(days=days)
        try:
            with self._connect() as conn:
                deleted = self._forget(conn, before)
            conn.close()
        except sqlite3.Error as error:
            log.warning("quiz results %s: %s", self.path, error)
            return 0
        return deleted

    def summary(self) -> dict[str, Any]:
        """{"quizzes": {title: {"runs", "passed", "failed", "stopped", "questions": {text: {"right", "wrong",
        "skipped", "share_right"}}}}, "first_day", "last_day"}: the hardest questions first; share_right is
        right / (right + wrong), None while nobody answered. sqlite3.Error when the file cannot be read."""
        empty: dict[str, Any] = {"quizzes": {}, "first_day": None, "last_day": None}
        if not self.path.is_file():
            return empty
        with self._connect() as conn:
            runs = conn.execute("SELECT quiz, sum(passed), sum(failed), sum(stopped) FROM runs GROUP BY quiz "
                                "ORDER BY quiz").fetchall()
            answers = conn.execute("SELECT quiz, question, sum(right), sum(wrong), sum(skipped) FROM answers "
                                   "GROUP BY quiz, question").fetchall()
            first, last = conn.execute("SELECT min(day), max(day) FROM (SELECT day FROM runs UNION ALL "
                                       "SELECT day FROM answers)").fetchone()
        conn.close()
        quizzes: dict[str, Any] = {}
        for quiz, passed, failed, stopped in runs:
            quizzes[quiz] = {"runs": passed + failed + stopped, "passed": passed, "failed": failed,
                             "stopped": stopped, "questions": {}}
        for quiz, question, right, wrong, skipped in sorted(answers, key=_hardest_first):
            share = round(right / (right + wrong), 2) if right + wrong else None
            quizzes.setdefault(quiz, {"runs": 0, "passed": 0, "failed": 0, "stopped": 0, "questions": {}})
            quizzes[quiz]["questions"][question] = {"right": right, "wrong": wrong, "skipped": skipped,
                                                    "share_right": share}
        return {"quizzes": quizzes, "first_day": first, "last_day": last}


def _hardest_first(row: tuple[str, str, int, int, int]) -> tuple[float, str]:
    _, question, right, wrong, _ = row
    return (right / (right + wrong) if right + wrong else 2.0), question
