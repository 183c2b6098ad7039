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
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gzip
import hashlib
import json
import logging
import os
import re
import shutil
import tarfile
import tempfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

MANIFEST, SIGNATURE = "pack.json", "pack.sig"
MAX_MANIFEST_BYTES = 4 << 20  # pack.json and pack.sig are read before their signature is checked
MAX_PACK_BYTES = 16 << 30  # unpacked; a larger declared size is a damaged or hostile archive
STAGING, TMP_LINK = ".staging-", ".current-"  # in the packs root: an unfinished install's folder and symlink
_DISK_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
_LABEL = re.compile(r"\w[\w .+@-]{0,99}")  # pack name and version: no "/", no leading "." or "-"


class PackError(ValueError):
    pass


@dataclass(frozen=True)
class Installed:
    release: Path
    previous: Path | None
    rolled_back: bool
    problems: tuple[str, ...] = ()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def keygen(out_dir: Path, name: str = "kiosk-packs") -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    out_dir.mkdir(parents=True, exist_ok=True)
    private, public = out_dir / f"{name}.key", out_dir / f"{name}.pub"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    private.chmod(0o600)
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


def build(src: Path, key_path: Path, out: Path, version: str | None = None) -> dict:
    """Stages SRC (documents indexed), writes pack.json with every file's sha256, signs it, tars it."""
    from cryptography.hazmat.primitives import serialization

    from kiosk.config import load_settings

    if not (src / "kiosk.toml").is_file():
        raise PackError(f"{src}: no kiosk.toml (the pack's persona configuration)")
    load_settings(str(src / "kiosk.toml"))  # a broken config fails here, on the workstation, with file:line
    keys = {line.split("=", 1)[0].strip() for line in (src / "kiosk.toml").read_text(encoding="utf-8").splitlines()}
    for folder, key in (("documents", "knowledge_base"), ("avatar", "avatar")):
        if (src / folder).is_dir() and key not in keys:
            raise PackError(f"{src / 'kiosk.toml'}: [persona] needs a {key} = \"\" line; the installer points it "
                            f"at the pack's {folder}")
    name, version = src.resolve().name, version or time.strftime("%Y%m%d-%H%M%S")
    if not (_label(name) and _label(version)):  # the kiosk refuses them: they name its release folder
        raise PackError(f"pack name {name!r} (the folder's name) and version {version!r} may only hold letters, "
                        "digits, spaces and . _ + @ -, and must start with a letter or digit")
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp) / "pack"
        stage.mkdir()
        shutil.copy2(src / "kiosk.toml", stage / "kiosk.toml")
        if (src / "avatar").is_dir():
            shutil.copytree(src / "avatar", stage / "avatar")
        if (src / "documents").is_dir():
            from kiosk.knowledge.index import ingest

            report = ingest(stage / "knowledge.sqlite", [src / "documents"])
            log.info("pack documents indexed: %s", report)
        files = {str(p.relative_to(stage)): _sha256(p) for p in sorted(stage.rglob("*")) if p.is_file()}
        manifest = {"name": name, "version": version,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "files": files}
        body = json.dumps(manifest, indent=1, sort_keys=True).encode()
        (stage / MANIFEST).write_bytes(body)
        (stage / SIGNATURE).write_bytes(key.sign(body))
        out.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(out, "w:gz") as tar:
            for path in sorted(stage.rglob("*")):
                tar.add(path, arcname=str(path.relative_to(stage)), recursive=False)
    return manifest


def _trusted_keys(trust: Path) -> list:
    from cryptography.hazmat.primitives import serialization

    paths = sorted(trust.glob("*.pub")) if trust.is_dir() else [trust]
    keys = [serialization.load_pem_public_key(p.read_bytes()) for p in paths if p.is_file()]
    if not keys:
        raise PackError(f"no trusted public keys in {trust} (kiosk pack keygen writes one; copy the .pub there)")
    return keys


