"""Is the knowledge index whole? SQLite's own page-level check, for start-up, `kiosk doctor` and failed queries.

A damaged index (a bad SD card sector, a copy cut short) can still answer some queries and miss others, and
an answer "not in the documents" from a damaged index is a silent lie: the damage is found and named with the
command that rebuilds the index from the documents.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path

log = logging.getLogger(__name__)
SQLITE_HEADER = b"SQLite format 3\x00"

MAX_PROBLEMS = 3


def damage(path: Path | str) -> str | None:
    """None when SQLite's quick_check finds the file whole; else what it found (a line or three). A file
    that cannot be opened at all is reported by kiosk.knowledge.index.open_index, not here."""
    path = Path(path)
    try:
        conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        rows = conn.execute(f"PRAGMA quick_check({MAX_PROBLEMS})").fetchall()
    except sqlite3.DatabaseError as error:  # too broken to walk at all
        return str(error)
    finally:
        conn.close()
    found = [str(row[0]) for row in rows]
    return None if found == ["ok"] else "; ".join(found)


def set_aside_if_damaged(path: Path) -> str | None:
    """Before an ingest: a damaged index is renamed aside (kept, for whoever wants to look) so the ingest builds
    it afresh from the documents. Only a file that is an SQLite database by its header: anything else is
    refused by the ingest as before, never moved. Returns what was found and where the copy went."""
    try:
        with path.open("rb") as f:
            if f.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
                return None
    except OSError:
        return None
    problem = damage(path)
    if problem is None:
        return None
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(path, aside)
    journal = path.with_name(path.name + "-journal")
    if journal.exists():
        os.replace(journal, aside.with_name(aside.name + "-journal"))
    log.warning("the knowledge index %s was damaged (%s): kept as %s, rebuilt from the documents", path, problem,
                aside)
    return f"{problem}; the damaged file is kept as {aside}"


def damage_message(path: Path | str, problem: str) -> str:
    return (f"the knowledge index {path} is damaged ({problem}): answers may miss what the documents say; "
            f"rebuild it from the documents: kiosk ingest DOCS... --kb {path}")
