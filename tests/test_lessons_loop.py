"""Learning modes inside the kiosk loop (kiosk/appliance/lessons.py) with the scripted engines of the loop tests:
a quiz asked for by voice or by a tapped button, answered by voice or taps, judged, counted; ordinary questions
stay questions; a visitor who walks away ends the lesson. The real engines run it in test_lessons_e2e.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import virtual_time
from test_kiosk_loop import FakeRuntime, Gate, drive

from kiosk.appliance.app import Kiosk
from kiosk.appliance.lessons import Lessons, load_activities, requested
from kiosk.appliance.notify import Notifier
from kiosk.events import Heard, Wake, WindowClosed
from kiosk.learn.results import QuizResults

ROOT = Path(__file__).resolve().parents[1]
QUIZ = ROOT / "samples" / "quizzes" / "hall-safety.toml"


class Offers:
    """The screen's side of a lesson: what buttons were offered."""

    def __init__(self) -> None:
        self.offers: list[tuple[tuple[str, ...], bool]] = []
        self.moods: list[str] = []

    def mood(self, expression: str) -> None:
        self.moods.append(expression)

    def offer(self, labels: tuple[str, ...], stop: bool = False) -> None:
        self.offers.append((tuple(labels), stop))

    def __getattr__(self, name: str):  # noqa: ANN204 - every other screen call is accepted and ignored
        if name == "run":
            async def run(stop: asyncio.Event) -> None:
                await stop.wait()
            return run
        return lambda *a, **k: None


def lessons(tmp_path: Path) -> Lessons:
    activities, problems = load_activities([QUIZ], [])
    assert problems == []
    return Lessons(activities, QuizResults(tmp_path / "results.sqlite"), seed=1)


def quiz_answers() -> list[tuple[str, str]]:
    """(question, a right answer) for the sample quiz, in the order seed 1 asks them."""
    from kiosk.learn.quiz import QuizRun

    run = QuizRun(load_activities([QUIZ], [])[0][0].content, seed=1)
    return [(q.text, q.answers[0]) for q in run.order]


def test_requests_are_told_from_questions() -> None:
    activities, _ = load_activities([QUIZ], [ROOT / "samples" / "scenarios" / "upset-visitor.toml"])
    quiz, talk = activities
    assert requested("quiz me", activities) is quiz and requested("test me, please", activities) is quiz
    assert requested("Quizmeek.", activities) is quiz  # how Whisper wrote Piper's "quiz me" in tools/bench_lesson.py
    assert requested("Can I take the hall safety quiz?", activities) is quiz
    assert requested("start the safety quiz please", activities) is quiz
    assert requested(quiz.label, activities) is quiz  # a tapped button says its label
    assert requested("let's practise a conversation", activities) is talk
    assert requested(talk.label, activities) is talk
    for question in ("Do I need safety shoes in hall 2?", "Where is the canteen?", "what's on the quiz?",
                     "How do I take a day off?", "can I practise the piano in the break room?",
                     "Can I check the canteen hours?", "Do I need to take a drug test?"):
        assert requested(question, activities) is None, question


