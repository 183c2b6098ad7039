"""What the listener got, kept to hear it again: the microphone's samples in the order the listener consumed
them, and every control call (a tap, the gate while the kiosk speaks, what it says, the recognizer's primer)
at the sample position where it took effect.

The listener decides at sample positions, never by the clock, so a replay (`kiosk listen --input REC.wav
--controls REC.jsonl`, or `replay` here) takes the same wakes, cuts the same utterances and decodes the same
audio as `kiosk run` did: the words the kiosk acted on live, from a file. For support and for measuring;
off unless `listen.record_dir` is set, because it keeps visitors' voices on disk (the folder is the operator's
to empty).
"""

from __future__ import annotations

import json
import logging
import time
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.listen.asr import SAMPLE_RATE

if TYPE_CHECKING:
    from kiosk.events import ListenEvent
    from kiosk.listen.listener import Listener

log = logging.getLogger(__name__)

CONTROLS = ("wake", "speaking_started", "saying", "expect", "speaking_finished")
"""the listener's control calls, in the form the live listener queues them (kiosk.listen.live)"""


def apply_control(listener: Listener, kind: str, args: Sequence[Any]) -> list[ListenEvent]:
    """One control call on the listener; the events it makes (a wake's), also those the caller may not show."""
    if kind == "wake":
        return listener.wake(args[0], at=args[1])
    if kind == "speaking_started":
        listener.speaking_started(at=args[0])
    elif kind == "saying":
        listener.saying(args[0])
    elif kind == "expect":
        listener.expect(args[0])
    elif kind == "speaking_finished":
        listener.speaking_finished(at=args[0], window=args[1])
    else:
        raise ValueError(f"not a listener control: {kind!r}")
    return []


class FlightRecorder:
    """Writes `listen-<UTC time>.wav` (16 kHz mono) and `.jsonl` (one control per line) into `folder`."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        stem = folder / time.strftime("listen-%Y%m%dT%H%M%SZ", time.gmtime())
        self.wav_path, self.controls_path = stem.with_suffix(".wav"), stem.with_suffix(".jsonl")
        self._wav = wave.open(str(self.wav_path), "wb")  # noqa: SIM115 - open for the listener's lifetime
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(SAMPLE_RATE)
        self._controls = self.controls_path.open("w", encoding="utf-8")
        log.warning("recording what the microphone hears to %s (listen.record_dir): visitors' voices are kept",
                    self.wav_path)

    def audio(self, pcm: bytes) -> None:
        self._wav.writeframes(pcm)

    def control(self, position: int, kind: str, args: Sequence[Any]) -> None:
        self._controls.write(json.dumps({"at": position, "kind": kind, "args": list(args)}) + "\n")
        self._controls.flush()

    def close(self) -> None:
        self._wav.close()
        self._controls.close()


def open_recorder(folder: str) -> FlightRecorder | None:
    """The recorder for `listen.record_dir` ("" = none). A folder it cannot write is logged with its name and
    the kiosk listens unrecorded: a diagnostic must never cost the visitor their microphone."""
    if not folder:
        return None
    try:
        return FlightRecorder(Path(folder).expanduser())
    except OSError as error:
        log.error("listen.record_dir = %r cannot be written (%s): listening without recording", folder, error)
        return None


def read_controls(path: Path) -> list[tuple[int, str, list[Any]]]:
    """(position, kind, args) for every line of a recorder's .jsonl; a line that is not one names its number."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            at, kind, args = int(row["at"]), str(row["kind"]), list(row["args"])
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path}:{n}: not a listener control ({error})") from None
        if kind not in CONTROLS:
            raise ValueError(f"{path}:{n}: not a listener control: {kind!r}")
        out.append((at, kind, args))
    return out


def replay(listener: Listener, pcm: bytes, controls: Sequence[tuple[int, str, list[Any]]],
           chunk_samples: int = 1600) -> list[ListenEvent]:
    """The listener's events for a recording: the audio fed in chunks, each control applied where the live
    listener applied it (between the same two samples), then the end of input."""
    events: list[ListenEvent] = []
    pending = sorted(controls, key=lambda c: c[0])  # stable: same-position calls keep their order
    i, n, size = 0, 0, len(pcm) // 2
    while n < size or i < len(pending):
        while i < len(pending) and pending[i][0] <= n:
            events += apply_control(listener, pending[i][1], pending[i][2])
            i += 1
        if n >= size:
            break
        end = min(size, n + chunk_samples, pending[i][0] if i < len(pending) else size)
        end = max(end, n + 1)
        events += listener.feed(pcm[2 * n:2 * end])
        n = end
    return events + listener.flush()
