"""The wake phrase as the company's own people say it: recordings made into sound templates.

The synthetic templates (kiosk.listen.wake_templates) cover the voices espeak-ng has. A voice that Whisper
misspells and that no synthetic voice resembles (a Scottish "hey coach" heard as "here coach" or "E-cult")
is heard once someone who speaks like that has said the phrase into the kiosk a few times: each recording in
the samples folder becomes one more template, searched like the others (`listen.wake_acoustic`).

A sample is a WAV file (any rate, 16-bit) of the phrase alone ("Hey coach."), or of the phrase run into a
short question ("Hey coach, where is the canteen?"), whose phrase part is found by matching the phrase alone
(the folder's takes of the phrase alone, else the synthetic ones) and kept. `kiosk wake record`, `kiosk wake
add` and the admin console's Wake phrase page put them there; a file that cannot be used is skipped with the
reason and what to do.
Encoded samples are kept in the cache folder, keyed by the file's content and the recognizer.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.listen.wake_templates import FRAME_S, PAD_S, PhraseTemplates, subsequence_dtw, synthetic_templates

log = logging.getLogger(__name__)

RATE = 16_000
MIN_SPEECH_S = 0.3
"""shorter is a click or a cough, not a wake phrase"""
BARE_MAX_S = 1.3
"""speech longer than this (or than 1.3 times the synthetic voices' phrase, for a long phrase) is the phrase run
into more words, cut at the phrase's end ("hey coach" takes 0.5-1.0 s at 130-190 words a minute; "hey coach,
where is the lift?" 1.7 s at 160)"""
MAX_SPEECH_S = 6.0
"""longer is not a wake phrase with a short question: record it again"""
SUFFIXES = (".wav",)


@dataclass(frozen=True)
class Sample:
    path: Path
    speech: bytes
    """16 kHz mono int16 of the speech, the silence around it trimmed"""

    @property
    def speech_s(self) -> float:
        return len(self.speech) / 2 / RATE


def samples_dir(settings: Any, env: Any = os.environ) -> Path:
    """Where the recordings of this wake phrase are: a folder per phrase ("hey-coach") in listen.wake_samples
    (relative to the config file's folder), else in $XDG_DATA_HOME/kiosk/wake-samples. Per phrase, because a
    recording of the old phrase would wake the kiosk on it after the phrase is changed."""
    configured = settings.listen.wake_samples
    if configured:
        root = Path(configured).expanduser()
        if not root.is_absolute() and settings.source is not None:
            root = Path(settings.source).parent / root
    else:
        xdg = env.get("XDG_DATA_HOME", "")
        home = Path(env.get("HOME") or Path.home())
        root = (Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".local" / "share") / "kiosk" / "wake-samples"
    return root / phrase_folder(settings.listen.wake_phrase)


def phrase_folder(phrase: str) -> str:
    return re.sub(r"\W+", "-", phrase.lower()).strip("-_") or "phrase"


def sample_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)


def new_path(folder: Path, stem: str) -> Path:
    """A file name in `folder` for a new recording named `stem` (letters, digits, - and _ kept), not yet taken."""
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem).strip("-")[:80] or "recording"
    path, n = folder / f"{safe}.wav", 2
    while path.exists():
        path, n = folder / f"{safe}-{n}.wav", n + 1
    return path


def keep_recording(pcm: bytes, folder: Path, stem: str) -> Sample:
    """16 kHz mono `pcm` checked (read_sample) and kept in `folder` under a new name; ValueError says why not
    (without the name of the take, which is not kept)."""
    import shutil
    import tempfile

    from kiosk.audio.wav import write_wav

    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "take.wav"
        write_wav(wav, pcm, RATE)
        try:
            sample = read_sample(wav)
        except ValueError as error:
            raise ValueError(str(error).removeprefix(f"{wav.name}: ")) from None
        folder.mkdir(parents=True, exist_ok=True)
        target = new_path(folder, stem)
        shutil.copyfile(wav, target)
    return Sample(target, sample.speech)