def test_a_quiz_by_voice_judged_counted_and_back_to_questions(tmp_path: Path) -> None:
    gate, screen = Gate(), Offers()
    k = Kiosk(FakeRuntime(greeting=False), listener=gate, screen=screen, notifier=Notifier(env={}),
              lessons=lessons(tmp_path))
    answers = quiz_answers()
    script = [(0.0, Wake(0.0, "voice")), (0.1, Heard(0.1, "quiz me", "whisper"))]
    for i, (_, right) in enumerate(answers):
        script.append((1.0, Heard(1.0, right if i else "I have no idea", "whisper")))  # the first one wrong
    script.append((1.0, Heard(1.0, "where is hr", "whisper")))
    virtual_time.run(drive(k, script, tail=1.0))
    steps = [t for t in k.turns if "lesson" in t]
    assert len(steps) == 1 + len(answers)
    assert answers[0][0] in steps[0]["answer"]  # the first question asked
    assert screen.moods[:2] == ["concern", "smile"]  # the face follows the verdicts: wrong, then right
    assert steps[1]["answer"].startswith("Not quite") and all(s["answer"].startswith("Right") for s in steps[2:])
    assert steps[-1]["lesson_done"] and f"{len(answers) - 1} of {len(answers)} right" in steps[-1]["answer"]
    assert k.turns[-1]["question"] == "where is hr" and "lesson" not in k.turns[-1]  # questions again
    assert "finished:question" in gate.calls  # the visitor answers without the wake phrase
    assert gate.expects[0].startswith(answers[0][0]) and gate.expects[-1] == ""  # primed with each question, then
    assert len(gate.expects) == len(steps)  # with the documents again
    summary = k.snapshot()["lessons"]["quiz_results"]["quizzes"]["Hall safety"]
    assert summary["runs"] == 1 and summary["failed"] + summary["passed"] == 1
    assert screen.offers[0] == (k.lessons.labels, False)  # the activities on offer from the start
    assert any(stop for _, stop in screen.offers) and screen.offers[-1] == (k.lessons.labels, False)


def test_a_quiz_by_taps_and_stop(tmp_path: Path) -> None:
    k = Kiosk(FakeRuntime(greeting=False), listener=Gate(), screen=Offers(), notifier=Notifier(env={}),
              lessons=lessons(tmp_path))
    label = k.lessons.labels[0]
    question = k.lessons.activities[0].content.questions
    with_choices = [q for q in question if q.choices]
    assert with_choices, "the sample quiz offers choices"
    virtual_time.run(drive(k, [(0.0, Heard(0.0, label, "tap")), (1.0, Heard(1.0, "stop", "tap"))], tail=1.0))
    steps = [t for t in k.turns if "lesson" in t]
    assert len(steps) == 2 and steps[-1]["lesson_done"] and "stop" in steps[-1]["answer"].lower()
    assert k.lesson is None
    assert k.snapshot()["lessons"]["quiz_results"]["quizzes"]["Hall safety"]["stopped"] == 1


def test_the_lesson_keeps_listening_and_ends_when_the_visitor_walks_away(tmp_path: Path) -> None:
    gate = Gate()
    k = Kiosk(FakeRuntime(greeting=False, forget_after_s=10.0), listener=gate, screen=Offers(),
              notifier=Notifier(env={}), lessons=lessons(tmp_path))
    script = [(0.0, Heard(0.0, "quiz me", "whisper")), (1.0, WindowClosed(1.0, "question"))]
    virtual_time.run(drive(k, script, tail=25.0))
    assert "tap:tap:False" in gate.calls  # the window closed: the lesson listens on
    assert k.lesson is None  # then the visitor was gone: forgotten, the quiz counted as stopped
    assert k.snapshot()["lessons"]["quiz_results"]["quizzes"]["Hall safety"]["stopped"] == 1


@pytest.mark.parametrize("draft", [True])
def test_a_draft_or_broken_file_is_not_offered_and_says_why(tmp_path: Path, draft: bool) -> None:
    text = QUIZ.read_text().replace("[quiz]\n", "[quiz]\ndraft = true\n", 1)
    (tmp_path / "draft.toml").write_text(text)
    (tmp_path / "broken.toml").write_text("[quiz\n")
    found, problems = load_activities([tmp_path / "draft.toml", tmp_path / "broken.toml"], [])
    assert found == [] and len(problems) == 2
    assert "draft.toml" in problems[0] and "draft = true" in problems[0] and "broken.toml" in problems[1]


class ScriptedLlm:
    """A stand-in for the language model: every reply the same two sentences (the rubric judges the learner)."""

    n_ctx = 2048

    def __init__(self) -> None:
        self.streams = 0

    def stream(self, messages, options, should_stop=lambda: False, stats=None, pace=None):  # noqa: ANN001, ANN201
        self.streams += 1
        yield "I hear you. "
        yield "Let me see what I can do."

    def prefill(self, messages) -> int:  # noqa: ANN001
        return 100

    def count_tokens(self, messages) -> int:  # noqa: ANN001
        return 100


