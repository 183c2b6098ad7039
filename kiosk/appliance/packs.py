"""Content packs: a company's persona, documents and avatar as one signed archive, built on a workstation
and installed on a kiosk from a USB stick or a path.

    kiosk pack keygen DIR                      an Ed25519 key pair (keep the private key off the kiosks)
    kiosk pack build SRC --key KEY --out X.kpack
    kiosk pack verify X.kpack --trust DIR      signature and every file's sha256
    kiosk pack install X.kpack --trust DIR     unpack, switch over atomically, roll back if unhealthy

SRC holds `kiosk.toml` (the persona config; its voice and LLM are manifest names the kiosk must have),
optionally `documents/` (indexed at build time into knowledge.sqlite) and `avatar/` (an avatar pack).
On the kiosk, packs live in `<root>/releases/<name>-<version>-<digest>/`; `<root>/current` is a symlink
replaced with rename(2), so the kiosk sees either the old pack or the new one, never half of each. The
new pack must pass its health check (config loads, models present, index opens, avatar valid) before
`current` is switched to it; otherwise the previous release stays current (reported as a rollback).

An install killed at any point (SIGKILL, power cut) or out of disk leaves the previous pack current and
whole: the archive is unpacked into `<root>/.staging-*`, every file and folder fsynced, then renamed into
`releases/` in one step; `current` changes only after that and after the health check, and is fsynced too.
A staging folder or temporary symlink a killed install left behind is removed by the next install, under
a lock (`<root>/.install.lock`) that keeps two installs from running at once.

The packs root is resolved once (a relative `--root`, or one reached through a symlink, becomes the real
absolute folder), so the paths written into the release's kiosk.toml are the ones the service will read.
Installed releases belong to root (or the installing user when not root), folders 0755 and files 0644
whatever the umask; when root installs, the health check runs as the user the kiosk service runs as
(`service_user`: User= of the installed unit, else `kiosk`), so a release that user could not read fails
the check instead of passing as root.

Archives, keys and verification: kiosk.appliance.pack_archive; the health check: kiosk.appliance.pack_health.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kiosk.appliance.pack_archive import (
    DIR_MODE,
    FILE_MODE,
    PackError,
    verify,
)
from kiosk.appliance.pack_health import check_release

log = logging.getLogger(__name__)

STAGING, TMP_LINK = ".staging-", ".current-"  # in the packs root: an unfinished install's folder and symlink
_DISK_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


@dataclass(frozen=True)
class Installed:
    release: Path
    previous: Path | None
    rolled_back: bool
    problems: tuple[str, ...] = ()


def _point(root: Path, release: Path) -> None:
    tmp = root / f"{TMP_LINK}{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(Path(release.parent.name) / release.name)  # relative, from names only: cannot fail
    os.replace(tmp, root / "current")  # rename(2): atomic
    _sync_dir(root)


def install(archive: Path, trust: Path, root: Path, user: str | None = None) -> Installed:
    """Verifies, unpacks and checks `archive` (as `user`, None: as this process) and makes it current."""
    try:
        _make_dir(root)
        root = root.resolve()  # once: the paths written into the release and its symlink all agree
        releases = root / "releases"
        _make_dir(releases)
    except OSError as error:
        raise PackError(f"{root}: cannot use it as the packs folder ({error.strerror or error})") from None
    with _install_lock(root) as lock:
        _remove_leftovers(root)
        release = _unpack(archive, trust, root, releases)
        return _switch(root, release, user, lock)


def releases(root: Path) -> tuple[Path | None, list[Path]]:
    """(the current release, every installed release newest first)."""
    current = root / "current"
    now = current.resolve() if current.is_symlink() and current.resolve().is_dir() else None
    folder = root / "releases"
    found = sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True) \
        if folder.is_dir() else []
    return now, found


def activate(root: Path, release: Path, user: str | None = None) -> Installed:
    """Makes an installed release current again (a rollback by hand), after its health check."""
    root = root.resolve()
    release = release.resolve()
    if release.parent != root / "releases" or not release.is_dir():
        raise PackError(f"{release.name}: not an installed release of {root}")
    with _install_lock(root) as lock:
        return _switch(root, release, user, lock)


def _make_dir(folder: Path) -> None:
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(DIR_MODE)  # not the umask's: the service user must get through


def _switch(root: Path, release: Path, user: str | None = None, lock: int = -1) -> Installed:
    """`current` -> `release` if it passes its health check (checked where it lies: its config already names
    its own paths), so neither a kiosk starting meanwhile nor an install killed meanwhile ever sees an
    unchecked pack; an unhealthy one is kept out (a rollback) unless there is nothing else to run."""
    current = root / "current"
    previous = current.resolve() if current.is_symlink() and current.resolve().is_dir() else None
    problems = check_release(release, user, lock)
    if problems and previous is not None and previous != release:
        log.error("pack %s unhealthy, %s stays current: %s", release.name, previous.name, problems)
        return Installed(release, previous, True, tuple(problems))
    try:
        _point(root, release)
    except OSError as error:
        full = " (is the disk full?)" if error.errno in _DISK_FULL else ""
        raise PackError(f"{root}: could not switch {current} to {release.name}: {error.strerror or error}{full}; "
                        "the installed pack is unchanged") from None
    if problems:
        log.error("pack %s unhealthy and there is nothing to roll back to: %s", release.name, problems)
    return Installed(release, previous, False, tuple(problems))


@contextlib.contextmanager
def _install_lock(root: Path) -> Iterator[int]:
    """One install at a time per packs root (a second one waits), so leftovers found are really stale.
    Yields the lock's file descriptor (a forked health check closes it, so that it never holds the lock)."""
    with open(root / ".install.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield lock.fileno()


def _remove_leftovers(root: Path) -> None:
    """What a killed install left: its half-unpacked staging folder and its temporary symlink."""
    for path in root.iterdir():
        if path.name.startswith(STAGING) and path.is_dir() and not path.is_symlink():
            log.warning("removing %s, left by an install that did not finish", path)
            shutil.rmtree(path, ignore_errors=True)
        elif path.name.startswith(TMP_LINK) and path.is_symlink():
            path.unlink(missing_ok=True)


def _unpack(archive: Path, trust: Path, root: Path, releases: Path) -> Path:
    """The verified archive as a whole, durable release folder (an existing identical one is reused)."""
    staging: Path | None = None
    try:
        staging = Path(tempfile.mkdtemp(dir=root, prefix=STAGING))
        manifest = verify(archive, trust, into=staging)
        digest = hashlib.sha256(json.dumps(manifest["files"], sort_keys=True).encode()).hexdigest()[:12]
        release = releases / f"{manifest['name']}-{manifest['version']}-{digest}"
        if release.exists():  # installed before: its modes made right again (an older install obeyed the umask)
            shutil.rmtree(staging)
            _own(release)
            return release
        _localize(staging, release)
        _own(staging)
        _sync_tree(staging)  # the data on disk before the name: after a power cut, whole or absent
        os.replace(staging, release)
        _sync_dir(releases)
        return release
    except OSError as error:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        full = " (is the disk full?)" if error.errno in _DISK_FULL else ""
        raise PackError(f"{archive}: could not unpack into {root}: {error.strerror or error}{full}; "
                        "the installed pack is unchanged") from None
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise


def _own(folder: Path) -> None:
    """Folders DIR_MODE, files FILE_MODE, whatever the umask and the archive say; owned by root when root
    installs (not a group inherited from a setgid folder), so the service reads its pack and cannot change it."""
    for path in [folder, *folder.rglob("*")]:
        if os.geteuid() == 0:
            os.lchown(path, 0, 0)
        path.chmod(DIR_MODE if path.is_dir() else FILE_MODE)


def _sync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), reverse=True):  # files before the folders holding them
        if path.is_file():
            with path.open("rb") as f:
                os.fsync(f.fileno())
        elif path.is_dir():
            _sync_dir(path)
    _sync_dir(folder)


def _sync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _localize(staging: Path, release: Path) -> None:
    """Points the pack's config at its own index and avatar where they will live (absolute paths: `release`
    is under the resolved root)."""
    config = staging / "kiosk.toml"
    text = config.read_text(encoding="utf-8")
    lines = []
    for line in text.splitlines():
        key = line.split("=", 1)[0].strip()
        if key == "knowledge_base" and (staging / "knowledge.sqlite").is_file():
            line = f"knowledge_base = {_toml_string(release / 'knowledge.sqlite')}"
        elif key == "avatar" and (staging / "avatar").is_dir():
            line = f"avatar = {_toml_string(release / 'avatar')}"
        lines.append(line)
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _toml_string(path: Path) -> str:
    return json.dumps(str(path), ensure_ascii=False)  # a JSON string is a valid TOML basic string
