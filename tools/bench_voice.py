#!/usr/bin/env python3
"""Voice-to-voice latency of `kiosk run`, cold start to READY, and memory after many turns.

    .venv/bin/python tools/bench_voice.py [--turns 12] [--memory-turns 200] [--json docs/bench/voice.json]
                                          [--png docs/bench/voice-waterfall.png]

A private PulseAudio: the question WAVs (Piper, "Hey coach, <question>?") are played into a combined sink
that feeds both the kiosk's virtual microphone and its speaker sink, so one recording of the speaker's
monitor holds the question and then the answer on one clock. Voice-to-voice = true end of the question's
speech (known from the WAV) -> first answer sample in that recording. Stages per turn from /status:
first_audio (question received -> first sentence synthesized), the rest is endpointing + recognition +
audio output. Memory: an in-process kiosk answers --memory-turns typed questions; RSS after 10 and after all.
"""

from __future__ import annotations

import argparse
import json
import os
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

from notify_socket import wait_for  # noqa: E402
from pulse_sandbox import private_pulse  # noqa: E402
from speech_corpus import Line, render, write_wav  # noqa: E402

QUESTIONS = [
    "where is the IT help desk", "where do I pick up my badge", "is there wifi for guests",
    "how do I reset my password", "when is the cafeteria open", "where can I park",
    "how many vacation days do I get", "who do I call if I lose my badge", "where are the lockers",
    "what should I do if a machine jams", "how do I book a business trip", "is there a quiet room",
]


def voice_to_voice(turns: int, tmp: Path) -> dict:
    from kiosk.knowledge.index import ingest

    kb = tmp / "kb.sqlite"
    ingest(kb, [ROOT / "samples" / "halvorsen"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp / "kiosk.toml"
    config.write_text(f'[persona]\nknowledge_base = "{kb}"\n\n[audio]\ninput_device = "pulse"\noutput_device = '
                      f'"pulse"\n\n[service]\nstatus_port = {port}\ngreeting = false\n')
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
        time.sleep(3.0)  # the capture's first audio arrives ~2 s after the stream opens
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
    ok = [r for r in rows if r["voice_to_voice_s"] is not None]
    v2v = [r["voice_to_voice_s"] for r in ok]
    return {"turns": len(rows), "answered": len(ok), "cold_start_to_ready_s": round(cold_start, 2),
            "voice_to_voice_s_p50": round(float(np.percentile(v2v, 50)), 3) if v2v else None,
            "voice_to_voice_s_p95": round(float(np.percentile(v2v, 95)), 3) if v2v else None,
            "first_audio_s_median": round(statistics.median(r["first_audio_s"] for r in ok), 3) if ok else None,
            "rows": rows}


def measure_turn(rec: Path, question: np.ndarray, speech_end: int, status: dict, text: str, done: bool) -> dict:
    with wave.open(str(rec)) as w:
        audio = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)
    q = question.astype(np.float64)
    # Where the question sits in the recording: cross-correlation (both 16 kHz mono, same clock).
    corr = np.correlate(audio[: q.size + 16000 * 3], q, mode="valid")
    offset = int(np.argmax(corr))
    end = offset + speech_end
    loud = np.flatnonzero(np.abs(audio[end + 1600:]) > 1500)  # the answer: after the question's own tail
    first = end + 1600 + int(loud[0]) if loud.size else None
    turn = status.get("last_turn") or {}
    first_audio = (turn.get("timings_ms") or {}).get("first_audio")
    v2v = (first - end) / 16000 if first is not None and done else None
    return {"question": text, "voice_to_voice_s": round(v2v, 3) if v2v else None,
            "first_audio_s": round(first_audio / 1000, 3) if first_audio else None,
            "answer": turn.get("answer", "")[:80]}


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


def waterfall(rows: list[dict], png: Path) -> None:
    """Per turn: recognition (end of speech -> question received) and answer (-> first audio synthesized)
    stacked to the measured voice-to-voice time; drawn with pygame, no plotting library needed."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    pygame.font.init()
    ok = [r for r in rows if r["voice_to_voice_s"] and r["first_audio_s"]]
    w, row_h, left = 1100, 34, 330
    h = 90 + row_h * len(ok)
    surf = pygame.Surface((w, h))
    surf.fill((250, 250, 252))
    font = pygame.font.Font(None, 22)
    scale = (w - left - 40) / max(2.0, max(r["voice_to_voice_s"] for r in ok))
    surf.blit(font.render("voice-to-voice per turn (s): endpoint + recognition | LLM + speech to first audio",
                          True, (30, 30, 30)), (20, 15))
    for s in range(0, int((w - left) / scale) + 1):
        x = left + int(s * scale)
        pygame.draw.line(surf, (220, 220, 225), (x, 45), (x, h - 20))
        surf.blit(font.render(f"{s}", True, (90, 90, 90)), (x - 4, h - 18))
    for i, r in enumerate(ok):
        y = 50 + i * row_h
        answer = r["first_audio_s"]
        recog = max(0.0, r["voice_to_voice_s"] - answer)
        surf.blit(font.render(r["question"][:38], True, (40, 40, 40)), (20, y + 6))
        pygame.draw.rect(surf, (92, 160, 220), (left, y + 4, int(recog * scale), row_h - 10))
        pygame.draw.rect(surf, (92, 200, 150), (left + int(recog * scale), y + 4, int(answer * scale), row_h - 10))
        surf.blit(font.render(f"{r['voice_to_voice_s']:.2f}", True, (30, 30, 30)),
                  (left + int(r["voice_to_voice_s"] * scale) + 6, y + 6))
    png.parent.mkdir(parents=True, exist_ok=True)
    pygame.image.save(surf, str(png))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=12)
    parser.add_argument("--memory-turns", type=int, default=200)
    parser.add_argument("--json", help="write the report here too")
    parser.add_argument("--png", help="waterfall chart of the turns")
    parser.add_argument("--memory-only", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_only:
        print(json.dumps(memory(args.memory_only)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        report = voice_to_voice(args.turns, Path(tmp))
    print(json.dumps({k: v for k, v in report.items() if k != "rows"}), file=sys.stderr)
    if args.png:
        waterfall(report["rows"], Path(args.png))
    if args.memory_turns:
        # In a child with the same malloc settings `kiosk run` gives itself (kiosk/appliance/memory.py).
        child = subprocess.run([sys.executable, __file__, "--memory-only", str(args.memory_turns)], check=True,
                               capture_output=True, text=True, env={**os.environ, "MALLOC_ARENA_MAX": "2"})
        report["memory"] = json.loads(child.stdout)
    text = json.dumps(report, indent=1, ensure_ascii=False)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
