"""Faults on purpose (issue 12): the knowledge index deleted, locked or corrupted while the kiosk runs.

Real engines (SmolLM2, the sample documents' SQLite index). Each fault ends with the kiosk answering the
visitor — an honest decline with the contact when the documents cannot be read, never a traceback — and
with the next visitor answered from the documents once the index is whole again. What is checked is the
decision and the facts, never the model's wording.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from kiosk.answer.pipeline import run_turn
from kiosk.events import AnswerDone, Decision, ErrorCode, Event, Grounded, TurnError
from kiosk.knowledge.index import ingest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
QUESTION = "Where do I pick up my badge on the first day?"  # a FAQ the sample documents answer


@pytest.fixture()
def kb(tmp_path: Path) -> Path:
    path = tmp_path / "kb.sqlite"
    ingest(path, [ROOT / "samples" / "halvorsen"])
    return path


@pytest.fixture()
def rt(kb: Path, settings):  # noqa: ANN001, ANN201
    from kiosk.runtime import Runtime

    with Runtime(settings, speech=False, kb=kb) as runtime:
        yield runtime


def ask(rt, question: str = QUESTION) -> tuple[AnswerDone, list[Event], float]:  # noqa: ANN001
    events: list[Event] = []
    rt.engine.reset()
    started = time.monotonic()
    done = asyncio.run(run_turn(rt.responder, question, speak=False, on_event=events.append))
    return done, events, time.monotonic() - started


def grounded_from_documents(done: AnswerDone, events: list[Event]) -> bool:
    decisions = [e.decision for e in events if isinstance(e, Grounded)]
    return bool(decisions) and decisions[0] != Decision.DECLINE and done.grounded and not done.error_codes


def test_an_index_deleted_while_running_keeps_answering_from_the_open_copy(rt, kb: Path) -> None:  # noqa: ANN001
    """The running kiosk holds the file open (the appliance replaces packs by renaming, never in place)."""
    kb.unlink()
    done, events, _ = ask(rt)
    assert grounded_from_documents(done, events), (done, events)


def test_a_corrupted_index_declines_with_the_contact_then_recovers(rt, kb: Path, tmp_path: Path) -> None:  # noqa: ANN001
    whole = tmp_path / "whole.sqlite"
    shutil.copy(kb, whole)
    with open(kb, "r+b") as f:  # every page after the header overwritten: the tables are garbage now
        f.seek(4096)
        f.write(b"\xa5" * (kb.stat().st_size - 4096))
    done, events, took = ask(rt)
    assert [e.code for e in events if isinstance(e, TurnError)] == [ErrorCode.RETRIEVAL], events
    assert not done.grounded and done.error_codes == (ErrorCode.RETRIEVAL,)
    assert rt.settings.persona.fallback_contact in done.answer  # the visitor is told where to ask
    assert "Traceback" not in done.answer and "sqlite" not in done.answer.lower()
    shutil.copy(whole, kb)  # `kiosk ingest` or a pack rollback puts a whole index back
    done, events, _ = ask(rt)
    assert grounded_from_documents(done, events), (done, events)


def test_a_locked_index_delays_the_answer_but_never_hangs_it(rt, kb: Path) -> None:  # noqa: ANN001
    """A writer holding an exclusive lock (an ingest gone wrong): the reader waits out SQLite's busy timeout,
    then the visitor is declined politely; once the lock is gone the documents answer again."""
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(kb, timeout=1)
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("CREATE TABLE IF NOT EXISTS _probe (x)")
        locked.set()
        release.wait(120)
        conn.rollback()
        conn.close()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert locked.wait(10)
    try:
        done, events, took = ask(rt)
    finally:
        release.set()
        holder.join(10)
    assert took < 60, took  # bounded by the busy timeout, not by the lock
    if done.error_codes:  # the read could not get through: declined, with the contact
        assert done.error_codes == (ErrorCode.RETRIEVAL,) and rt.settings.persona.fallback_contact in done.answer
    else:  # a journal mode that lets readers through answers from the documents
        assert grounded_from_documents(done, events), (done, events)
    done, events, _ = ask(rt)
    assert grounded_from_documents(done, events), (done, events)
