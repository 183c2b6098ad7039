"""The document index: one SQLite file with documents, chunks, an FTS5 index and optional vectors.

`ingest` brings the index up to date with files and folders in ONE transaction (BEGIN IMMEDIATE ...
COMMIT): a crash, Ctrl-C or power cut half-way leaves the previous index exactly as it was, because
SQLite rolls the journal back on the next open. The rollback-journal mode (not WAL) keeps the whole
index in one file, so a committed index can be copied to a kiosk as it is.

Incremental: a file whose size and mtime match the index is not even read; otherwise its SHA-256
decides; only new or changed content is parsed and chunked. A file skipped for its content (a zip bomb,
a damaged or binary file) is remembered with its reason in the `skipped` table and not read again while its
size and mtime stay. Files indexed from a root given this run that no longer exist are removed; roots not
given this run are left alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from kiosk.knowledge.documents import Chunk, ParsedDocument, SkipDocument, find_files, open_regular, safe_name
from kiosk.knowledge.integrity import set_aside_if_damaged

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
FORMAT = "kiosk-knowledge"
FTS_WEIGHTS = (2.0, 2.0, 3.0, 1.0)
"""bm25() column weights for (title, section, question, text): a hit in a heading or an FAQ question
says more about what a chunk is about than one word somewhere in its body."""
_EMBED_BATCH = 32

# Files skipped for their content (a zip bomb, a damaged or binary file): not read again while their size and
# mtime stay the same, and reported with the same reason. Added without a schema version bump: older kiosks
# reading the index do not look at it, and an older index gains it on its next ingest.
_SKIPPED_TABLE = """CREATE TABLE IF NOT EXISTS skipped(
    root TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL, mtime REAL NOT NULL, reason TEXT NOT NULL,
    PRIMARY KEY(root, path))"""

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # (root, path) is the identity: two folders may both hold a README.md.
    """CREATE TABLE IF NOT EXISTS documents(
        id INTEGER PRIMARY KEY, path TEXT NOT NULL, root TEXT NOT NULL, title TEXT NOT NULL,
        sha256 TEXT NOT NULL, size INTEGER NOT NULL, mtime REAL NOT NULL, pages REAL NOT NULL,
        ingested_at TEXT NOT NULL, UNIQUE(root, path))""",
    """CREATE TABLE IF NOT EXISTS chunks(
        id INTEGER PRIMARY KEY, doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        ordinal INTEGER NOT NULL, title TEXT NOT NULL, section TEXT NOT NULL, kind TEXT NOT NULL,
        question TEXT NOT NULL, text TEXT NOT NULL, tokens INTEGER NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id)",
    # External content: the text is stored once (in chunks); triggers keep the FTS index in step.
    """CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(title, section, question, text,
        content='chunks', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
        INSERT INTO chunks_fts(rowid, title, section, question, text)
        VALUES (new.id, new.title, new.section, new.question, new.text); END""",
    """CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
        INSERT INTO chunks_fts(chunks_fts, rowid, title, section, question, text)
        VALUES ('delete', old.id, old.title, old.section, old.question, old.text); END""",
    """CREATE TRIGGER IF NOT EXISTS chunks_au AFTER UPDATE ON chunks BEGIN
        INSERT INTO chunks_fts(chunks_fts, rowid, title, section, question, text)
        VALUES ('delete', old.id, old.title, old.section, old.question, old.text);
        INSERT INTO chunks_fts(rowid, title, section, question, text)
        VALUES (new.id, new.title, new.section, new.question, new.text); END""",
    """CREATE TABLE IF NOT EXISTS embeddings(
        chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE, vector BLOB NOT NULL)""",
    _SKIPPED_TABLE,
)


class KnowledgeError(Exception):
    """The index is missing, unusable or cannot be written; the message says what to do."""


class Embedder(Protocol):
    name: str

    def embed(self, texts: list[str]) -> Sequence[Any]:
        """one vector (a sequence of floats) per text"""


@dataclasses.dataclass(frozen=True)
class DocumentRecord:
    path: str
    """relative to root, forward slashes"""
    root: str
    title: str
    sha256: str = ""
    size: int = 0
    mtime: float = 0.0
    pages: float = 0.0


