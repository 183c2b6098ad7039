"""`kiosk listen`: wake, speech and transcript events from a WAV file or the microphone, one per line."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any

from kiosk.events import Heard, HeardPartial, ListenEvent, MicrophoneStatus, SpeechEnded, SpeechStarted, Wake

log = logging.getLogger("kiosk")


def event_json(event: ListenEvent) -> dict[str, Any] | None:
    """The `kiosk listen --json` line for an event (None: not printed)."""
    if isinstance(event, Wake):
        return {"event": "wake", "t": round(event.t, 3), "source": event.source, "heard": event.heard}
    if isinstance(event, SpeechStarted):
        return {"event": "speech_start", "t": round(event.t, 3)}
    if isinstance(event, SpeechEnded):
        return {"event": "speech_end", "t": round(event.t, 3), "reason": event.reason}
    if isinstance(event, Heard):
        return {"event": "transcript", "t": round(event.t, 3), "text": event.text, "engine": event.engine,
                "words": [{"word": w.word, "start_s": round(w.start_s, 3), "end_s": round(w.end_s, 3)}
                          for w in event.words]}
    if isinstance(event, HeardPartial):
        return {"event": "partial", "t": round(event.t, 3), "text": event.text}
    return None


class _Printer:
    def __init__(self, as_json: bool, partials: bool) -> None:
        self.as_json, self.partials = as_json, partials
        self._lock = threading.Lock()

    def __call__(self, event: ListenEvent) -> None:
        if isinstance(event, MicrophoneStatus):
            log.log(logging.WARNING if event.down else logging.INFO, "microphone %s: %s", event.state, event.detail)
            return
        row = event_json(event)
        if row is None or (row["event"] == "partial" and not self.partials):
            return
        with self._lock:
            if self.as_json:
                print(json.dumps(row, ensure_ascii=False), flush=True)
            else:
                detail = row.get("text") or row.get("heard") or row.get("reason") or ""
                print(f"{row['t']:8.2f} s  {row['event']:<12} {detail}", flush=True)


def listen_file(listener: Any, pcm: bytes) -> list[ListenEvent]:
    """All events of a 16 kHz mono file, fed like the microphone would (`kiosk transcribe` does the same)."""
    from kiosk.listen.transcribe import listen_file as feed

    return feed(listener, pcm)


def cmd_listen(args: argparse.Namespace, settings: Any) -> int:
    from kiosk.audio.wav import AudioFileError, read_pcm16k
    from kiosk.listen.engines import build_listener

    pcm = None
    controls = None
    if args.input:
        try:
            pcm = read_pcm16k(Path(args.input))
            if args.controls:
                from kiosk.listen.flight import read_controls

                controls = read_controls(Path(args.controls))
        except (OSError, AudioFileError, ValueError) as error:
            print(f"kiosk listen: {error}", file=sys.stderr)
            return 2
    elif args.controls:
        print("kiosk listen: --controls replays a recording: give it with --input", file=sys.stderr)
        return 2
    try:
        listener = build_listener(settings, wake_phrase=args.wake, wake=not args.no_wake)
    except ValueError as error:  # e.g. a wake phrase the Vosk model cannot say
        print(f"kiosk listen: {error}", file=sys.stderr)
        return 2
    show = _Printer(args.json, args.partials)
    if pcm is not None:
        if controls is not None:
            from kiosk.listen.flight import replay

            events = replay(listener, pcm, controls)
        else:
            events = listen_file(listener, pcm)
        for event in events:
            show(event)
        return 0
    return _listen_live(listener, settings, show, args.seconds)


def _listen_live(listener: Any, settings: Any, show: _Printer, seconds: float | None) -> int:
    from kiosk.listen.flight import open_recorder
    from kiosk.listen.live import LiveListener

    live = LiveListener(listener, settings.audio.input_device, show, record=open_recorder(settings.listen.record_dir))
    if sys.stdin.isatty():
        print("listening; say the wake phrase or press Enter to talk (Ctrl-C stops)", file=sys.stderr)

        def keys() -> None:
            for _line in sys.stdin:
                live.tap("key")

        threading.Thread(target=keys, name="keys", daemon=True).start()
    try:
        with live:
            deadline = time.monotonic() + seconds if seconds else None
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.1)
    except KeyboardInterrupt:
        pass
    return 0


def add_listen_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("listen", parents=[common], help="wake phrase, speech and transcripts, as events")
    p.add_argument("--input", help="a WAV file instead of the microphone ([audio] input_device)")
    p.add_argument("--controls", help="with --input: the kiosk's control calls recorded beside it (listen.record_dir);"
                   " the recording is then heard exactly as kiosk run heard it")
    p.add_argument("--wake", help="wake phrase (default: listen.wake_phrase)")
    p.add_argument("--no-wake", action="store_true", help="every utterance is a question")
    p.add_argument("--partials", action="store_true", help="also print partial transcripts (streaming engines)")
    p.add_argument("--seconds", type=float, help="stop listening to the microphone after this long")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
