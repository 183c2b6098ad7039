"""What the listener got, heard again (kiosk.listen.flight): the replay applies every control call between the
same two samples as live, and, through the real engines on PulseAudio, a recording made by a running
`kiosk listen` gives exactly the transcripts it printed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from speech_corpus import Line, add_noise, render, write_wav
from test_live_matches_file import index_and_config, live_transcripts

from kiosk.listen.flight import FlightRecorder, read_controls, replay

ROOT = Path(__file__).resolve().parents[1]


class Calls:
    """A listener that notes where each call landed (the sample count it had received)."""

    def __init__(self) -> None:
        self.now = 0
        self.calls: list[tuple[int, str]] = []

    def feed(self, pcm: bytes) -> list:
        self.now += len(pcm) // 2
        return []

    def flush(self) -> list:
        self.calls.append((self.now, "flush"))
        return []

    def wake(self, source: str, at: int) -> list:
        self.calls.append((self.now, f"wake {source} {at}"))
        return []

    def speaking_started(self, at: int) -> None:
        self.calls.append((self.now, f"speaking_started {at}"))

    def speaking_finished(self, at: int, window: str) -> None:
        self.calls.append((self.now, f"speaking_finished {at} {window}"))

    def saying(self, text: str) -> None:
        self.calls.append((self.now, f"saying {text}"))

    def expect(self, context: str) -> None:
        self.calls.append((self.now, f"expect {context}"))


def test_a_replay_applies_each_control_where_it_was_applied_live(tmp_path: Path) -> None:
    recorder = FlightRecorder(tmp_path)
    recorder.audio(b"\0\0" * 1000)
    recorder.control(1000, "wake", ["tap", 990])
    recorder.audio(b"\0\0" * 2345)
    recorder.control(3345, "speaking_started", [3300])
    recorder.control(3345, "saying", ["Hello."])
    recorder.control(3345, "speaking_finished", [3340, "follow_up"])
    recorder.close()
    controls = read_controls(recorder.controls_path)
    listener = Calls()
    replay(listener, b"\0\0" * 3345, controls, chunk_samples=1600)  # type: ignore[arg-type]
    assert listener.calls == [(1000, "wake tap 990"), (3345, "speaking_started 3300"), (3345, "saying Hello."),
                              (3345, "speaking_finished 3340 follow_up"), (3345, "flush")]
    assert recorder.wav_path.stat().st_size == 44 + 2 * 3345


def test_a_broken_controls_file_names_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "rec.jsonl"
    bad.write_text('{"at": 0, "kind": "wake", "args": ["tap", 0]}\n{"at": 5, "kind": "shout", "args": []}\n')
    with pytest.raises(ValueError, match=r"rec.jsonl:2: not a listener control: 'shout'"):
        read_controls(bad)
    wav = write_wav(tmp_path / "rec.wav", render([Line("hello", "en-us")])[0])
    proc = subprocess.run([sys.executable, "-m", "kiosk.cli", "listen", "--input", str(wav), "--controls", str(bad)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "rec.jsonl:2" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
@pytest.mark.audio
def test_a_recording_replayed_gives_the_live_transcripts_exactly(pulse: dict[str, str], tmp_path: Path) -> None:
    """Three visitors with the wake phrase (one breath; after a pause; a voice Whisper finds hard in hall
    noise) into a running `kiosk listen` with listen.record_dir set; its recording and control calls replayed
    through `kiosk listen --input --controls`: the same transcripts, character for character."""
    config = index_and_config(tmp_path)
    record = tmp_path / "flight"
    config.write_text(config.read_text() + f'\n[listen]\nrecord_dir = "{record}"\n')
    wavs = []
    for i, lines in enumerate([
        [Line("Hey coach, where is the IT help desk?", "piper", pause_before_s=0.5)],
        [Line("Hey coach.", "en-gb", pause_before_s=0.5),
         Line("When is the canteen open?", "en-gb", pause_before_s=0.8)],
        [Line("Hey coach, how fast may a forklift drive in the plant?", "en-us+f3", pause_before_s=0.5)],
    ]):
        pcm, _ = render(lines, tail_s=1.0)
        if i == 2:
            pcm = add_noise(np.asarray(pcm), 12.0, seed=3)
        wavs.append(write_wav(tmp_path / f"v{i}.wav", pcm))
    live = live_transcripts(pulse, tmp_path, config, wavs)
    recordings = sorted(record.glob("listen-*.wav"))
    assert len(recordings) == 1, list(record.iterdir())
    proc = subprocess.run([sys.executable, "-m", "kiosk.cli", "listen", "--input", str(recordings[0]), "--controls",
                           str(recordings[0].with_suffix(".jsonl")), "--json", "--config", str(config)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    again = [json.loads(row) for row in proc.stdout.splitlines()]
    assert [e["text"] for e in again if e["event"] == "transcript"] == [e["text"] for e in live]


def test_a_folder_it_cannot_write_costs_no_microphone(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from kiosk.listen.flight import open_recorder

    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    assert open_recorder("") is None
    assert open_recorder(str(blocked / "flight")) is None
    assert "listen.record_dir" in caplog.text and "listening without recording" in caplog.text
