"""Learning modes in `kiosk run` (issue 18): a quiz or a practice conversation instead of questions and answers.

A visitor picks one on the screen (a button per configured activity) or asks for it ("quiz me", "start the safety
quiz", "let's practise a conversation"); "stop" (said, or the Stop button) leaves it, and a visitor who walks
away ends it (the kiosk forgets them after `service.forget_after_s`). A lesson is text in, text out: the kiosk
says each `Step`, shows its choices as buttons (a tap is the same as saying the choice) and takes what the
visitor says next as the lesson's, not as a question. Quiz results are counted (kiosk/learn/results.py)."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kiosk.learn.quiz import QuizRun
from kiosk.learn.results import FILE_NAME, QuizResults

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Activity:
    kind: str
    """quiz | roleplay"""
    title: str
    path: Path
    content: Any
    """the loaded Quiz or Scenario"""

    @property
    def label(self) -> str:
        """The button's words: the title, and what kind of activity it is when the title does not say."""
        words = set(_words(self.title))
        if self.kind == "quiz":
            return self.title if words & _QUIZ_WORDS else f"{self.title} quiz"
        return self.title if words & _PRACTICE_WORDS else f"Practise: {self.title}"


@dataclass(frozen=True)
class Step:
    say: str
    choices: tuple[str, ...] = ()
    """buttons for the visitor's answer (a quiz question's choices)"""
    done: bool = False
    """the lesson is over after this is said"""
    expect: str = ""
    """what the visitor's answer is to (the question asked), for the recognizer; "" = nothing in particular"""
    mood: str | None = None
    """the avatar's face while saying it (smile for a right answer, concern for a wrong one); None: as the words
    would give it"""


class Lesson(Protocol):
    activity: Activity

    def start(self) -> Step: ...

    def hear(self, text: str, seconds: float | None = None, interrupted: bool = False) -> Step:
        """`seconds`: how long the visitor spoke; `interrupted`: they cut the avatar short (practice rubrics)."""
        ...

    def abandon(self) -> None: ...


def results_path() -> Path:
    """Where a kiosk counts quiz results: its data folder, beside the console's audit log and questions report."""
    from kiosk.appliance.last_good import default_path

    return default_path().parent / FILE_NAME


# -- which activity a visitor asks for -------------------------------------------------------------------------

_QUIZ_WORDS = {"quiz"}
"""("test", "check" and "exam" are in questions too: "can I check the canteen hours?", "do I need a drug test?")"""
_PRACTICE_WORDS = {"practise", "practice", "conversation", "roleplay", "rehearse", "role"}
_WANT = re.compile(r"\b(?:quiz ?me\w*|test me|start|begin|take|do|try|play|practi[sc]e|rehearse|let'?s|i'?d like|"
                   r"i want|can i|could i|give me)\b")
_START = re.compile(r"\b(?:start|begin|launch|open|play)\b")
"""without the kind named ("start hall safety"), only these verbs ask for an activity by its title"""
_TROUBLED = re.compile(r"\b(?:upset|angry|annoyed|frustrated|worried|anxious|nervous|impatient|sad|stressed|"
                       r"overwhelmed|irritated)")
_STOPWORDS = {"the", "a", "an", "of", "at", "in", "on", "for", "to", "and", "my", "your", "quiz", "conversation"}


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower().replace("role play", "roleplay"))


def requested(text: str, activities: Sequence[Activity]) -> Activity | None:
    """The activity `text` asks for, or None for an ordinary question. A request names the kind ("quiz me",
    "let's practise a conversation", "can I take the safety quiz?"), or starts an activity by most of its
    title ("start hall safety"); "Do I need safety shoes in hall 2?" does neither and stays a question. A
    tapped button says its label, which always matches."""
    said = " ".join(_words(text))
    for a in activities:
        if said in (" ".join(_words(a.label)), " ".join(_words(a.title))):
            return a
    if not activities or not _WANT.search(said):
        return None
    # Whisper wrote Piper's "quiz me" as "Quizmeek": a word that starts like "quiz" names one
    words = {"quiz" if w.startswith("quiz") else w for w in said.split()}
    starts = bool(_START.search(said))
    best, best_score = None, 0.0
    for a in activities:
        title = {w for w in _words(a.title) if w not in _STOPWORDS}
        named = len(title & words) / len(title) if title else 0.0
        kind = bool(words & (_QUIZ_WORDS if a.kind == "quiz" else _PRACTICE_WORDS - {"practise", "practice"}))
        kind = kind or (a.kind == "quiz" and "test me" in said)
        if a.kind == "roleplay" and words & {"practise", "practice"}:  # not "practise the piano": practise what?
            kind = kind or named >= 0.5 or said.endswith(("practise", "practice"))
        if not kind and not (starts and named >= 0.5):
            continue
        score = kind + named
        if score > best_score:
            best, best_score = a, score
    return best


