"""Hearing the wake phrase by its sound, not by how Whisper spells it.

Whisper base writes a soft female "hey coach" as "take off", a Scottish one as "here coach": the text
match never sees the phrase. This verifier compares sounds instead. At start-up the phrase is spoken by
several synthetic voices (espeak-ng: accents, female and male, pitches) and encoded by the same Whisper
encoder the kiosk listens with; each utterance's encoder frames (which the transcription computed
anyway) are searched for the best match of any template by subsequence dynamic time warping, with
cosine distance between frames. A segment whose distance is below `listen.wake_acoustic` wakes the
kiosk even when its transcript does not hold the phrase.

Chosen by measurement over three other acoustic checks of Whisper (the phrase forced as the
transcript's start, its likelihood against the free transcript, the 8-best hypotheses) and
PocketSphinx keyword spotting: tools/bench_wake_acoustic.py, docs/benchmarks.md ("Wake phrase by
sound"). Templates are made once per phrase, alone and run into a question (~12 s on two cores), and kept
in the cache folder for the next start.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

FRAME_S = 0.02  # one Whisper encoder frame
SEARCH_S = 3.0  # the phrase is looked for in the first seconds of a segment
PAD_S = 0.3  # silence around a template while it is encoded (like listen.preroll_ms)
# espeak-ng voices the templates are spoken in: female and male, low to high pitch, and every English accent
# espeak-ng has but the two the conversation corpus holds out (Scottish, New York). Each regional accent added
# helped the others: with two of Lancashire, West Midlands and Caribbean added, the third woke the kiosk 80 times
# in 90 instead of 71, for one more near miss in 168 (docs/benchmarks.md, "Templates in more accents").
TEMPLATE_VOICES = (("en-us", 160, 50), ("en-gb", 170, 40), ("en-us+f2", 150, 70), ("en-us+m3", 140, 40),
                   ("en-gb-x-rp", 165, 60), ("en-gb-x-gbclan", 160, 50), ("en-gb-x-gbcwmd", 160, 50),
                   ("en-029", 160, 50))
# Said in one breath with a question, the phrase sounds otherwise than alone (the encoder hears what follows:
# "Hey coach, where is ..." lies ~0.18 from the bare phrase's templates, "Hey coach." ~0.08). So each voice
# also says it before a few common question openings; only the phrase's own frames are kept.
CONTEXTS = ("where is it?", "what time is it?", "how do I get in?", "can I park here?")


@dataclass(frozen=True)
class SoundMatch:
    distance: float
    """mean cosine distance along the best warping path (0 = the same sound)"""
    end_s: float
    """where the phrase ends in the segment"""


def subsequence_dtw(template: np.ndarray, query: np.ndarray, start_within: int | None = None) -> tuple[float, int]:
    """The best alignment of the whole `template` (m x d) with any stretch of `query` (n x d), both of
    unit-length rows: (mean cost along its path, the query frame where it ends). A stack of templates of one
    length (k x m x d) is searched at once and the best of them is returned.

    Each template frame takes one step, matching the query frame after the last one, the same one, or
    skipping one (tempo from half to double the template's): every path has m steps, so the mean cost
    needs no path-length bookkeeping and each template frame is one vector operation."""
    cost = 1.0 - template @ query.T  # (m, n) or (k, m, n)
    m = cost.shape[-2]
    total = cost[..., 0, :].copy()  # the template may start anywhere (or in the first `start_within` frames)
    if start_within is not None:
        total[..., start_within:] = np.inf
    for i in range(1, m):
        best = total.copy()  # the same query frame (the query is slower here)
        best[..., 1:] = np.minimum(best[..., 1:], total[..., :-1])  # the next one
        best[..., 2:] = np.minimum(best[..., 2:], total[..., :-2])  # skipping one (the query is faster here)
        total = best + cost[..., i, :]
    flat = int(np.argmin(total))
    end = flat % total.shape[-1]
    return float(total.flat[flat] / m), end + 1


def espeak_audio(text: str, voice: str, speed: int, pitch: int) -> bytes | None:
    """16 kHz mono int16 speech of `text`, trimmed; None without espeak-ng."""
    from kiosk.audio.wav import read_pcm16k

    if shutil.which("espeak-ng") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "t.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(wav), "--stdin"],
                       input=text.encode(), check=True, capture_output=True)
        pcm = np.frombuffer(read_pcm16k(wav), dtype=np.int16)
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > 300)
    return pcm[loud[0]:loud[-1] + 1].tobytes() if loud.size else None


class PhraseTemplates:
    """The wake phrase as several voices' encoder frames; `match` finds it in a segment's frames."""

    def __init__(self, templates: list[np.ndarray], threshold: float) -> None:
        self.templates, self.threshold = templates, threshold
        lengths = sorted({t.shape[0] for t in templates})
        # Templates of one voice share a length: searched as one stack, five times fewer steps for 40 templates.
        self._stacks = [np.stack([t for t in templates if t.shape[0] == n]) for n in lengths]

    @classmethod
    def build(cls, engine: Any, phrase: str, threshold: float) -> PhraseTemplates | None:
        """Templates from espeak-ng voices encoded by `engine` (a WhisperEngine); None when espeak-ng is not
        installed (then only the transcript decides). kiosk.listen.wake_samples adds recorded ones."""
        templates = synthetic_templates(engine, phrase)
        return cls(templates, threshold) if templates else None

    def match(self, frames: np.ndarray) -> SoundMatch | None:
        """The best match in the first SEARCH_S of `frames` when it is close enough, else None."""
        query = frames[: int(SEARCH_S / FRAME_S)]
        if query.shape[0] < 5:
            return None
        distance, end = min(subsequence_dtw(stack, query) for stack in self._stacks)
        log.debug("wake phrase by sound: distance %.3f (threshold %.3f)", distance, self.threshold)
        return SoundMatch(distance, end * FRAME_S) if distance <= self.threshold else None


def synthetic_templates(engine: Any, phrase: str) -> list[np.ndarray] | None:
    """The phrase spoken by the template voices and encoded by `engine`, kept in the cache folder for the next
    start (~12 s of encoding on two cores); None without espeak-ng."""
    cache = _cache_file(engine, phrase)
    templates = _load(cache)
    if templates is None:
        templates = _encode_templates(engine, phrase)
        if templates is not None:
            _save(cache, templates)
    return templates


def _encode_templates(engine: Any, phrase: str) -> list[np.ndarray] | None:
    said = phrase.strip().capitalize()
    pad = b"\0\0" * int(PAD_S * 16000)
    first = int(PAD_S / FRAME_S)
    templates = []
    started = time.monotonic()
    for voice, speed, pitch in TEMPLATE_VOICES:
        bare = espeak_audio(said + ".", voice, speed, pitch)
        if bare is None:
            log.warning("espeak-ng is not installed: the wake phrase is recognized by its spelling only")
            return None
        length = int(len(bare) / 2 / 16000 / FRAME_S) + 1
        for pcm in (bare, *(espeak_audio(f"{said}, {rest}", voice, speed, pitch) for rest in CONTEXTS)):
            # Encoded in context, as segments are (the pre-roll before, a pause after), then cut to the
            # phrase: the encoder's frames at the edge of a clip differ from those inside speech.
            if pcm is not None:
                templates.append(engine.encode(pad + pcm + pad)[first:first + length])
    log.info("wake phrase %r: %d sound templates in %.1f s", phrase, len(templates), time.monotonic() - started)
    return templates


def _cache_file(engine: Any, phrase: str) -> Path:
    """Where templates of this phrase, by this recognizer and this espeak-ng, are kept between starts."""
    try:
        espeak = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=False).stdout
    except OSError:
        espeak = ""
    what = [phrase.strip().lower(), TEMPLATE_VOICES, CONTEXTS, PAD_S, str(getattr(engine, "model_dir", "")),
            getattr(engine, "window_s", None), espeak.strip()]
    key = hashlib.sha256(json.dumps(what).encode()).hexdigest()[:20]
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "kiosk" / "wake-templates" / f"{key}.npz"


def _load(path: Path) -> list[np.ndarray] | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as saved:
            templates = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        log.warning("wake phrase templates %s unreadable (%s): making them again", path, error)
        return None
    log.info("wake phrase: %d sound templates from %s", len(templates), path)
    return templates or None


def _save(path: Path, templates: list[np.ndarray]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.npz")
        np.savez(partial, *templates)  # arr_0, arr_1, ...
        os.replace(partial, path)
    except OSError as error:  # a read-only cache only costs the next start the same seconds again
        log.warning("wake phrase templates not kept in %s (%s): the next start makes them again", path, error)
