"""Quiz files (TOML, written by a training team; content packs carry them):

    [quiz]
    title = "Hall safety"
    pass_score = 0.8          # fraction correct to pass
    shuffle = true
    draft = true              # optional: drafted by `kiosk quiz generate`, not reviewed yet

    [[question]]
    text = "Which hall needs hearing protection?"
    answers = ["hall 2", "hall two"]        # any of these counts
    choices = ["Hall 1", "Hall 2", "Hall 3"] # optional: shown as buttons
    explanation = "Hall 2, where the stamping presses run."
    source = "safety-rules.html"            # optional: cited after the answer

`load_quiz` reports every problem at once, each with its line, so a trainer fixes a file in one round trip.
A draft loads (so `kiosk quiz check` can check it) but is never taken: `refuse_draft`, called by QuizRun,
stops it with DRAFT_REFUSAL until a person has reviewed it and removed `draft = true`."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.config_check import loads_toml
from kiosk.learn.judge import judge
from kiosk.learn.question import Question

QUIZ_KEYS = {"title", "pass_score", "shuffle", "draft"}
QUESTION_KEYS = {"text", "answers", "choices", "explanation", "source"}


@dataclass(frozen=True)
class Quiz:
    title: str
    questions: tuple[Question, ...]
    pass_score: float = 0.8
    shuffle: bool = True
    path: Path | None = None
    draft: bool = False
    """written by `kiosk quiz generate` and not reviewed yet: never taken (refuse_draft)"""


class QuizError(ValueError):
    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path, self.problems = path, problems
        super().__init__("\n".join(f"{path}:{p}" for p in problems))


DRAFT_REFUSAL = "a draft: review it and remove draft = true"


class QuizDraftError(QuizError):
    """A draft quiz was to be taken."""


def refuse_draft(quiz: Quiz) -> None:
    """QuizDraftError, naming the file and the line of `draft = true`, when `quiz` is a draft."""
    if not quiz.draft:
        return
    line = 1
    if quiz.path is not None:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            line = _lines(quiz.path.read_text(encoding="utf-8"))[2].get((-2, "draft"), 1)
    raise QuizDraftError(quiz.path or Path(quiz.title), [f"{line}: quiz.draft: {DRAFT_REFUSAL}"])


def _lines(text: str) -> tuple[int | None, list[int], dict[tuple[int, str], int]]:
    """(line of [quiz], line of each [[question]], (question index, key) -> line) for messages."""
    quiz_line, question_lines, keys = None, [], {}
    current = -1
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if re.match(r"^\[\s*quiz\s*\]", line):
            quiz_line, current = n, -2
        elif re.match(r"^\[\[\s*question\s*\]\]", line):
            question_lines.append(n)
            current = len(question_lines) - 1
        elif (m := re.match(r"^([A-Za-z_]+)\s*=", line)) and current >= -2:
            keys[(current, m.group(1))] = n
    return quiz_line, question_lines, keys


def load_quiz(path: Path) -> Quiz:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise QuizError(path, [f"1: cannot be read ({error})"]) from None
    try:
        data = loads_toml(text)
    except ValueError as error:
        line = re.search(r"line (\d+)", str(error))
        raise QuizError(path, [f"{line.group(1) if line else 1}: not valid TOML: {error}"]) from None
    quiz_line, question_lines, keys = _lines(text)
    problems: list[str] = []

    def at(index: int, key: str) -> int:
        fallback = question_lines[index] if 0 <= index < len(question_lines) else (quiz_line or 1)
        return keys.get((index, key), fallback)

    for section in data:
        if section not in ("quiz", "question"):
            problems.append(f"1: unknown table [{section}]; a quiz has [quiz] and [[question]] tables")
    head: Any = data.get("quiz", {})
    if not isinstance(head, dict):
        head = {}
        problems.append("1: [quiz] must be a table")
    for key in sorted(set(head) - QUIZ_KEYS):
        problems.append(f"{at(-2, key)}: quiz.{key}: unknown; allowed: {', '.join(sorted(QUIZ_KEYS))}")
    title = head.get("title", "")
    if not isinstance(title, str) or not title.strip():
        problems.append(f"{at(-2, 'title')}: quiz.title: a title is needed, e.g. title = \"Hall safety\"")
    pass_score = head.get("pass_score", 0.8)
    if isinstance(pass_score, bool) or not isinstance(pass_score, (int, float)) or not 0 < pass_score <= 1:
        problems.append(f"{at(-2, 'pass_score')}: quiz.pass_score: a fraction from 0 to 1 (0.8 = 80 % right)")
        pass_score = 0.8
    shuffle = head.get("shuffle", True)
    if not isinstance(shuffle, bool):
        problems.append(f"{at(-2, 'shuffle')}: quiz.shuffle: true or false")
        shuffle = True
    draft = head.get("draft", False)
    if not isinstance(draft, bool):
        problems.append(f"{at(-2, 'draft')}: quiz.draft: true or false (true: not reviewed yet, never taken)")
        draft = True
    raw_questions = data.get("question", [])
    if not isinstance(raw_questions, list) or not raw_questions:
        problems.append(f"{quiz_line or 1}: no [[question]] tables: a quiz needs at least one question")
        raw_questions = []
    questions = []
    for i, q in enumerate(raw_questions):
        where = f"question {i + 1}"
        for key in sorted(set(q) - QUESTION_KEYS):
            problems.append(f"{at(i, key)}: {where}: {key}: unknown; allowed: {', '.join(sorted(QUESTION_KEYS))}")
        text_ = q.get("text")
        if not isinstance(text_, str) or not text_.strip():
            problems.append(f"{at(i, 'text')}: {where}: text: the question to ask is missing")
        answers = q.get("answers")
        if not (isinstance(answers, list) and answers and all(isinstance(a, str) and a.strip() for a in answers)):
            problems.append(f"{at(i, 'answers')}: {where}: answers: a list of the answers that count, "
                            'e.g. answers = ["hall 2", "hall two"]')
            answers = []
        choices = q.get("choices", [])
        if not (isinstance(choices, list) and all(isinstance(c, str) and c.strip() for c in choices)):
            problems.append(f"{at(i, 'choices')}: {where}: choices: a list of button labels")
            choices = []
        elif choices and answers and not any(judge(c, Question("", tuple(answers))).correct for c in choices):
            problems.append(f"{at(i, 'choices')}: {where}: choices: none of them is one of the answers")
        for key in ("explanation", "source"):
            if key in q and not isinstance(q[key], str):
                problems.append(f"{at(i, key)}: {where}: {key}: must be text")
        if isinstance(text_, str) and text_.strip() and answers:
            questions.append(Question(text_.strip(), tuple(a.strip() for a in answers),
                                      tuple(c.strip() for c in choices), str(q.get("explanation", "")).strip(),
                                      str(q.get("source", "")).strip()))
    if problems:
        raise QuizError(path, problems)
    return Quiz(title.strip(), tuple(questions), float(pass_score), shuffle, path, draft)
