"""Is the knowledge index whole? SQLite's own page-level check, for start-up, `kiosk doctor` and failed queries.

A damaged index (a bad SD card sector, a copy cut short) can still answer some queries and miss others, and
an answer "not in the documents" from a damaged index is a silent lie: the damage is found and named with the
command that rebuilds the index from the documents.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

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


def damage_message(path: Path | str, problem: str) -> str:
    return (f"the knowledge index {path} is damaged ({problem}): answers may miss what the documents say; "
            f"rebuild it from the documents: kiosk ingest DOCS... --kb {path}")