@dataclasses.dataclass(frozen=True)
class IngestReport:
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    chunks: int = 0
    """chunks in the index after the run"""
    skipped: tuple[tuple[str, str], ...] = ()
    """(path, reason)"""
    pages: float = 0.0
    """pages parsed this run"""
    seconds: float = 0.0
    rebuilt: str = ""
    """why the index was built afresh: it was damaged (kiosk.knowledge.integrity)"""

    def to_json(self) -> dict[str, Any]:
        return {
            "added": len(self.added),
            "updated": len(self.updated),
            "removed": len(self.removed),
            "unchanged": len(self.unchanged),
            "chunks": self.chunks,
            "skipped": [{"path": path, "reason": reason} for path, reason in self.skipped],
            "pages": round(self.pages, 2),
            "seconds": round(self.seconds, 3),
            "rebuilt": self.rebuilt,
        }


def _hint(path: Path) -> str:
    return f"create it with: kiosk ingest DOCS... --kb {path}"


def embedding_text(title: str, section: str, question: str, text: str) -> str:
    """What a chunk's vector is computed from: its headings and FAQ question give the topic."""
    return "\n".join(part for part in (title, section, question, text) if part)


# --- writing ------------------------------------------------------------------------------------


def _ensure_schema(conn: sqlite3.Connection, path: Path) -> None:
    objects = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    if objects:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall()) if ("meta",) in objects else {}
        if meta.get("format") != FORMAT:
            raise KnowledgeError(f"{path} is an SQLite file but not a kiosk knowledge index; refusing to overwrite it")
        if meta.get("schema_version") != str(SCHEMA_VERSION):
            raise KnowledgeError(
                f"{path} was built by another kiosk version (schema {meta.get('schema_version')}, this one needs "
                f"{SCHEMA_VERSION}); delete it and {_hint(path)}"
            )
        conn.execute(_SKIPPED_TABLE)
        return
    for statement in _SCHEMA:
        conn.execute(statement)
    conn.executemany(
        "INSERT INTO meta(key, value) VALUES (?, ?)", [("format", FORMAT), ("schema_version", str(SCHEMA_VERSION))]
    )


@contextmanager
def transaction(index_path: Path) -> Iterator[sqlite3.Connection]:
    """A write connection inside one BEGIN IMMEDIATE ... COMMIT: an exception rolls back; after a crash, the
    journal left behind is rolled back by SQLite on the next open (see `_recover`)."""
    index_path = Path(index_path)
    index_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # isolation_level=None: no implicit transactions, so ours is the only one and spans the run.
        conn = sqlite3.connect(index_path, isolation_level=None, timeout=30)
    except sqlite3.Error as exc:
        raise KnowledgeError(f"cannot open {index_path} for writing: {exc}") from exc
    try:
        try:
            conn.execute("PRAGMA journal_mode = DELETE")  # one self-contained file after COMMIT
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:  # locked by another ingest, read-only file system, ...
            raise KnowledgeError(f"cannot write {index_path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise KnowledgeError(
                f"{index_path} is not a kiosk knowledge index ({exc}); refusing to overwrite it"
            ) from exc
        try:
            _ensure_schema(conn, index_path)
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):  # a failed COMMIT may have rolled back already
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):  # the disk filled up, an I/O error: one clear line, nothing lost
                raise KnowledgeError(f"could not write {index_path}: {exc} (is the disk full?); "
                                     "the index is as it was before this ingest") from exc
            raise
    finally:
        conn.close()


def insert_document(conn: sqlite3.Connection, record: DocumentRecord, chunks: Sequence[Chunk]) -> int:
    """Add one document and its chunks (the FTS index follows by trigger); returns the document id."""
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    cursor = conn.execute(
        "INSERT INTO documents(path, root, title, sha256, size, mtime, pages, ingested_at) VALUES (?,?,?,?,?,?,?,?)",
        (*dataclasses.astuple(record), now),
    )
    doc_id = cursor.lastrowid
    assert doc_id is not None
    conn.executemany(
        "INSERT INTO chunks(doc_id, ordinal, title, section, kind, question, text, tokens)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(doc_id, c.ordinal, c.title, c.section, c.kind, c.question, c.text, c.tokens) for c in chunks],
    )
    return doc_id


