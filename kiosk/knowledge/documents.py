"""What the knowledge pipeline passes between its stages: parsed documents, blocks and chunks; and the files
they come from: which files the inputs hold (find_files), whether one is a regular file (decided by stat, so a
FIFO or a device is never opened), and its name made safe to store, print and log (safe_name)."""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO


class SkipDocument(Exception):
    """A file that cannot be ingested; `reason` is shown to the person running `kiosk ingest`.

    `remember`: True when the reason follows from the file's content alone (damaged, binary, a zip bomb...),
    so the index remembers it and does not read the file again until it changes; False when it may pass
    without the file changing (permissions, a missing package); None: not decided (parse_file decides).
    """

    def __init__(self, reason: str, remember: bool | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.remember = remember


@dataclass(frozen=True)
class Block:
    """A structural piece of a document, in reading order."""

    kind: str
    """text | table | faq"""
    text: str
    section: tuple[str, ...] = ()
    """heading path, outermost first, e.g. ("Safety rules", "Forklifts")"""
    question: str = ""
    """faq blocks: the question; `text` is then the exact answer"""
    page: int | None = None
    """1-based page for paged formats (PDF)"""


@dataclass(frozen=True)
class ParsedDocument:
    title: str
    blocks: tuple[Block, ...]
    pages: float
    """pages for throughput figures: real pages for PDF, else characters / 3000"""


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage of ~150-300 tokens, or one FAQ entry, or one small table."""

    title: str
    section: str
    """heading path joined with " > " ("" at the top of a document)"""
    text: str
    kind: str = "text"
    """text | table | faq"""
    question: str = ""
    """faq chunks: the question (indexed too); `text` is the verbatim answer"""
    ordinal: int = 0
    """position within its document"""
    tokens: int = 0
    """estimated tokens (words × 1.3)"""


# -- files -------------------------------------------------------------------------------------------

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"))


def not_regular(mode: int) -> str | None:
    """The skip reason for a file of this st_mode that is not a regular file; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in _KINDS if test(mode)), "a special file")
    return f"not a regular file: {kind}"


def file_problem(path: Path) -> str | None:
    """Why `path` cannot be read as a document, judged by stat alone (nothing is opened); None: a regular file."""
    try:
        return not_regular(os.stat(path).st_mode)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "symbolic link loop"
        if e.errno == errno.ENOENT and os.path.islink(path):
            return "broken symbolic link (its target does not exist)"
        return f"cannot read file: {os_reason(e)}"


def os_reason(e: OSError) -> str:
    """"permission denied", "is a directory"...: an OSError in the words of a skip reason."""
    known = {PermissionError: "permission denied", IsADirectoryError: "is a directory", FileNotFoundError: "not found"}
    reason = e.strerror or next((v for k, v in known.items() if isinstance(e, k)), "") or str(e) or type(e).__name__
    return reason.lower()


