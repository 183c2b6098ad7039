"""Content pack archives: keys, building, and verifying a signed .kpack (kiosk.appliance.packs installs them).

A pack's name and version name its release folder: 1 to 64 characters from A-Z a-z 0-9 . _ -, starting
with a letter or digit, without "..". `build` refuses others on the workstation and `verify` refuses them
in a signed manifest (a trusted key can still sign a pack built wrong or by an older tool). Everything in
an archive is input: members, sizes and the manifest are checked before anything is unpacked, and an
archive cut short (an interrupted copy) is one line saying to copy it again.
"""

from __future__ import annotations

import contextlib
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
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

MANIFEST, SIGNATURE = "pack.json", "pack.sig"
MAX_MANIFEST_BYTES = 4 << 20  # pack.json and pack.sig are read before their signature is checked
MAX_PACK_BYTES = 16 << 30  # unpacked; a larger declared size is a damaged or hostile archive
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # pack name and version (plus: no "..")
LABEL_RULE = "1 to 64 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit, without '..'"
DIR_MODE, FILE_MODE = 0o755, 0o644  # installed releases: readable by the service user, writable by root only


class PackError(ValueError):
    pass


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
        raise PackError(f"{key_path}: not a usable private key ({describe_error(error)}); "
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


def describe_error(error: BaseException) -> str:
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
        why = "a number with too many digits" if "digits" in str(error) else describe_error(error)
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
    why, tiny = describe_error(error), False
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
