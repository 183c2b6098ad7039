"""`kiosk voice record`: the take checks, the recorder and the dataset it writes, fed real speech (espeak-ng,
and the embedded Piper voice) instead of a microphone, with a scripted person deciding about bad takes."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import threading
import time
import wave
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from kiosk.cli.main import main
from kiosk.cli.voice_record import TerminalUI
from kiosk.speech.recording import (
    ArraySource,
    Prompt,
    PromptError,
    TakeReport,
    check_take,
    load_prompts,
    record_dataset,
    record_take,
)

RATE = 22050
LONG = "The canteen on the ground floor opens at half past eleven, and lunch is served until two."


def espeak(text: str, tmp_path: Path, speed: int = 160) -> np.ndarray:
    """`text` spoken by espeak-ng at 22050 Hz (its native rate), trimmed to the speech."""
    if not shutil.which("espeak-ng"):
        pytest.fail("espeak-ng is needed to synthesize test speech: run tools/dev setup")
    path = tmp_path / f"espeak-{abs(hash((text, speed)))}.wav"
    subprocess.run(["espeak-ng", "-s", str(speed), "-w", str(path), text], check=True)
    with wave.open(str(path), "rb") as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > 300)
    return pcm[loud[0]:loud[-1] + 1].copy()


def noise(samples: int, db: float, seed: int = 1) -> np.ndarray:
    """White noise at `db` dBFS RMS: a room's hiss and hum."""
    return np.random.default_rng(seed).normal(0, 32768 * 10 ** (db / 20), samples)


def take(speech: np.ndarray, room_db: float = -68.0, lead_s: float = 0.4, tail_s: float = 0.4,
         gain: float = 1.0, seed: int = 1) -> np.ndarray:
    """A take as a microphone would give it: room noise around the speech, optionally amplified (clipping)."""
    body = np.concatenate([np.zeros(int(lead_s * RATE)), speech.astype(np.float64), np.zeros(int(tail_s * RATE))])
    mixed = body * gain + noise(len(body), room_db, seed)
    return np.clip(np.rint(mixed), -32768, 32767).astype(np.int16)


def kinds(report: TakeReport) -> list[str]:
    return [p.split(":")[0] for p in report.problems]


# ----------------------------------------------------------------------------- take checks


def test_good_takes_pass_and_are_measured(tmp_path) -> None:  # noqa: ANN001
    for text in load_prompts()[:4]:
        speech = espeak(text.text, tmp_path)
        report = check_take(take(speech), RATE, text.text)
        assert report.ok, (text, report)
        assert report.noise_db == pytest.approx(-68, abs=4)
        assert report.snr_db > 30 and report.clipped == 0
        assert report.speech_s == pytest.approx(len(speech) / RATE, abs=0.15)


def test_a_clipped_take_is_caught(tmp_path) -> None:  # noqa: ANN001
    speech = espeak(LONG, tmp_path)
    report = check_take(take(speech, room_db=-80, gain=8.0), RATE, LONG)
    assert kinds(report) == ["clipped"], report.problems
    assert report.clipped > 100 and report.peak_db > -0.1
    assert "lower the microphone gain" in report.problems[0]
    one_peak = take(speech, gain=32767 / np.abs(speech.astype(np.int32)).max())  # normalized, like Piper's output
    assert check_take(one_peak, RATE, LONG).ok


def test_a_noisy_take_is_caught(tmp_path) -> None:  # noqa: ANN001
    speech = espeak(LONG, tmp_path)
    report = check_take(take(speech, room_db=-36), RATE, LONG)
    assert kinds(report) == ["noisy"], report.problems
    assert report.noise_db == pytest.approx(-36, abs=4) and "fans" in report.problems[0]


def test_a_too_short_take_is_caught(tmp_path) -> None:  # noqa: ANN001
    report = check_take(take(espeak("The canteen on the", tmp_path)), RATE, LONG)
    assert kinds(report) == ["too short"], report.problems
    assert "read the whole sentence" in report.problems[0]


