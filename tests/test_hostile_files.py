"""Hostile files around the documents (issue 13): symlink loops, names that are not UTF-8, FIFOs, sockets and
devices. Each goes through `kiosk ingest` in a process of its own (a FIFO opened for reading would block it:
the timeout turns that into a failure) and the real SQLite index: the file is skipped with a reason that says
what it is, the documents beside it are indexed, and nothing prints a traceback.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.knowledge.retrieve import Retriever

GOOD_MD = "# Canteen\n\nThe canteen opens at nine and serves lunch until two.\n"


def kiosk_ingest(cwd: Path, *args: str, json_out: bool = True) -> tuple[int, str, str]:
    """`kiosk ingest` (verbose: every log line is written too): exit code, stdout, stderr; never a traceback,
    and all output valid UTF-8."""
    env = {k: v for k, v in os.environ.items() if k != "KIOSK_CONFIG"}
    proc = subprocess.run([sys.executable, "-m", "kiosk.cli", "ingest", "-v", *args, *(["--json"] * json_out)],
                          cwd=cwd, env=env, capture_output=True, timeout=60)
    out, err = proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")  # strict: a surrogate would fail here
    assert "Traceback" not in err and "Logging error" not in err, err
    return proc.returncode, out, err


def skipped(stdout: str) -> dict[str, str]:
    return {s["path"]: s["reason"] for s in json.loads(stdout)["skipped"]}


def test_symlink_loops_are_skipped_with_a_reason_and_the_rest_indexed(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "canteen.md").write_text(GOOD_MD)
    (docs / "loop-a.md").symlink_to("loop-b.md")
    (docs / "loop-b.md").symlink_to("loop-a.md")
    (docs / "self.md").symlink_to("self.md")
    (docs / "dangling.md").symlink_to("nowhere.md")
    (docs / "again").symlink_to(".")  # a folder loop: not followed
    kb = tmp_path / "kb.sqlite"
    code, out, _ = kiosk_ingest(tmp_path, str(docs), "--kb", str(kb))
    assert code == 0 and json.loads(out)["added"] == 1
    assert skipped(out) == {
        "loop-a.md": "symbolic link loop",
        "loop-b.md": "symbolic link loop",
        "self.md": "symbolic link loop",
        "dangling.md": "broken symbolic link (its target does not exist)",
        "again": "symbolic link to a folder (not followed)",
    }
    with Retriever(kb) as r:
        assert r.search("when does the canteen open")[0].path == "canteen.md"
    code, out, _ = kiosk_ingest(tmp_path, str(docs / "self.md"), "--kb", str(tmp_path / "other.sqlite"))
    assert code == 0 and skipped(out) == {"self.md": "symbolic link loop"}  # given by name: the same reason


def test_file_names_that_are_not_utf8_are_indexed_under_an_escaped_name(tmp_path: Path) -> None:
    """Bytes \\xff\\xfe in a file name (and in a folder's): indexed as `\\xff\\xfe`, shown the same way in the
    JSON, the text output and the log; unchanged on the next run, removed when the file goes."""
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "canteen.md").write_text(GOOD_MD)
    odd = os.fsencode(docs) + b"/park\xff\xfeing.md"
    with open(odd, "wb") as f:
        f.write(b"# Parking\n\nThe visitor car park is on level minus two, behind the zeppelin hangar.\n")
    odd_folder = os.fsencode(docs / "sub") + b"/caf\xe9"
    os.mkdir(odd_folder)
    with open(odd_folder + b"/menu.md", "wb") as f:
        f.write(b"# Menu\n\nOn Fridays the canteen serves a marmalade pancake.\n")
    with open(os.fsencode(docs) + b"/photo\xff.md", "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n\x00\x00")  # skipped: its name goes into the report and the log
    kb = tmp_path / "kb.sqlite"
    code, out, err = kiosk_ingest(tmp_path, str(docs), "--kb", str(kb))
    assert code == 0 and json.loads(out)["added"] == 3 and skipped(out) == {"photo\\xff.md": "binary file"}
    with sqlite3.connect(kb) as conn:
        paths = sorted(p for (p,) in conn.execute("SELECT path FROM documents"))
    assert paths == ["canteen.md", "park\\xff\\xfeing.md", "sub/caf\\xe9/menu.md"]
    with Retriever(kb) as r:
        assert r.search("zeppelin hangar parking")[0].path == "park\\xff\\xfeing.md"
        assert r.search("marmalade pancake")[0].path == "sub/caf\\xe9/menu.md"

    code, out, err = kiosk_ingest(tmp_path, str(docs), os.fsdecode(odd), "--kb", str(kb), json_out=False)
    assert code == 0 and "3 unchanged" in out and "skipped photo\\xff.md: binary file" in out
    assert "photo\\xff.md: unchanged since it was skipped" in err
    os.unlink(odd)
    code, out, _ = kiosk_ingest(tmp_path, str(docs), "--kb", str(kb))
    assert code == 0 and json.loads(out)["removed"] == 1


def test_fifo_socket_and_devices_are_named_and_skipped_without_blocking(tmp_path: Path) -> None:
    """Never opened (a FIFO with no writer blocks whoever opens it for reading; /dev/zero never ends): judged by
    stat, skipped, and said what they are. In a folder and given by name."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "canteen.md").write_text(GOOD_MD)
    os.mkfifo(docs / "pipe.md")
    os.mkfifo(tmp_path / "given.md")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(docs / "sock.md"))
    except OSError as e:  # (a path too long for AF_UNIX)
        pytest.skip(f"cannot bind a socket here: {e}")
    try:
        (docs / "null.md").symlink_to("/dev/null")
        code, out, _ = kiosk_ingest(tmp_path, str(docs), str(tmp_path / "given.md"), "/dev/zero",
                                    "--kb", str(tmp_path / "kb.sqlite"))
    finally:
        sock.close()
    assert code == 0 and json.loads(out)["added"] == 1
    assert skipped(out) == {
        "pipe.md": "not a regular file: a FIFO",
        "sock.md": "not a regular file: a socket",
        "null.md": "not a regular file: a device",
        "given.md": "not a regular file: a FIFO",
        "zero": "not a regular file: a device",
    }
