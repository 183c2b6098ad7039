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

A pack's name and version name its release folder: 1 to 64 characters from A-Z a-z 0-9 . _ -, starting
with a letter or digit, without "..". `build` refuses others on the workstation and `verify` refuses them
in a signed manifest (a trusted key can still sign a pack built wrong or by an older tool).
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
import pwd
import re
import select
import shutil
import signal
import tarfile
import tempfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

MANIFEST, SIGNATURE = "pack.json", "pack.sig"
MAX_MANIFEST_BYTES = 4 << 20  # pack.json and pack.sig are read before their signature is checked
MAX_PACK_BYTES = 16 << 30  # unpacked; a larger declared size is a damaged or hostile archive
STAGING, TMP_LINK = ".staging-", ".current-"  # in the packs root: an unfinished install's folder and symlink
_DISK_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # pack name and version (plus: no "..")
LABEL_RULE = "1 to 64 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit, without '..'"
DIR_MODE, FILE_MODE = 0o755, 0o644  # installed releases: readable by the service user, writable by root only
SERVICE_UNIT = Path("/etc/systemd/system/kiosk.service")  # its User= is the service user
SERVICE_ENV = Path("/etc/kiosk/kiosk.env")  # its KIOSK_* settings (models folder, manifest) apply to the check
HEALTH_TIMEOUT_S = 600.0


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


def build(src: Path, key_path: Path, out: Path, version: str | None = None, name: str | None = None
          ) -> dict[str, Any]:
    """Stages SRC (documents indexed), writes pack.json with every file's sha256, signs it, tars it.
    The pack's name defaults to SRC's folder name, its version to the build time."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from kiosk.config import load_settings

    if not (src / "kiosk.toml").is_file():
        raise PackError(f"{src}: no kiosk.toml (the pack's persona configuration)")
    load_settings(str(src / "kiosk.toml"))  # a broken config fails here, on the workstation, with file:line
    keys = {line.split("=", 1)[0].strip() for line in (src / "kiosk.toml").read_text(encoding="utf-8").splitlines()}
    for folder, setting in (("documents", "knowledge_base"), ("avatar", "avatar")):
        if (src / folder).is_dir() and setting not in keys:
            raise PackError(f"{src / 'kiosk.toml'}: [persona] needs a {setting} = \"\" line; the installer points "
                            f"it at the pack's {folder}")
    given_name = name is not None
    name, version = name if given_name else src.resolve().name, version or time.strftime("%Y%m%d-%H%M%S")
    for what, value in (("name", name), ("version", version)):  # the kiosk refuses them: they name its release
        if not _label(value):
            source = " (the folder's name; choose another with --name)" if what == "name" and not given_name else ""
            raise PackError(f"pack {what} {value!r}{source} is not allowed: use {LABEL_RULE}")
    try:
        key: Any = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (ValueError, TypeError) as error:  # not PEM, encrypted, a public key
        raise PackError(f"{key_path}: not a usable private key ({_why(error)}); "
                        "kiosk pack keygen writes one (the .key file)") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise PackError(f"{key_path}: not an Ed25519 private key; kiosk pack keygen writes one (the .key file)")
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


def _trusted_keys(trust: Path) -> list[Any]:
    """The Ed25519 public keys in `trust` (a .pub file or a folder of them). A file that is not one is
    skipped with a warning naming it, so one bad file does not stop the good keys beside it."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    folder = trust.is_dir()
    paths = sorted(trust.glob("*.pub")) if folder else [trust]
    keys, skipped = [], 0
    for path in paths:
        data = b""
        if path.is_dir() or (not path.is_file() and path.exists()):
            continue  # a folder or a FIFO named *.pub: not a key file, and reading a FIFO would block
        try:
            data = path.read_bytes()
            key = serialization.load_pem_public_key(data)
        except OSError as error:
            why = error.strerror or str(error)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            why = ("an empty file" if not data.strip() else "a private key: trust the .pub file beside it"
                   if b"PRIVATE KEY" in data else "not a PEM public key")
        else:
            if isinstance(key, Ed25519PublicKey):
                keys.append(key)
                continue
            kind = type(key).__name__.removeprefix("_").removesuffix("PublicKey") or "other"
            why = f"{'an' if kind[0] in 'AEFHILMNORSX' else 'a'} {kind} key, not an Ed25519 one"  # "an RSA key"
        if not folder:
            raise PackError(f"{path}: not a usable public key ({why}); kiosk pack keygen writes one (the .pub file)")
        log.warning("%s: not a usable public key (%s); skipped", path, why)
        skipped += 1
    if not keys:
        found = f" ({skipped} unusable .pub file{'s' * (skipped != 1)} skipped, see above)" if skipped else ""
        raise PackError(f"no usable trusted public key in {trust}{found}; kiosk pack keygen writes one: copy its "
                        ".pub there")
    return keys


