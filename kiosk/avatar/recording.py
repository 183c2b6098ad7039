"""A scripted conversation rendered headless to an MP4 (H.264 + AAC): `kiosk demo --out demo.mp4`.

The soundtrack is laid out first (greeting, then per turn: the visitor asking, the kiosk thinking for
as long as the real answer took to start, the answer's sentences); every frame is then drawn at its
time with the mouth driven by the position in that soundtrack, exactly as the live kiosk drives it
from the playback clock. Frames go to ffmpeg as raw RGB through a pipe; nothing is kept in memory.
"""

from __future__ import annotations

import logging
import math
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from kiosk.audio.wav import write_wav
from kiosk.avatar.animator import Animator, expression_for_answer
from kiosk.events import SpeechClip

if TYPE_CHECKING:
    from kiosk.avatar.drawing import Backend
    from kiosk.avatar.face import FaceRenderer
    from kiosk.avatar.overlay import Overlay

log = logging.getLogger(__name__)

ATTRACT_S = 1.5
LISTEN_WORD_S = 0.32  # the visitor's words appear at a speaking pace
AFTER_ANSWER_S = 1.2


class ClipPlayer(Protocol):
    """What `play` needs of a speaker (kiosk.audio.playback.PlaybackQueue)."""

    def submit(self, pcm: bytes, sample_rate: int) -> None: ...

    def position(self) -> float | None: ...


@dataclass(frozen=True)
class Turn:
    question: str
    sentences: tuple[tuple[str, SpeechClip], ...]
    source: str | None
    think_s: float
    """how long the real answer took to start (first audio), shown as thinking"""
    grounded: bool = True


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    kind: str  # attract | listen | think | speak
    text: str = ""
    clip: SpeechClip | None = None
    source: str | None = None
    answer: str = ""
    grounded: bool = True


def plan(greeting: tuple[str, SpeechClip], turns: list[Turn], pause_s: float) -> list[Cue]:
    cues = [Cue(0.0, ATTRACT_S, "attract")]
    t = ATTRACT_S
    text, clip = greeting
    cues.append(Cue(t, t + clip.duration_s, "speak", text, clip, None, text))
    t += clip.duration_s + AFTER_ANSWER_S
    for turn in turns:
        listen = LISTEN_WORD_S * len(turn.question.split()) + 0.6
        cues.append(Cue(t, t + listen, "listen", turn.question))
        t += listen
        cues.append(Cue(t, t + max(0.3, turn.think_s), "think"))
        t += max(0.3, turn.think_s)
        answer = " ".join(s for s, _ in turn.sentences if s)
        for sentence, clip in turn.sentences:
            cues.append(Cue(t, t + clip.duration_s, "speak", sentence, clip, turn.source, answer, turn.grounded))
            t += clip.duration_s + pause_s
        t += AFTER_ANSWER_S
    cues.append(Cue(t, t + ATTRACT_S, "attract"))
    return cues


def soundtrack(cues: list[Cue], rate: int) -> np.ndarray:
    end = max(c.end for c in cues)
    track = np.zeros(int(math.ceil(end * rate)) + rate, dtype=np.int16)
    for cue in cues:
        if cue.clip is not None:
            if cue.clip.sample_rate != rate:
                raise ValueError("all clips of a recording must share one sample rate")
            pcm = np.frombuffer(cue.clip.pcm, dtype=np.int16)
            start = int(round(cue.start * rate))
            track[start:start + pcm.size] = pcm[: track.size - start]
    return track