def test_too_long_silent_and_quiet_takes(tmp_path) -> None:  # noqa: ANN001
    rambling = espeak(f"Thank you. Um, sorry. {LONG} {LONG}", tmp_path)
    assert kinds(check_take(take(rambling), RATE, "Thank you.")) == ["too long"]
    silent = check_take(np.zeros(RATE * 2, np.int16), RATE, LONG)
    assert silent.problems[0].startswith("no speech heard")
    quiet = check_take(take(espeak(LONG, tmp_path), room_db=-110, gain=0.01), RATE, LONG)
    assert kinds(quiet) == ["too quiet"], quiet.problems


# ----------------------------------------------------------------------------- the recorder


def test_record_take_ends_at_the_silence_after_speech(tmp_path) -> None:  # noqa: ANN001
    one, two = espeak("Welcome to the building.", tmp_path), espeak("Please sign in at the front desk.", tmp_path)
    stream = np.concatenate([take(one, lead_s=0.8, tail_s=1.6, seed=2), take(two, lead_s=0.1, tail_s=1.6, seed=3)])
    source = ArraySource(stream, RATE)
    first = record_take(source)
    second = record_take(source)
    for got, speech in ((first, one), (second, two)):
        assert got is not None
        extra = len(got) / RATE - len(speech) / RATE
        assert 0.3 <= extra <= 0.7, extra  # the speech with about 0.3 s kept before and after it
        assert np.abs(got.astype(np.int32)).max() == pytest.approx(np.abs(speech.astype(np.int32)).max(), rel=0.05)
    assert record_take(source) is None  # the stream ended with nothing more said


def test_enter_ends_a_take_and_no_speech_gives_an_empty_take(tmp_path) -> None:  # noqa: ANN001
    speech = espeak(LONG, tmp_path)
    polls = iter(range(10_000))
    stopped = record_take(ArraySource(take(speech, lead_s=0.2), RATE), stop=lambda: next(polls) >= 40)
    assert stopped is not None and len(stopped) / RATE < 0.05 * 41 + 0.1  # 40 blocks of 50 ms, then Enter
    quiet = record_take(ArraySource(noise(16 * RATE, -70).astype(np.int16), RATE))
    assert quiet is not None and check_take(quiet, RATE, LONG).problems[0].startswith("no speech heard")


class ScriptedPerson:
    """The RecorderUI of a person who answers bad takes from a script and never presses Enter mid-take."""

    def __init__(self, answers: list[str]) -> None:
        self.answers, self.asked, self.shown = list(answers), [], []

    def show(self, number: int, total: int, prompt: Prompt) -> None:
        self.shown.append((number, total, prompt.id))

    def status(self, text: str) -> None:
        pass

    def stop_requested(self) -> bool:
        return False

    def decide(self, prompt: Prompt, report: TakeReport) -> str:
        self.asked.append((prompt.id, kinds(report)))
        return self.answers.pop(0)


@pytest.fixture(scope="module")
def piper():  # noqa: ANN201
    from kiosk.config import Settings
    from kiosk.runtime import build_speaker

    return build_speaker(Settings())


def piper_take(piper, text: str, **kw) -> np.ndarray:  # noqa: ANN001, ANN003
    """A take read by the Piper voice, followed by the pause a reader leaves before the next prompt."""
    clip = piper.speak_joined(text)
    assert clip.sample_rate == RATE
    return take(np.frombuffer(clip.pcm, dtype=np.int16), **{"tail_s": 1.5, **kw})


def wav_info(path: Path) -> tuple[int, int, int, float]:
    with wave.open(str(path), "rb") as w:
        return w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes() / w.getframerate()


