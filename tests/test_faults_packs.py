"""Faults on purpose (issue 12): `kiosk pack install` killed, or out of disk, half-way through.

A kiosk runs from `<root>/current`, a symlink to one release folder. Whatever happens to an install, the
pack installed before it (persona, documents, voice, face) must stay whole and current, no half-unpacked or
unchecked pack may ever be current, leftovers must be cleaned by the next install at the latest, that
install must complete, and a failure must be one clear line (no traceback). The installs are the real CLI in
a subprocess; the packs are built here, as on the workstation.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fault_times import record

from kiosk.appliance import pack_archive, pack_health
from kiosk.avatar.pack import BUILTIN_DIR
from kiosk.config import Settings, load_settings

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
BIG_MB = 192  # an avatar layer large enough that unpacking it takes a moment to kill


def pack_source(folder: Path, name: str, *, big_mb: int = 0, llm: str = "") -> Path:
    """A company's pack: persona (with voice and LLM), the sample FAQ as documents, the built-in Max face."""
    src = folder / name
    (src / "documents").mkdir(parents=True)
    shutil.copy(ROOT / "samples" / "halvorsen" / "faq.md", src / "documents" / "faq.md")
    shutil.copytree(BUILTIN_DIR / "max", src / "avatar")
    if big_mb:
        (src / "avatar" / "backdrop.raw").write_bytes(bytes(big_mb << 20))
    defaults = Settings().persona
    (src / "kiosk.toml").write_text(f'[persona]\nname = "Max"\nllm = "{llm or defaults.llm}"\n'
                                    f'voice = "{defaults.voice}"\nknowledge_base = ""\navatar = ""\n')
    return src


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Keys and three signed packs: v1 (small), v2 (with a large layer), v3 (needs a model this kiosk lacks)."""
    folder = tmp_path_factory.mktemp("packs")
    private, public = pack_archive.keygen(folder / "keys")
    out = {"trust": public}
    for version, kwargs in (("1", {}), ("2", {"big_mb": BIG_MB}), ("3", {"llm": "llama-3.2-3b-instruct-q4_k_m"})):
        out[version] = folder / f"halvorsen-{version}.kpack"
        pack_archive.build(pack_source(folder / f"src{version}", "halvorsen", **kwargs), private, out[version], version)
    return out


def install(built: dict[str, Path], version: str, root: Path, limit_bytes: int | None = None) -> subprocess.Popen:
    def limit() -> None:  # the "disk" ends here: writes beyond it fail (EFBIG), as on a full disk
        assert limit_bytes is not None
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.Popen([sys.executable, "-m", "kiosk.cli", "pack", "install", str(built[version]), "--trust",
                             str(built["trust"]), "--root", str(root)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            preexec_fn=limit if limit_bytes is not None else None)  # noqa: PLW1509


def completed(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def installed(built: dict[str, Path], version: str, root: Path) -> Path:
    rc, out, err = completed(install(built, version, root))
    assert rc == 0, err
    return Path(json.loads(out)["release"])


def files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def whole(release: Path) -> bool:
    """Every file its signed list names is there with its hash (kiosk.toml is localized on install)."""
    listed = json.loads((release / pack_archive.MANIFEST).read_text())["files"]
    present = files(release)
    return all(present.get(name) == digest for name, digest in listed.items() if name != "kiosk.toml") and \
        set(present) == set(listed) | {pack_archive.MANIFEST}


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith((".staging-", ".current-")))


def assert_still_current(root: Path, release: Path, before: dict[str, str]) -> None:
    """The previous pack: current, byte for byte as installed, healthy; only whole releases exist."""
    assert (root / "current").resolve() == release
    assert files(release) == before
    assert pack_health.health_problems(root / "current") == []
    settings = load_settings(str(root / "current" / "kiosk.toml"))
    assert settings.persona.knowledge_base.startswith(str(release)) and settings.persona.avatar.startswith(str(release))
    assert all(whole(r) for r in (root / "releases").iterdir()), sorted((root / "releases").iterdir())
    asked = subprocess.run([sys.executable, "-m", "kiosk.cli", "ask", "Where do I pick up my badge?", "--config",
                            str(root / "current" / "kiosk.toml"), "--no-speech", "--json"],
                           capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)  # the next visitor is answered from the pack's own documents
    assert answer["grounded"] and [s["path"] for s in answer["sources"]][:1] == ["faq.md"], answer


def kill_when(proc: subprocess.Popen, ready: Callable[[], bool], timeout: float = 120) -> bool:
    """SIGKILLs `proc` the moment `ready()` holds; False if it ended first."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if ready():
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            return True
        time.sleep(0.001)
    proc.communicate(timeout=60)
    return False