def _why(error: BaseException) -> str:
    """An exception's message, first line, without the library's FAQ links."""
    text = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return re.sub(r"\s*See https?://\S+ for more details\.?", "", text).strip() or type(error).__name__


def _label(value: object) -> bool:
    """A pack name or version is one harmless path component: it names the release folder."""
    return isinstance(value, str) and _LABEL.fullmatch(value) is not None and ".." not in value


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
    return _open_member(tar, m, archive).read()


def _open_member(tar: tarfile.TarFile, m: tarfile.TarInfo, archive: Path) -> IO[bytes]:
    source = tar.extractfile(m)
    if source is None:  # not a regular file; _members() lets only files and folders through
        raise PackError(f"{archive}: member {m.name!r} is not a file")
    return source


_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number",
               bool: "true/false", type(None): "null"}
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _json_type(value: object) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _parse_manifest(body: bytes, archive: Path) -> dict[str, Any]:
    """The signed manifest, checked for shape: a trusted key can still sign a pack built wrong (or by a
    buggy or older tool), and signed content is still input."""
    def malformed(what: str) -> PackError:
        return PackError(f"{archive}: the pack's manifest is malformed: {what}")

    try:
        manifest = json.loads(body.decode("utf-8"))  # strictly: json.loads(bytes) would also take UTF-16 and -32
    except UnicodeDecodeError:
        raise malformed(f"{MANIFEST} is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise malformed(f"{MANIFEST} is not JSON ({error.msg} at line {error.lineno} column {error.colno})") from None
    except RecursionError:
        raise malformed(f"{MANIFEST} is nested too deeply") from None
    except ValueError as error:  # an integer with more digits than Python converts
        why = "a number with too many digits" if "digits" in str(error) else _why(error)
        raise malformed(f"{MANIFEST} is not usable JSON ({why})") from None
    if not isinstance(manifest, dict):
        raise malformed(f"{MANIFEST} is {_json_type(manifest)}, not an object")
    for key in ("name", "version"):
        value = manifest.get(key)
        if key not in manifest:
            raise malformed(f'"{key}" is missing')
        if not isinstance(value, str):
            raise malformed(f'"{key}" is {_json_type(value)}, not a string')
        if not _label(value):
            raise malformed(f'"{key}" {value[:80]!r} is not allowed (it names the release folder): use {LABEL_RULE}')
    if "files" not in manifest:
        raise malformed('"files" is missing')
    files = manifest["files"]
    if not isinstance(files, dict):
        raise malformed(f'"files" is {_json_type(files)}, not an object of file: sha256')
    for name, digest in files.items():
        if not (isinstance(digest, str) and _SHA256.fullmatch(digest)):
            raise malformed(f'"files" gives {name[:80]!r} {_json_type(digest)} ({str(digest)[:20]!r}), not a sha256 '
                            "(64 lowercase hex digits)")
    if "kiosk.toml" not in files:
        raise malformed('"files" lists no kiosk.toml (the persona configuration)')
    return manifest


def verify(archive: Path, trust: Path, into: Path | None = None) -> dict[str, Any]:
    """Checks the signature against the trusted keys and every file's hash; unpacks into `into` if given."""
    if not archive.is_file():  # a FIFO would block the reader, a folder has no bytes
        raise PackError(f"{archive}: no such pack file" if not archive.exists() else
                        f"{archive}: not a file (a folder, FIFO or device); give the .kpack file")
    try:
        tar = tarfile.open(archive, "r:gz")  # noqa: SIM115 - closed by the with below
    except (OSError, tarfile.TarError, EOFError, zlib.error) as error:  # EOFError: gzip cut short
        raise _unreadable_archive(archive, error) from None
    try:
        with tar:
            return _verify(tar, archive, trust, into)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:  # truncated or damaged
        raise _unreadable_archive(archive, error) from None


_CUT_SHORT = ("ended before", "end of data", "truncated", "empty file", "empty header", "unexpected end")


def _unreadable_archive(archive: Path, error: BaseException) -> PackError:
    """One line for an archive that cannot be read: cut short (an interrupted copy), damaged, or not one."""
    why, tiny = _why(error), False
    with contextlib.suppress(OSError):
        with archive.open("rb") as f:
            head = f.read(18)  # a gzip file has at least 18 bytes: header and trailer
        if tiny := len(head) < 18 and b"\x1f\x8b\x08".startswith(head[:3]):
            why = f"only {len(head)} byte{'s' * (len(head) != 1)}" if head else "an empty file"
    if tiny or isinstance(error, EOFError) or any(mark in why.lower() for mark in _CUT_SHORT):
        return PackError(f"{archive}: the pack file is cut short ({why}), e.g. by an interrupted copy; "
                         "copy it again from the original")
    if isinstance(error, OSError) and not isinstance(error, gzip.BadGzipFile) and error.errno is not None:
        return PackError(f"{archive}: cannot read the pack file ({error.strerror or why})")
    if "not a gzip file" in why.lower():
        return PackError(f"{archive}: not a kiosk pack ({why}); kiosk pack build makes one")
    return PackError(f"{archive}: the pack file is damaged ({why}); copy it again from the original")


def _verify(tar: tarfile.TarFile, archive: Path, trust: Path, into: Path | None) -> dict[str, Any]:
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
    manifest = _parse_manifest(body, archive)
    listed = set(manifest["files"])
    present = {n for n, m in members.items() if m.isfile()} - {MANIFEST, SIGNATURE}
    if listed != present:
        raise PackError(f"{archive}: files differ from the signed list: {sorted(listed ^ present)}")
    for name, digest in manifest["files"].items():
        source = _open_member(tar, members[name], archive)
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


def health_problems(release: Path, reader: str | None = None) -> list[str]:
    """What would stop the kiosk from running this pack (empty: healthy). Run as the service user (`reader`
    names it in the messages), it also finds what that user cannot read."""
    from kiosk.avatar.pack import check_pack
    from kiosk.checks import check_knowledge, check_models
    from kiosk.config import ConfigError, load_settings

    if unreadable := _unreadable(release, reader):
        return unreadable
    try:
        settings = load_settings(str(release / "kiosk.toml"))
    except ConfigError as error:
        return [str(error)]
    problems = [f"{c.name}: {c.detail}" for c in check_models(settings) + check_knowledge(settings)
                if c.status == "fail"]
    if (release / "avatar").is_dir():
        problems += [f"avatar: {p}" for p in check_pack(release / "avatar")]
    return problems


def _unreadable(release: Path, reader: str | None, limit: int = 5) -> list[str]:
    """Folders of the release that cannot be listed and files that cannot be opened (by this process)."""
    who = f" by {reader}, the user the kiosk runs as" if reader else ""
    fix = f"; installed folders must be {DIR_MODE:o} and files {FILE_MODE:o}, and every folder above " \
          f"{release} must let {reader or 'the kiosk user'} through"
    problems: list[str] = []

    def refused(path: Path | str, error: OSError) -> None:
        if len(problems) < limit:
            problems.append(f"{path}: not readable{who} ({error.strerror or error}){fix}")

    try:
        os.listdir(release)
    except OSError as error:
        refused(release, error)
        return problems
    for folder, _, names in os.walk(release, onerror=lambda error: refused(error.filename, error)):
        for name in names:
            path = Path(folder) / name
            try:
                os.close(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK))
            except OSError as error:
                refused(path, error)
    return problems