def read_sample(path: Path) -> Sample:
    """The recording's speech; ValueError says what is wrong with it and what to do."""
    from kiosk.audio.wav import AudioFileError, read_pcm16k
    from kiosk.speech.recording import FRAME_S as LEVEL_FRAME_S
    from kiosk.speech.recording import frame_levels_db, speech_bounds

    try:
        pcm = np.frombuffer(read_pcm16k(path), dtype=np.int16)
    except (AudioFileError, OSError) as error:
        raise ValueError(f"{path.name}: {error}") from None
    levels = frame_levels_db(pcm, RATE)
    if levels.size >= 10 and min(levels[:5].min(), levels[-5:].min()) > np.percentile(levels, 90) - 10:
        # cut tight to the speech (an upload trimmed in an editor): no quiet part to tell the room by
        pcm = np.concatenate([np.zeros(RATE // 5, np.int16), pcm, np.zeros(RATE // 5, np.int16)])
        levels = frame_levels_db(pcm, RATE)
    noise, speech = (float(np.percentile(levels, 10)), float(np.percentile(levels, 90))) if levels.size else (0, 0)
    if not levels.size or speech - noise < 6.0:
        raise ValueError(f"{path.name}: no speech heard above the room's noise; record it again, closer to the "
                         "microphone")
    start, end = speech_bounds(levels, noise, speech)
    margin = int(0.05 / LEVEL_FRAME_S)  # the soft start of "hey" sits below the level threshold
    step = int(LEVEL_FRAME_S * RATE)
    cut = pcm[max(0, start - margin) * step:min(levels.size, end + margin) * step]
    seconds = (end - start) * LEVEL_FRAME_S
    if seconds < MIN_SPEECH_S:
        raise ValueError(f"{path.name}: only {seconds:.2f} s of speech; say the whole wake phrase")
    if seconds > MAX_SPEECH_S:
        raise ValueError(f"{path.name}: {seconds:.1f} s of speech; record the wake phrase alone, or with a short "
                         "question")
    return Sample(path, cut.tobytes())


def phrase_templates(engine: Any, phrase: str, threshold: float, folder: Path) -> PhraseTemplates | None:
    """The synthetic templates and those of the recordings in `folder`; None when there are neither (then only
    the transcript decides)."""
    synthetic = synthetic_templates(engine, phrase) or []
    recorded, _problems = sample_templates(engine, folder, synthetic)
    templates = [*synthetic, *recorded]
    return PhraseTemplates(templates, threshold) if templates else None


def sample_templates(engine: Any, folder: Path, reference: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[str]]:
    """Templates of the recordings in `folder` (encoded by `engine`, a WhisperEngine), and why any file is not
    used. `reference`: templates of the phrase alone, to find where a longer recording's phrase ends."""
    samples, problems = [], []
    for path in sample_files(folder):
        try:
            samples.append(read_sample(path))
        except ValueError as error:
            problems.append(str(error))
    longest = max((t.shape[0] * FRAME_S for t in reference), default=0.0)
    bare_max = max(BARE_MAX_S, 1.3 * longest)
    templates: list[np.ndarray] = []
    own: list[np.ndarray] = []
    for sample in sorted(samples, key=lambda s: s.speech_s > bare_max):  # the phrase alone first: it cuts the rest
        bare = sample.speech_s <= bare_max
        key = _cache_path(engine, sample, bare)
        template = _cached(key, sample)
        if template is None:
            frames = _encoded(engine, sample)
            template = frames[:_frames(sample.speech_s)] if bare else _phrase_part(frames, own or reference)
            _keep(key, sample, template)
        (own if bare else templates).append(template)
    templates = own + templates
    for problem in problems:
        log.warning("wake phrase sample not used: %s", problem)
    if templates:
        log.info("wake phrase: %d recorded samples from %s", len(templates), folder)
    return templates, problems


def _frames(seconds: float) -> int:
    return int(seconds / FRAME_S) + 1


def _encoded(engine: Any, sample: Sample) -> np.ndarray:
    """The sample's encoder frames from its speech on, encoded in context like the synthetic templates."""
    pad = b"\0\0" * int(PAD_S * RATE)
    frames = engine.encode(pad + sample.speech + pad)
    return np.asarray(frames, dtype=np.float32)[int(PAD_S / FRAME_S):]  # as the synthetic templates are cut


def _phrase_part(frames: np.ndarray, reference: Sequence[np.ndarray]) -> np.ndarray:
    """The start of `frames` up to where the phrase alone matches best (the phrase opens the recording).
    `reference`: the recordings of the phrase alone when there are any (the synthetic voices' may not sound like
    the people recorded)."""
    head = frames[: int(3.0 / FRAME_S)]
    best = min((subsequence_dtw(t, head, start_within=_frames(0.1)) for t in reference if t.shape[0] <= head.shape[0]),
               default=(1.0, _frames(1.0)))
    return frames[:max(best[1], 5)]


def _cache_path(engine: Any, sample: Sample, bare: bool) -> Path:
    what = f"{sample.path.name}|{getattr(engine, 'model_dir', '')}|{getattr(engine, 'window_s', None)}|{PAD_S}|{bare}"
    key = hashlib.sha256(what.encode() + sample.speech).hexdigest()[:20]
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "kiosk" / "wake-templates" / f"sample-{key}.npy"


def _cached(path: Path, sample: Sample) -> np.ndarray | None:
    try:
        return np.load(path, allow_pickle=False) if path.is_file() else None
    except (OSError, ValueError) as error:
        log.warning("wake phrase sample cache %s unreadable (%s): encoding %s again", path, error, sample.path.name)
        return None


def _keep(path: Path, sample: Sample, template: np.ndarray) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.stem + ".partial.npy")
        np.save(partial, template)
        os.replace(partial, path)
    except OSError as error:
        log.warning("wake phrase sample %s not cached in %s (%s): encoded again at the next start", sample.path.name,
                    path, error)