def _label(value: object) -> bool:
    """A pack name or version is one harmless path component: it names the release folder."""
    return isinstance(value, str) and _LABEL.fullmatch(value) is not None


def _members(tar: tarfile.TarFile, archive: Path) -> dict[str, tarfile.TarInfo]:
    """The archive's members by name, refusing anything that could land outside the unpack folder, a name
    given twice (which copy counts would depend on the tool) and declared sizes beyond MAX_PACK_BYTES."""
    members: dict[str, tarfile.TarInfo] = {}
    seen: set[str] = set()
    total = 0
    for m in tar:  # lazily: a lying size is refused before gigabytes are decompressed to skip over it
        name = m.name
        if name.startswith("/") or ".." in Path(name).parts or not (m.isfile() or m.isdir()):
            raise PackError(f"{archive}: refusing member {name!r} (absolute path, '..' or a link)")
        if os.path.normpath(name) in seen:
            raise PackError(f"{archive}: member {name!r} appears twice")
        seen.add(os.path.normpath(name))
        total += m.size
        if total > MAX_PACK_BYTES:
            raise PackError(f"{archive}: larger than {MAX_PACK_BYTES} bytes unpacked; damaged or not a kiosk pack")
        members[name] = m
    return members


def _small(tar: tarfile.TarFile, m: tarfile.TarInfo | None, archive: Path) -> bytes:
    """pack.json or pack.sig: read before the signature is checked, so their size is capped."""
    if m is None or not m.isfile():
        raise PackError(f"{archive}: no {MANIFEST}/{SIGNATURE}: not a signed kiosk pack")
    if m.size > MAX_MANIFEST_BYTES:
        raise PackError(f"{archive}: {m.name} is too large ({m.size} bytes): not a kiosk pack")
    return tar.extractfile(m).read()


def _check_manifest(manifest: object, archive: Path) -> dict:
    """The signed manifest's shape; a trusted key can still sign a pack built wrong."""
    if not (isinstance(manifest, dict) and _label(manifest.get("name")) and _label(manifest.get("version"))):
        raise PackError(f"{archive}: the signed {MANIFEST} needs a name and version made of letters, digits "
                        "and . _ + @ - (they name the release folder)")
    files = manifest.get("files")
    if not (isinstance(files, dict) and all(isinstance(v, str) for v in files.values()) and "kiosk.toml" in files):
        raise PackError(f"{archive}: the signed {MANIFEST} lists no files or no kiosk.toml")
    return manifest


def verify(archive: Path, trust: Path, into: Path | None = None) -> dict:
    """Checks the signature against the trusted keys and every file's hash; unpacks into `into` if given."""
    try:
        tar = tarfile.open(archive, "r:gz")  # noqa: SIM115 - closed by the with below
    except (OSError, tarfile.TarError, EOFError, zlib.error) as error:  # EOFError: gzip cut short
        raise PackError(f"{archive}: not a kiosk pack ({error})") from None
    try:
        with tar:
            return _verify(tar, archive, trust, into)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:  # truncated or damaged
        raise PackError(f"{archive}: damaged archive ({error or type(error).__name__})") from None


def _verify(tar: tarfile.TarFile, archive: Path, trust: Path, into: Path | None) -> dict:
    from cryptography.exceptions import InvalidSignature

    members = _members(tar, archive)
    body = _small(tar, members.get(MANIFEST), archive)
    signature = _small(tar, members.get(SIGNATURE), archive)
    for key in _trusted_keys(trust):
        try:
            key.verify(signature, body)
            break
        except InvalidSignature:
            continue
    else:
        raise PackError(f"{archive}: signature does not match any trusted key in {trust}")
    try:
        manifest = _check_manifest(json.loads(body), archive)
    except ValueError as error:  # not JSON (PackError is a ValueError too)
        raise error if isinstance(error, PackError) else PackError(f"{archive}: {MANIFEST} is not JSON") from None
    listed = set(manifest["files"])
    present = {n for n, m in members.items() if m.isfile()} - {MANIFEST, SIGNATURE}
    if listed != present:
        raise PackError(f"{archive}: files differ from the signed list: {sorted(listed ^ present)}")
    for name, digest in manifest["files"].items():
        source = tar.extractfile(members[name])
        target = None
        if into is not None:
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            target = (into / name).open("wb")
        try:  # streamed: a pack's index may be larger than the memory left on the kiosk
            h = hashlib.sha256()
            while block := source.read(1 << 20):
                h.update(block)
                if target is not None:
                    target.write(block)
        finally:
            if target is not None:
                target.close()
        if h.hexdigest() != digest:
            raise PackError(f"{archive}: {name} was changed after signing")
    if into is not None:
        (into / MANIFEST).write_bytes(body)
    return manifest