def open_regular(path: Path) -> BinaryIO:
    """Open a file for reading only if it is a regular file (O_NONBLOCK: opening a FIFO never waits for a
    writer; fstat then refuses it), so a file swapped for a FIFO after the stat cannot hang the ingest."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if reason := not_regular(os.fstat(fd).st_mode):
            raise SkipDocument(reason, remember=False)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _walk(root: Path, exclude: set[Path]) -> Iterator[tuple[Path, str | None]]:
    """Files under root in sorted order, each with the reason it cannot be read (None: a regular file, to
    read). Hidden files and folders are left out; symlinks to folders and out of root are not followed;
    FIFOs, sockets and devices are judged by stat and never opened; a symlink loop is only a reason."""
    unreadable: list[OSError] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable.append, followlinks=False):
        for error in unreadable:  # a subfolder os.walk could not list
            yield Path(error.filename or dirpath), f"cannot read folder: {(error.strerror or str(error)).lower()}"
        unreadable.clear()
        links = [d for d in dirnames if not d.startswith(".") and os.path.islink(os.path.join(dirpath, d))]
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in links)
        found = [(name, None) for name in filenames] + [(name, "symbolic link to a folder (not followed)")
                                                        for name in links]
        for name, problem in sorted(found):
            path = Path(dirpath, name)
            if name.startswith(".") or path in exclude:
                continue
            problem = problem or file_problem(path)
            if problem is None and path.is_symlink() and not Path(os.path.realpath(path)).is_relative_to(root):
                problem = "symbolic link to outside the folder (not followed)"
            yield path, problem
    for error in unreadable:  # the root itself could not be listed
        yield Path(error.filename or root), f"cannot read folder: {(error.strerror or str(error)).lower()}"


@dataclass
class FoundFiles:
    """What `find_files` found; keys are (root, relative path) as safe_name, as the index stores them."""

    files: dict[tuple[str, str], Path]
    """{(root, relative path): file}, both as safe_name: what the index stores and the report shows"""
    skipped: dict[tuple[str, str], str]
    """files found but not to be read (a FIFO, a symlink loop...), with the reason"""
    folders: set[str]
    file_roots: set[str]
    """the roots of single-file inputs that are not folder roots"""
    missing: list[str]
    """inputs that do not exist (safe_name)"""

    def gone(self, root: str, rel: str) -> bool:
        """Whether an indexed (or remembered) file not read this run is gone: files of a folder given this run
        that the walk did not find or cannot read, and single files given earlier that no longer exist."""
        if root in self.folders or (root, rel) in self.skipped:
            return True
        return root in self.file_roots and not os.path.exists(Path(fs_name(root)) / fs_name(rel))


def find_files(inputs: Sequence[Path], exclude: set[Path]) -> FoundFiles:
    """The files to ingest from files and folders given, each keyed (root, relative path); the ones that are
    there but cannot be read (FIFOs, devices, symlink loops...) with the reason; inputs that do not exist."""
    found = FoundFiles({}, {}, set(), set(), [safe_name(str(p)) for p in inputs if not os.path.lexists(p)])
    if found.missing:
        return found
    folders = [p.resolve() for p in inputs if p.is_dir()]
    for root in folders:
        for path, problem in _walk(root, exclude):
            key = (safe_name(str(root)), safe_name(path.relative_to(root).as_posix()))
            _add(found, key, path, problem)
    for given in (p for p in inputs if not p.is_dir()):
        path = given.absolute().parent.resolve() / given.name
        # A file inside a folder also given keeps that folder as its root: one document, not two.
        root = next((r for r in folders if path.is_relative_to(r)), path.parent)
        key = (safe_name(str(root)), safe_name(path.relative_to(root).as_posix()))
        found.file_roots.add(key[0])
        if key not in found.files and key not in found.skipped:
            _add(found, key, path, file_problem(path))  # a FIFO, a device, a symlink loop: said so, never opened
    found.folders = {safe_name(str(r)) for r in folders}
    found.file_roots -= found.folders
    found.files = dict(sorted(found.files.items()))
    return found


def _add(found: FoundFiles, key: tuple[str, str], path: Path, problem: str | None) -> None:
    if key in found.files or key in found.skipped:
        return
    if problem is None:
        found.files[key] = path
    else:
        found.skipped[key] = problem


# A name the file system gave Python: bytes that are not UTF-8 arrive as lone surrogates (surrogateescape),
# which SQLite, JSON output and a UTF-8 terminal refuse; control characters break log lines and terminals.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_ESCAPED = re.compile(r"\\x([0-9a-f]{2})|\\u(d[89a-f][0-9a-f]{2})")


def safe_name(name: str) -> str:
    """A file name (or path) as stored in the index and shown: bytes that are not UTF-8 and control
    characters written as \\xNN, so `b"caf\\xe9.md"` is `caf\\xe9.md`. Every valid name stays as it is."""
    return _UNSAFE.sub(_escape, name)


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the byte that was not UTF-8
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}" if code > 0xFF else f"\\x{code:02x}"


def fs_name(name: str) -> str:
    """The file system's name for a `safe_name` (its inverse, for names that had no backslash of their own)."""
    def unescape(m: re.Match[str]) -> str:
        if m.group(1):
            byte = int(m.group(1), 16)
            return chr(0xDC00 + byte if byte >= 0x80 else byte)
        return chr(int(m.group(2), 16))

    return _ESCAPED.sub(unescape, name) if "\\" in name else name
