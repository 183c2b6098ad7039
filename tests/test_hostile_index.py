"""Issue 13 (7): a damaged knowledge index is found and named, never used silently. Before: 16 KB zeroed in
the middle of the file and `kiosk ask` answered "I don't have that information" (exit 0), `kiosk doctor` said
ok and `/status` showed nothing; only a traceback in the log."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from kiosk.appliance.run import _index_damage
from kiosk.checks import check_knowledge
from kiosk.config import Settings, with_overrides
from kiosk.knowledge.index import ingest
from kiosk.knowledge.integrity import damage
from kiosk.knowledge.retrieve import Retriever

ROOT = Path(__file__).resolve().parent.parent
PAGE = 4096


def zero_middle(path: Path, size: int = 16 * 1024) -> None:
    """What a bad SD-card sector or a copy cut short does: pages in the middle of the file become zeros."""
    with path.open("r+b") as f:
        f.seek(0, 2)
        middle = f.tell() // 2 // PAGE * PAGE
        f.seek(middle)
        f.write(b"\0" * size)


@pytest.fixture()
def kb(tmp_path: Path) -> Path:
    path = tmp_path / "kb.sqlite"
    ingest(path, [ROOT / "samples" / "halvorsen"])
    return path


def settings_for(kb: Path) -> Settings:
    return with_overrides(Settings(), persona={"knowledge_base": str(kb)})


def test_a_whole_index_raises_no_alarm(kb: Path) -> None:
    assert damage(kb) is None
    assert check_knowledge(settings_for(kb))[0].status == "ok"
    assert _index_damage(settings_for(kb)) is None


def test_a_damaged_index_is_named_by_doctor_and_on_status_with_the_rebuild_command(kb: Path) -> None:
    zero_middle(kb)
    assert damage(kb) is not None
    check = check_knowledge(settings_for(kb))[0]
    assert check.status == "fail" and "damaged" in check.detail and f"kiosk ingest DOCS... --kb {kb}" in check.fix
    status_error = _index_damage(settings_for(kb))  # what `kiosk run` puts on /status at start
    assert status_error is not None and str(kb) in status_error and "kiosk ingest" in status_error


def test_a_search_that_meets_the_damage_logs_it_once_with_the_rebuild_command(
        kb: Path, caplog: pytest.LogCaptureFixture) -> None:
    retriever = Retriever(kb)
    with kb.open("r+b") as f:  # every page after the first two: whatever a search reads is damaged
        f.seek(2 * PAGE)
        f.write(b"\0" * (kb.stat().st_size - 2 * PAGE))
    with caplog.at_level(logging.ERROR, logger="kiosk.knowledge.retrieve"):
        for _ in range(3):
            with pytest.raises(sqlite3.DatabaseError):
                retriever.search("where do I pick up my badge")
    damaged = [r for r in caplog.records if "is damaged" in r.getMessage()]
    assert len(damaged) == 1 and f"kiosk ingest DOCS... --kb {kb}" in damaged[0].getMessage()


def test_ingest_rebuilds_a_damaged_index_and_keeps_the_damaged_copy(kb: Path) -> None:
    """Before: `kiosk ingest` on the damaged file reported "6 unchanged" and left it damaged."""
    zero_middle(kb)
    report = ingest(kb, [ROOT / "samples" / "halvorsen"])
    assert report.rebuilt and len(report.added) == 6 and not report.unchanged
    assert damage(kb) is None and check_knowledge(settings_for(kb))[0].status == "ok"
    kept = list(kb.parent.glob("kb.sqlite.damaged-*"))
    assert len(kept) == 1 and str(kept[0]) in report.rebuilt
    again = ingest(kb, [ROOT / "samples" / "halvorsen"])
    assert not again.rebuilt and len(again.unchanged) == 6


def test_ingest_never_moves_a_file_that_is_not_an_index(tmp_path: Path) -> None:
    from kiosk.knowledge.index import KnowledgeError

    notes = tmp_path / "notes.txt"
    notes.write_text("not a database, somebody's file\n")
    with pytest.raises(KnowledgeError, match="refusing to overwrite"):
        ingest(notes, [ROOT / "samples" / "halvorsen"])
    assert notes.read_text() == "not a database, somebody's file\n"