class Director:
    """Turns a cue list into the animator's and overlay's calls for any time t (frames in order)."""

    def __init__(self, cues: list[Cue], animator: Animator, overlay: Overlay) -> None:
        self.cues, self.animator, self.overlay = cues, animator, overlay
        self._current: Cue | None = None

    @property
    def current(self) -> Cue | None:
        return self._current

    def at(self, t: float) -> float | None:
        """Applies the cue active at t; returns the playback position in its clip (None: silent)."""
        cue = next((c for c in self.cues if c.start <= t < c.end), None)
        if cue is not self._current and cue is not None:
            self._enter(cue, t)
        self._current = cue or self._current
        if cue is None:
            return None
        if cue.kind == "listen":
            shown = cue.text.split()[: max(1, int((t - cue.start) / LISTEN_WORD_S) + 1)]
            done = len(shown) == len(cue.text.split()) and t > cue.end - 0.4
            (self.overlay.visitor_final if done else self.overlay.visitor_partial)(" ".join(shown))
            self.overlay.set_level(0.0 if done else 0.35 + 0.3 * abs(math.sin(t * 9.1)) + 0.2 * abs(math.sin(t * 3.7)))
        return t - cue.start if cue.kind == "speak" else None

    def _enter(self, cue: Cue, t: float) -> None:
        an, ov = self.animator, self.overlay
        if cue.kind == "attract":
            an.set_state("idle", t)
            ov.set_state("idle", t)
            ov.clear_captions()
            an.stop_clip()
        elif cue.kind == "listen":
            an.set_state("listening", t)
            ov.set_state("listening", t)
            ov.clear_captions()
        elif cue.kind == "think":
            an.set_state("thinking", t)
            ov.set_state("thinking", t)
            ov.set_level(0.0)
        else:
            if an.state.value != "speaking":
                an.set_state("speaking", t)
                ov.set_state("speaking", t)
                an.set_expression(expression_for_answer(cue.answer, cue.grounded), t, hold_s=4.0)
            if cue.clip is None:
                raise ValueError(f"speak cue at {cue.start:.2f} s has no clip")
            an.start_clip(cue.clip)
            ov.answer_chunk(cue.text, cue.source)


def record(cues: list[Cue], out: Path, face: FaceRenderer, overlay: Overlay, backend: Backend, fps: int = 30,
           seed: int = 0) -> dict[str, Any]:
    """Renders the cues to `out` (MP4). `face`: FaceRenderer; `overlay`: Overlay; same backend for both."""
    if shutil.which("ffmpeg") is None:
        raise RuntimeError("ffmpeg is needed to write MP4 (apt install ffmpeg)")
    clips = [c.clip for c in cues if c.clip is not None]
    rate = clips[0].sample_rate if clips else 22050
    track = soundtrack(cues, rate)
    duration = track.size / rate
    frames = int(duration * fps)
    width, height = backend.size
    animator = Animator(seed=seed)
    director = Director(cues, animator, overlay)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "track.wav"
        write_wav(wav, track[: int(frames / fps * rate)].tobytes(), rate)
        cmd = ["ffmpeg", "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
               "-r", str(fps), "-i", "-", "-i", str(wav), "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
               "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", str(out)]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        stdin, stderr = proc.stdin, proc.stderr
        if stdin is None or stderr is None:  # both are pipes (PIPE above)
            raise RuntimeError("ffmpeg was started without its pipes")
        try:
            for n in range(frames):
                t = n / fps
                playback = director.at(t)
                backend.clear(face.pack.background)
                face.draw(animator.frame(t, playback))
                overlay.draw(t)
                stdin.write(backend.snapshot().tobytes())
            stdin.close()
        except BrokenPipeError:
            pass
        err = stderr.read().decode(errors="replace")
        if proc.wait() != 0:
            raise RuntimeError(f"ffmpeg failed: {err.strip()[-500:]}")
    log.info("wrote %s: %d frames at %d fps, %.1f s", out, frames, fps, duration)
    return {"path": str(out), "frames": frames, "fps": fps, "duration_s": round(frames / fps, 3),
            "size": [width, height]}


async def play(cues: list[Cue], face: FaceRenderer, overlay: Overlay, backend: Backend, player: ClipPlayer | None,
               fps: int = 30, seed: int = 0) -> int:
    """The same conversation live in a window, with sound where there is a speaker; frames drawn."""
    import asyncio
    import time

    from kiosk.avatar.inputs import InputKind

    animator = Animator(seed=seed)
    director = Director(cues, animator, overlay)
    end = max(c.end for c in cues)
    t0 = time.monotonic()
    submitted: set[int] = set()
    frames = 0
    while (t := time.monotonic() - t0) < end:
        if any(ev.kind is InputKind.QUIT for ev in backend.poll_input()):  # the backend owns the window
            break
        playback = director.at(t)
        cue = director.current
        if player is not None and cue is not None and cue.clip is not None:
            if id(cue) not in submitted:
                submitted.add(id(cue))
                player.submit(cue.clip.pcm, cue.clip.sample_rate)
            heard = player.position()  # with a speaker, the lips follow what is actually heard
            playback = heard if heard is not None else playback
        backend.clear(face.pack.background)
        face.draw(animator.frame(t, playback))
        overlay.draw(t)
        backend.present()
        frames += 1
        await asyncio.sleep(max(0.0, (frames / fps) - (time.monotonic() - t0)))
    return frames
