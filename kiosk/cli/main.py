"""`kiosk` command line. Names and JSON keys here are a contract other tools depend on."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

from kiosk.config import ConfigError, Settings, load_settings
from kiosk.knowledge.index import KnowledgeError
from kiosk.models.locate import ModelKindError
from kiosk.models.manifest import ManifestError, ModelMissingError

log = logging.getLogger("kiosk")


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(getattr(args, "config", None))
    from kiosk.logs import setup_logging

    setup_logging(settings.logging, verbose=getattr(args, "verbose", False))
    return settings


def cmd_ask(args: argparse.Namespace) -> int:
    from kiosk.runtime import Runtime

    settings = _settings(args)
    with Runtime(settings, speech=not args.no_speech, kb=args.kb) as rt:
        result = asyncio.run(rt.ask(args.question, out=Path(args.out) if args.out else None))
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(result["answer"])
        t = result["timings_ms"]
        print(f"(ttft {t['ttft']} ms, first sentence {t['first_sentence']} ms, first audio {t['first_audio']} ms, "
              f"total {t['total']} ms)", file=sys.stderr)
    return 0 if not result.get("error") else 1


def cmd_say(args: argparse.Namespace) -> int:
    from kiosk.audio.wav import timeline_json, write_timeline, write_wav
    from kiosk.runtime import build_speaker

    settings = _settings(args)
    speaker = build_speaker(settings)
    clip = speaker.speak_joined(args.text)
    if not clip.pcm:
        print(f"kiosk say: nothing to say in {args.text!r}", file=sys.stderr)
        return 1
    write_wav(Path(args.out), clip.pcm, clip.sample_rate)
    if args.visemes:
        write_timeline(Path(args.visemes), clip.pcm, clip.sample_rate, clip.visemes)
    summary = timeline_json(clip.pcm, clip.sample_rate, clip.visemes)
    print(json.dumps(summary if args.json else {k: summary[k] for k in ("sample_rate", "duration_s")}))
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from kiosk.cli.chat import run_chat

    return run_chat(_settings(args), speech=not args.no_speech)


def cmd_demo(args: argparse.Namespace) -> int:
    from kiosk.cli.demo import run_demo

    return run_demo(_settings(args), out_dir=Path(args.out_dir), speaker=args.speaker, json_out=args.json,
                    video=Path(args.out) if args.out else None, size=args.size, fps=args.fps,
                    questions=args.questions, window=args.window)


def _kb_target(args: argparse.Namespace, settings: Settings) -> Path:
    from kiosk.models.locate import knowledge_path

    path = knowledge_path(settings, args.kb)
    if path is None:
        raise ConfigError.single(settings.source, "no knowledge base given: pass --kb FILE or set knowledge_base "
                                 "in [persona]", key="persona.knowledge_base")
    return path


def cmd_ingest(args: argparse.Namespace) -> int:
    from kiosk.cli.ingest import run_ingest

    settings = _settings(args)
    return run_ingest(settings, [Path(p) for p in args.paths], _kb_target(args, settings), json_out=args.json)


def cmd_eval(args: argparse.Namespace) -> int:
    from kiosk.answer.evaluate import EvalFileError, evaluate, load_cases
    from kiosk.runtime import Runtime

    settings = _settings(args)
    kb = _kb_target(args, settings)
    try:
        cases = load_cases(Path(args.qa))
    except (OSError, EvalFileError) as error:
        print(f"kiosk eval: {error}", file=sys.stderr)
        return 2
    with Runtime(settings, speech=False, kb=kb) as rt:
        report = evaluate(rt, cases, answers=not args.retrieval_only)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        for key, value in report.items():
            if key != "per_question":
                print(f"{key:>20}: {value}")
    return 0


def cmd_devices(args: argparse.Namespace) -> int:
    from kiosk.audio.capture import devices_json

    report = devices_json()
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        for kind in ("inputs", "outputs"):
            print(f"{kind}:")
            for d in report[kind]:
                print(f"  [{d['index']}] {d['name']} ({d['channels']} ch, {d['default_rate']:.0f} Hz)")
            if not report[kind]:
                print("  none")
    return 0


def cmd_transcribe(args: argparse.Namespace) -> int:
    from kiosk.audio.wav import AudioFileError, read_pcm16k
    from kiosk.listen.engines import build_asr
    from kiosk.listen.transcribe import transcribe

    settings = _settings(args)
    try:
        pcm = read_pcm16k(Path(args.file))
    except (OSError, AudioFileError) as error:
        print(f"kiosk transcribe: {error}", file=sys.stderr)
        return 2
    # cut and decoded as the kiosk listens; --wake: only what it would act on after its wake phrase
    result = transcribe(build_asr(settings), pcm, settings, wake=args.wake)
    print(json.dumps(result, ensure_ascii=False) if args.json else result["text"])
    return 0


def cmd_listen(args: argparse.Namespace) -> int:
    from kiosk.cli.listen import cmd_listen as listen

    return listen(args, _settings(args))


def cmd_run(args: argparse.Namespace) -> int:
    from kiosk.appliance.memory import reexec_with_few_arenas
    from kiosk.appliance.run import run_kiosk

    reexec_with_few_arenas()  # before any model loads: memory stays flat for months (see memory.py)

    from kiosk.appliance import last_good

    problem = None
    try:
        settings = _settings(args)
    except ConfigError as error:  # a broken edit must not leave the screen dark: the last one that worked
        settings, problem = last_good.fallback(error)
        from kiosk.logs import setup_logging

        setup_logging(settings.logging, verbose=getattr(args, "verbose", False))
    import functools

    from kiosk.admin.api import start_api
    from kiosk.admin.auth import InsecureBind, check_bind
    from kiosk.admin.console import default_audit_path
    from kiosk.admin.persona import apply_overlay, overlay_path
    from kiosk.config_check import config_line

    base = settings
    try:  # what the admin console changed (name, greeting, voice ...), on top of kiosk.toml
        settings = apply_overlay(settings, overlay_path(default_audit_path().parent))
    except ConfigError as error:  # the console's file is broken: kiosk.toml alone, and /status says why
        problem = f"admin console's settings not applied: {error}"

    try:
        check_bind(settings.service)  # before minutes of model loading: an open API without a token never starts
    except InsecureBind as error:
        raise ConfigError.single(settings.source, str(error), key="service.api_bind",
                                 line=config_line(settings.source, "service", "api_bind")) from None
    return run_kiosk(settings, headless=args.headless, problem=problem,
                     services=[functools.partial(start_api, base=base)])


def cmd_doctor(args: argparse.Namespace) -> int:
    from kiosk.cli.doctor import run_doctor

    return run_doctor(args)


def cmd_bench(args: argparse.Namespace) -> int:
    from kiosk.cli.bench import run_bench

    if args.render:
        from kiosk.cli.bench_render import measure_render

        report = measure_render(_settings(args), seconds=args.seconds, size=args.size, with_llm=not args.no_llm,
                                backend_name=args.backend)
        print(json.dumps(report, indent=1) if args.json else
              f"{report['fps']} fps at {args.size[0]}x{args.size[1]} (p50 {report['frame_ms_p50']} ms, p99 "
              f"{report['frame_ms_p99']} ms; floor {report['floor_fps']} fps, ratio {report['ratio_to_floor']})")
        return 0
    return run_bench(_settings(args), runs=args.runs, json_out=args.json)


def _video_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected WIDTHxHEIGHT, e.g. 1920x1080") from None
    if not (320 <= w <= 7680 and 240 <= h <= 4320) or w % 2 or h % 2:
        raise argparse.ArgumentTypeError(f"{text!r}: width and height must be even, 320x240 to 7680x4320")
    return w, h


def build_parser() -> argparse.ArgumentParser:
    from kiosk.cli.models import add_models_parser

    parser = argparse.ArgumentParser(prog="kiosk", description="Offline interactive-avatar kiosk.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="TOML config (else $KIOSK_CONFIG, ./kiosk.toml, /etc/kiosk/kiosk.toml)")
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ask", parents=[common], help="answer one question")
    p.add_argument("question")
    p.add_argument("--no-speech", action="store_true", help="text only, no synthesis")
    p.add_argument("--out", help="also write the spoken answer to this WAV file")
    p.add_argument("--kb", help="knowledge index (default: persona.knowledge_base)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("ingest", parents=[common], help="index company documents for answering")
    p.add_argument("paths", nargs="+", help="files and folders (read recursively)")
    p.add_argument("--kb", help="index file to create or update (default: persona.knowledge_base)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("eval", parents=[common], help="measure answers against a question file")
    p.add_argument("qa", help="JSONL file of evaluation questions")
    p.add_argument("--kb", help="knowledge index (default: persona.knowledge_base)")
    p.add_argument("--retrieval-only", action="store_true", help="skip the LLM: retrieval and declines only")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("say", parents=[common], help="speak text into a WAV file with its viseme timeline")
    p.add_argument("text")
    p.add_argument("--out", required=True, help="WAV file to write")
    p.add_argument("--visemes", help="JSON file for the viseme timeline")
    p.add_argument("--json", action="store_true", help="print the full timeline, not just the summary")
    p.set_defaults(func=cmd_say)

    p = sub.add_parser("chat", parents=[common], help="text conversation in the terminal")
    p.add_argument("--no-speech", action="store_true")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("demo", parents=[common], help="a scripted onboarding conversation")
    p.add_argument("--out-dir", default="out/demo", help="where the answers' WAV files go")
    p.add_argument("--out", help="also render the conversation to this MP4 (headless; H.264 + AAC)")
    p.add_argument("--size", type=_video_size, default=(1280, 720), help="video size, WIDTHxHEIGHT (default 1280x720)")
    p.add_argument("--fps", type=int, default=30, choices=(25, 30, 50, 60), help="video frame rate (default 30)")
    p.add_argument("--questions", type=int, help="only the first N questions of the script")
    p.add_argument("--window", action="store_true", help="then play it live in a window (needs a display)")
    p.add_argument("--speaker", choices=["auto", "on", "off"], default="auto",
                   help="also play through the sound device (auto: when one exists)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("devices", parents=[common], help="list sound input and output devices")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_devices)

    p = sub.add_parser("transcribe", parents=[common], help="speech recognition on a WAV file")
    p.add_argument("file")
    p.add_argument("--wake", action="store_true",
                   help="hear it as kiosk run does: only the questions after the wake phrase (listen.wake_phrase)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_transcribe)

    from kiosk.cli.avatar import add_avatar_parser
    from kiosk.cli.listen import add_listen_parser
    from kiosk.cli.pack import add_pack_parser

    add_avatar_parser(sub, common)
    add_pack_parser(sub, common)
    add_listen_parser(sub, common)
    sub.choices["listen"].set_defaults(func=cmd_listen)

    p = sub.add_parser("run", parents=[common], help="the kiosk: listen, answer, speak, show (systemd service)")
    p.add_argument("--headless", action="store_true", help="no screen (tests, benchmarks)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("doctor", parents=[common], help="check that this machine is ready")
    p.add_argument("--json", action="store_true")
    p.add_argument("--appliance", action="store_true",
                   help="judge as the appliance and check the running service itself (the first-boot checklist)")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("bench", parents=[common], help="measure latency and throughput")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--render", action="store_true", help="talking-head frame rate instead (headless)")
    p.add_argument("--backend", choices=("pygame", "cuda"), default="pygame",
                   help="with --render: the drawing backend to measure (cuda: the Jetson's jetson-utils)")
    p.add_argument("--size", type=_video_size, default=(1920, 1080), help="--render: screen size (1920x1080)")
    p.add_argument("--seconds", type=float, default=10.0, help="--render: frames to draw, in seconds at 30 fps")
    p.add_argument("--no-llm", action="store_true", help="--render: without an answer generated meanwhile")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bench)

    add_models_parser(sub)
    from kiosk.cli.api import add_api_parser
    from kiosk.cli.quiz import add_quiz_parser
    from kiosk.cli.report import add_report_parser
    from kiosk.cli.roleplay import add_roleplay_parser
    from kiosk.cli.voice import add_voice_parser
    from kiosk.cli.wake import add_wake_parser

    add_voice_parser(sub, common)
    add_wake_parser(sub, common, _settings)
    add_api_parser(sub, common)
    add_quiz_parser(sub, common)
    add_roleplay_parser(sub, common, _settings)
    add_report_parser(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as error:
        print(f"kiosk: configuration problem\n{error}", file=sys.stderr)
        return 2
    except (ModelMissingError, ModelKindError, ManifestError) as error:
        print(f"kiosk: {error}", file=sys.stderr)
        return 3
    except KnowledgeError as error:
        print(f"kiosk: {error}", file=sys.stderr)
        return 4
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
