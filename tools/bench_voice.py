#!/usr/bin/env python3
"""Voice-to-voice latency of `kiosk run`, cold start to READY, and memory after many turns.

    .venv/bin/python tools/bench_voice.py [--turns 12] [--memory-turns 200] [--early-decode-ms 120]
                                          [--json docs/bench/voice.json] [--png docs/bench/voice-waterfall.png]

A private PulseAudio: the question WAVs (Piper, "Hey coach, <question>?") are played into a combined sink
that feeds both the kiosk's virtual microphone and its speaker sink, so one recording of the speaker's
monitor holds the question and then the answer on one clock. Voice-to-voice = true end of the question's
speech (known from the WAV) -> first answer sample in that recording. Stages per turn: the endpointer's
hangover (listen.hangover_ms), recognition left after it (the kiosk measures it), the answer to its first
synthesized sentence, handing it to the sound device (both from /status), and what remains: audio I/O
(capture blocks, the sound server's buffers on the way in and out) and the VAD's lag (it hears speech
for ~60 ms after it ends, bench_listen's speech_end error). Memory: an in-process kiosk answers
--memory-turns typed questions; RSS after 10 and after all.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import bench_report  # noqa: E402
from notify_socket import FIRST_AUDIO, wait_for, wait_for_log  # noqa: E402
from pulse_sandbox import private_pulse  # noqa: E402
from speech_corpus import Line, render, write_wav  # noqa: E402

QUESTIONS = [
    "where is the IT help desk", "where do I pick up my badge", "is there wifi for guests",
    "how do I reset my password", "when is the cafeteria open", "where can I park",
    "how many vacation days do I get", "who do I call if I lose my badge", "where are the lockers",
    "what should I do if a machine jams", "how do I book a business trip", "is there a quiet room",
]


HANGOVER_S = 0.5  # listen.hangover_ms's default, which the benchmark's config keeps


def voice_to_voice(turns: int, tmp: Path, early_decode_ms: int) -> dict:
    from kiosk.knowledge.index import ingest

    kb = tmp / "kb.sqlite"
    ingest(kb, [ROOT / "samples" / "halvorsen"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp / "kiosk.toml"
    config.write_text(f'[persona]\nknowledge_base = "{kb}"\n\n[audio]\ninput_device = "pulse"\noutput_device = '
                      f'"pulse"\n\n[service]\nstatus_port = {port}\ngreeting = false\n\n'
                      f'[listen]\nearly_decode_ms = {early_decode_ms}\n')
    rows = []
    with private_pulse("kiosk-bench-voice-") as env, socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        subprocess.run(["pactl", "load-module", "module-combine-sink", "sink_name=both", "slaves=mic_feed,kiosk_out"],
                       env=env, check=True, capture_output=True)
        notify.bind(str(tmp / "notify.sock"))
        run_env = {**env, "NOTIFY_SOCKET": str(tmp / "notify.sock")}
        started = time.monotonic()
        kiosk = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "run", "--headless", "--config", str(config)],
                                 env=run_env, stderr=open(tmp / "kiosk.log", "w"))  # noqa: SIM115
        ready = wait_for(notify, "READY=1", 300)
        if ready is None:
            raise RuntimeError("kiosk never became READY: " + (tmp / "kiosk.log").read_text()[-2000:])
        cold_start = ready - started
        if not wait_for_log(tmp / "kiosk.log", FIRST_AUDIO, 60):
            raise RuntimeError("the microphone never delivered audio: " + (tmp / "kiosk.log").read_text()[-2000:])
        time.sleep(0.5)
        for i, question in enumerate(QUESTIONS[:turns]):
            pcm, placed = render([Line(f"Hey coach, {question}?", "piper", pause_before_s=0.5)], tail_s=0.2)
            wav = write_wav(tmp / f"q{i}.wav", pcm)
            rec = tmp / f"r{i}.wav"
            recorder = subprocess.Popen(["parecord", "--device=kiosk_out.monitor", "--file-format=wav",
                                         "--channels=1", "--rate=16000", str(rec)], env=env)
            time.sleep(0.5)
            subprocess.run(["paplay", "--device=both", str(wav)], env=env, check=True)
            done = wait_for(notify, "STATUS=follow_up", 60)
            time.sleep(0.5)
            recorder.send_signal(signal.SIGINT)
            recorder.wait(timeout=10)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5) as response:
                status = json.loads(response.read())
            rows.append(measure_turn(rec, pcm, placed[0].end, status, question, done is not None))
            time.sleep(9.0)  # past the follow-up window: every question is a new wake
        kiosk.send_signal(signal.SIGTERM)
        kiosk.wait(timeout=30)
    ok = [r for r in rows if r["voice_to_voice_s"] is not None and r["to_speaker_s"] is not None]
    v2v = [r["voice_to_voice_s"] for r in ok]
    report = {"turns": len(rows), "answered": len(ok), "cold_start_to_ready_s": round(cold_start, 2),
              "voice_to_voice_s_p50": round(float(np.percentile(v2v, 50)), 3) if v2v else None,
              "voice_to_voice_s_p95": round(float(np.percentile(v2v, 95)), 3) if v2v else None,
              "hangover_s": HANGOVER_S, "early_decode_ms": early_decode_ms}
    for name, _ in stages(ok[0], HANGOVER_S) if ok else ():
        key = re.sub(r"\W+", "_", name.lower().replace("/", ""))
        report[f"median_{key}_s"] = round(statistics.median(dict(stages(r, HANGOVER_S))[name] for r in ok), 3)
    return {**report, "rows": rows}


def measure_turn(rec: Path, question: np.ndarray, speech_end: int, status: dict, text: str, done: bool) -> dict:
    with wave.open(str(rec)) as w:
        audio = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)
    q = question.astype(np.float64)
    # Where the question sits in the recording: cross-correlation (both 16 kHz mono, same clock).
    corr = np.correlate(audio[: q.size + 16000 * 3], q, mode="valid")
    offset = int(np.argmax(corr))
    end = offset + speech_end
    # The answer's first sample above the floor that also marks the question's end (speech_bounds, about
    # -40 dBFS), looked for 100 ms after that end (the null sink is digitally silent in between).
    loud = np.flatnonzero(np.abs(audio[end + 1600:]) > 300)
    first = end + 1600 + int(loud[0]) if loud.size else None
    turn = status.get("last_turn") or {}
    timings = turn.get("timings_ms") or {}
    v2v = (first - end) / 16000 if first is not None and done else None
    row: dict = {"question": text, "voice_to_voice_s": round(v2v, 3) if v2v else None}
    for key in ("recognition", "first_audio", "to_speaker"):
        row[f"{key}_s"] = round(timings[key] / 1000, 3) if timings.get(key) is not None else None
    return {**row, "answer": turn.get("answer", "")[:80]}


def stages(row: dict, hangover_s: float) -> list[tuple[str, float]]:
    """The waterfall of one turn, in order; audio I/O is what the measured stages leave of voice-to-voice."""
    parts = [("hangover", hangover_s), ("recognition", row["recognition_s"]), ("answer", row["first_audio_s"]),
             ("to device", row["to_speaker_s"] - row["first_audio_s"])]
    return parts + [("audio I/O, VAD", row["voice_to_voice_s"] - sum(v for _, v in parts))]


def memory(turns: int) -> dict:
    import asyncio

    from kiosk.appliance.app import Kiosk
    from kiosk.appliance.notify import Notifier
    from kiosk.appliance.status import rss_mb
    from kiosk.config import load_settings, with_overrides
    from kiosk.events import Heard
    from kiosk.knowledge.index import ingest
    from kiosk.runtime import Runtime

    with tempfile.TemporaryDirectory() as tmp:
        kb = Path(tmp) / "kb.sqlite"
        ingest(kb, [ROOT / "samples" / "halvorsen"])
        settings = with_overrides(load_settings(None), persona={"knowledge_base": str(kb)},
                                  service={"greeting": False})
        marks: dict[int, float] = {}
        with Runtime(settings, speech=True) as rt:
            kiosk = Kiosk(rt, notifier=Notifier(env={}))

            async def main() -> None:
                stop = asyncio.Event()
                task = asyncio.create_task(kiosk.run(stop))
                await asyncio.sleep(0)
                for n in range(1, turns + 1):
                    kiosk.post(Heard(0.0, QUESTIONS[n % len(QUESTIONS)], "keyboard"))
                    while kiosk.turn_count < n:
                        await asyncio.sleep(0.01)
                    if n in (10, turns):
                        marks[n] = rss_mb()
                stop.set()
                await task

            asyncio.run(main())
    return {"rss_mb_after_10": marks[10], f"rss_mb_after_{turns}": marks[turns],
            "growth_mb": round(marks[turns] - marks[10], 1), "turns": turns}


COLOURS = {"hangover": (170, 170, 185), "recognition": (92, 160, 220), "answer": (92, 200, 150),
           "to device": (240, 190, 80), "audio I/O, VAD": (225, 120, 110)}


def waterfall(rows: list[dict], png: Path, hangover_s: float = HANGOVER_S) -> None:
    """Per turn, the stages from the end of the visitor's speech to the first answer sample, end to end
    (recognition: what is left of it after the hangover; early decoding runs inside the hangover). Drawn
    with pygame, no plotting library needed."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    pygame.font.init()
    ok = [r for r in rows if r["voice_to_voice_s"] is not None and r["to_speaker_s"] is not None]
    w, row_h, left = 1100, 34, 330
    h = 120 + row_h * len(ok)
    surf = pygame.Surface((w, h))
    surf.fill((250, 250, 252))
    font = pygame.font.Font(None, 22)
    scale = (w - left - 60) / max(2.0, max(r["voice_to_voice_s"] for r in ok))
    surf.blit(font.render("voice to voice per turn (s): end of the visitor's speech -> first answer sample",
                          True, (30, 30, 30)), (20, 12))
    x = 20
    for name, colour in COLOURS.items():
        pygame.draw.rect(surf, colour, (x, 40, 16, 14))
        label = font.render(name, True, (40, 40, 40))
        surf.blit(label, (x + 22, 40))
        x += 44 + label.get_width()
    for s in range(0, int((w - left) / scale) + 1):
        x = left + int(s * scale)
        pygame.draw.line(surf, (220, 220, 225), (x, 70), (x, h - 20))
        surf.blit(font.render(f"{s}", True, (90, 90, 90)), (x - 4, h - 18))
    for i, r in enumerate(ok):
        y = 76 + i * row_h
        surf.blit(font.render(r["question"][:38], True, (40, 40, 40)), (20, y + 6))
        at = 0.0
        for name, seconds in stages(r, hangover_s):
            width = max(0, int(seconds * scale))
            pygame.draw.rect(surf, COLOURS[name], (left + int(at * scale), y + 4, width, row_h - 10))
            at += max(0.0, seconds)
        surf.blit(font.render(f"{r['voice_to_voice_s']:.2f}", True, (30, 30, 30)),
                  (left + int(r["voice_to_voice_s"] * scale) + 6, y + 6))
    png.parent.mkdir(parents=True, exist_ok=True)
    pygame.image.save(surf, str(png))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=12)
    parser.add_argument("--memory-turns", type=int, default=200)
    parser.add_argument("--early-decode-ms", type=int, default=120, help="listen.early_decode_ms (500: off)")
    parser.add_argument("--json", help="write the report here too")
    parser.add_argument("--png", help="waterfall chart of the turns")
    parser.add_argument("--memory-only", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_only:
        print(json.dumps(memory(args.memory_only)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        report = voice_to_voice(args.turns, Path(tmp), args.early_decode_ms)
    print(json.dumps({k: v for k, v in report.items() if k != "rows"}), file=sys.stderr)
    if args.png:
        waterfall(report["rows"], Path(args.png))
    if args.memory_turns:
        # In a child with the same malloc settings `kiosk run` gives itself (kiosk/appliance/memory.py).
        child = subprocess.run([sys.executable, __file__, "--memory-only", str(args.memory_turns)], check=True,
                               capture_output=True, text=True, env={**os.environ, "MALLOC_ARENA_MAX": "2"})
        report["memory"] = json.loads(child.stdout)
    bench_report.emit(report, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
