"""Fuzzing `kiosk pack verify` / `install` with hostile archives: path traversal, absolute paths, links,
devices, duplicate names, huge declared sizes, truncated or bit-flipped archives and odd signed manifests.
Each is refused with a PackError (the CLI prints it, no traceback) or, if intact, accepted; nothing is ever
written outside the unpack directory or the packs root."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import tempfile
from functools import cache
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from fuzzing import fuzz, mutate
from hypothesis import example, given
from hypothesis import strategies as st

from kiosk.appliance import pack_archive, packs

KIOSK_TOML = b'[persona]\nname = "Ava"\nknowledge_base = ""\navatar = ""\n'
EDITS = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1, max_size=6)


@cache
def private_key(folder: str) -> object:
    private, _ = pack_archive.keygen(Path(folder))
    return serialization.load_pem_private_key(private.read_bytes(), password=None)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    folder = tmp_path_factory.mktemp("keys")
    key = private_key(str(folder))
    return key, folder / "kiosk-packs.pub"


def member(name: str, kind: str = "file", data: bytes = b"") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
                 "hardlink": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE, "chr": tarfile.CHRTYPE}[kind]
    if kind in ("symlink", "hardlink"):
        info.linkname = "/etc/passwd" if kind == "symlink" else "kiosk.toml"
    info.size = len(data) if kind == "file" else 0
    return info, data


def write_archive(path: Path, members: list[tuple[tarfile.TarInfo, bytes]], declared: dict[str, int] | None = None
                  ) -> None:
    """A .kpack (tar.gz) with members in order; `declared` overrides header sizes (the data is not padded)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    body = raw.getvalue()
    for name, size in (declared or {}).items():  # rewrite the size field of that header in place
        at = body.find(name.encode() + b"\0")
        if at >= 0 and at % 512 == 0:
            header = bytearray(body[at:at + 512])
            # octal up to 8 GiB, GNU base-256 beyond; then the checksum, summed with its own field as spaces
            header[124:136] = f"{size:011o}\0".encode() if size < 8**11 else b"\x80" + size.to_bytes(11, "big")
            header[148:156] = b"        "
            header[148:156] = f"{sum(header):06o}\0 ".encode()
            body = body[:at] + bytes(header) + body[at + 512:]
    path.write_bytes(gzip.compress(body))


def signed(key: object, files: dict[str, bytes], name: str = "halvorsen", version: str = "1") -> list:
    manifest = {"name": name, "version": version, "created": "2026-01-01T00:00:00Z",
                "files": {n: hashlib.sha256(d).hexdigest() for n, d in files.items()}}
    body = json.dumps(manifest, sort_keys=True).encode()
    return [member(pack_archive.MANIFEST, data=body), member(pack_archive.SIGNATURE, data=key.sign(body)),
            *(member(n, data=d) for n, d in files.items())]


