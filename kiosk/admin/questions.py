"""What visitors asked that the documents did not answer: the console's questions report.

Only text is kept, never audio; no visitor, session or device is recorded with a question, so nothing links
it to a person. Entries older than `service.questions_keep_days` are deleted; with `service.questions_report`
off, only the day's counts are kept, without any text. A SQLite file in the kiosk's data folder, written on
the loop from the event stream (a few rows a day: cheap)."""

from __future__ import annotations

import datetime
import logging
import re
import sqlite3
from pathlib import Path
from typing import Any

from kiosk.config import ServiceSettings
from kiosk.events import AnswerDone, Decision, Grounded, Heard

log = logging.getLogger(__name__)

_SCHEMA = ("CREATE TABLE IF NOT EXISTS asked(day TEXT NOT NULL, text TEXT, norm TEXT, outcome TEXT NOT NULL, "
           "why TEXT NOT NULL, nearest TEXT NOT NULL)",
           "CREATE INDEX IF NOT EXISTS asked_day ON asked(day)")
_WORD = re.compile(r"[^\w\s]+")


def normalize(text: str) -> str:
    """The same question asked twice, however punctuated or capitalized, groups together."""
    return " ".join(_WORD.sub(" ", text.lower()).split())


class QuestionLog:
    def __init__(self, path: Path, service: ServiceSettings) -> None:
        self.path, self.service = path, service
        self._pending: str | None = None  # the visitor's question, until its turn's outcome is known
        self._grounded: Grounded | None = None

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=2.0)
        for statement in _SCHEMA:
            conn.execute(statement)
        return conn

    def observe(self, event: Any) -> None:
        """The hub's listener: a visitor's question, then its grounding, then its end."""
        if isinstance(event, Heard):
            self._pending, self._grounded = event.text, None
        elif isinstance(event, Grounded):
            self._grounded = event
        elif isinstance(event, AnswerDone) and self._pending is not None:
            question, grounded = self._pending, self._grounded
            self._pending = self._grounded = None
            if event.cancelled:
                return
            if grounded is not None and grounded.decision == Decision.DECLINE:
                self.record(question, "declined", grounded.why, grounded.nearest)
            elif not event.grounded:
                self.record(question, "not from the documents", "", "")

    def record(self, question: str, outcome: str, why: str, nearest: str, day: datetime.date | None = None) -> None:
        keep = self.service.questions_report
        day = day or datetime.date.today()
        try:
            with self._connect() as conn:
                conn.execute("INSERT INTO asked VALUES (?, ?, ?, ?, ?, ?)",
                             (day.isoformat(), question[:500] if keep else None,
                              normalize(question)[:500] if keep else None, outcome, why, nearest))
                cutoff = day - datetime.timedelta(days=self.service.questions_keep_days)
                # Past the retention the text goes and the count stays; after a year the count goes too.
                conn.execute("UPDATE asked SET text = NULL, norm = NULL WHERE day < ?", (cutoff.isoformat(),))
                conn.execute("DELETE FROM asked WHERE day < ?", ((day - datetime.timedelta(days=366)).isoformat(),))
            conn.close()
        except sqlite3.Error as error:  # the report is a nicety: the kiosk answers on without it
            log.warning("questions report %s: %s", self.path, error)

    def report(self) -> dict[str, Any]:
        """{"groups": [{"question", "count", "last_day", "outcome", "why", "nearest"}], "total", "days"}"""
        if not self.path.is_file():
            return {"groups": [], "total": 0, "without_text": 0}
        with self._connect() as conn:
            groups = conn.execute(
                "SELECT min(text), count(*), max(day), outcome, max(why), max(nearest) FROM asked "
                "WHERE norm IS NOT NULL GROUP BY norm, outcome ORDER BY count(*) DESC, max(day) DESC LIMIT 200"
            ).fetchall()
            total, without = conn.execute("SELECT count(*), sum(text IS NULL) FROM asked").fetchone()
        conn.close()
        return {"groups": [{"question": q, "count": n, "last_day": d, "outcome": o, "why": w, "nearest": near}
                           for q, n, d, o, w, near in groups], "total": total, "without_text": without or 0}
