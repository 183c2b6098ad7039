"""Hostile documents (issue 13): zip bombs, documents that give too much text, control characters in text.

Every input is generated here. Each case goes through the real parsers and the real SQLite index, most through
`kiosk ingest` itself; none may print a traceback, and the documents beside the hostile one are indexed.
"""

from __future__ import annotations

import io
import json
import os
import random
import resource
import sqlite3
import struct
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fpdf import FPDF

from kiosk.knowledge import parsers
from kiosk.knowledge.documents import SkipDocument
from kiosk.knowledge.index import ingest
from kiosk.knowledge.parsers import ParseLimits, parse_file

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType='
    '"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="word/document.xml" Type='
    '"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/></Relationships>'
)
PARAGRAPH = b"<w:p><w:r><w:t>Wear your badge on the floor.</w:t></w:r></w:p>"
GOOD_MD = "# Canteen\n\nThe canteen opens at nine and serves lunch until two.\n"
MB = 1024 * 1024


def write_docx(path: Path, body: Iterator[bytes]) -> Path:
    """A minimal Word document whose document.xml is streamed from `body` (never whole in memory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("_rels/.rels", RELS)
        with z.open("word/document.xml", "w", force_zip64=True) as part:
            part.write(f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="{W}"><w:body>'
                       .encode())
            for block in body:
                part.write(block)
            part.write(b"</w:body></w:document>")
    return path


def repeated(size: int) -> Iterator[bytes]:
    """`size` bytes of one paragraph over and over: deflate packs it about 340 to 1."""
    block = PARAGRAPH * (MB // len(PARAGRAPH))
    for _ in range(max(1, round(size / len(block)))):
        yield block


def varied(size: int, seed: int = 1) -> Iterator[bytes]:
    """`size` bytes of paragraphs of random words: packs about 5 to 1, like a real document."""
    rng = random.Random(seed)
    words = [f"{w}{i}" for w in ("badge", "canteen", "forklift", "helmet", "visitor", "shift") for i in range(300)]
    made = 0
    while made < size:
        block = b"".join(f"<w:p><w:r><w:t>{' '.join(rng.choices(words, k=12))}.</w:t></w:r></w:p>".encode()
                         for _ in range(200))
        made += len(block)
        yield block


def kiosk_ingest(cwd: Path, *args: str, preexec: object = None, timeout: float = 120) -> tuple[int, dict, str]:
    """`kiosk ingest ... --json` in a process of its own: exit code, the JSON, stderr (never a traceback)."""
    env = {k: v for k, v in os.environ.items() if k != "KIOSK_CONFIG"}
    proc = subprocess.run([sys.executable, "-m", "kiosk.cli", "ingest", *args, "--json"], cwd=cwd, env=env,
                          capture_output=True, timeout=timeout, preexec_fn=preexec)  # noqa: PLW1509
    stderr = proc.stderr.decode("utf-8", "replace")
    assert "Traceback" not in stderr and "Logging error" not in stderr, stderr
    return proc.returncode, json.loads(proc.stdout.decode("utf-8") or "{}"), stderr


def human_size(n: int) -> str:
    return f"{n / MB:.1f} MB" if n >= MB else f"{n / 1024:.1f} KB"


def skipped(report: dict) -> dict[str, str]:
    return {s["path"]: s["reason"] for s in report["skipped"]}


# -- zip bombs ----------------------------------------------------------------------------------------------

# VmHWM, not getrusage's ru_maxrss: Linux keeps ru_maxrss across fork and exec, so a child of a pytest that
# loaded models reports the parent's gigabytes; VmHWM belongs to this process's own memory map.
RSS_PROBE = """
import json, re, sys
from kiosk.cli.main import main
code = main(sys.argv[1:])
sys.stdout.flush()
hwm = int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
print(json.dumps({"exit": code, "max_rss_mb": hwm / 1024}), file=sys.stderr)
"""


def _address_space_4gb() -> None:  # a regression fails this test instead of exhausting the machine
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


@pytest.mark.slow
def test_docx_bomb_is_skipped_before_it_is_unpacked_with_bounded_memory(tmp_path: Path) -> None:
    """300 MB of XML in a file under 1 MB: skipped from the zip's central directory, in well under 500 MB.
    (Before: 589 s, 7.5 GB and 59,568 passages; here the old code ran into the 4 GB cap or the timeout.)"""
    docs = tmp_path / "docs"
    bomb = write_docx(docs / "bomb.docx", repeated(300 * MB))
    (docs / "canteen.md").write_text(GOOD_MD)
    assert bomb.stat().st_size < MB
    kb = tmp_path / "kb.sqlite"
    env = {k: v for k, v in os.environ.items() if k != "KIOSK_CONFIG"}
    proc = subprocess.run([sys.executable, "-c", RSS_PROBE, "ingest", str(docs), "--kb", str(kb), "--json"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
                          preexec_fn=_address_space_4gb)  # noqa: PLW1509
    assert "Traceback" not in proc.stderr, proc.stderr
    probe = json.loads(proc.stderr.strip().splitlines()[-1])
    report = json.loads(proc.stdout)
    assert probe["exit"] == 0 and report["added"] == 1
    reason = "too large when unpacked: 300.0 MB (limit 50.0 MB, 2.5 times knowledge.max_file_mb)"
    assert skipped(report) == {"bomb.docx": reason}
    assert probe["max_rss_mb"] < 500, probe


def test_docx_bomb_is_remembered_and_not_read_again_while_unchanged(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A bomb under every size limit but packed 340 to 1: skipped for its ratio; the next runs neither read nor
    unpack it while its size and mtime stay, and still report it with its reason."""
    docs = tmp_path / "docs"
    bomb = write_docx(docs / "bomb.docx", repeated(24 * MB))
    (docs / "canteen.md").write_text(GOOD_MD)
    kb = tmp_path / "kb.sqlite"
    first = ingest(kb, [docs])
    reason = dict(first.skipped)["bomb.docx"]
    assert reason.startswith("compressed too densely: word/document.xml unpacks to ") and "a zip bomb?" in reason
    assert first.added == ("canteen.md",)

    read: list[str] = []
    unpacked: list[object] = []
    real_parse, real_zip = parsers.parse_file, zipfile.ZipFile.__init__

    def counting_parse(path: Path, *args: object) -> object:
        read.append(path.name)
        return real_parse(path, *args)  # type: ignore[arg-type]

    def counting_zip(self: zipfile.ZipFile, *args: object, **kwargs: object) -> None:
        unpacked.append(args[0])
        real_zip(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(parsers, "parse_file", counting_parse)
    monkeypatch.setattr(zipfile.ZipFile, "__init__", counting_zip)
    second = ingest(kb, [docs])
    assert dict(second.skipped) == {"bomb.docx": reason} and second.unchanged == ("canteen.md",)
    assert read == [] and unpacked == []

    os.utime(bomb, (1_000_000_000, 1_000_000_000))  # touched: read again, and skipped again
    assert dict(ingest(kb, [docs]).skipped) == {"bomb.docx": reason} and read == ["bomb.docx"]
    with sqlite3.connect(kb) as conn:
        assert conn.execute("SELECT path, reason FROM skipped").fetchall() == [("bomb.docx", reason)]
    bomb.unlink()  # gone: forgotten
    assert ingest(kb, [docs]).skipped == ()
    with sqlite3.connect(kb) as conn:
        assert conn.execute("SELECT count(*) FROM skipped").fetchone() == (0,)


def test_docx_that_unpacks_past_the_limit_is_skipped_before_parsing(tmp_path: Path) -> None:
    """An ordinary-looking document (packed 5 to 1) whose XML is over 2.5 times knowledge.max_file_mb; and a FAQ of
    more passages than the limit allows (one per KB of knowledge.max_file_mb): both skipped with the reason."""
    docs = tmp_path / "docs"
    big = write_docx(docs / "big.docx", varied(400 * 1024))
    assert big.stat().st_size < 100 * 1024
    with zipfile.ZipFile(big) as z:
        unpacked = human_size(sum(p.file_size for p in z.infolist()))
    (docs / "faq.csv").write_text("question,answer\n" + "".join(f"Q{i}?,A{i}.\n" for i in range(300)))
    (docs / "canteen.md").write_text(GOOD_MD)
    (tmp_path / "kiosk.toml").write_text("[knowledge]\nmax_file_mb = 0.1\n")
    code, report, _ = kiosk_ingest(tmp_path, str(docs), "--kb", str(tmp_path / "kb.sqlite"),
                                   "--config", str(tmp_path / "kiosk.toml"))
    assert code == 0 and report["added"] == 1
    assert skipped(report) == {
        "big.docx": f"too large when unpacked: {unpacked} (limit 256.0 KB, 2.5 times knowledge.max_file_mb)",
        "faq.csv": "too many passages: more than 102 (knowledge.max_file_mb)",
    }


def test_text_of_one_document_is_bounded_while_it_is_parsed(tmp_path: Path) -> None:
    """A compressed PDF gives more text than its size: the page loop stops at the budget."""
    pdf = FPDF()
    pdf.set_font("helvetica", size=10)
    for page in range(20):
        pdf.add_page()
        pdf.multi_cell(0, 5, f"Page {page}: the canteen opens at nine and serves lunch until two. " * 30)
    path = tmp_path / "long.pdf"
    path.write_bytes(bytes(pdf.output()))
    limits = ParseLimits(max_text_chars=20_000)
    with pytest.raises(SkipDocument) as info:
        parse_file(path, limits)
    assert info.value.reason == "too much text: more than 20,000 characters (knowledge.max_file_mb)"
    assert info.value.remember
    assert parse_file(path).blocks  # under the default limits: read


def test_lying_central_directory_cannot_hand_out_more_than_it_declares(tmp_path: Path) -> None:
    """Hardening, not a regression (zipfile already stops at the declared size and checks the CRC): a 30 MB
    document.xml declared as 4 KB is refused as damaged, not unpacked."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("_rels/.rels", RELS)
        z.writestr("word/document.xml", b"".join(repeated(30 * MB)))
    data = bytearray(buf.getvalue())
    (entry,) = struct.unpack_from("<I", data, data.rfind(b"PK\x05\x06") + 16)  # the central directory
    while not data[entry + 46:].startswith(b"word/document.xml"):
        entry = data.index(b"PK\x01\x02", entry + 4)
    struct.pack_into("<I", data, entry + 24, 4096)  # uncompressed size in the central directory
    path = tmp_path / "liar.docx"
    path.write_bytes(bytes(data))
    with pytest.raises(SkipDocument) as info:
        parse_file(path)
    assert info.value.reason.startswith("damaged Word document")


# -- control characters -------------------------------------------------------------------------------------

CONTROL = "".join(map(chr, [*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F]))


def test_nul_and_control_characters_never_reach_the_index(tmp_path: Path) -> None:
    """NUL after the first 8 KB and the other control characters, in every text format and a PDF, are cleaned
    away without gluing words; a file mostly of NUL bytes is binary."""
    docs = tmp_path / "docs"
    docs.mkdir()
    filler = "The canteen opens at nine and serves lunch until two. " * 200  # past the first 8 KB
    secret = "The door code is 4711\x00\x00\x00and the vault\x01opens on\x1fFridays\x7f."
    (docs / "notes.md").write_bytes(f"# Notes\n\n{filler}\n\n{secret}\n".encode())
    (docs / "plain.txt").write_bytes(f"Plain\n\n{filler}\n\nBadges{CONTROL}are blue.\n".encode())
    (docs / "page.html").write_bytes(f"<p>{filler}</p><title>Page{CONTROL}one</title><h2>Par\x00king</h2>"
                                     f"<p>Level\x02minus two.</p>".encode())
    (docs / "faq.csv").write_bytes(f"question,answer\n{filler},x\nWhere\x00is it?,Over\x03there.\n".encode())
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.multi_cell(0, 8, "The locker code is 1234\x01\x02and the gym\x1fopens at six.")
    (docs / "lockers.pdf").write_bytes(bytes(pdf.output()))
    (docs / "mostly-nul.md").write_bytes(b"# Zeros\n\n" + b"Some words here. " * 600 + b"\x00" * 100_000)
    kb = tmp_path / "kb.sqlite"
    code, report, _ = kiosk_ingest(tmp_path, str(docs), "--kb", str(kb))
    assert code == 0 and report["added"] == 5
    assert skipped(report) == {"mostly-nul.md": "binary file"}
    with sqlite3.connect(kb) as conn:
        rows = conn.execute("SELECT c.title, c.section, c.question, c.text FROM chunks c").fetchall()
        titles = [r[0] for r in conn.execute("SELECT title FROM documents")]
    text = "\n".join("\n".join(row) for row in rows) + "\n".join(titles)
    assert not set(text) & set(CONTROL + "\t\x0b\x0c\r"), sorted(set(text) & set(CONTROL))
    text = " ".join(text.split())  # (a parser may end a line at \x1c-\x1e, which Python counts as line breaks)
    for words in ("4711 and the vault opens on Fridays", "Badges are blue", "Level minus two", "Over there",
                  "1234 and the gym opens at six", "Par king", "Page one"):
        assert words in text