def load_activities(quizzes: Sequence[str | Path], scenarios: Sequence[str | Path]) -> tuple[list[Activity],
                                                                                          list[str]]:
    """The configured activities, and a message for each file that cannot be offered (skipped, never fatal:
    the kiosk still answers questions)."""
    from kiosk.learn.quiz_file import QuizError, load_quiz, refuse_draft
    from kiosk.learn.scenario_file import ScenarioError, load_scenario

    found: list[Activity] = []
    problems: list[str] = []
    for raw in quizzes:
        try:
            quiz = load_quiz(Path(raw))
            refuse_draft(quiz)
            found.append(Activity("quiz", quiz.title, Path(raw), quiz))
        except QuizError as error:
            problems.append(f"quiz not offered: {str(error).splitlines()[0]}")
    for raw in scenarios:
        try:
            scenario = load_scenario(Path(raw))
            found.append(Activity("roleplay", scenario.title, Path(raw), scenario))
        except ScenarioError as error:
            problems.append(f"practice conversation not offered: {str(error).splitlines()[0]}")
    for problem in problems:
        log.error("%s", problem)
    return found, problems


# -- the two kinds ---------------------------------------------------------------------------------------------


class QuizLesson:
    """Each question asked, each answer judged and explained, the score at the end; counted when it ends."""

    def __init__(self, activity: Activity, results: QuizResults | None = None, seed: int | None = None) -> None:
        self.activity, self.results = activity, results
        self.run = QuizRun(activity.content, seed=seed)
        self._recorded = False

    def _ask(self) -> tuple[str, tuple[str, ...], str]:
        """What the avatar says to ask the current question, its choices, and what primes recognition: the
        question as asked, choices included (19 of 24 right answers taken the first time, 13 with the question
        alone: docs/benchmarks.md "what to prime Whisper with")."""
        q = self.run.current
        assert q is not None
        choices = f" Is it {', '.join(q.choices[:-1])} or {q.choices[-1]}?" if len(q.choices) > 1 else ""
        return q.text + choices, q.choices, q.text + choices

    def start(self) -> Step:
        n = len(self.run.order)
        text, choices, expect = self._ask()
        return Step(f"{self.activity.title}: {n} question{'s' if n != 1 else ''}. Say stop to end at any time. "
                    f"First question. {text}", choices, expect=expect)

    def hear(self, text: str, seconds: float | None = None, interrupted: bool = False) -> Step:
        question = self.run.current
        verdict = self.run.answer(text)
        if verdict is None or question is None:
            self._record()
            return Step(f"All right, we'll stop here. You had {self.run.score} right.", done=True)
        said = ["Right!" if verdict.correct else f"Not quite: it's {verdict.expected}."]
        if question.explanation:
            said.append(question.explanation)
        if question.source:
            said.append(f"That's in {_document(question.source)}.")
        mood = "smile" if verdict.correct else "concern"
        if self.run.current is not None:
            text_next, choices, expect = self._ask()
            return Step(" ".join([*said, "Next question.", text_next]), choices, expect=expect, mood=mood)
        self._record()
        total = len(self.run.order)
        result = "You passed!" if self.run.passed else "Not a pass this time: have another go later."
        return Step(" ".join([*said, f"That's the end: {self.run.score} of {total} right. {result}"]), done=True,
                    mood="smile" if self.run.passed else "concern")

    def abandon(self) -> None:
        self.run.stopped = True
        self._record()

    def _record(self) -> None:
        if self.results is not None and not self._recorded:
            self._recorded = True
            self.results.record(self.run)


