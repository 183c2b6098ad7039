"""The document index: incremental ingest, its report, one-transaction safety, vectors, opening errors.

The real parsers and chunker are not used: `parse_txt` / `chunk_paragraphs` stand in for them.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from kiosk.knowledge import index as index_module
from kiosk.knowledge.documents import Block, Chunk, ParsedDocument, SkipDocument
from kiosk.knowledge.index import IngestReport, KnowledgeError, ingest, open_index
from kiosk.knowledge.retrieve import Retriever

ROOT = Path(__file__).resolve().parents[1]


def parse_txt(path: Path, limits: object = None) -> ParsedDocument:
    if "bad" in path.name:
        raise SkipDocument("damaged file")
    if "boom" in path.name:
        raise ValueError("unexpected byte 0xff")
    if path.suffix != ".txt":
        raise SkipDocument(f"unsupported file type {path.suffix}")
    text = path.read_text(encoding="utf-8")
    paragraphs = tuple(Block("text", p.strip()) for p in text.split("\n\n") if p.strip())
    return ParsedDocument(title=path.stem, blocks=paragraphs, pages=len(text) / 3000)


def chunk_paragraphs(doc: ParsedDocument, settings: object = None) -> list[Chunk]:
    size = getattr(settings, "size", 1)  # paragraphs per chunk
    blocks = [b.text for b in doc.blocks]
    return [
        Chunk(title=doc.title, section="", text="\n\n".join(blocks[i : i + size]), ordinal=n, tokens=10)
        for n, i in enumerate(range(0, len(blocks), size))
    ]


def run(kb: Path, *inputs: Path, **kwargs: object) -> IngestReport:
    kwargs.setdefault("parse", parse_txt)
    kwargs.setdefault("chunk", chunk_paragraphs)
    return ingest(kb, list(inputs), **kwargs)  # type: ignore[arg-type]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def fts(kb: Path, match: str) -> list[str]:
    with open_index(kb) as index:
        rows = index.conn.execute(
            "SELECT d.path FROM chunks_fts f JOIN chunks c ON c.id = f.rowid JOIN documents d ON d.id = c.doc_id"
            " WHERE chunks_fts MATCH ? ORDER BY d.path",
            (match,),
        ).fetchall()
    return [r[0] for r in rows]


def integrity_ok(kb: Path) -> None:
    conn = sqlite3.connect(kb)
    conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")  # raises when out of step
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    d = tmp_path / "docs"
    write(d / "a.txt", "Alpha handbook.\n\nVisitors collect badges at reception.")
    write(d / "b.txt", "Bravo parking rules.\n\nPark in the north lot.")
    write(d / "sub" / "c.txt", "Charlie canteen menu.")
    write(d / ".hidden.txt", "secret hidden words")
    write(d / ".git" / "config.txt", "gitconfig words")
    write(d / "bad.txt", "anything")
    write(d / "boom.txt", "anything")
    write(d / "photo.png", "not really a png")
    return d


def test_first_run_adds_and_reports_exactly(docs: Path, tmp_path: Path) -> None:
    seen: list[tuple[int, int, str]] = []
    report = run(tmp_path / "kb.sqlite", docs, progress=lambda *a: seen.append(a))
    assert report.added == ("a.txt", "b.txt", "sub/c.txt")
    assert report.skipped == (
        ("bad.txt", "damaged file"),
        ("boom.txt", "could not parse: ValueError: unexpected byte 0xff"),
        ("photo.png", "unsupported file type .png"),
    )
    out = report.to_json()
    assert isinstance(out.pop("pages"), float) and isinstance(out.pop("seconds"), float)
    assert out.pop("rebuilt") == ""  # the index was whole (or new): nothing set aside
    assert out == {
        "added": 3,
        "updated": 0,
        "removed": 0,
        "unchanged": 0,
        "chunks": 5,
        "skipped": [
            {"path": "bad.txt", "reason": "damaged file"},
            {"path": "boom.txt", "reason": "could not parse: ValueError: unexpected byte 0xff"},
            {"path": "photo.png", "reason": "unsupported file type .png"},
        ],
    }
    assert [s[2] for s in seen] == ["a.txt", "b.txt", "bad.txt", "boom.txt", "photo.png", "sub/c.txt"]
    assert seen[-1][:2] == (6, 6)
    assert fts(tmp_path / "kb.sqlite", "secret OR gitconfig") == []  # hidden files and folders ignored
    with open_index(tmp_path / "kb.sqlite") as index:
        roots = {r[0] for r in index.conn.execute("SELECT root FROM documents")}
        assert roots == {str(docs.resolve())}


def test_second_run_reads_nothing(docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kb = tmp_path / "kb.sqlite"
    run(kb, docs)
    parsed: list[str] = []
    hashed: list[Path] = []
    real_hash = index_module._sha256
    monkeypatch.setattr(index_module, "_sha256", lambda p: hashed.append(p) or real_hash(p))

    def counting_parse(path: Path) -> ParsedDocument:
        parsed.append(path.name)
        return parse_txt(path)

    report = run(kb, docs, parse=counting_parse)
    assert report.to_json()["unchanged"] == 3 and report.chunks == 5
    assert (report.added, report.updated, report.removed) == ((), (), ())
    assert hashed == []
    assert sorted(parsed) == ["bad.txt", "boom.txt", "photo.png"]  # never indexed, so tried again


def test_update_touch_remove_add(docs: Path, tmp_path: Path) -> None:
    kb = tmp_path / "kb.sqlite"
    run(kb, docs)
    write(docs / "a.txt", "Alpha handbook, second edition.\n\nVisitors sign in at the kiosk.\n\nLanyards are blue.")
    st = (docs / "b.txt").stat()
    os.utime(docs / "b.txt", (st.st_atime, st.st_mtime + 100))  # same content, new mtime: hashed, not parsed
    (docs / "sub" / "c.txt").unlink()
    write(docs / "d.txt", "Delta fire drill.")
    report = run(kb, docs)
    assert report.added == ("d.txt",)
    assert report.updated == ("a.txt",)
    assert report.removed == ("sub/c.txt",)
    assert report.unchanged == ("b.txt",)
    assert report.chunks == 3 + 2 + 1
    assert fts(kb, "badges") == []  # the old text of a.txt is gone from the FTS index too
    assert fts(kb, "lanyards") == ["a.txt"]
    assert fts(kb, "canteen") == []
    integrity_ok(kb)
    with open_index(kb) as index:
        assert index.counts() == (3, 6)
        mtime = index.conn.execute("SELECT mtime FROM documents WHERE path = 'b.txt'").fetchone()[0]
    assert mtime == (docs / "b.txt").stat().st_mtime  # next run skips it without hashing


def test_roots_not_given_are_left_alone(tmp_path: Path) -> None:
    kb = tmp_path / "kb.sqlite"
    hr = write(tmp_path / "hr" / "leave.txt", "Holiday leave policy.").parent
    it = write(tmp_path / "it" / "wifi.txt", "Wifi password policy.").parent
    write(tmp_path / "it" / "README.txt", "IT readme")
    write(tmp_path / "hr" / "README.txt", "HR readme")  # same relative path, other root: both kept
    assert len(run(kb, hr, it).added) == 4
    (it / "wifi.txt").unlink()
    report = run(kb, hr)
    assert report.removed == () and fts(kb, "wifi") == ["wifi.txt"]
    assert run(kb, it).removed == ("wifi.txt",)
    assert fts(kb, "readme") == ["README.txt", "README.txt"]


def test_file_inputs(docs: Path, tmp_path: Path) -> None:
    kb = tmp_path / "kb.sqlite"
    assert run(kb, docs / "a.txt").added == ("a.txt",)
    assert run(kb, docs / "b.txt").added == ("b.txt",)  # a.txt is not "missing": it exists
    assert fts(kb, "alpha OR bravo") == ["a.txt", "b.txt"]
    (docs / "a.txt").unlink()
    assert run(kb, docs / "b.txt").removed == ("a.txt",)
    # A file inside a folder given in the same run is one document, relative to that folder.
    report = run(tmp_path / "kb2.sqlite", docs, docs / "sub" / "c.txt")
    assert report.added == ("b.txt", "sub/c.txt")


def test_changed_file_that_now_fails_is_removed(docs: Path, tmp_path: Path) -> None:
    kb = tmp_path / "kb.sqlite"
    run(kb, docs)

    def picky(path: Path) -> ParsedDocument:
        if path.name == "a.txt":
            raise SkipDocument("encrypted")
        return parse_txt(path)

    write(docs / "a.txt", "new text that cannot be read")
    report = run(kb, docs, parse=picky)
    assert report.removed == ("a.txt",) and ("a.txt", "encrypted") in report.skipped
    assert fts(kb, "alpha") == []
    write(docs / "e.txt", "\n\n")
    assert ("e.txt", "no text found") in run(kb, docs).skipped


def test_index_file_and_outside_symlinks_ignored(docs: Path, tmp_path: Path) -> None:
    write(tmp_path / "outside" / "o.txt", "outside secret")
    (docs / "link.txt").symlink_to(tmp_path / "outside" / "o.txt")
    (docs / "linkdir").symlink_to(tmp_path / "outside")
    (docs / "inside.txt").symlink_to(docs / "a.txt")  # stays inside the root: followed
    kb = docs / "kb.sqlite"
    run(kb, docs)
    report = run(kb, docs)
    assert "kb.sqlite" not in {p for p, _ in report.skipped}
    assert report.unchanged == ("a.txt", "b.txt", "inside.txt", "sub/c.txt")
    assert fts(kb, "outside") == []


def test_missing_input_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match="no such file or folder"):
        run(tmp_path / "kb.sqlite", tmp_path / "nope")
    assert not (tmp_path / "kb.sqlite").exists()


def test_exception_mid_run_rolls_back(docs: Path, tmp_path: Path) -> None:
    kb = tmp_path / "kb.sqlite"
    run(kb, docs)
    before = kb.read_bytes()

    def interrupted(path: Path) -> ParsedDocument:
        if path.name == "b.txt":
            raise KeyboardInterrupt
        return parse_txt(path)

    write(docs / "a.txt", "Replaced text.")
    write(docs / "b.txt", "Replaced too.")
    with pytest.raises(KeyboardInterrupt):
        run(kb, docs, parse=interrupted)
    assert kb.read_bytes() == before
    assert fts(kb, "badges") == ["a.txt"]


CRASH = """
import os, sys
from pathlib import Path
from kiosk.knowledge.documents import Block, Chunk, ParsedDocument
from kiosk.knowledge.index import ingest