def _delete_document(conn: sqlite3.Connection, doc_id: int) -> None:
    conn.execute("DELETE FROM embeddings WHERE chunk_id IN (SELECT id FROM chunks WHERE doc_id = ?)", (doc_id,))
    conn.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
    conn.execute("DELETE FROM documents WHERE id = ?", (doc_id,))


def _set_meta(conn: sqlite3.Connection, key: str, value: str | None) -> None:
    if value is None:
        conn.execute("DELETE FROM meta WHERE key = ?", (key,))
    else:
        conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))


def _update_vectors(conn: sqlite3.Connection, embedder: Embedder | None) -> None:
    """Vectors for every chunk from one model, or none at all: a mixed set would skew the fusion."""
    stored = conn.execute("SELECT value FROM meta WHERE key = 'embedding_model'").fetchone()
    if embedder is None:
        if stored is not None:
            log.info("no embedder this run: dropping the vectors of %s", stored[0])
        conn.execute("DELETE FROM embeddings")
        _set_meta(conn, "embedding_model", None)
        _set_meta(conn, "embedding_dim", None)
        return
    if stored is None or stored[0] != embedder.name:
        conn.execute("DELETE FROM embeddings")
        _set_meta(conn, "embedding_model", embedder.name)
    rows = conn.execute(
        "SELECT id, title, section, question, text FROM chunks"
        " WHERE id NOT IN (SELECT chunk_id FROM embeddings) ORDER BY id"
    ).fetchall()
    dims = {int(r[0]) for r in conn.execute("SELECT value FROM meta WHERE key = 'embedding_dim'")}
    for start in range(0, len(rows), _EMBED_BATCH):
        batch = rows[start : start + _EMBED_BATCH]
        vectors = np.asarray(embedder.embed([embedding_text(*row[1:]) for row in batch]), dtype="<f4")
        if vectors.ndim != 2 or vectors.shape[0] != len(batch):
            raise KnowledgeError(f"embedder {embedder.name} returned {vectors.shape} for {len(batch)} texts")
        dims.add(vectors.shape[1])
        if len(dims) > 1:
            raise KnowledgeError(f"embedder {embedder.name} returned vectors of sizes {sorted(dims)}")
        conn.executemany(
            "INSERT INTO embeddings(chunk_id, vector) VALUES (?, ?)",
            [(row[0], vector.tobytes()) for row, vector in zip(batch, vectors, strict=True)],
        )
    if dims:
        _set_meta(conn, "embedding_dim", str(dims.pop()))


# --- ingest -------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open_regular(path) as f:  # never a FIFO: it would block
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read(
    path: Path,
    sha: str,
    parse: Callable[..., ParsedDocument],
    chunk: Callable[..., list[Chunk]],
    limits: Any,
    settings: Any,
) -> tuple[ParsedDocument, list[Chunk], str]:
    """Parse and chunk one file; SkipDocument with the reason to show when that is not possible."""
    try:
        doc = parse(path) if limits is None else parse(path, limits)
        chunks = chunk(doc) if settings is None else chunk(doc, settings)
        sha = sha or _sha256(path)  # after parsing: unsupported files are not read at all
    except SkipDocument:
        raise
    except Exception as exc:  # a bad file must not abort the run; the traceback is for debugging
        log.debug("parsing %s failed", safe_name(str(path)), exc_info=True)
        raise SkipDocument(f"could not parse: {type(exc).__name__}: {exc}") from exc
    if not chunks:
        raise SkipDocument("no text found")
    max_passages = getattr(limits, "max_passages", None) or _default_limits().max_passages
    if len(chunks) > max_passages:  # the parser's budget counts blocks; a long block gives several passages
        raise SkipDocument(f"too many passages: {len(chunks):,} (limit {max_passages:,}, knowledge.max_file_mb)",
                           remember=True)
    return doc, chunks, sha


