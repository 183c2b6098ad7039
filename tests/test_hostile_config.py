"""Issue 13, config and diagnosis: hostile or careless configuration gets one clear message, never a traceback.
Each input is generated here; each test failed before its fix (deep nesting raised RecursionError, a bad
manifest or a models.dir that is a file crashed `kiosk doctor`, a link loop was "not found")."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.avatar.pack import AvatarError, load_pack
from kiosk.checks import Check, collect
from kiosk.config import ConfigError, load_settings
from kiosk.models.manifest import ManifestError, load_manifest

DEEP = "x = " + "[" * 20_000 + "]" * 20_000 + "\n"
DEEP_INLINE = "x = " + "{a = " * 5_000 + "1" + "}" * 5_000 + "\n"


def kiosk(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command, in its own process (as an operator runs it)."""
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True, text=True, timeout=120)


def no_traceback(text: str) -> None:
    assert "Traceback" not in text, text


@pytest.mark.parametrize("deep", [DEEP, DEEP_INLINE], ids=["arrays", "inline-tables"])
def test_deeply_nested_toml_is_a_syntax_error_everywhere_toml_is_read(tmp_path: Path, deep: str) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text("[persona]\n" + deep)
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_settings(str(config))
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(deep)
    with pytest.raises(ManifestError, match="nested too deeply"):
        load_manifest(manifest)
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "avatar.toml").write_text(deep)
    with pytest.raises(AvatarError, match="nested too deeply"):
        load_pack(pack)


@pytest.mark.slow  # the real command, twice
def test_deeply_nested_config_through_the_commands(tmp_path: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text("[persona]\n" + DEEP)
    ask, doctor = kiosk("ask", "where is HR?", "--config", str(config)), kiosk("doctor", "--config", str(config))
    assert (ask.returncode, doctor.returncode) == (2, 1)
    assert "nested too deeply" in ask.stderr and "nested too deeply" in doctor.stdout
    no_traceback(ask.stderr + doctor.stdout + doctor.stderr)


def test_a_config_that_is_a_link_loop_a_broken_link_or_a_fifo_says_so(tmp_path: Path) -> None:
    loop_a, loop_b = tmp_path / "a.toml", tmp_path / "b.toml"
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    with pytest.raises(ConfigError, match="symbolic link loop"):
        load_settings(str(loop_a))
    dangling = tmp_path / "dangling.toml"
    dangling.symlink_to(tmp_path / "gone.toml")
    with pytest.raises(ConfigError, match="broken symbolic link to .*gone.toml"):
        load_settings(str(dangling))
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a file"):  # and never opened: reading a FIFO would block
        load_settings(str(fifo))


def failed(checks: list[Check]) -> dict[str, str]:
    return {c.name: c.detail for c in checks if c.status == "fail"}


@pytest.mark.slow  # the real `kiosk ask`
@pytest.mark.parametrize("manifest", ["not toml = [", None, "folder"], ids=["not-toml", "missing", "a-folder"])
def test_doctor_diagnoses_a_broken_model_manifest(tmp_path: Path, manifest: str | None) -> None:
    path = tmp_path / "manifest.toml"
    if manifest == "folder":
        path.mkdir()
    elif manifest is not None:
        path.write_text(manifest)
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[models]\nmanifest = "{path}"\n')
    problems = failed(collect(str(config)))
    assert str(path) in problems["model manifest"] and str(path) in problems["speech recognition"]
    ask = kiosk("ask", "where is HR?", "--config", str(config))
    assert ask.returncode == 3 and str(path) in ask.stderr
    no_traceback(ask.stderr)


def test_doctor_diagnoses_a_models_dir_that_is_a_file(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.write_text("")
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[models]\ndir = "{models}"\n')
    problems = failed(collect(str(config)))
    assert "is a file, not a folder" in problems["models folder"]


def test_a_check_that_breaks_is_a_finding_and_the_others_still_run(monkeypatch: pytest.MonkeyPatch) -> None:
    import kiosk.checks as checks

    def broken(*_: object) -> list[Check]:
        raise PermissionError(13, "Permission denied", "/dev/nvhost-gpu")

    monkeypatch.setattr(checks, "check_gpu", broken)
    results = collect(None)
    assert "PermissionError" in failed(results)["gpu"] and any(c.name == "config" for c in results)