def snapshot(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def fresh(tmp_path: Path) -> Path:
    """A folder of its own for each example (Hypothesis runs them all in one tmp_path)."""
    return Path(tempfile.mkdtemp(dir=tmp_path))


def attempt(tmp: Path, archive: Path, public: Path) -> str:
    """verify + install into tmp/root; returns "ok" or the PackError message. Nothing may appear outside
    tmp/root and tmp/unpacked (the archive, keys and a canary sit beside them)."""
    (tmp / "canary").mkdir(exist_ok=True)
    before = {p for p in snapshot(tmp) if not p.startswith(("root", "unpacked"))}
    outcome = "ok"
    try:
        (tmp / "unpacked").mkdir(exist_ok=True)
        pack_archive.verify(archive, public, into=tmp / "unpacked")
        packs.install(archive, public, tmp / "root")
    except pack_archive.PackError as error:
        outcome = str(error)
        assert str(archive) in outcome or "trusted" in outcome, outcome
    after = {p for p in snapshot(tmp) if not p.startswith(("root", "unpacked"))}
    assert after == before, f"written outside the target: {sorted(after - before)}"
    assert not list((Path("/tmp")).glob("kiosk-fuzz-escape*")), "escaped to /tmp"
    return outcome


HOSTILE_NAMES = st.sampled_from([
    "../escape", "../../canary/escape", "documents/../../escape", "/tmp/kiosk-fuzz-escape", "//tmp/kiosk-fuzz-escape",
    "./../escape", "avatar/../../../escape", "..", "kiosk.toml/..", "documents/..\\..\\escape",
])
KINDS = st.sampled_from(["file", "dir", "symlink", "hardlink", "fifo", "chr"])
NAMES = st.one_of(HOSTILE_NAMES, st.sampled_from(["kiosk.toml", "pack.json", "pack.sig", "documents/a.md", "avatar"]),
                  st.text(st.characters(codec="ascii", exclude_characters="\0"), min_size=1, max_size=20))


@fuzz(80)
@given(st.lists(st.tuples(NAMES, KINDS), min_size=1, max_size=4), st.booleans())
@example([("../escape", "file")], True)
@example([("/tmp/kiosk-fuzz-escape", "file")], True)
@example([("avatar", "symlink")], True)
@example([("kiosk.toml", "hardlink")], False)
@example([("pack.json", "dir")], False)  # a directory where the manifest should be: was an AttributeError
@example([("pack.sig", "dir")], True)
@example([("kiosk.toml", "file")], True)  # a duplicate of a signed file, other content: the later one wins in tar
def test_hostile_members(tmp_path: Path, keys: tuple, extra: list, first: bool) -> None:
    tmp_path = fresh(tmp_path)
    key, public = keys
    good = signed(key, {"kiosk.toml": KIOSK_TOML})
    hostile = [member(name, kind, data=b"evil") for name, kind in extra]
    archive = tmp_path / "a.kpack"
    write_archive(archive, hostile + good if first else good + hostile)
    outcome = attempt(tmp_path, archive, public)
    escapes = any(name.startswith("/") or ".." in Path(name).parts for name, _ in extra)
    if escapes or any(kind not in ("file", "dir") for _, kind in extra):
        assert outcome != "ok"


@fuzz(60)
@given(st.sampled_from(["kiosk.toml", "pack.json", "pack.sig"]), st.integers(0, 2**62), st.booleans())
@example("kiosk.toml", 2**40, False)  # declared 1 TB, data missing: was an uncaught tarfile.ReadError
@example("pack.json", 10**9, False)  # read before the signature is checked: now capped at MAX_MANIFEST_BYTES
@example("pack.sig", 8**11 + 5, True)  # base-256 size field
def test_declared_sizes_that_lie(tmp_path: Path, keys: tuple, name: str, size: int, pad: bool) -> None:
    tmp_path = fresh(tmp_path)
    key, public = keys
    archive = tmp_path / "a.kpack"
    write_archive(archive, signed(key, {"kiosk.toml": KIOSK_TOML}), declared={name: size})
    if pad:  # real bytes behind the header: the lie is only in the size field
        archive.write_bytes(gzip.compress(gzip.decompress(archive.read_bytes()) + bytes(1 << 16)))
    outcome = attempt(tmp_path, archive, public)
    if name == "kiosk.toml" and size != len(KIOSK_TOML):
        assert outcome != "ok"


def test_oversized_manifest_is_refused_before_it_is_read(tmp_path: Path, keys: tuple,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    key, public = keys
    monkeypatch.setattr(pack_archive, "MAX_MANIFEST_BYTES", 64)
    archive = tmp_path / "a.kpack"
    write_archive(archive, signed(key, {"kiosk.toml": KIOSK_TOML}))
    assert "too large" in attempt(tmp_path, archive, public)


def test_pack_larger_than_the_limit_is_refused(tmp_path: Path, keys: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    key, public = keys
    monkeypatch.setattr(pack_archive, "MAX_PACK_BYTES", 1000)
    archive = tmp_path / "a.kpack"
    write_archive(archive, signed(key, {"kiosk.toml": KIOSK_TOML, "documents/big.md": b"x" * 5000}))
    assert "larger than" in attempt(tmp_path, archive, public)


@fuzz(100)
@given(EDITS)
@example([(3, 100, 0)])  # cut short inside the gzip stream: was an uncaught EOFError
def test_damaged_archive(tmp_path: Path, keys: tuple, edits: list) -> None:
    tmp_path = fresh(tmp_path)
    key, public = keys
    good = tmp_path / "good.kpack"
    write_archive(good, signed(key, {"kiosk.toml": KIOSK_TOML, "documents/faq.md": b"Q: Parking?\nA: Lot B.\n" * 20}))
    archive = tmp_path / "a.kpack"
    archive.write_bytes(mutate(good.read_bytes(), edits))
    attempt(tmp_path, archive, public)


PACK_WORDS = st.one_of(st.sampled_from(["../../escape", "/tmp/kiosk-fuzz-escape", "1/2", "..", ".", "", "a\nb"]),
                       st.text(max_size=12))


@fuzz(60)
@given(PACK_WORDS, PACK_WORDS)
@example("../../canary/escape", "1")  # a signed name that is a path: the release was moved outside the root
@example("halvorsen", "1/2")  # was an OSError (no such folder "halvorsen-1")
@example("..", "")
@example("Halvorsen Robotics", "2026.1+rc1")
def test_signed_manifest_name_and_version(tmp_path: Path, keys: tuple, name: str, version: str) -> None:
    tmp_path = fresh(tmp_path)
    key, public = keys
    archive = tmp_path / "a.kpack"
    write_archive(archive, signed(key, {"kiosk.toml": KIOSK_TOML}, name=name, version=version))
    outcome = attempt(tmp_path, archive, public)
    assert (outcome == "ok") == (pack_archive._label(name) and pack_archive._label(version)), outcome
    if outcome == "ok":
        releases = list((tmp_path / "root" / "releases").iterdir())
        assert len(releases) == 1 and releases[0].name.startswith(f"{name}-{version}-")


@fuzz(40)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=6))
@example({"name": "a", "version": "1"})  # no "files": was a KeyError
@example({"name": "a", "version": "1", "files": ["kiosk.toml"]})
def test_signed_manifest_of_any_shape(tmp_path: Path, keys: tuple, manifest: object) -> None:
    tmp_path = fresh(tmp_path)
    key, public = keys
    body = json.dumps(manifest).encode()
    archive = tmp_path / "a.kpack"
    write_archive(archive, [member(pack_archive.MANIFEST, data=body),
                            member(pack_archive.SIGNATURE, data=key.sign(body)),
                            member("kiosk.toml", data=KIOSK_TOML)])
    attempt(tmp_path, archive, public)


def test_manifest_that_is_a_directory(tmp_path: Path, keys: tuple) -> None:
    """Was an AttributeError ('NoneType' object has no attribute 'read'), a traceback from kiosk pack verify."""
    key, public = keys
    archive = tmp_path / "a.kpack"
    write_archive(archive, [member(pack_archive.MANIFEST, "dir"), member(pack_archive.SIGNATURE, data=key.sign(b"{}")),
                            member("kiosk.toml", data=KIOSK_TOML)])
    assert "not a signed kiosk pack" in attempt(tmp_path, archive, public)
