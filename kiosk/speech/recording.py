"""Recording a voice dataset for Piper training (`kiosk voice record`).

A person reads prompt sentences at the kiosk's microphone; each take ends at the silence after the speech
(or on Enter), is checked, and a bad one is offered for a retake, because a voice trained on clipped,
noisy or half-read sentences keeps those faults forever. Good takes are written in the LJSpeech layout
both Piper trainers read (rhasspy/piper's `piper_train.preprocess --dataset-format ljspeech` and
piper1-gpl's `piper.train fit --data.csv_path ... --data.audio_dir .../wavs`):

    DIR/wavs/<id>.wav    mono 16-bit at the voice's sample rate (22050 Hz: medium quality)
    DIR/metadata.csv     one `id|text` line per take, no header
    DIR/dataset.json     what was recorded, each take's measurements; DIR/README.txt says what comes next

The take checks are pure functions of the samples; the recorder reads any AudioBlocks source (the
microphone, or recorded audio in the tests), so all of it runs without a sound card.
"""

from __future__ import annotations

import json
import logging
import time
import wave
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_RATE = 22050  # Piper "medium" voices; the checkpoints worth fine-tuning from are medium
FRAME_S = 0.02
CLIP_LEVEL = 32604  # within 0.5 % of full scale: an A/D converter at its limit
FLOOR_DB = -100.0  # level reported for digital silence
PROMPTS_FILE = Path(__file__).with_name("prompts_en.txt")
SUMMARY, README, METADATA = "dataset.json", "README.txt", "metadata.csv"


# ----------------------------------------------------------------------------- take checks


@dataclass(frozen=True)
class TakeLimits:
    clip_fraction: float = 0.0005  # of all samples at full scale, or...
    clip_min: int = 8  # ...at least this many: one peak touching full scale is not clipping
    max_noise_db: float = -50.0  # the quietest part of a take (room noise, hum), dBFS
    min_snr_db: float = 30.0  # speech above that noise
    min_speech_db: float = -35.0  # speech quieter than this is hiss once trained
    chars_per_s: float = 14.0  # a calm reading pace (about 150 words a minute)
    min_ratio: float = 0.45  # speech shorter than this share of the expected time: words left out
    max_ratio: float = 2.5  # longer: restarts, long pauses, extra words
    min_speech_s: float = 0.4
    max_take_s: float = 20.0  # Piper trains on windows of a sentence; very long takes are dropped or hurt


@dataclass(frozen=True)
class TakeReport:
    duration_s: float
    speech_s: float
    expected_s: float
    peak_db: float
    clipped: int
    noise_db: float
    speech_db: float
    snr_db: float
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 2) if isinstance(v, float) else list(v) if isinstance(v, tuple) else v)
                for k, v in asdict(self).items()}


def _db(x: float) -> float:
    return max(FLOOR_DB, 20 * float(np.log10(max(x, 1e-12) / 32768.0)))


