"""`kiosk voice add | list | preview | remove | record`: the kiosk speaking with your own Piper voice
(docs/voice.md). Exit codes: 0 done, 1 refused or failed (the message says why and what to do); config
and model problems take main's codes (2, 3)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from kiosk.config import Settings


def _settings(args: argparse.Namespace) -> Settings:
    from kiosk.config import load_settings, with_overrides
    from kiosk.logs import setup_logging

    settings = load_settings(getattr(args, "config", None))
    setup_logging(settings.logging, verbose=getattr(args, "verbose", False))
    if getattr(args, "models_dir", None):
        settings = with_overrides(settings, models={"dir": str(args.models_dir)})
    return settings


def _manifest(settings: Settings) -> Any:
    from kiosk.models.manifest import load_manifest

    return load_manifest(settings.models.resolved_manifest, settings.models.resolved_dir)


def _fail(command: str, message: str) -> int:
    print(f"kiosk voice {command}: {message}", file=sys.stderr)
    return 1


def _speaker(text: str) -> int | str:
    return int(text) if text.isdigit() else text


# ----------------------------------------------------------------------------- add / remove


def run_add(args: argparse.Namespace) -> int:
    from kiosk.speech.voice_check import VoiceCheckError
    from kiosk.speech.voice_store import VoiceStoreError, install_voice

    settings = _settings(args)
    try:
        added = install_voice(Path(args.path), settings.models.resolved_dir, _manifest(settings), name=args.name,
                              speaker=args.speaker, replace=args.replace, text=args.text, licence=args.licence,
                              speech=settings.speech)
    except (VoiceCheckError, VoiceStoreError) as error:
        return _fail("add", f"refused, nothing was installed:\n{error}")
    except OSError as error:
        return _fail("add", f"could not install the voice, nothing was changed: {error}")
    r, info, name = added.report, added.report.info, added.entry.name
    if args.json:
        print(json.dumps({"name": name, "path": str(added.root), "replaced": added.replaced,
                          "check": r.to_dict()}, ensure_ascii=False))
        return 0
    speakers = "one speaker" if info.num_speakers <= 1 else f"{info.num_speakers} speakers"
    print(f"checked {r.files.model}: {info.language_name}, {info.sample_rate} Hz, {info.quality or '?'} quality, "
          f"{speakers}; spoke {r.duration_s:.1f} s with {r.visemes} visemes ({r.shapes} mouth shapes)")
    for warning in r.warnings:
        print(f"warning: {warning}")
    print(f"{'replaced' if added.replaced else 'installed'} voice {name!r} in {added.root}/ "
          f"(sha256 recorded in {settings.models.resolved_dir / 'local-manifest.toml'})")
    if info.num_speakers > 1:
        from kiosk.speech.speakers import speaker_choices

        print(f"speakers: {speaker_choices(info.speakers, info.num_speakers)}; this one speaks as "
              f"speaker {r.speaker_id} unless [speech] speaker = ... chooses another")
    print(f'use it: voice = "{name}" in [persona] of the config; hear it: kiosk voice preview {name}')
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from kiosk.speech.voice_store import VoiceStoreError, remove_voice

    settings = _settings(args)
    try:
        root = remove_voice(args.name, settings.models.resolved_dir, _manifest(settings))
    except VoiceStoreError as error:
        return _fail("remove", str(error))
    print(f"removed voice {args.name!r} ({root}/)")
    if settings.persona.voice == args.name:
        print(f"note: persona.voice in {settings.source or 'the config'} still names it: choose another voice")
    return 0


# ----------------------------------------------------------------------------- list / preview


def run_list(args: argparse.Namespace) -> int:
    from kiosk.speech.voice_store import list_voices

    settings = _settings(args)
    rows = list_voices(settings, _manifest(settings))
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    cols = ("", "name", "language", "rate", "speakers", "source")
    table = [["*" if r["persona"] else "", r["name"], r["language"], str(r["sample_rate"] or "-"),
              str(r["speakers"] or "-"), r["source"]] for r in rows]
    widths = [max(len(c), *(len(t[i]) for t in table)) if table else len(c) for i, c in enumerate(cols)]
    for line in [[c.upper() for c in cols], *table]:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
    voice = settings.persona.voice
    used = f"* = persona.voice ({settings.source or 'built-in defaults'})"
    if not any(r["persona"] for r in rows):
        used = f"persona.voice = {voice!r} is not a voice of the manifest: kiosk run will refuse to start"
    print(f"\n{used}\nmodels dir: {settings.models.resolved_dir}")
    return 0


def run_preview(args: argparse.Namespace) -> int:
    from kiosk.audio.wav import write_wav
    from kiosk.config import with_overrides
    from kiosk.runtime import build_speaker

    settings = _settings(args)
    speech = {"speaker": args.speaker} if args.speaker is not None else {}
    settings = with_overrides(settings, persona={"voice": args.name}, speech=speech)
    speaker = build_speaker(settings)  # exactly what kiosk run loads
    text = args.text or settings.persona.greeting
    clip = speaker.speak_joined(text)
    if not clip.pcm:
        return _fail("preview", f"nothing to say in {text!r}")
    out = Path(args.out or f"{args.name}-preview.wav")
    write_wav(out, clip.pcm, clip.sample_rate)
    played = _play(clip.pcm, clip.sample_rate, settings.audio.output_device) if args.play else None
    result = {"name": args.name, "out": str(out), "sample_rate": clip.sample_rate,
              "duration_s": round(clip.duration_s, 3), "visemes": len(clip.visemes),
              "speaker": speaker.speaker_id, "played": played}
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"{args.name}: {clip.duration_s:.2f} s at {clip.sample_rate} Hz, {len(clip.visemes)} visemes -> {out}")
        if args.play:
            print("played on the sound output" if played else "not played: no sound output device")
    return 0


def _play(pcm: bytes, rate: int, device_name: str) -> bool:
    from kiosk.audio.playback import Player, find_output

    device = find_output(device_name)
    if device is None:
        return False
    player = Player(device, name=device_name)
    try:
        player.play(pcm, rate)
    except Exception as error:  # noqa: BLE001 - the WAV is written; sound is a bonus
        print(f"kiosk voice preview: could not play on {device.name}: {error}", file=sys.stderr)
        return False
    finally:
        player.close()
    return True


# ----------------------------------------------------------------------------- record


def run_record(args: argparse.Namespace) -> int:
    from kiosk.cli.voice_record import MicrophoneBlocks, TerminalUI
    from kiosk.speech.recording import PromptError, done_ids, load_prompts, record_dataset

    settings = _settings(args)
    try:
        prompts = load_prompts(Path(args.prompts) if args.prompts else None)
    except PromptError as error:
        return _fail("record", str(error))
    out = Path(args.dir)
    left = len([p for p in prompts if p.id not in set(done_ids(out))])
    device: str | int = int(args.device) if args.device and args.device.isdigit() else (
        args.device if args.device is not None else settings.audio.input_device)
    try:
        source = MicrophoneBlocks(device, args.rate)
    except OSError as error:
        return _fail("record", f"cannot open the microphone: {error}")
    print(f"recording into {out}/ at {args.rate} Hz from {source.device.name}: {left} of {len(prompts)} prompts "
          f"to go{f', {args.count} this session' if args.count else ''}.\nSit or stand as you will at the kiosk, "
          "about a hand's width from the microphone, in a quiet room. Read each sentence as shown; Ctrl-C stops "
          "(every saved take is kept; run the same command again to go on).")
    ui = TerminalUI(window=args.window)
    try:
        result = record_dataset(out, prompts, source, ui, count=args.count)
    except KeyboardInterrupt:
        print(f"\nstopped; {len(done_ids(out))} takes in {out}/ so far")
        return 0
    except PromptError as error:
        return _fail("record", str(error))
    except OSError as error:  # the microphone went away mid-session
        return _fail("record", f"the microphone failed ({error}); the {len(done_ids(out))} takes saved in {out}/ "
                     "are kept: run the same command again to go on")
    finally:
        source.close()
        ui.close()
    print(f"\n{len(result.recorded)} takes saved this session ({result.retakes} retakes, {len(result.skipped)} "
          f"skipped); {result.total} takes, {result.total_s / 60:.1f} minutes in {out}/. Next: docs/voice.md")
    return 0


# ----------------------------------------------------------------------------- argparse


def add_voice_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    from kiosk.speech.recording import DEFAULT_RATE
    from kiosk.speech.voice_check import SAMPLE_RATES

    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--models-dir", type=Path, help="models directory (default: [models] dir, $KIOSK_MODELS_DIR "
                       "or ~/.local/share/kiosk/models)")
    parents = [common, where]
    p = sub.add_parser("voice", help="Piper voices: add your own, list, preview, record a dataset (docs/voice.md)")
    voice = p.add_subparsers(dest="voice_command", required=True, metavar="COMMAND")

    q = voice.add_parser("add", parents=parents, help="check a Piper voice and install it for persona.voice")
    q.add_argument("path", help="the voice's .onnx (its .onnx.json beside it), or a folder holding one voice")
    q.add_argument("--name", help="name to use in persona.voice (default: the file's name without .onnx)")
    q.add_argument("--speaker", type=_speaker, default="",
                   help="multi-speaker voices: speaker id or name to check and make the voice's default")
    q.add_argument("--replace", action="store_true", help="replace an added voice of the same name")
    q.add_argument("--text", help="test sentence to speak (default: one in the voice's language)")
    q.add_argument("--licence", default="", help="the voice's licence, recorded in the manifest")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run_add)

    q = voice.add_parser("list", parents=parents, help="every voice, where it comes from, which one the persona uses")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run_list)

    q = voice.add_parser("preview", parents=parents, help="speak a sentence with a voice into a WAV file")
    q.add_argument("name", help="voice name (kiosk voice list)")
    q.add_argument("--text", help="what to say (default: persona.greeting)")
    q.add_argument("--out", help="WAV file to write (default: NAME-preview.wav)")
    q.add_argument("--speaker", type=_speaker, help="multi-speaker voices: speaker id or name")
    q.add_argument("--play", action="store_true", help="also play it on the sound output, when there is one")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run_preview)

    q = voice.add_parser("remove", parents=parents, help="delete a voice added with `kiosk voice add`")
    q.add_argument("name")
    q.set_defaults(func=run_remove)

    q = voice.add_parser("record", parents=parents,
                         help="read prompt sentences at the microphone into a Piper training dataset")
    q.add_argument("dir", help="dataset folder (created; an existing one is continued)")
    q.add_argument("--prompts", help="text file, one sentence a line (default: the kiosk's English prompts)")
    q.add_argument("--device", help="input device index or name part (default: audio.input_device)")
    q.add_argument("--count", type=int, help="record at most this many prompts now")
    q.add_argument("--rate", type=int, default=DEFAULT_RATE, choices=SAMPLE_RATES,
                   help=f"sample rate of the dataset (default {DEFAULT_RATE}: Piper medium quality)")
    q.add_argument("--window", action=argparse.BooleanOptionalAction, default=None,
                   help="also show the prompt in a window (default: when there is a display)")
    q.set_defaults(func=run_record)