def _default_limits() -> Any:
    from kiosk.knowledge.parsers import ParseLimits

    return ParseLimits()


def _remembered(conn: sqlite3.Connection, key: str) -> dict[tuple[str, str], tuple[int, float, str]]:
    """The skips remembered from earlier runs, or none when they were judged by other limits or parsers."""
    old = conn.execute("SELECT value FROM meta WHERE key = 'skipped_with'").fetchone()
    if old is None or old[0] != key:
        conn.execute("DELETE FROM skipped")
        _set_meta(conn, "skipped_with", key)
    rows = conn.execute("SELECT root, path, size, mtime, reason FROM skipped").fetchall()
    return {(r[0], r[1]): (r[2], r[3], r[4]) for r in rows}


def ingest(
    index_path: Path,
    inputs: Sequence[Path],
    *,
    parse: Callable[..., ParsedDocument] | None = None,
    chunk: Callable[..., list[Chunk]] | None = None,
    limits: Any = None,
    chunk_settings: Any = None,
    embedder: Embedder | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> IngestReport:
    """Bring the index at index_path up to date with the given files and folders, in one transaction.

    parse/chunk default to the real parser and chunker; limits/chunk_settings are passed on when given
    (None = their defaults). progress(done, total, relative_path) is called after each file.
    """
    from kiosk.knowledge.parsers import PARSER_VERSION

    if parse is None:
        from kiosk.knowledge.parsers import parse_file as parse
    if chunk is None:
        from kiosk.knowledge.chunking import chunk_document as chunk
    assert parse is not None and chunk is not None  # (for the type checker: both have their defaults now)
    started = time.perf_counter()
    index_path = Path(index_path)
    target = index_path.absolute().resolve()
    exclude = {target, *(target.with_name(target.name + s) for s in ("-journal", "-wal", "-shm"))}
    found = find_files([Path(p) for p in inputs], exclude)
    if found.missing:
        raise KnowledgeError(f"no such file or folder: {', '.join(found.missing)}")
    files = found.files
    added: list[str] = []
    updated: list[str] = []
    removed: list[str] = []
    unchanged: list[str] = []
    skipped: dict[tuple[str, str], str] = dict(found.skipped)  # reported in (root, path) order
    pages = 0.0
    rebuilt = set_aside_if_damaged(index_path) or ""
    with transaction(index_path) as conn:
        # Other parse/chunk settings than last time: every file is re-chunked, not only changed ones.
        fingerprint = repr((limits, chunk_settings))
        old = conn.execute("SELECT value FROM meta WHERE key = 'settings'").fetchone()
        force = old is not None and old[0] != fingerprint
        _set_meta(conn, "settings", fingerprint)
        remembered = _remembered(conn, f"{fingerprint} parsers {PARSER_VERSION}")
        kept: set[tuple[str, str]] = set()
        existing = {
            (row[1], row[2]): row
            for row in conn.execute("SELECT id, root, path, sha256, size, mtime FROM documents").fetchall()
        }
        for done, ((root, rel), path) in enumerate(files.items(), 1):
            row = existing.get((root, rel))
            memo = remembered.get((root, rel))
            try:
                stat = path.stat()
                same_stat = row is not None and (row[4], row[5]) == (stat.st_size, stat.st_mtime)
                if row is None and memo is not None and memo[:2] == (stat.st_size, stat.st_mtime):
                    skipped[(root, rel)] = memo[2]  # skipped before for its content, unchanged since: not read
                    log.debug("%s: unchanged since it was skipped, not read again (%s)", rel, memo[2])
                    kept.add((root, rel))
                    continue
                sha = "" if row is None or same_stat else _sha256(path)
                if row is not None and not force and (same_stat or sha == row[3]):
                    if not same_stat:  # touched but identical: remember the new stat, so next run skips hashing
                        conn.execute(
                            "UPDATE documents SET size = ?, mtime = ? WHERE id = ?",
                            (stat.st_size, stat.st_mtime, row[0]),
                        )
                    unchanged.append(rel)
                else:
                    doc, chunks, sha = _read(path, sha, parse, chunk, limits, chunk_settings)
                    pages += doc.pages
                    if row is not None:
                        _delete_document(conn, row[0])
                    insert_document(
                        conn, DocumentRecord(rel, root, doc.title, sha, stat.st_size, stat.st_mtime, doc.pages), chunks
                    )
                    (added if row is None else updated).append(rel)
            except (SkipDocument, OSError) as exc:
                reason = safe_name(exc.reason if isinstance(exc, SkipDocument) else f"could not read: {exc}")
                skipped[(root, rel)] = reason
                if isinstance(exc, SkipDocument) and exc.remember:  # (raised after the stat above)
                    kept.add((root, rel))
                    conn.execute("INSERT OR REPLACE INTO skipped(root, path, size, mtime, reason) VALUES (?,?,?,?,?)",
                                 (root, rel, stat.st_size, stat.st_mtime, reason))
                if row is not None and isinstance(exc, SkipDocument):
                    _delete_document(conn, row[0])  # its old content no longer reflects the file
                    removed.append(rel)
            finally:
                if progress is not None:
                    progress(done, len(files), rel)
        for (root, rel), row in existing.items():
            if (root, rel) not in files and found.gone(root, rel):
                _delete_document(conn, row[0])
                removed.append(rel)
        # Forgotten: skips of files read again this run (changed, now indexed or skipped for a passing reason)
        # and of files that are gone.
        stale = [k for k in remembered if k not in kept and (k in files or found.gone(*k))]
        conn.executemany("DELETE FROM skipped WHERE root = ? AND path = ?", stale)
        _update_vectors(conn, embedder)
        if added or updated or removed:
            conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('optimize')")  # one b-tree: faster queries
        total = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
    report = IngestReport(
        added=tuple(added),
        updated=tuple(updated),
        removed=tuple(removed),
        unchanged=tuple(unchanged),
        chunks=total,
        skipped=tuple((rel, reason) for (_, rel), reason in sorted(skipped.items())),
        pages=pages,
        seconds=time.perf_counter() - started,
        rebuilt=rebuilt,
    )
    log.info("ingest %s: %s", safe_name(str(index_path)), report.to_json())
    return report


# --- reading ------------------------------------------------------------------------------------


class Index:
    """A read-only open index; `conn` is shared by the retriever (one connection per process)."""

    def __init__(self, path: Path, conn: sqlite3.Connection, meta: dict[str, str]) -> None:
        self.path = path
        self.conn = conn
        self.meta = meta

    @property
    def embedding_model(self) -> str | None:
        return self.meta.get("embedding_model")

    def counts(self) -> tuple[int, int]:
        """(documents, chunks)"""
        docs = self.conn.execute("SELECT count(*) FROM documents").fetchone()[0]
        return docs, self.conn.execute("SELECT count(*) FROM chunks").fetchone()[0]

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _recover(path: Path) -> None:
    """Roll back a hot journal left by an interrupted ingest: a read-only connection cannot."""
    try:
        conn = sqlite3.connect(path, timeout=30)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # reading rolls back a hot journal
        finally:
            conn.close()
    except sqlite3.Error as exc:  # e.g. a read-only file system; the read-only open below will say what is wrong
        log.warning("could not recover %s after an interrupted ingest: %s", path, exc)


def open_index(path: Path | str) -> Index:
    """Open an index for queries; KnowledgeError (naming the path and the fix) if it is missing or foreign."""
    path = Path(path)
    if not path.is_file():
        raise KnowledgeError(f"no knowledge index at {path}; {_hint(path)}")
    if path.with_name(path.name + "-journal").exists():
        _recover(path)
    conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, check_same_thread=False)
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise KnowledgeError(f"{path} is not a kiosk knowledge index ({exc}); {_hint(path)}") from exc
    if meta.get("format") != FORMAT or meta.get("schema_version") != str(SCHEMA_VERSION):
        conn.close()
        raise KnowledgeError(
            f"{path} is not a kiosk knowledge index of schema {SCHEMA_VERSION} "
            f"(format {meta.get('format')!r}, schema {meta.get('schema_version')!r}); {_hint(path)}"
        )
    return Index(path, conn, meta)