def test_a_practice_conversation_ends_with_feedback_per_criterion(tmp_path: Path) -> None:
    import threading

    from kiosk.appliance.lessons import SharedLlm

    scenario = ROOT / "samples" / "scenarios" / "upset-visitor.toml"
    activities, problems = load_activities([], [scenario])
    assert problems == []
    llm = ScriptedLlm()
    screen = Offers()
    k = Kiosk(FakeRuntime(greeting=False), listener=Gate(), screen=screen, notifier=Notifier(env={}),
              lessons=Lessons(activities, None, SharedLlm(llm, threading.Lock()), None, "auto", 0))
    script = [(0.0, Heard(0.0, "let's practise a conversation", "whisper")),
              (1.0, Heard(1.0, "I'm sorry you have been waiting. What is your host's name?", "whisper")),
              (1.0, Heard(1.0, "stop", "whisper"))]
    virtual_time.run(drive(k, script, tail=1.0))
    steps = [t for t in k.turns if "lesson" in t]
    assert len(steps) == 3 and llm.streams == 1
    assert steps[0]["answer"].startswith("Let's practise") and "Let me see" in steps[1]["answer"]
    feedback = steps[2]["answer"]
    assert steps[2]["lesson_done"] and "That's the end of our conversation" in feedback
    criteria = activities[0].content.criteria
    assert all(c.name in feedback for c in criteria)  # every criterion rated, out loud
    assert k.lesson is None and k.snapshot()["lessons"]["current"] is None
    assert screen.moods == ["concern", "concern", "smile"]  # an upset visitor's face, then the feedback's


@pytest.mark.slow  # the real SmolLM2 and retrieval, then a question again through the same model
def test_a_practice_conversation_with_the_real_model_then_questions_again(tmp_path: Path) -> None:
    """The kiosk's own model plays the character (through SharedLlm, one generation at a time with the answer
    engine), the feedback rates every criterion, and the next visitor's question is answered from the documents:
    the model's cache and lock are the kiosk's again. No assertion on the model's words."""
    from kiosk.appliance.lessons import SharedLlm
    from kiosk.config import load_settings, with_overrides
    from kiosk.knowledge.index import ingest
    from kiosk.runtime import Runtime

    kb = tmp_path / "kb.sqlite"
    ingest(kb, [ROOT / "samples" / "halvorsen"])
    settings = with_overrides(load_settings(ROOT / "provisioning" / "personas" / "onboarding-coach.toml"),
                              service={"greeting": False})
    activities, _ = load_activities([], [ROOT / "samples" / "scenarios" / "buddy-first-week.toml"])
    with Runtime(settings, speech=False, kb=kb) as rt:
        lessons = Lessons(activities, None, SharedLlm(rt.llm, rt.engine.lock), rt.llm.model_path, "auto", 0)
        k = Kiosk(rt, listener=Gate(), notifier=Notifier(env={}), lessons=lessons)
        said = [activities[0].label, "Hi, how was your first week? What questions do you have?", "stop",
                "Where is the IT help desk?"]

        async def visitor() -> None:  # each line once the kiosk has answered the one before (however slow)
            stop = asyncio.Event()
            loop = asyncio.create_task(k.run(stop))
            for n, text in enumerate(said, 1):
                await asyncio.sleep(0.1)
                k.post(Heard(0.0, text, "keyboard" if n > 1 else "tap"))
                for _ in range(1200):
                    await asyncio.sleep(0.05)
                    if len(k.turns) >= n and (k._turn is None or k._turn.done()):
                        break
            stop.set()
            await loop

        asyncio.run(visitor())
    steps = [t for t in k.turns if "lesson" in t]
    assert len(steps) == 3 and steps[1]["answer"].strip()  # the character replied, in whatever words
    assert steps[2]["lesson_done"] and all(c.name in steps[2]["answer"] for c in activities[0].content.criteria)
    last = k.turns[-1]
    assert "lesson" not in last and last["grounded"] and "B-214" in last["answer"], last
