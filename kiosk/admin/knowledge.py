"""The console's Knowledge page behind the scenes: what the index holds, uploads into the documents folder
(size- and type-checked, names cleaned, never written outside it, each file complete or not at all), removal,
and re-indexing in the background (one at a time; the index switches atomically when it commits, so the
kiosk answers from the old documents until then)."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from kiosk.admin.upload import stream_to
from kiosk.config import Settings
from kiosk.knowledge.parsers import SUPPORTED

log = logging.getLogger(__name__)

MAX_UPLOAD_MB = 50.0  # per file; the parsers' own knowledge.max_file_mb still applies when indexing
_UNSAFE = re.compile(r"[^A-Za-z0-9._ ()-]+")


class UploadRefused(ValueError):
    pass


def clean_name(filename: str) -> str:
    """The file's own name, made safe: no folders (a browser's folder upload sends "dir/file.md"), no
    "..", no hidden files, only letters, digits and a few marks; UploadRefused for a type the kiosk cannot read."""
    base = unquote(filename).replace("\\", "/").rsplit("/", 1)[-1].strip()  # some clients %-encode the name
    stem, dot, ext = base.rpartition(".")
    if not dot:
        raise UploadRefused(f"{base[:80]!r} has no file type; the kiosk reads {', '.join(sorted(SUPPORTED))}")
    ext = "." + ext.lower()
    if ext not in SUPPORTED:
        readable = ", ".join(sorted(SUPPORTED))
        raise UploadRefused(f"{base[:80]!r}: {ext} files cannot be read; the kiosk reads {readable}")
    stem = _UNSAFE.sub("_", stem).strip(" ._") or "document"
    return stem[:100] + ext


@dataclass
class Indexing:
    running: bool = False
    done: int = 0
    total: int = 0
    current: str = ""
    started: float = 0.0
    last: dict[str, Any] = field(default_factory=dict)
    """the last run's report (added, updated, removed, skipped with reasons) or its error"""

    def report(self, done: int, total: int, name: str) -> None:
        """ingest's progress callback (from its worker thread: plain attribute writes)."""
        self.done, self.total, self.current = done, total, name


class Library:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        folder = settings.knowledge.documents_dir
        self.folder = Path(folder).expanduser().resolve() if folder else None
        kb = settings.persona.knowledge_base
        self.kb = Path(kb).expanduser() if kb else None
        self.indexing = Indexing()
        self._task: asyncio.Task | None = None
        self._again = False

    def documents(self) -> list[dict[str, Any]]:
        """What the index holds: each document with its pages and passages; [] without an index."""
        if self.kb is None or not self.kb.is_file():
            return []
        try:
            conn = sqlite3.connect(f"file:{self.kb}?mode=ro", uri=True, timeout=2.0)
            with conn:
                rows = conn.execute("SELECT d.path, d.root, d.title, d.pages, d.size, d.ingested_at, count(c.id) "
                                    "FROM documents d LEFT JOIN chunks c ON c.doc_id = d.id GROUP BY d.id "
                                    "ORDER BY d.path").fetchall()
                skipped = conn.execute("SELECT path, reason FROM skipped ORDER BY path").fetchall()
            conn.close()
        except sqlite3.Error as error:
            log.warning("knowledge index %s unreadable for the console: %s", self.kb, error)
            return []
        docs = [{"path": p, "root": r, "title": t, "pages": pg, "size": sz, "ingested_at": at, "passages": n,
                 "managed": self.folder is not None and Path(r).resolve() == self.folder}
                for p, r, t, pg, sz, at, n in rows]
        return docs + [{"path": p, "skipped": reason} for p, reason in skipped]

    def target(self, name: str) -> Path:
        """Where an upload called `name` goes: inside the documents folder, never elsewhere."""
        if self.folder is None:
            raise UploadRefused("no documents folder is configured ([knowledge] documents_dir)")
        path = (self.folder / clean_name(name)).resolve()
        if path.parent != self.folder:
            raise UploadRefused("that name points outside the documents folder")
        return path

    async def save(self, name: str, chunks: Any) -> Path:
        """Streams an upload to the folder (complete or not at all)."""
        path = self.target(name)
        await stream_to(path, chunks, MAX_UPLOAD_MB, UploadRefused)
        return path

    def remove(self, name: str) -> Path:
        path = self.target(name)
        if not path.is_file():
            raise UploadRefused(f"{path.name} is not in the documents folder")
        path.unlink()
        return path

    def reindex(self) -> bool:
        """Indexes the folder in the background. While a run is going, one more follows it (the files changed
        during it); False when there is nothing to index into."""
        if self.folder is None or self.kb is None:
            return False
        if self._task is not None and not self._task.done():
            self._again = True
            return True
        self._again = False
        self._task = asyncio.create_task(self._run())
        return True

    async def wait(self) -> None:
        """Until the background indexing (and any run queued behind it) is over."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        from kiosk.knowledge.index_worker import index_in_background

        folder, kb = self.folder, self.kb
        assert folder is not None and kb is not None
        while True:
            state = self.indexing = Indexing(running=True, started=time.monotonic(), last=self.indexing.last)
            progress = state.report
            try:
                report = await index_in_background(self.settings, [folder], kb, progress)
                state.last = {"ok": True, **report}
            except Exception as error:  # noqa: BLE001 - shown on the page; the old index stays in use
                log.exception("re-indexing %s failed", self.folder)
                state.last = {"ok": False, "error": str(error)}
            state.running = False
            if not self._again:
                return
            self._again = False
