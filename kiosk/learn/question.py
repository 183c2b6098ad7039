"""One quiz question as a quiz file gives it (kiosk/learn/quiz_file.py) and the judge takes it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Question:
    text: str
    answers: tuple[str, ...]
    """any of these counts (compared in one spelling: kiosk/learn/judge.py)"""
    choices: tuple[str, ...] = ()
    explanation: str = ""
    source: str = ""