@pytest.mark.slow
def test_a_recording_session_writes_the_dataset_piper_training_reads(piper, tmp_path) -> None:  # noqa: ANN001
    prompts = load_prompts()[:6]
    p = {i + 1: pr.text for i, pr in enumerate(prompts)}
    stream = np.concatenate([
        piper_take(piper, p[1], seed=1),
        piper_take(piper, p[2], gain=6.0, room_db=-90, seed=2),  # clipped -> read it again
        piper_take(piper, p[2], seed=3),
        piper_take(piper, p[3].split()[0] + ".", seed=4),  # too short -> again
        piper_take(piper, p[3], seed=5),
        piper_take(piper, p[4], gain=6.0, room_db=-90, seed=6),  # clipped -> skipped
        piper_take(piper, p[5].split()[0] + ".", seed=7),  # too short -> stop for now
    ])
    person = ScriptedPerson(["retake", "retake", "skip", "quit"])
    out = tmp_path / "dataset"
    result = record_dataset(out, prompts, ArraySource(stream, RATE), person)
    assert person.asked == [("kiosk0002", ["clipped"]), ("kiosk0003", ["too short"]), ("kiosk0004", ["clipped"]),
                            ("kiosk0005", ["too short"])]
    assert (result.recorded, result.skipped, result.retakes, result.quit) == (
        ["kiosk0001", "kiosk0002", "kiosk0003"], ["kiosk0004"], 2, True)
    assert (out / "metadata.csv").read_text(encoding="utf-8").splitlines() == [f"kiosk000{i}|{p[i]}" for i in (1, 2, 3)]

    # Next day, with the ventilation on: the same command goes on with the sentences not yet recorded, and a
    # noisy take is kept anyway.
    later = ScriptedPerson(["keep"])
    noisy = np.concatenate([noise(RATE, -34, 8).astype(np.int16), piper_take(piper, p[4], room_db=-34, seed=9)])
    again = record_dataset(out, prompts, ArraySource(noisy, RATE), later, count=1)
    assert later.shown == [(1, 1, "kiosk0004")] and later.asked == [("kiosk0004", ["noisy"])]
    assert (again.recorded, again.kept_with_problems, again.total) == (["kiosk0004"], ["kiosk0004"], 4)

    lines = (out / "metadata.csv").read_text(encoding="utf-8").splitlines()
    assert lines == [f"kiosk000{i}|{p[i]}" for i in range(1, 5)]
    for i in range(1, 5):
        channels, width, rate, seconds = wav_info(out / "wavs" / f"kiosk000{i}.wav")
        assert (channels, width, rate) == (1, 2, RATE) and 1.0 < seconds < 12
    summary = json.loads((out / "dataset.json").read_text(encoding="utf-8"))
    assert (summary["format"], summary["sample_rate"], summary["utterances"]) == ("ljspeech", RATE, 4)
    assert summary["takes"]["kiosk0004"]["problems"][0].startswith("noisy")
    assert summary["total_s"] == pytest.approx(sum(wav_info(out / "wavs" / f"kiosk000{i}.wav")[3]
                                                   for i in range(1, 5)), abs=0.2)
    assert "4 takes" in (out / "README.txt").read_text(encoding="utf-8")
    with pytest.raises(PromptError, match="one voice needs one rate"):
        record_dataset(out, prompts, ArraySource(np.zeros(10, np.int16), 16000), later)


# ----------------------------------------------------------------------------- prompts


def test_the_default_prompts_are_many_and_phonetically_varied() -> None:
    from piper.phonemize_espeak import ESPEAK_DATA_DIR, EspeakPhonemizer

    prompts = load_prompts()
    texts = [p.text for p in prompts]
    assert len(set(t.lower() for t in texts)) == len(texts) >= 200
    assert all("|" not in t and '"' not in t for t in texts)
    words = [len(t.split()) for t in texts]
    assert min(words) >= 2 and max(words) <= 30 and sum(t.endswith("?") for t in texts) >= 10
    assert sum(t.endswith("!") for t in texts) >= 5
    phonemizer = EspeakPhonemizer(ESPEAK_DATA_DIR)
    counts = Counter(ph for t in texts for sentence in phonemizer.phonemize("en-us", t) for ph in sentence)
    # Every sound of American English, each many times (the rarest, the vowel of "nurse" and the "th" of
    # "thin", still dozens).
    english = "p b t d k ɡ m n ŋ f v θ ð s z ʃ ʒ h ɹ l j w i ɪ e ɛ æ ɑ ɔ o ʊ u ʌ ə ɚ ɜ a ɐ ᵻ ɾ"
    rare = {ph: counts[ph] for ph in english.split() if counts[ph] < 40}
    assert not rare, rare