calls = []

def parse(path):
    calls.append(path)
    if len(calls) == 2:  # a.txt (changed) was indexed, bad.txt (tried every run) is next
        os._exit(1)  # like a power cut: no rollback, no cleanup
    blocks = tuple(Block("text", p) for p in path.read_text().split("\\n\\n") if p.strip())
    return ParsedDocument(path.stem, blocks, 1.0)

def chunk(doc):
    return [Chunk(doc.title, "", b.text, ordinal=i) for i, b in enumerate(doc.blocks)]

ingest(Path(sys.argv[1]), [Path(sys.argv[2])], parse=parse, chunk=chunk)
"""


def test_crash_mid_run_leaves_previous_index(docs: Path, tmp_path: Path) -> None:
    kb = tmp_path / "kb.sqlite"
    run(kb, docs)
    with open_index(kb) as index:
        before = index.conn.execute("SELECT path, sha256 FROM documents ORDER BY path").fetchall()
    # Several MB of new chunks for a.txt: more than SQLite's page cache, so pages reach the file.
    write(docs / "a.txt", "\n\n".join(f"replacement paragraph {i} " + "filler " * 150 for i in range(3000)))
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(CRASH), str(kb), str(docs)], cwd=ROOT)
    assert done.returncode == 1
    assert (tmp_path / "kb.sqlite-journal").exists()  # the crash really happened mid-write
    with open_index(kb) as index:
        assert index.conn.execute("SELECT path, sha256 FROM documents ORDER BY path").fetchall() == before
        assert index.counts() == (3, 5)
    assert not (tmp_path / "kb.sqlite-journal").exists()
    with Retriever(kb) as retriever:
        assert [h.path for h in retriever.search("where do visitors get badges?")][:1] == ["a.txt"]
        assert retriever.search("replacement filler") == []
    integrity_ok(kb)
    assert run(kb, docs).updated == ("a.txt",)  # and the next run picks the change up


class BagEmbedder:
    def __init__(self, name: str = "bag-v1") -> None:
        self.name = name
        self.texts: list[str] = []

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.texts += texts
        return [[float(len(t)), float(t.count(" ")), 1.0] for t in texts]


def test_vectors_stored_and_recomputed_when_the_model_changes(docs: Path, tmp_path: Path) -> None:
    kb = tmp_path / "kb.sqlite"
    first = BagEmbedder()
    run(kb, docs, embedder=first)
    assert len(first.texts) == 5
    assert "Alpha handbook." in first.texts[0]  # title + text
    with open_index(kb) as index:
        assert index.embedding_model == "bag-v1" and index.meta["embedding_dim"] == "3"
        blob = index.conn.execute("SELECT vector FROM embeddings ORDER BY chunk_id").fetchone()[0]
        assert np.frombuffer(blob, dtype="<f4").shape == (3,)
    write(docs / "d.txt", "Delta.")
    same = BagEmbedder()
    run(kb, docs, embedder=same)
    assert same.texts == ["d\nDelta."]  # only the new chunk
    other = BagEmbedder("bag-v2")
    run(kb, docs, embedder=other)
    assert len(other.texts) == 6
    run(kb, docs)  # no embedder: no half-embedded index either
    with open_index(kb) as index:
        assert index.embedding_model is None
        assert index.conn.execute("SELECT count(*) FROM embeddings").fetchone()[0] == 0


def test_other_chunk_settings_rechunk_everything(docs: Path, tmp_path: Path) -> None:
    kb = tmp_path / "kb.sqlite"

    class Settings:
        def __init__(self, size: int) -> None:
            self.size = size

        def __repr__(self) -> str:
            return f"Settings({self.size})"

    assert run(kb, docs, chunk_settings=Settings(1)).chunks == 5
    report = run(kb, docs, chunk_settings=Settings(2))
    assert report.updated == ("a.txt", "b.txt", "sub/c.txt") and report.chunks == 3


def test_open_index_errors_name_the_path_and_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "none.sqlite"
    with pytest.raises(KnowledgeError) as err:
        open_index(missing)
    assert str(missing) in str(err.value) and f"kiosk ingest DOCS... --kb {missing}" in str(err.value)
    text = write(tmp_path / "notes.txt", "just text, not a database" * 10)
    with pytest.raises(KnowledgeError) as err:
        open_index(text)
    assert str(text) in str(err.value) and "kiosk ingest DOCS... --kb" in str(err.value)
    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t(x)")
    conn.commit()
    conn.close()
    with pytest.raises(KnowledgeError) as err:
        open_index(other)
    assert str(other) in str(err.value) and "kiosk ingest DOCS... --kb" in str(err.value)
    # ...and ingest refuses to write into files that are not kiosk indexes.
    for foreign in (text, other):
        before = foreign.read_bytes()
        with pytest.raises(KnowledgeError, match="refusing to overwrite"):
            run(foreign, write(tmp_path / "d" / "x.txt", "x"))
        assert foreign.read_bytes() == before