def health_problems(release: Path) -> list[str]:
    """What would stop the kiosk from running this pack (empty: healthy)."""
    from kiosk.avatar.pack import check_pack
    from kiosk.checks import check_knowledge, check_models
    from kiosk.config import ConfigError, load_settings

    try:
        settings = load_settings(str(release / "kiosk.toml"))
    except ConfigError as error:
        return [str(error)]
    problems = [f"{c.name}: {c.detail}" for c in check_models(settings) + check_knowledge(settings)
                if c.status == "fail"]
    if (release / "avatar").is_dir():
        problems += [f"avatar: {p}" for p in check_pack(release / "avatar")]
    return problems


def _point(root: Path, release: Path) -> None:
    tmp = root / f"{TMP_LINK}{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(release.relative_to(root))
    os.replace(tmp, root / "current")  # rename(2): atomic
    _sync_dir(root)


def install(archive: Path, trust: Path, root: Path) -> Installed:
    root.mkdir(parents=True, exist_ok=True)
    releases = root / "releases"
    releases.mkdir(exist_ok=True)
    with _install_lock(root):
        _remove_leftovers(root)
        release = _unpack(archive, trust, root, releases)
        return _switch(root, release)


def _switch(root: Path, release: Path) -> Installed:
    """`current` -> `release` if it passes its health check (checked where it lies: its config already names
    its own paths), so neither a kiosk starting meanwhile nor an install killed meanwhile ever sees an
    unchecked pack; an unhealthy one is kept out (a rollback) unless there is nothing else to run."""
    previous = (root / "current").resolve() if (root / "current").is_symlink() else None
    problems = health_problems(release)
    if problems and previous is not None:
        log.error("pack %s unhealthy, %s stays current: %s", release.name, previous.name, problems)
        return Installed(release, previous, True, tuple(problems))
    _point(root, release)
    if problems:
        log.error("pack %s unhealthy and there is nothing to roll back to: %s", release.name, problems)
    return Installed(release, previous, False, tuple(problems))


@contextlib.contextmanager
def _install_lock(root: Path) -> Iterator[None]:
    """One install at a time per packs root (a second one waits), so leftovers found are really stale."""
    with open(root / ".install.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


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
        staging.chmod(0o777 & ~_umask())  # mkdtemp's 0700 would keep the kiosk's user out of the release
        manifest = verify(archive, trust, into=staging)
        digest = hashlib.sha256(json.dumps(manifest["files"], sort_keys=True).encode()).hexdigest()[:12]
        release = releases / f"{manifest['name']}-{manifest['version']}-{digest}"
        if release.exists():
            shutil.rmtree(staging)
            return release
        _localize(staging, release)
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


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


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
    """Points the pack's config at its own index and avatar where they will live."""
    config = staging / "kiosk.toml"
    text = config.read_text(encoding="utf-8")
    lines = []
    for line in text.splitlines():
        key = line.split("=", 1)[0].strip()
        if key == "knowledge_base" and (staging / "knowledge.sqlite").is_file():
            line = f'knowledge_base = "{release / "knowledge.sqlite"}"'
        elif key == "avatar" and (staging / "avatar").is_dir():
            line = f'avatar = "{release / "avatar"}"'
        lines.append(line)
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")