def frame_levels_db(pcm: np.ndarray, rate: int, frame_s: float = FRAME_S) -> np.ndarray:
    """RMS level of each `frame_s` frame, dBFS (FLOOR_DB for digital silence)."""
    n = max(1, int(rate * frame_s))
    x = pcm.astype(np.float64)[: len(pcm) // n * n].reshape(-1, n)
    if not x.size:
        return np.zeros(0)
    rms = np.sqrt(np.mean(x * x, axis=1))
    return np.maximum(FLOOR_DB, 20 * np.log10(np.maximum(rms, 1e-12) / 32768.0))


def expected_seconds(text: str, chars_per_s: float = TakeLimits.chars_per_s) -> float:
    return len(" ".join(text.split())) / chars_per_s


def speech_bounds(levels: np.ndarray, noise_db: float, speech_db: float) -> tuple[int, int]:
    """First and one-past-last frame of speech: louder than both the noise by 12 dB and the speech less 30 dB."""
    threshold = max(noise_db + 12.0, speech_db - 30.0)
    loud = np.flatnonzero(levels > threshold)
    return (int(loud[0]), int(loud[-1]) + 1) if loud.size else (0, 0)


def check_take(pcm: np.ndarray, rate: int, text: str, limits: TakeLimits = TakeLimits()) -> TakeReport:
    """Clipping, noise floor, level and length of one take of `text`; each problem says what to do."""
    pcm = np.asarray(pcm, dtype=np.int16)
    duration = len(pcm) / rate
    expected = expected_seconds(text, limits.chars_per_s)
    levels = frame_levels_db(pcm, rate)
    if not levels.size or levels.max() <= FLOOR_DB:
        return TakeReport(round(duration, 3), 0.0, round(expected, 2), FLOOR_DB, 0, FLOOR_DB, FLOOR_DB, 0.0,
                          ("no speech heard: check the microphone (kiosk devices, --device) and read the sentence",))
    noise = float(np.percentile(levels, 10))  # the quietest part: pauses and the silence around the speech
    speech = float(np.percentile(levels, 90))
    if speech - noise < 6.0:  # the loud part is no louder than the quiet part: only the room was recorded
        return TakeReport(round(duration, 3), 0.0, round(expected, 2), _db(float(np.abs(pcm.astype(np.int32)).max())),
                          0, round(noise, 1), round(speech, 1), round(speech - noise, 1),
                          (f"no speech heard above the room's noise ({noise:.0f} dBFS): check the microphone "
                           "(kiosk devices, --device) and read the sentence",))
    start, end = speech_bounds(levels, noise, speech)
    speech_s = (end - start) * FRAME_S
    peak = int(np.abs(pcm.astype(np.int32)).max())
    clipped = int(np.count_nonzero(np.abs(pcm.astype(np.int32)) >= CLIP_LEVEL))
    problems = []
    if clipped >= max(limits.clip_min, limits.clip_fraction * len(pcm)):
        problems.append(f"clipped: {clipped} samples at full scale; lower the microphone gain or lean back a "
                        "little, then read it again")
    if noise > limits.max_noise_db or speech - noise < limits.min_snr_db:
        problems.append(f"noisy: the quiet parts are at {noise:.0f} dBFS, speech {speech - noise:.0f} dB above "
                        f"them (want below {limits.max_noise_db:.0f} dBFS and {limits.min_snr_db:.0f} dB); "
                        "switch off fans, close the door, move away from computers")
    if speech < limits.min_speech_db:
        problems.append(f"too quiet: speech at {speech:.0f} dBFS (want above {limits.min_speech_db:.0f}); "
                        "move closer to the microphone or raise its gain")
    if speech_s < max(limits.min_speech_s, limits.min_ratio * expected):
        problems.append(f"too short: {speech_s:.1f} s of speech for a sentence that takes about {expected:.1f} s "
                        "to read; read the whole sentence")
    elif speech_s > limits.max_ratio * expected + 1.0 or duration > limits.max_take_s:
        problems.append(f"too long: {speech_s:.1f} s of speech for a sentence that takes about {expected:.1f} s; "
                        "read just the sentence, without long pauses or restarts")
    return TakeReport(round(duration, 3), round(speech_s, 2), round(expected, 2), _db(peak), clipped,
                      round(noise, 1), round(speech, 1), round(speech - noise, 1), tuple(problems))


# ----------------------------------------------------------------------------- recording


class AudioBlocks(Protocol):
    """Mono int16 audio in blocks: the microphone, or a recording in the tests."""

    rate: int

    def read(self) -> bytes:
        """The next block (blocking); b"" when the stream has ended."""
        ...

    def close(self) -> None: ...


class ArraySource:
    """Recorded audio served in blocks, as if from a microphone (tests; replaying takes)."""

    def __init__(self, pcm: np.ndarray, rate: int, block_s: float = 0.05) -> None:
        self.rate, self._pcm = rate, np.asarray(pcm, dtype=np.int16)
        self._block, self._pos = max(1, int(rate * block_s)), 0

    def read(self) -> bytes:
        chunk = self._pcm[self._pos:self._pos + self._block]
        self._pos += len(chunk)
        return chunk.tobytes()

    def close(self) -> None:
        self._pos = len(self._pcm)


@dataclass(frozen=True)
class Endpoint:
    """When a take starts and ends."""

    start_above_noise_db: float = 15.0
    start_min_db: float = -45.0  # never start below this, however quiet the room
    end_silence_s: float = 1.0  # commas and breaths are shorter; a finished sentence is followed by more
    wait_s: float = 15.0  # no speech within this: the take ends empty
    max_s: float = 30.0
    preroll_s: float = 0.3  # kept before the first speech frame, so soft onsets are not cut
    tail_s: float = 0.3  # kept after the last speech frame


def record_take(source: AudioBlocks, stop: Callable[[], bool] | None = None, endpoint: Endpoint = Endpoint(),
                noise_db: float | None = None) -> np.ndarray | None:
    """One take: waits for speech, records until `end_silence_s` of silence after it (or `stop()`, e.g. Enter).
    Returns the speech with `preroll_s`/`tail_s` of the silence around it; None if the stream ended before
    anything was heard. `noise_db`: the room's level from earlier takes (else learnt from this one)."""
    rate = source.rate
    n = max(1, int(rate * FRAME_S))
    frames: list[np.ndarray] = []
    levels: list[float] = []
    pending = np.zeros(0, dtype=np.int16)
    floor = noise_db if noise_db is not None else 0.0
    first = last = -1  # speech frames
    ended = False
    while True:
        data = source.read()
        if not data:
            ended = True
            break
        pending = np.concatenate([pending, np.frombuffer(data, dtype=np.int16)])
        while len(pending) >= n:
            frame, pending = pending[:n], pending[n:]
            level = float(frame_levels_db(frame, rate, n / rate)[0])
            frames.append(frame)
            levels.append(level)
            if noise_db is None and first < 0:  # learn the room while waiting: the quietest frame so far
                floor = level if len(levels) == 1 else min(floor, level)
            start_db = max(floor + endpoint.start_above_noise_db, endpoint.start_min_db)
            if level > start_db:
                first = len(frames) - 1 if first < 0 else first
                last = len(frames) - 1
        i = len(frames)
        if first < 0 and i * FRAME_S >= endpoint.wait_s:
            break
        quiet_s, spoken_s = (i - 1 - last) * FRAME_S, (i - first) * FRAME_S
        if first >= 0 and (quiet_s >= endpoint.end_silence_s or spoken_s >= endpoint.max_s):
            break
        if stop is not None and stop():
            break
    if first < 0:  # nothing heard: the end of the stream, or a take for check_take to call empty
        return None if ended else np.concatenate(frames) if frames else np.zeros(0, np.int16)
    lo = max(0, first - int(endpoint.preroll_s / FRAME_S))
    hi = min(len(frames), last + 1 + int(endpoint.tail_s / FRAME_S))
    return np.concatenate(frames[lo:hi])


# ----------------------------------------------------------------------------- the session


@dataclass(frozen=True)
class Prompt:
    id: str
    text: str


class PromptError(ValueError):
    pass


def clean_text(text: str) -> str:
    """One line of metadata.csv: Piper's readers split on "|" and treat '"' as CSV quoting."""
    return " ".join(text.replace('"', "").split())


def load_prompts(path: Path | None = None) -> list[Prompt]:
    """Lines of text (blank lines and "#" comments skipped), or `id|text` lines to choose the ids."""
    path = path or PROMPTS_FILE
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise PromptError(f"{path}: cannot read the prompts: {error}") from None
    prompts: list[Prompt] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        pid, sep, text = line.partition("|")
        if not sep:
            pid, text = f"kiosk{len(prompts) + 1:04d}", line
        pid, text = pid.strip(), clean_text(text)
        if "|" in text or not text or not pid.replace("_", "").replace("-", "").isalnum() or pid in seen:
            raise PromptError(f"{path}:{number}: expected a sentence, or id|sentence with a new id of letters, digits, "
                              "'_' and '-'")
        seen.add(pid)
        prompts.append(Prompt(pid, text))
    if not prompts:
        raise PromptError(f"{path}: no prompts in the file")
    return prompts


class RecorderUI(Protocol):
    def show(self, number: int, total: int, prompt: Prompt) -> None: ...

    def status(self, text: str) -> None: ...

    def stop_requested(self) -> bool:
        """Polled while recording: True ends the take now (Enter)."""
        ...

    def decide(self, prompt: Prompt, report: TakeReport) -> str:
        """For a take with problems: "retake", "keep", "skip" or "quit"."""
        ...


@dataclass
class SessionResult:
    out: Path
    recorded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    kept_with_problems: list[str] = field(default_factory=list)
    retakes: int = 0
    quit: bool = False
    total: int = 0  # takes in the dataset now, earlier sessions included
    total_s: float = 0.0


def done_ids(out: Path) -> list[str]:
    path = out / METADATA
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    return [line.split("|", 1)[0] for line in lines if "|" in line]


def record_dataset(out: Path, prompts: list[Prompt], source: AudioBlocks, ui: RecorderUI, count: int | None = None,
                   limits: TakeLimits = TakeLimits(), endpoint: Endpoint = Endpoint()) -> SessionResult:
    """Records the prompts not yet in `out` (at most `count`), asking for a retake of each bad take.
    Every kept take is on disk at once, so Ctrl-C or a crash loses at most the take being read."""
    out = Path(out)
    summary = _read_summary(out)
    if summary.get("sample_rate", source.rate) != source.rate:
        raise PromptError(f"{out}: recorded at {summary['sample_rate']} Hz; this session records at {source.rate} "
                          "Hz, and one voice needs one rate (use another folder, or --rate "
                          f"{summary['sample_rate']})")
    (out / "wavs").mkdir(parents=True, exist_ok=True)
    done = set(done_ids(out))
    todo = [p for p in prompts if p.id not in done][:count]
    result = SessionResult(out)
    noise: float | None = None
    for number, prompt in enumerate(todo, 1):
        while True:
            ui.show(number, len(todo), prompt)
            pcm = record_take(source, ui.stop_requested, endpoint, noise)
            if pcm is None:
                result.quit = True  # the stream ended (a file source, a lost microphone)
                break
            report = check_take(pcm, source.rate, prompt.text, limits)
            if report.noise_db > FLOOR_DB:
                noise = report.noise_db if noise is None else min(noise, report.noise_db)
            choice = "keep" if report.ok else ui.decide(prompt, report)
            if choice == "retake":
                result.retakes += 1
                continue
            if choice == "keep":
                _save(out, prompt, pcm, source.rate, report, summary)
                result.recorded.append(prompt.id)
                if not report.ok:
                    result.kept_with_problems.append(prompt.id)
                ui.status(f"saved {prompt.id} ({report.speech_s:.1f} s of speech)")
            elif choice == "skip":
                result.skipped.append(prompt.id)
            else:
                result.quit = True
            break
        if result.quit:
            break
    result.total = len(done_ids(out))
    result.total_s = round(sum(t.get("duration_s", 0.0) for t in summary.get("takes", {}).values()), 1)
    write_summary(out, summary, source.rate)
    return result


def _read_summary(out: Path) -> dict[str, Any]:
    try:
        data = json.loads((out / SUMMARY).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_take(path: Path, pcm: np.ndarray, rate: int) -> None:
    """Mono 16-bit PCM WAV, what both Piper trainers load (here, not kiosk.audio: speech sits below audio)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype("<i2").tobytes())


def _save(out: Path, prompt: Prompt, pcm: np.ndarray, rate: int, report: TakeReport, summary: dict[str, Any]) -> None:
    write_take(out / "wavs" / f"{prompt.id}.wav", pcm, rate)
    with open(out / METADATA, "a", encoding="utf-8", newline="\n") as fh:
        fh.write(f"{prompt.id}|{clean_text(prompt.text)}\n")
    summary.setdefault("takes", {})[prompt.id] = {**report.to_dict(), "text": prompt.text,
                                                   "recorded": time.strftime("%Y-%m-%d %H:%M:%S")}
    write_summary(out, summary, rate)


def write_summary(out: Path, summary: dict[str, Any], rate: int) -> None:
    takes = summary.get("takes", {})
    ids = done_ids(out)
    seconds = sum(float(takes.get(i, {}).get("duration_s", 0.0)) for i in ids)
    summary.update(format="ljspeech", sample_rate=rate, channels=1, sample_width_bits=16, utterances=len(ids),
                   total_s=round(seconds, 1), created_by="kiosk voice record")
    (out / SUMMARY).write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / README).write_text(README_TEXT.format(n=len(ids), minutes=seconds / 60, rate=rate), encoding="utf-8")


README_TEXT = """\
A voice dataset recorded with `kiosk voice record`: {n} takes, {minutes:.1f} minutes of audio.
wavs/<id>.wav: mono 16-bit PCM at {rate} Hz. metadata.csv: id|text, one line per take (LJSpeech layout,
no header). dataset.json: each take's measurements (level, noise floor, length).

Fine-tune a Piper voice from it on a machine with an NVIDIA GPU (piper1-gpl), from a medium-quality
checkpoint (rhasspy/piper-checkpoints), then export it and bring it back with `kiosk voice add`:

  python3 -m piper.train fit --data.voice_name my-voice --data.csv_path metadata.csv --data.audio_dir wavs \\
    --model.sample_rate {rate} --data.espeak_voice en-us --data.cache_dir cache \\
    --data.config_path my-voice.onnx.json --data.batch_size 16 --ckpt_path CHECKPOINT.ckpt

The whole recipe: docs/voice.md in the kiosk repository.
"""