def staged_bytes(root: Path) -> int:
    return sum(p.stat().st_size for s in root.glob(".staging-*") for p in s.rglob("*") if p.is_file())


@pytest.mark.parametrize("when", ["staging", "half-unpacked"])
def test_sigkill_during_an_install_keeps_the_installed_pack(built: dict[str, Path], tmp_path: Path, when: str) -> None:
    root = tmp_path / "packs"
    v1 = installed(built, "1", root)
    before = files(v1)
    ready = {"staging": lambda: bool(list(root.glob(".staging-*"))),
             "half-unpacked": lambda: staged_bytes(root) > (BIG_MB << 20) // 4}[when]
    assert kill_when(install(built, "2", root), ready), "the install ended before it could be killed"
    assert_still_current(root, v1, before)

    started = time.monotonic()
    rc, out, err = completed(install(built, "2", root))  # the next install completes and cleans up
    took = time.monotonic() - started
    assert rc == 0, err
    v2 = Path(json.loads(out)["release"])
    assert (root / "current").resolve() == v2 and whole(v2)
    assert leftovers(root) == [], "the killed install's leftovers are still there"
    assert files(v1) == before  # the previous release is kept for a rollback
    assert v2.stat().st_mode & 0o777 == 0o777 & ~umask(), "not made like any folder: mkdtemp's 0700 locks others out"
    record(f"pack install SIGKILLed ({when})", "next install completes", took)


def umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_sigkill_while_a_broken_pack_is_checked_never_makes_it_current(built: dict[str, Path], tmp_path: Path) -> None:
    """The moment `current` would point at a pack that has not passed its health check, the installer is
    killed: a kiosk restarting now would run a pack that cannot start (here: its LLM is missing)."""
    root = tmp_path / "packs"
    v1 = installed(built, "1", root)
    before = files(v1)
    proc = install(built, "3", root)
    killed = kill_when(proc, lambda: (root / "current").resolve() != v1)
    assert_still_current(root, v1, before)
    if not killed:  # the check failed before anything was switched: rolled back, one report
        assert proc.returncode == 1


def test_a_full_disk_during_an_install_fails_cleanly_and_keeps_the_installed_pack(built: dict[str, Path],
                                                                                 tmp_path: Path) -> None:
    root = tmp_path / "packs"
    v1 = installed(built, "1", root)
    before = files(v1)
    started = time.monotonic()
    rc, out, err = completed(install(built, "2", root, limit_bytes=16 << 20))
    record("disk full during pack install", "failed install exits", time.monotonic() - started)
    assert rc == 2 and out == "", (rc, out, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err  # one clear line
    assert "disk" in err and "unchanged" in err, err  # says why, and that nothing was lost
    assert_still_current(root, v1, before)
    assert leftovers(root) == [] and sorted((root / "releases").iterdir()) == [v1]

    started = time.monotonic()
    v2 = installed(built, "2", root)  # room again: the same pack installs
    record("disk full during pack install", "install once there is room", time.monotonic() - started)
    assert (root / "current").resolve() == v2 and whole(v2)
