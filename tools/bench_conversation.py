#!/usr/bin/env python3
"""Conversations with `kiosk run`: visitors, follow-ups, bystanders and hall noise on a private PulseAudio.

    .venv/bin/python tools/bench_conversation.py [--part tuning|heldout|all] [--visitors N] [--seed 11]
                                                 [--config EXTRA.toml] [--json OUT] [--keep DIR] [--patience 8]

The visitors come from tools/conversation_corpus.py (seeded; its manifest fixes the TUNING / HELD-OUT
split). `kiosk run --headless` runs as a subprocess with the sample documents ingested into a temp index and
`[service] status_port` set (plus anything in --config, merged over that). Each visitor is played
interactively: the wake line, the pause, the question (if the kiosk is talking - a greeting - the visitor
waits for it to finish, as people do), then the benchmark waits for the kiosk through its notify-socket
STATUS lines (listening / thinking / speaking / follow_up / idle); a follow-up question 0.5-2 s after the
answer ends; a bystander line inside the follow-up window; the window left to close; then bystander chatter
until the next visitor. Visitors' speech goes to a combined sink feeding the kiosk's microphone and the
recorded speaker monitor (one clock for question and answer, as in tools/bench_voice.py); hall noise and
bystanders go to the microphone only; the microphone (`virtual_mic`, what the kiosk was given to hear) is
recorded too. After every step GET /status tells what the kiosk heard and answered (`turns`, `last_turn`, and
where the kiosk has them, `recent` and `wakes`; without them the turn count is used).

After the live run, in this process with the same settings and models: every question typed (the
responder, non-streamed, on the true text: what a right answer would be), and the plain sequential
baseline - whole transcript of the question WAV (plus the same end-of-speech silence, i.e. `kiosk
transcribe`'s path) -> whole answer -> Piper on the whole answer -> first audio. Live = file
(tools/conversation_replay.py), twice: the kiosk's own flight recording (listen.record_dir: what its listener
consumed and its control calls) replayed whole as `kiosk listen --input --controls` replays it, every question
the kiosk acted on compared character for character (`live_vs_kiosk_recording`); and every question, with its
wake line, and every follow-up cut out of a second recorder's copy of the microphone and heard by
`kiosk transcribe --wake`'s path; the question it prints must read as the words the kiosk acted on
(`live_equals_transcribe`; `live_equals_clean_transcribe` is the older comparison with the baseline's
transcript of the clean WAV).

Scoring never depends on the model's wording: an answer is right when the corpus's key facts appear in it
(`kiosk eval`'s rule). Every turn the kiosk finished is given to the utterance it answered by its words (the
best recall or precision of content words, at least 0.5, among what the current and previous visitor's scene
said: questions, follow-ups, bystander lines); a turn matching nothing while a visitor's question waits is
that question misheard ("answered to something else"); one that comes after the visitor gave up (--patience
seconds after their question) is late, and the question counts as lost. Bystander answers per 10 minutes =
turns that answered anything but a visitor's question, over the bystanders' speech time.

Run it on an otherwise idle machine: a kiosk that gets less than about one core falls behind the microphone
(the report's `listener_lag`, from the kiosk's log, and `kiosk_cpu_cores` / `machine_load_avg` show it), and
then wakes and answers come late and are scored as lost.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10 (JetPack 6)
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

# The parts, one job each; their names stay importable from here (tests import bench_conversation).
import conversation_corpus as cc  # noqa: E402
from conversation_live import BUSY, Session, cpu_seconds, live_run, prepare_audio, run_visitor  # noqa: E402,F401
from conversation_measure import FLOOR, answer_onset, is_earcon, locate, measure, segments  # noqa: E402,F401
from conversation_replay import AFTER_S, PRE_S, cut, replay, replay_kiosk_recording  # noqa: E402,F401
from conversation_score import (  # noqa: E402,F401
    aggregate,
    attribute,
    halves,
    score,
    score_question,
    table,
    wakes_between,
)
from conversation_text import content, coverage, edits, has_facts, precision, same_words, spoken, words  # noqa: E402,F401
from conversation_watch import Notify, Recorder  # noqa: E402,F401
from pulse_sandbox import RAW_MIC  # noqa: E402
from speech_corpus import RATE, write_wav  # noqa: E402

# -- the run's settings and the kiosk's log ----------------------------------------------------------------------


def listener_lag(log_text: str) -> dict[str, Any]:
    """How far the kiosk's listener ran behind the microphone, from its log (a diagnostic: the log's wording
    is not a contract): a dismissed utterance is logged with its stream position, which, added to the time the
    microphone opened, is when it was said; the log line's time is when the kiosk had judged it. Includes the
    utterance's own length and its recognition (normally 1-4 s); whole seconds."""
    import datetime as dt

    def clock(hms: str) -> float:
        return (dt.datetime.strptime(hms, "%H:%M:%S") - dt.datetime(1900, 1, 1)).total_seconds()

    opened = re.search(r"^(\d\d:\d\d:\d\d) INFO \S+: microphone listening", log_text, re.M)
    if opened is None:
        return {"n": 0}
    lags = [clock(m[1]) - clock(opened[1]) - float(m[2])
            for m in re.finditer(r"^(\d\d:\d\d:\d\d) .*utterance at (\d+(?:\.\d+)?) s dismissed", log_text, re.M)]
    lags = [lag + 86400 if lag < -3600 else lag for lag in lags]  # past midnight
    return {"n": len(lags), "p50_s": round(statistics.median(lags), 1) if lags else None,
            "max_s": round(max(lags), 1) if lags else None,
            "series_s": [round(x, 1) for x in lags]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def toml_text(data: dict) -> str:
    """A small TOML writer for settings (sections of scalars, arrays and one level of sub-tables)."""
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        raise TypeError(f"cannot write {v!r} as TOML")

    lines: list[str] = []
    for section, entries in data.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {value(v)}" for k, v in entries.items() if not isinstance(v, dict)]
        for k, v in entries.items():
            if isinstance(v, dict):
                lines.append(f"[{section}.{json.dumps(k) if not re.fullmatch(r'[A-Za-z0-9_-]+', k) else k}]")
                lines += [f"{json.dumps(kk)} = {value(vv)}" for kk, vv in v.items()]
        lines.append("")
    return "\n".join(lines)

# -- typed answers and the sequential baseline -------------------------------------------------------------------


async def _respond(rt, text: str) -> Any:  # noqa: ANN001
    from kiosk.answer.pipeline import run_turn

    return await run_turn(rt.responder, text, speak=False)


def offline(visitors: list[cc.Visitor], files: dict[str, Any], live: dict[str, Any], config: Path) -> None:
    """Typed answers (the truth's reach), live = file (`kiosk transcribe` on the microphone's recording) and
    the sequential baseline, after the kiosk has stopped."""
    import asyncio

    from kiosk.config import load_settings
    from kiosk.listen.engines import build_asr
    from kiosk.listen.transcribe import transcribe
    from kiosk.listen.wake import strip_phrase
    from kiosk.runtime import Runtime

    settings = load_settings(str(config))
    hangover = np.zeros(int(settings.listen.hangover_ms / 1000 * RATE), np.int16)
    short_s = getattr(settings.listen, "hangover_complete_ms", settings.listen.hangover_ms) / 1000
    asr = build_asr(settings)
    replay(live, visitors, files, asr, settings)
    live["kiosk_replay"] = replay_kiosk_recording(live, config.parent / "flight", settings)
    with Runtime(settings, speech=True) as rt:
        for row, v in zip(live["rows"], visitors, strict=False):
            questions = [("question", v.question)] + ([("follow_up", v.follow_up)] if v.follow_up else [])
            rt.engine.reset()
            typed = {}
            for kind, q in questions:  # a new visitor, then the follow-up in the same conversation
                done = asyncio.run(_respond(rt, q.text))
                typed[kind] = {"answer": done.answer if done else "", "grounded": bool(done and done.grounded),
                               "facts_ok": bool(done and has_facts(done.answer, q.key_facts))}
            rt.engine.reset()
            base = {}
            for kind, q in questions:
                wav_key = "wake" if kind == "question" and v.style == "one_breath" else kind
                rendered = files[v.id][wav_key][1]
                pcm = rendered.pcm[: rendered.speech_end].copy()
                step = next((st for st in row["steps"] if st["kind"] == kind and "play" in st), None)
                if "noise" in files[v.id] and step is not None and "t_noise" in row:
                    noise = files[v.id]["noise"][1]
                    at = int(max(0.0, step["play"][0] - row["t_noise"]) * RATE)
                    seg = noise[at: at + pcm.size]
                    pcm = np.clip(pcm.astype(np.int32) + np.pad(seg, (0, pcm.size - seg.size)), -32768, 32767)
                    pcm = pcm.astype(np.int16)
                pcm = np.concatenate([pcm, hangover])
                t0 = time.perf_counter()
                heard = transcribe(asr, pcm.tobytes(), settings)["text"]
                t1 = time.perf_counter()
                question = strip_phrase(heard, settings.listen.wake_phrase, 1.0) if wav_key == "wake" else heard
                done = asyncio.run(_respond(rt, question))
                t2 = time.perf_counter()
                answer = done.answer if done else ""
                clip = rt.speaker.speak_joined(answer) if answer.strip() else None
                t3 = time.perf_counter()
                base[kind] = {"transcript": question, "answer": answer,
                              "facts_ok": has_facts(answer, q.key_facts),
                              "asr_s": round(t1 - t0, 3), "answer_s": round(t2 - t1, 3), "synth_s": round(t3 - t2, 3),
                              "compute_s": round(t3 - t0, 3),
                              # the plain pipeline waits the fixed end-of-speech silence (listen.hangover_ms);
                              # the kiosk's adaptive end uses hangover_complete_ms for questions that read complete
                              "first_audio_s": round(hangover.size / RATE + (t3 - t0), 3) if clip else None,
                              "first_audio_s_short_silence": round(short_s + (t3 - t0), 3) if clip else None}
            row["typed"], row["baseline"] = typed, base

# -- main ------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def workdir(keep: str | None) -> Iterator[Path]:
    if keep:
        path = Path(keep)
        path.mkdir(parents=True, exist_ok=True)
        yield path
    else:
        path = Path(tempfile.mkdtemp(prefix="kiosk-bench-conv-"))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("tuning", "heldout", "all"), default="all")
    parser.add_argument("--visitors", type=int, help="only the first N visitors of the part")
    parser.add_argument("--ids", nargs="*", help="only these visitor ids (development)")
    parser.add_argument("--seed", type=int, default=11, help="the corpus seed (fixes the split)")
    parser.add_argument("--config", help="extra kiosk settings (TOML), merged over the benchmark's own")
    parser.add_argument("--json", help="write the report here")
    parser.add_argument("--keep", help="keep WAVs, the recording, config and kiosk log in this folder")
    parser.add_argument("--patience", type=float, default=8.0,
                        help="seconds a visitor waits after their question before giving up")
    args = parser.parse_args()

    manifest = cc.generate(args.seed)
    visitors = cc.visitors_of(manifest, args.part)
    if args.ids:
        visitors = [v for v in visitors if v.id in set(args.ids)]
    if args.visitors:
        visitors = visitors[: args.visitors]
    started = time.monotonic()
    with workdir(args.keep) as tmp:
        kb = tmp / "kb.sqlite"
        port = free_port()
        base = {"persona": {"knowledge_base": str(kb)}, "audio": {"input_device": "pulse", "output_device": "pulse"},
                "service": {"status_port": port}, "listen": {"record_dir": str(tmp / "flight")}}
        extra = tomllib.loads(Path(args.config).read_text()) if args.config else {}
        data = merge(base, extra)
        data["service"]["status_port"] = port
        config = tmp / "kiosk.toml"
        config.write_text(toml_text(data))
        from kiosk.config import load_settings

        settings = load_settings(str(config))
        subprocess.run([sys.executable, "-m", "kiosk.cli", "ingest", str(ROOT / "samples" / "halvorsen"), "--config",
                        str(config)], check=True, capture_output=True)
        print(f"corpus seed {args.seed} ({cc.digest(manifest)}): {len(visitors)} visitors ({args.part}); rendering",
              file=sys.stderr)
        files = prepare_audio(visitors, tmp, args.seed)
        live = live_run(visitors, files, tmp, config, port, settings.listen.follow_up_s, args.patience)
        live_s = time.monotonic() - started
        measure(live, visitors, files)
        if args.keep:
            write_wav(tmp / "recording.wav", live["recording"])
            write_wav(tmp / "microphone.wav", live["mic_recording"])
        print("live = file, typed answers and the sequential baseline", file=sys.stderr)
        offline(visitors, files, live, config)
        rows = score(live, visitors, files)
        full_log = (tmp / "kiosk.log").read_text()
        kiosk_log = full_log[-4000:]
    parts = {p: aggregate([r for r in rows if p in ("all", r["part"])]) for p in ("tuning", "heldout", "all")}
    report = {
        "command": "tools/bench_conversation.py " + " ".join(sys.argv[1:]),
        "corpus": {"seed": args.seed, "digest": cc.digest(manifest), "summary": manifest["summary"],
                   "split": {k: manifest["split"][k] for k in ("tuning_voices", "heldout_voices", "rule")},
                   "heldout_questions": manifest["split"]["heldout_questions"]},
        "settings": {"follow_up_s": settings.listen.follow_up_s, "hangover_ms": settings.listen.hangover_ms,
                     "patience_s": args.patience,
                     "greeting": settings.service.greeting, "extra_config": extra},
        "live_vs_file": {"microphone": RAW_MIC, "pre_s": PRE_S, "after_s": AFTER_S,
                         "wake_sensitivity": settings.listen.wake_sensitivity},
        "live_vs_kiosk_recording": live.get("kiosk_replay"),
        "cold_start_to_ready_s": live.get("cold_start_to_ready_s"), "status_fields": live.get("status_fields"),
        "kiosk_cpu_cores": live.get("kiosk_cpu_cores"), "machine_load_avg": live.get("machine_load_avg"),
        "harness_cpu_cores": live.get("harness_cpu_cores"), "listener_lag": listener_lag(full_log),
        "cpu_count": os.cpu_count(),
        "live_minutes": round(live_s / 60, 1), "total_minutes": round((time.monotonic() - started) / 60, 1),
        "parts": parts, "rows": rows, "harness_log": live["harness_log"], "kiosk_log_tail": kiosk_log,
    }
    print(table(parts))
    if report["live_vs_kiosk_recording"]:
        k = report["live_vs_kiosk_recording"]
        print(f"live = replay of the kiosk's own recording (kiosk listen --input --controls): {k.get('share')} "
              f"({k.get('replayed_identically')} of {k.get('kiosk_questions')} questions the kiosk acted on)")
    lag = report["listener_lag"]
    if lag.get("n"):
        print(f"listener behind the microphone (kiosk log, dismissed utterances): median {lag['p50_s']} s, "
              f"max {lag['max_s']} s (normal: 1-4 s)")
    print(f"{len(rows)} visitors in {report['total_minutes']} min (live part {report['live_minutes']} min); the kiosk "
          f"used {report['kiosk_cpu_cores']} cores on average; machine load average {report['machine_load_avg']} "
          f"on {report['cpu_count']} cores")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, ensure_ascii=False, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