class RoleplayLesson:
    """The avatar plays the scenario's character; at the end it gives feedback per criterion."""

    def __init__(self, activity: Activity, llm: Any, llm_path: Path | None, judge: str = "auto",
                 seed: int = 0) -> None:
        from kiosk.learn.roleplay import Roleplay
        from kiosk.learn.rubric_model import capable, judge_mode

        mode, note = judge_mode(judge, llm_path)
        self.activity = activity
        self.play = Roleplay(activity.content, llm, mode, note, seed=seed, tell_secrets=capable(llm_path))

    def start(self) -> Step:
        s = self.play.scenario
        self.play.warm()  # the character's prefix into the KV cache: the first reply comes sooner
        intro = f"Let's practise: {s.title}. {s.learner} Your goal: {s.goal} Say stop when you want to finish."
        opening = f" {s.character.name}: {self.play.opening}" if self.play.opening else ""
        return Step(intro + opening, mood=self._face())

    def hear(self, text: str, seconds: float | None = None, interrupted: bool = False) -> Step:
        reply = self.play.reply(text, interrupted=interrupted, seconds=seconds)
        if not self.play.done:
            return Step(reply, mood=self._face())
        return Step(f"{reply} {self.play.feedback().spoken()}".strip(), done=True, mood="smile")

    def _face(self) -> str:
        """The character's mood on the avatar's face: concern for an upset or worried one, else neutral."""
        return "concern" if _TROUBLED.search(self.play.scenario.character.mood.lower()) else "neutral"

    def abandon(self) -> None:
        self.play.end()


def _document(source: str) -> str:
    """"safety-rules.html" -> "safety rules": how a file name is said."""
    stem = Path(source).stem if "." in source else source
    return re.sub(r"[-_]+", " ", stem)


class SharedLlm:
    """The kiosk's one language model lent to a practice conversation: one generation at a time with the
    answer engine (its lock), since llama.cpp's context is not safe to use from two threads."""

    def __init__(self, llm: Any, lock: Any) -> None:
        self._llm, self._lock = llm, lock

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            yield from self._llm.stream(*args, **kwargs)

    def prefill(self, messages: Any) -> int:
        with self._lock:
            return int(self._llm.prefill(messages))

    def count_tokens(self, messages: Any) -> int:
        return int(self._llm.count_tokens(messages))

    @property
    def n_ctx(self) -> int:
        return int(self._llm.n_ctx)


class Lessons:
    """The activities a kiosk offers and how to start one; the quiz results for /status."""

    def __init__(self, activities: Sequence[Activity], results: QuizResults | None = None, llm: Any = None,
                 llm_path: Path | None = None, judge: str = "auto", seed: int | None = None) -> None:
        self.activities = list(activities)
        self.results, self.llm, self.llm_path, self.judge, self.seed = results, llm, llm_path, judge, seed
        self.results_summary: dict[str, Any] | None = None
        self.refresh_results()

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(a.label for a in self.activities)

    def requested(self, text: str) -> Activity | None:
        return requested(text, self.activities)

    def begin(self, activity: Activity) -> Lesson:
        if activity.kind == "quiz":
            return QuizLesson(activity, self.results, self.seed)
        if self.llm is None:
            raise RuntimeError("a practice conversation needs the language model")
        return RoleplayLesson(activity, self.llm, self.llm_path, self.judge, self.seed or 0)

    def refresh_results(self) -> None:
        """Read once at start and after each quiz (on the loop: a few rows), so /status never opens the file."""
        if self.results is None or not self.results.path.is_file():
            return
        try:
            self.results_summary = self.results.summary()
        except Exception as error:  # noqa: BLE001 - a damaged results file must not stop a lesson
            log.warning("quiz results %s unreadable: %s", self.results.path, error)

    def snapshot(self, lesson: Lesson | None) -> dict[str, Any]:
        current = None if lesson is None else {"kind": lesson.activity.kind, "title": lesson.activity.title}
        return {"offered": list(self.labels), "current": current, "quiz_results": self.results_summary}
