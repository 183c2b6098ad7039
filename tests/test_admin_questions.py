"""The questions report: what visitors asked that the documents did not answer, grouped, with the privacy
rules (text only, no visitor, retention in days, counts only when turned off); and through the real engines,
a visitor's declined question reaching the console's page."""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path

import pytest

from kiosk.admin.questions import QuestionLog, normalize
from kiosk.config import ServiceSettings
from kiosk.events import AnswerDone, Decision, Grounded, Heard, Timings


def turn(log: QuestionLog, text: str, decision: Decision, grounded: bool, cancelled: bool = False) -> None:
    log.observe(Heard(0.0, text, "whisper"))
    log.observe(Grounded(1, decision, (), "few of its words" if decision == Decision.DECLINE else "", "faq.md"))
    log.observe(AnswerDone(1, "…", cancelled, Timings(), grounded=grounded))


def test_declines_are_grouped_and_answers_are_not_kept(tmp_path: Path) -> None:
    log = QuestionLog(tmp_path / "q.sqlite", ServiceSettings())
    turn(log, "Is there a gym?", Decision.DECLINE, False)
    turn(log, "is there a GYM", Decision.DECLINE, False)
    turn(log, "where do I park", Decision.QUOTE, True)  # answered: not a gap
    turn(log, "tell me everything", Decision.DECLINE, False, cancelled=True)  # stopped: not judged
    report = log.report()
    assert report["total"] == 2 and len(report["groups"]) == 1
    group = report["groups"][0]
    assert group["count"] == 2 and group["why"] == "few of its words" and group["nearest"] == "faq.md"
    assert normalize("Is there a gym?") == "is there a gym"


def test_privacy_off_keeps_counts_only_and_text_expires(tmp_path: Path) -> None:
    off = QuestionLog(tmp_path / "off.sqlite", ServiceSettings(questions_report=False))
    turn(off, "what is the CEO's salary", Decision.DECLINE, False)
    assert off.report() == {"groups": [], "total": 1, "without_text": 1}
    assert b"salary" not in (tmp_path / "off.sqlite").read_bytes()
    log = QuestionLog(tmp_path / "q.sqlite", ServiceSettings(questions_keep_days=30))
    today = datetime.date.today()
    log.record("is there a nap room", "declined", "few of its words", "", day=today - datetime.timedelta(days=40))
    log.record("is there a gym", "declined", "few of its words", "", day=today)
    report = log.report()
    assert [g["question"] for g in report["groups"]] == ["is there a gym"] and report["without_text"] == 1


@pytest.mark.slow  # the real LLM, retrieval and the sample documents
def test_a_visitors_declined_question_reaches_the_console(tmp_path: Path) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from kiosk.admin.api import make_app
    from kiosk.appliance.app import Kiosk
    from kiosk.appliance.notify import Notifier
    from kiosk.config import load_settings
    from kiosk.knowledge.index import ingest
    from kiosk.runtime import Runtime

    root = Path(__file__).resolve().parents[1]
    kb = tmp_path / "kb.sqlite"
    ingest(kb, [root / "samples" / "halvorsen"])
    settings = load_settings(root / "provisioning" / "personas" / "onboarding-coach.toml")
    with Runtime(settings, speech=False, kb=kb) as rt:
        kiosk = Kiosk(rt, notifier=Notifier(env={}))

        async def run() -> str:
            stop = asyncio.Event()
            loop_task = asyncio.create_task(kiosk.run(stop))
            client = TestClient(TestServer(make_app(kiosk, settings.service, settings, tmp_path / "audit.log")))
            await client.start_server()
            try:
                kiosk.post(Heard(0.0, "can I bring my dog to work", "whisper"))
                for _ in range(200):
                    if kiosk.turns:
                        break
                    await asyncio.sleep(0.05)
                return await (await client.get("/admin/questions")).text()
            finally:
                await client.close()
                stop.set()
                await loop_task

        html = asyncio.run(run())
    assert kiosk.turns and not kiosk.turns[-1]["grounded"]
    assert "can I bring my dog to work" in html and "declined" in html