def test_custom_prompt_files(tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "prompts.txt"
    path.write_text('# mine\n\nHello there.\nintro_1|Welcome to "Halvorsen"  Robotics.\n', encoding="utf-8")
    assert load_prompts(path) == [Prompt("kiosk0001", "Hello there."),
                                  Prompt("intro_1", "Welcome to Halvorsen Robotics.")]
    for body, line in (("a|one\na|two\n", 2), ("x|a|b\n", 1), ("# only comments\n", None)):
        path.write_text(body, encoding="utf-8")
        with pytest.raises(PromptError, match=f"prompts.txt:{line}:" if line else "no prompts"):
            load_prompts(path)


# ----------------------------------------------------------------------------- the terminal and the CLI


def test_terminal_answers_and_enter() -> None:
    read, write = os.pipe()
    with os.fdopen(read, "r") as inp, os.fdopen(write, "w") as keys:
        out = io.StringIO()
        ui = TerminalUI(out=out, inp=inp, window=False)
        report = TakeReport(1.0, 0.5, 3.0, -1.0, 0, -60.0, -20.0, 40.0, ("too short: read it all",))
        keys.write("\nk\nx\ns\n")
        keys.flush()
        assert [ui.decide(Prompt("a", "A b c."), report) for _ in range(3)] == ["retake", "keep", "skip"]
        assert "too short: read it all" in out.getvalue() and "type r, k, s or q" in out.getvalue()
        ui.show(1, 2, Prompt("a", "A b c."))
        assert not ui.stop_requested()
        keys.write("\n")
        keys.flush()
        deadline = time.monotonic() + 5
        while not ui.stop_requested():
            assert time.monotonic() < deadline
            time.sleep(0.01)
    ui.close()


def test_record_without_a_microphone_says_so(tmp_path, monkeypatch, capsys) -> None:  # noqa: ANN001
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # no sound server of this machine is asked
    monkeypatch.delenv("PULSE_SERVER", raising=False)
    assert main(["voice", "record", str(tmp_path / "ds"), "--device", "999", "--no-window"]) == 1
    assert "cannot open the microphone" in capsys.readouterr().err
    assert not (tmp_path / "ds").exists()


@pytest.mark.audio
@pytest.mark.slow
def test_record_from_a_microphone(pulse, tmp_path, monkeypatch, capsys) -> None:  # noqa: ANN001
    """The whole command on the private PulseAudio's virtual microphone: a person (espeak-ng) reads the
    prompt shown, the take ends at the silence after it and lands in the dataset."""
    prompts = tmp_path / "prompts.txt"
    text = "Please keep your badge visible at all times while you are here."
    prompts.write_text(text + "\n", encoding="utf-8")
    wav = tmp_path / "reader.wav"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(wav), text], check=True)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    reader = threading.Timer(3.0, lambda: subprocess.run(["paplay", "--device=mic_feed", str(wav)], env=pulse))
    reader.start()
    try:
        code = main(["voice", "record", str(tmp_path / "ds"), "--prompts", str(prompts), "--no-window"])
    finally:
        reader.join()
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "ds" / "metadata.csv").read_text(encoding="utf-8") == f"kiosk0001|{text}\n"
    channels, width, rate, seconds = wav_info(tmp_path / "ds" / "wavs" / "kiosk0001.wav")
    assert (channels, width, rate) == (1, 2, RATE) and 2.0 < seconds < 8.0