def _health(release: Path, user: str | None, lock: int = -1) -> list[str]:
    """The health check as `user` (None: as this process); never raises, so a rollback cannot fail."""
    if user is None and os.geteuid() == 0:
        log.warning("the health check runs as root: no kiosk service user here (no User= in %s, no user kiosk); "
                    "pass --service-user USER to check as the user the kiosk will run as", SERVICE_UNIT)
    try:
        if user is None or pwd.getpwnam(user).pw_uid == os.geteuid():
            return health_problems(release, reader=user)
        entry = pwd.getpwnam(user)
        env = _service_env(entry)
        with _environment(env):  # first as this process: what is wrong whoever reads it (and every import and
            problems = health_problems(release)  # model hash the check needs is then loaded and cached)
        return problems or _health_as(release, entry, env, lock)
    except Exception as error:  # a bug in a check must not leave an unchecked pack current
        log.debug("the health check of %s failed", release, exc_info=True)  # the traceback with -v only
        return [f"the health check itself failed: {type(error).__name__}: {_why(error)}"]


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _health_as(release: Path, user: pwd.struct_passwd, env: dict[str, str], lock: int = -1) -> list[str]:
    """health_problems() in a forked child that has become `user` (groups, gid, uid; cwd /, `env`), so
    whatever that user cannot read fails the check as it would fail the service. Forked, not executed:
    the child needs nothing the parent has not loaded already (not even read access to the interpreter)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        status = 0
        try:
            os.close(read_end)
            if lock >= 0:  # an installer killed meanwhile must not leave its lock held by this child
                os.close(lock)
            os.setgroups(os.getgrouplist(user.pw_name, user.pw_gid))
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            os.chdir("/")
            os.environ.clear()
            os.environ.update(env)
            try:
                problems = health_problems(release, reader=user.pw_name)
            except Exception as error:
                problems = [f"the health check as {user.pw_name} failed: {type(error).__name__}: {_why(error)}"]
            data = json.dumps(problems).encode()
            while data:
                data = data[os.write(write_end, data):]
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    chunks, deadline, finished = [], time.monotonic() + HEALTH_TIMEOUT_S, False
    try:
        while not finished and (left := deadline - time.monotonic()) > 0:
            if select.select([read_end], [], [], left)[0]:
                chunk = os.read(read_end, 1 << 16)
                chunks.append(chunk)
                finished = not chunk
        if not finished:
            os.kill(pid, signal.SIGKILL)
    finally:
        os.close(read_end)
        _, status = os.waitpid(pid, 0)
    if not finished:
        return [f"the health check as {user.pw_name} did not finish within {HEALTH_TIMEOUT_S:.0f} s"]
    try:
        problems = json.loads(b"".join(chunks))
        if isinstance(problems, list) and all(isinstance(p, str) for p in problems):
            return problems
    except ValueError:
        pass
    return [f"the health check as {user.pw_name} ended without a result (exit status {status})"]


def _service_env(user: pwd.struct_passwd) -> dict[str, str]:
    """The environment the health check runs in as the service user: this one without the installing user's
    home and XDG folders, with the service user's home and the service's KIOSK_* settings (SERVICE_ENV)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.update(HOME=user.pw_dir, USER=user.pw_name, LOGNAME=user.pw_name)
    with contextlib.suppress(OSError, UnicodeDecodeError):
        for line in SERVICE_ENV.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and key.startswith("KIOSK_"):
                env[key] = value.strip().strip('"')
    return env


def service_user(unit: Path = SERVICE_UNIT) -> str | None:
    """The user the kiosk service runs as: User= of the installed unit, else `kiosk` if that user exists;
    None when neither (a development machine)."""
    with contextlib.suppress(OSError, UnicodeDecodeError):
        for line in unit.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and key.strip() == "User" and value.strip():
                return value.strip()
    with contextlib.suppress(KeyError):
        return pwd.getpwnam("kiosk").pw_name
    return None


def check_user(requested: str | None) -> str | None:
    """Whom the health check runs as: `requested` (an existing user) or service_user(); None = this process.
    Switching users needs root: without it, only this process's own user can be asked for."""
    user = requested or service_user()
    if user is not None:
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            if requested:
                raise PackError(f"--service-user {requested}: no such user on this machine") from None
            return None  # the unit names a user not created yet: checked as this process (_health says so)
        if entry.pw_uid == os.geteuid():
            return user
        if os.geteuid() != 0:
            if requested:
                raise PackError(f"--service-user {requested}: checking as another user needs root (sudo)")
            return None  # a development install by an ordinary user: checked as that user
        return user
    return None


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
    problems = _health(release, user, lock)
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
