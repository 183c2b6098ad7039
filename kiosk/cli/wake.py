"""`kiosk wake`: the wake phrase as the company's own people say it (kiosk.listen.wake_samples).

    kiosk wake record [--count 3] [--who NAME]     say the phrase at the kiosk's microphone, a few times
    kiosk wake add FILE.wav ... [--who NAME]         recordings made elsewhere
    kiosk wake list [--json]                         each recording, what Whisper hears in it, what it adds
    kiosk wake remove NAME ...

The recordings stay on this machine (listen.wake_samples); the kiosk reads them at its next start.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from kiosk.listen.wake_samples import RATE, keep_recording, new_path, read_sample, sample_files, samples_dir


def add_wake_parser(sub: Any, common: argparse.ArgumentParser, settings_of: Any) -> None:
    p = sub.add_parser("wake", help="teach the wake phrase your own people's voices (recordings of the phrase)")
    wake = p.add_subparsers(dest="wake_command", required=True, metavar="COMMAND")
    q = wake.add_parser("record", parents=[common], help="say the wake phrase at the microphone a few times")
    q.add_argument("--count", type=int, default=3, help="recordings to make (default 3)")
    q.add_argument("--seconds", type=float, default=3.0, help="length of each recording (default 3 s)")
    q.add_argument("--device", default="", help="microphone (name or index; default: audio.input_device)")
    q.add_argument("--who", default="staff", help="a name for the files (no personal data needed)")
    q.set_defaults(func=lambda args: run_record(args, settings_of(args)))
    q = wake.add_parser("add", parents=[common], help="add recordings of the wake phrase (WAV)")
    q.add_argument("files", nargs="+", type=Path)
    q.add_argument("--who", default="", help="a name for the files (default: the file's own name)")
    q.set_defaults(func=lambda args: run_add(args, settings_of(args)))
    q = wake.add_parser("list", parents=[common], help="the recordings, what Whisper hears in each, what each adds")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=lambda args: run_list(args, settings_of(args)))
    q = wake.add_parser("remove", parents=[common], help="delete recordings (names as `kiosk wake list` shows them)")
    q.add_argument("names", nargs="+")
    q.set_defaults(func=lambda args: run_remove(args, settings_of(args)))


def run_add(args: argparse.Namespace, settings: Any) -> int:
    folder = samples_dir(settings)
    failed = 0
    for path in args.files:
        try:
            sample = read_sample(path)
        except ValueError as error:
            print(f"kiosk: not added: {error}", file=sys.stderr)
            failed += 1
            continue
        target = new_path(folder, f"{args.who}-{path.stem}" if args.who else path.stem)
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        print(f"added {target.name} ({sample.speech_s:.1f} s of speech) to {folder}")
    if failed < len(args.files):
        print("The kiosk hears these voices from its next start (systemctl restart kiosk).")
    return 1 if failed else 0


def run_record(args: argparse.Namespace, settings: Any) -> int:
    from kiosk.cli.voice_record import MicrophoneBlocks

    folder = samples_dir(settings)
    phrase = settings.listen.wake_phrase
    try:
        mic = MicrophoneBlocks(args.device or settings.audio.input_device, rate=RATE)
    except OSError as error:
        print(f"kiosk: cannot open the microphone: {error}", file=sys.stderr)
        return 1
    kept: list[Path] = []
    try:
        take, tries = 1, 0
        while take <= args.count and tries < args.count + 3:
            tries += 1
            said = phrase.capitalize() + (", where is the canteen?" if take == args.count >= 3 else "")
            print(f"Take {take} of {args.count}: say \u201c{said}\u201d now, as you would to the kiosk.", flush=True)
            blocks, end = [], time.monotonic() + args.seconds
            while time.monotonic() < end:
                blocks.append(mic.read())
            try:
                sample = keep_recording(b"".join(blocks), folder, f"{args.who}-{time.strftime('%Y%m%d-%H%M%S')}-{take}")
            except ValueError as error:
                print(f"  {error}", flush=True)
                continue
            target = sample.path
            print(f"  kept {target.name} ({sample.speech_s:.1f} s of speech)", flush=True)
            kept.append(target)
            take += 1
    finally:
        mic.close()
    if not kept:
        print("kiosk: no recording kept", file=sys.stderr)
        return 1
    print(f"{len(kept)} recording(s) in {folder}; the kiosk hears this voice from its next start "
          "(`kiosk wake list` shows what each adds).")
    return 0 if len(kept) == args.count else 1


def run_list(args: argparse.Namespace, settings: Any) -> int:
    folder = samples_dir(settings)
    files = sample_files(folder)
    if not files:
        print(f"No recordings of \u201c{settings.listen.wake_phrase}\u201d in {folder} (kiosk wake record).")
        return 0
    rows = describe(settings, files)
    if args.json:
        print(json.dumps({"folder": str(folder), "samples": rows}, indent=2))
        return 0
    print(f"{len(files)} recording(s) in {folder}:")
    for row in rows:
        if row.get("problem"):
            print(f"  {row['name']}: NOT USED, {row['problem']}")
            continue
        spelled = "found" if row["phrase_in_transcript"] else "missed"
        print(f"  {row['name']}: {row['speech_s']:.1f} s; Whisper hears {row['heard']!r} (phrase {spelled}); "
              f"distance to the synthetic voices {row['distance']:.3f}" + (" - adds a voice they miss"
                                                                           if row["adds"] else ""))
    return 0


def describe(settings: Any, files: list[Path]) -> list[dict[str, Any]]:
    """Per recording: what Whisper hears, whether the phrase's spelling is in it, how far it sounds from the
    synthetic templates (above listen.wake_acoustic: it adds a voice they do not cover)."""
    from kiosk.listen.engines import Unprimed, build_asr
    from kiosk.listen.wake import match_phrase
    from kiosk.listen.wake_templates import PhraseTemplates

    asr = build_asr(settings)
    if not hasattr(asr, "encode"):
        return [{"name": p.name, "problem": "recordings help the Whisper recognizer only (listen.asr)"}
                for p in files]
    synthetic = PhraseTemplates.build(asr, settings.listen.wake_phrase, threshold=1.0)
    rows: list[dict[str, Any]] = []
    for path in files:
        try:
            sample = read_sample(path)
        except ValueError as error:
            rows.append({"name": path.name, "problem": str(error).removeprefix(f"{path.name}: ")})
            continue
        spotter = Unprimed(asr)  # as the wake spotter hears it: without the documents' words
        spotter.start()
        spotter.feed(b"\0\0" * int(0.3 * RATE) + sample.speech + b"\0\0" * int(0.5 * RATE))
        heard = spotter.finish()
        found = synthetic.match(heard.encoding) if synthetic is not None and heard.encoding is not None else None
        distance = found.distance if found is not None else 1.0
        rows.append({"name": path.name, "speech_s": round(sample.speech_s, 2), "heard": heard.text,
                     "phrase_in_transcript": match_phrase(heard.text.split(), settings.listen.wake_phrase,
                                                             settings.listen.wake_sensitivity) is not None,
                     "distance": round(distance, 3), "adds": distance > settings.listen.wake_acoustic})
    return rows


def run_remove(args: argparse.Namespace, settings: Any) -> int:
    folder = samples_dir(settings)
    missing = 0
    for name in args.names:
        path = folder / Path(name).name
        if path.suffix == "":
            path = path.with_suffix(".wav")
        if path.is_file():
            path.unlink()
            print(f"removed {path.name}")
        else:
            print(f"kiosk: no recording {name!r} in {folder} (kiosk wake list)", file=sys.stderr)
            missing += 1
    return 1 if missing else 0

