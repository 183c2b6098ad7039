"""A visitor takes the hall-safety quiz by voice through `kiosk run --headless` on the PulseAudio virtual
microphone with the real engines (Silero, Whisper, Piper; SmolLM2 loaded for questions): asks for it, hears
each question, answers (one wrong on purpose), hears the verdicts and the score, and the result is counted.
The quiz is shuffled, so each answer is chosen from the question the kiosk just said (read from /status).
No assertion depends on a model's words: the verdicts and the score are the quiz's own, fixed text."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from speech_corpus import Line
from test_turn_taking_e2e import Session

pytestmark = [pytest.mark.slow, pytest.mark.audio]
ROOT = Path(__file__).resolve().parents[1]
QUIZ = ROOT / "samples" / "quizzes" / "hall-safety.toml"
SAY = {  # a key word of each question -> what the visitor says (None: the wrong answer, on purpose)
    "forklift drive": "Five miles an hour.", "colour": "Blue, I think.", "noise level": "Eighty-five decibels.",
    "battery": "Extension three five zero.", "fire watch": "One hour.",
}


def lesson_steps(kiosk: Session) -> list[dict]:
    return [t for t in kiosk.status().get("recent") or [] if t.get("lesson")]


def wait_steps(kiosk: Session, n: int, timeout: float) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        steps = lesson_steps(kiosk)
        # said and listening again (a visitor answers once the question has been asked, not over it)
        if len(steps) >= n and kiosk.status()["state"] in ("listening", "follow_up", "idle"):
            return steps
        time.sleep(0.3)
    raise AssertionError(f"{n} lesson steps not reached: {lesson_steps(kiosk)}\n{kiosk.tail()}")


def test_the_safety_quiz_by_voice(pulse: dict[str, str], tmp_path: Path) -> None:
    from kiosk.config import Settings

    # the results file stays in this test; the models are where they are
    env = {**pulse, "XDG_DATA_HOME": str(tmp_path / "data"), "KIOSK_MODELS_DIR": str(Settings().models.resolved_dir)}
    kiosk = Session(tmp_path, env, f'\n[learn]\nquizzes = ["{QUIZ}"]\n')
    try:
        assert kiosk.status()["lessons"]["offered"] == ["Hall safety quiz"]
        kiosk.say("ask", [Line("Hey coach, can I take the safety quiz?", "en-us", pause_before_s=0.3)])
        steps = wait_steps(kiosk, 1, 90)
        for n in range(5):
            asked = steps[-1]["answer"].lower()
            key = next(k for k in SAY if k in asked)
            time.sleep(0.6)  # the visitor answers after the question, as people do
            kiosk.say(f"answer{n}", [Line(SAY[key], "piper", pause_before_s=0.2)])
            steps = wait_steps(kiosk, n + 2, 60)
            verdict = steps[-1]["answer"]
            assert verdict.startswith("Not quite" if key == "colour" else "Right"), (key, steps[-1])
        assert steps[-1]["lesson_done"] and "4 of 5 right" in steps[-1]["answer"] and "passed" in steps[-1]["answer"]
        status = kiosk.status()
        assert status["lessons"]["current"] is None
        counts = status["lessons"]["quiz_results"]["quizzes"]["Hall safety"]
        assert counts["runs"] == 1 and counts["passed"] == 1
        assert counts["questions"]["What colour are the forklift lanes?"]["wrong"] == 1
    finally:
        rc = kiosk.close()
    assert rc == 0, kiosk.tail()
    assert (tmp_path / "data" / "kiosk" / "quiz-results.sqlite").is_file()
