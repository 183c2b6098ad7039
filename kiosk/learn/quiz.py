"""One quiz taken: the questions in order (shuffled when the file says so), each answer judged, the score and
whether it passed. Shared by `kiosk quiz` and, later, the kiosk's quiz mode on the screen and by voice."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from kiosk.learn.judge import Verdict, judge
from kiosk.learn.question import Question
from kiosk.learn.quiz_file import Quiz, refuse_draft

# Shared with practice conversations (kiosk/learn/roleplay.py): "stop" alone, not "please stop shouting".
_STOP = re.compile(r"^\W*(?:stop|quit|exit|end|cancel|i'?m done|that'?s enough|"
                   r"(?:stop|end) the (?:quiz|conversation|role ?play|practice))\W*$", re.IGNORECASE)


def wants_to_stop(heard: str) -> bool:
    return bool(_STOP.match(heard.strip()))


@dataclass
class QuizRun:
    quiz: Quiz
    seed: int | None = None
    similar: Callable[[str, str], float] | None = None
    order: list[Question] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    stopped: bool = False

    def __post_init__(self) -> None:
        refuse_draft(self.quiz)  # a drafted quiz is taken by nobody before a person has reviewed it
        self.order = list(self.quiz.questions)
        if self.quiz.shuffle:
            random.Random(self.seed).shuffle(self.order)

    @property
    def current(self) -> Question | None:
        return None if self.stopped or len(self.verdicts) >= len(self.order) else self.order[len(self.verdicts)]

    def answer(self, heard: str) -> Verdict | None:
        """The verdict on the current question (None: the visitor stopped the quiz, or it is over)."""
        question = self.current
        if question is None:
            return None
        if wants_to_stop(heard):
            self.stopped = True
            return None
        verdict = judge(heard, question, self.similar)
        self.verdicts.append(verdict)
        return verdict

    @property
    def score(self) -> int:
        return sum(v.correct for v in self.verdicts)

    @property
    def passed(self) -> bool:
        return bool(self.order) and self.score / len(self.order) >= self.quiz.pass_score
