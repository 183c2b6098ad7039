"""Content packs: build, sign, verify (tampering refused), install atomically, roll back when unhealthy."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest

from kiosk.appliance import pack_archive, packs

ROOT = Path(__file__).resolve().parents[1]


def make_src(tmp: Path, llm: str = "smollm2-135m-instruct") -> Path:
    src = tmp / "halvorsen"
    (src / "documents").mkdir(parents=True)
    shutil.copy(ROOT / "samples" / "halvorsen" / "faq.md", src / "documents" / "faq.md")
    (src / "kiosk.toml").write_text(f'[persona]\nname = "Ava"\nllm = "{llm}"\nknowledge_base = ""\navatar = ""\n')
    return src


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return pack_archive.keygen(tmp_path / "keys")


def test_build_verify_install_and_switch(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    private, public = keys
    archive = tmp_path / "halvorsen.kpack"
    manifest = pack_archive.build(make_src(tmp_path), private, archive, version="1")
    assert "knowledge.sqlite" in manifest["files"] and "kiosk.toml" in manifest["files"]
    assert pack_archive.verify(archive, public)["version"] == "1"
    root = tmp_path / "packs"
    first = packs.install(archive, public, root)
    assert not first.rolled_back and not first.problems and first.previous is None
    current = root / "current"
    assert current.is_symlink() and current.resolve() == first.release
    config = (current / "kiosk.toml").read_text()
    assert f'knowledge_base = "{first.release / "knowledge.sqlite"}"' in config

    # A second pack replaces the first; a broken third one (a model this kiosk lacks) is rolled back.
    second = packs.install(archive_v(tmp_path, private, "2"), public, root)
    assert second.previous == first.release and current.resolve() == second.release
    broken = tmp_path / "broken.kpack"
    pack_archive.build(make_src(tmp_path / "b", llm="llama-3.2-3b-instruct-q4_k_m"), private, broken, version="3")
    third = packs.install(broken, public, root)
    assert third.rolled_back and any("llama-3.2-3b" in p for p in third.problems)
    assert current.resolve() == second.release  # the kiosk never ran the broken pack


def archive_v(tmp: Path, private: Path, version: str) -> Path:
    out = tmp / f"v{version}.kpack"
    pack_archive.build(make_src(tmp / f"src{version}"), private, out, version=version)
    return out


def test_tampering_and_untrusted_keys_are_refused(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    private, public = keys
    archive = tmp_path / "a.kpack"
    pack_archive.build(make_src(tmp_path), private, archive)
    # Someone edits a document inside the archive after signing.
    unpacked = tmp_path / "x"
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    (unpacked / "kiosk.toml").write_text('[persona]\nname = "Eve"\n')
    forged = tmp_path / "forged.kpack"
    with tarfile.open(forged, "w:gz") as tar:
        for p in sorted(unpacked.rglob("*")):
            tar.add(p, arcname=str(p.relative_to(unpacked)), recursive=False)
    with pytest.raises(pack_archive.PackError, match="changed after signing"):
        pack_archive.verify(forged, public)
    _, other = pack_archive.keygen(tmp_path / "other")
    with pytest.raises(pack_archive.PackError, match="does not match any trusted key"):
        pack_archive.verify(archive, other)
    with pytest.raises(pack_archive.PackError, match="not a kiosk pack"):
        pack_archive.verify(tmp_path / "keys" / "kiosk-packs.pub", public)
