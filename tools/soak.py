#!/usr/bin/env python3
"""Soak: many turns through a real `kiosk run`, typed and spoken in turn, with its memory, open files and
threads sampled.

    .venv/bin/python tools/soak.py [--turns 1000] [--warmup 100] [--every 10] [--max-minutes 0]
                                   [--json OUT] [--keep DIR]

`kiosk run` (the .venv/bin/kiosk console script) runs with the sample documents ingested into a temp index,
sound on a private PulseAudio (tools/pulse_sandbox.py) and its screen on a private Xvfb (pygame backend,
full screen), as on the appliance. Odd turns are typed: xdotool types the question on the X server's
keyboard, which opens the kiosk's keyboard, and presses Return. Even turns are spoken: a Piper WAV of
"Hey coach, <question>" (several questions, in rotation) is played into the virtual microphone. A turn ends
when GET /status counts one more answered turn; a turn that is not answered within --turn-timeout is
missed. Every --every turns (and at the start) /proc/<pid>/status (VmRSS, Threads) and /proc/<pid>/fd of
the kiosk, and of any child processes, are sampled after the turn.

Errors: turns answered with an error, new lines in /status `errors`, task restarts, missed turns, the
kiosk exiting, the watchdog (WATCHDOG_USEC=10 s, read from the notify socket) silent for longer than 10 s.
The RSS slope is the least-squares slope of the samples from turn --warmup on, in MB per 100 turns; the
floor slope fits only the lowest sample of every 10 turns (sample every turn for it: --every 1), which leaves
out what a turn happened to hold in flight when it was sampled. --speech-rate speaks the answers faster (the
kiosk's speech.rate) so more turns fit in an hour: a turn waits mostly for its answer to be played out in
real time; every stage still runs in every turn.
The report also goes to --json after every sample, so a run cut short still leaves its numbers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import bench_report  # noqa: E402
from pulse_sandbox import private_pulse  # noqa: E402
from soak_report import Sample, Tally, Turn, new_errors, parse_proc_status, summarize  # noqa: E402

KIOSK = ROOT / ".venv" / "bin" / "kiosk"
SCREEN = (1280, 720)
WATCHDOG_S = 10.0
QUESTIONS = (
    "where is the IT help desk?", "what time does orientation start on my first day?",
    "how long is the probation period?", "how do I get on the VPN from home?", "can I work from home sometimes?",
    "what is the dress code in the office?", "where do I pick up my badge?", "how much is a hot lunch in the canteen?",
    "how do I reset my password?", "where can I park my car?", "how many vacation days do I get?",
)


# -- the kiosk's process ---------------------------------------------------------------------------------------


def children_of(pid: int) -> list[int]:
    """All descendants of `pid` (from /proc/<pid>/task/*/children)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                found += [int(child), *children_of(int(child))]
    return found


def sample(pid: int, turn: int, t0: float) -> Sample:
    proc = parse_proc_status(Path(f"/proc/{pid}/status").read_text())
    kids = children_of(pid)
    kids_rss = 0
    for kid in kids:
        with contextlib.suppress(OSError):
            kids_rss += parse_proc_status(Path(f"/proc/{kid}/status").read_text())["rss_kb"]
    return Sample(turn, round(time.monotonic() - t0, 1), round(proc["rss_kb"] / 1024, 1),
                  len(os.listdir(f"/proc/{pid}/fd")), proc["threads"], len(kids), round(kids_rss / 1024, 1),
                  round(os.getloadavg()[0], 2), round(proc["anon_kb"] / 1024, 1))


class NotifyReader(threading.Thread):
    """Drains the notify socket (a full one would block the kiosk's sends) and times the watchdog pings."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(name="notify", daemon=True)
        self.sock, self.ready = sock, threading.Event()
        self.pings, self.max_gap, self.done = 0, 0.0, False
        self.last_ping: float | None = None

    def run(self) -> None:
        self.sock.settimeout(0.5)
        while not self.done:
            try:
                lines = self.sock.recv(4096).decode().split("\n")
            except TimeoutError:
                continue
            except OSError:
                return
            now = time.monotonic()
            if "READY=1" in lines:
                self.ready.set()
                self.last_ping = now
            if "WATCHDOG=1" in lines:
                if self.last_ping is not None:
                    self.max_gap = max(self.max_gap, now - self.last_ping)
                self.pings, self.last_ping = self.pings + 1, now


def status(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=10) as response:
        return json.loads(response.read())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def xvfb(size: tuple[int, int]) -> Any:
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", f"{size[0]}x{size[1]}x24",
                               "-nolisten", "tcp"], pass_fds=(write,), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    os.close(write)
    try:
        if not select.select([read], [], [], 30)[0]:
            raise RuntimeError("Xvfb did not start within 30 s")
        yield f":{os.read(read, 32).decode().strip()}"
    finally:
        os.close(read)
        server.terminate()
        server.wait(10)


def write_config(tmp: Path, port: int, hang_s: float | None, speech_rate: float | None, avatar: str = "") -> Path:
    from kiosk.avatar.build import build_pack, builtin_packs
    from kiosk.knowledge.index import ingest

    for pack in builtin_packs():  # rasterized at setup; kept when up to date
        build_pack(pack)
    kb = tmp / "kb.sqlite"
    ingest(kb, [ROOT / "samples" / "halvorsen"])
    config = tmp / "kiosk.toml"
    config.write_text(f'[persona]\nknowledge_base = "{kb}"\n' + (f'avatar = "{avatar}"\n' if avatar else "")
                      + '\n[audio]\ninput_device = "pulse"\n'
                      f'output_device = "pulse"\n\n[screen]\nbackend = "pygame"\n\n[service]\nstatus_port = {port}\n'
                      + (f"turn_timeout_s = {hang_s}\n" if hang_s else "")
                      + (f"\n[speech]\nrate = {speech_rate}\n" if speech_rate else ""))
    return config


def spoken_questions(tmp: Path) -> list[Path]:
    os.environ.setdefault("KIOSK_CORPUS_FIXED_PIPER", "1")  # the same audio every run
    from speech_corpus import Line, render, write_wav

    return [write_wav(tmp / f"q{i:02d}.wav", render([Line(f"Hey coach, {q}", "piper", pause_before_s=0.3)],
                                                    tail_s=0.5)[0]) for i, q in enumerate(QUESTIONS)]


# -- the soak --------------------------------------------------------------------------------------------------


class Soak:
    def __init__(self, kiosk: subprocess.Popen, port: int, env: dict[str, str], wavs: list[Path],
                 turn_timeout: float) -> None:
        self.kiosk, self.port, self.env, self.wavs, self.timeout = kiosk, port, env, wavs, turn_timeout
        self.tally, self.t0 = Tally(), time.monotonic()
        first = status(port)
        self.count, self.errors = first["turns"], first["errors"]

    def ask(self, n: int) -> Turn:
        """Turn n (1-based): odd typed, even spoken; the questions rotate."""
        if n % 2:
            turn = Turn("typed", QUESTIONS[(n // 2) % len(QUESTIONS)])
            self._x("type", "--delay", "12", turn.asked)
            start = time.monotonic()
            self._x("key", "Return")
        else:
            i = (n // 2 + 3) % len(QUESTIONS)  # another question than the typed one before it
            turn, start = Turn("spoken", QUESTIONS[i]), time.monotonic()
            subprocess.run(["paplay", "--device=mic_feed", str(self.wavs[i])], env=self.env, check=True)
        self._wait(turn, start)
        return turn

    def _x(self, *args: str) -> None:
        subprocess.run(["xdotool", *args], env=self.env, check=True)

    def _status(self) -> dict[str, Any] | None:
        """GET /status; None (counted as an error) when the kiosk does not answer it within 10 s."""
        try:
            return status(self.port)
        except (OSError, ValueError):
            self.tally.status_failures += self.kiosk.poll() is None
            return None

    def _wait(self, turn: Turn, start: float) -> None:
        deadline = start + self.timeout
        while time.monotonic() < deadline and self.kiosk.poll() is None:
            now = self._status()
            if now is not None and now["turns"] > self.count:
                turn.seconds = round(time.monotonic() - start, 2)
                last = now["last_turn"]
                turn.heard, turn.error, turn.cut_off = last["question"], last["error"], last["cut_off"]
                turn.first_audio_ms, turn.answer_chars = last["timings_ms"].get("first_audio"), len(last["answer"])
                self.tally.extra_turns += now["turns"] - self.count - 1
                self.count = now["turns"]
                break
            time.sleep(0.2)
        now = self._status() or {"errors": self.errors, "tasks": {}}
        fresh = new_errors(self.errors, now["errors"])
        self.tally.status_errors += [e for e in fresh if e != turn.error]  # a turn's error is counted once
        self.errors = now["errors"]
        self.tally.task_restarts = sum(t["restarts"] for t in now.get("tasks", {}).values())

    def run(self, turns: int, every: int, gap: float, deadline: float | None, on_sample: Any) -> Tally:
        self.tally.samples.append(sample(self.kiosk.pid, 0, self.t0))
        for n in range(1, turns + 1):
            if self.kiosk.poll() is not None:
                self.tally.stopped = f"kiosk run exited with code {self.kiosk.returncode} before turn {n}"
                break
            if deadline is not None and time.monotonic() > deadline:
                self.tally.cut_short = f"--max-minutes reached after {n - 1} turns"
                break
            self.tally.turns.append(self.ask(n))
            if n % every == 0 and self.kiosk.poll() is None:
                self.tally.samples.append(sample(self.kiosk.pid, n, self.t0))
                on_sample(self.tally)
            time.sleep(gap)
        return self.tally


def start_kiosk(args: argparse.Namespace, tmp: Path, stack: contextlib.ExitStack) -> tuple[Any, ...]:
    """Sound, screen and the notify socket, then `kiosk run` until READY=1: (kiosk, reader, env, port)."""
    port = free_port()
    config = write_config(tmp, port, args.hang_after, args.speech_rate, args.avatar)
    pulse = stack.enter_context(private_pulse("kiosk-soak-"))
    display = stack.enter_context(xvfb(SCREEN))
    notify = stack.enter_context(socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM))
    with contextlib.suppress(FileNotFoundError):  # left by an earlier run with --keep
        (tmp / "notify.sock").unlink()
    notify.bind(str(tmp / "notify.sock"))
    reader = NotifyReader(notify)
    reader.start()
    env = {**pulse, "DISPLAY": display, "SDL_VIDEODRIVER": "x11", "NOTIFY_SOCKET": str(tmp / "notify.sock"),
           "WATCHDOG_USEC": str(int(WATCHDOG_S * 1e6))}
    env.pop("MALLOC_ARENA_MAX", None)  # kiosk run sets it itself, as on a machine without the unit
    log = stack.enter_context((tmp / "kiosk.log").open("w"))
    kiosk = subprocess.Popen([*shlex.split(args.kiosk), "run", "--config", str(config)], env=env,
                             stdout=subprocess.DEVNULL, stderr=log)
    stack.callback(_stop, kiosk)
    if not reader.ready.wait(240):
        raise RuntimeError(f"no READY=1 within 240 s:\n{(tmp / 'kiosk.log').read_text()[-3000:]}")
    subprocess.run(["xdotool", "mousemove", str(SCREEN[0] // 2), str(SCREEN[1] // 2)], env=env, check=True)
    time.sleep(3.0)  # the ALSA pulse plugin delivers the first captured audio ~2 s after opening
    return kiosk, reader, env, port


def soak(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    wavs = spoken_questions(tmp)
    settings = {k: v for k, v in vars(args).items() if k not in ("json", "keep")}

    def checkpoint(tally: Tally) -> None:
        report, last = summarize(tally, args.warmup, settings), tally.samples[-1]
        print(f"turn {len(tally.turns)}: rss {last.rss_mb} MB, fds {last.fds}, threads {last.threads}, "
              f"errors {report['errors']}", file=sys.stderr, flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=1) + "\n")

    with contextlib.ExitStack() as stack:
        kiosk, reader, env, port = start_kiosk(args, tmp, stack)
        deadline = time.monotonic() + 60 * args.max_minutes if args.max_minutes else None
        started = time.monotonic()
        tally = Soak(kiosk, port, env, wavs, args.turn_timeout).run(args.turns, args.every, args.gap, deadline,
                                                                    checkpoint)
        wall, reader.done = time.monotonic() - started, True
        rc = _stop(kiosk)
    if rc != 0 and tally.stopped is None:
        tally.stopped = f"kiosk run exited with code {rc} on SIGTERM"
    report = summarize(tally, args.warmup, settings)
    report["wall_s"] = round(wall, 1)
    report["watchdog"] = {"pings": reader.pings, "max_gap_s": round(reader.max_gap, 2), "limit_s": WATCHDOG_S}
    report["errors"] += reader.max_gap > WATCHDOG_S
    report["log_tail"] = [line for line in (tmp / "kiosk.log").read_text().splitlines()
                          if " ERROR " in line or "Traceback" in line][-20:]
    return report


def _stop(kiosk: subprocess.Popen) -> int:
    if kiosk.poll() is None:
        kiosk.send_signal(signal.SIGTERM)
        try:
            return kiosk.wait(30)
        except subprocess.TimeoutExpired:
            kiosk.kill()
    return kiosk.wait()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--turns", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=100, help="the RSS slope is fitted from this turn on")
    ap.add_argument("--every", type=int, default=10, help="sample every N turns")
    ap.add_argument("--gap", type=float, default=1.0, help="seconds between a turn's end and the next question")
    ap.add_argument("--turn-timeout", type=float, default=90.0, help="a turn not answered within this is missed")
    ap.add_argument("--hang-after", type=float, help="the kiosk's service.turn_timeout_s (default: its own, 60 s)")
    ap.add_argument("--speech-rate", type=float, help="the kiosk's speech.rate (default: its own, 1.0)")
    ap.add_argument("--avatar", default="", help="persona.avatar for the kiosk (default: its own, ava)")
    ap.add_argument("--max-minutes", type=float, default=0.0, help="start no turn after this long (0: no limit)")
    ap.add_argument("--kiosk", default=str(KIOSK), help="the kiosk command (default: the venv's console script)")
    ap.add_argument("--json", help="write the report here too (also after every sample)")
    ap.add_argument("--keep", help="keep the work folder (config, index, WAVs, kiosk.log) here")
    args = ap.parse_args()
    # SIGTERM (kill, a CI timeout) unwinds like Ctrl-C, so the kiosk, its sound server and Xvfb are stopped
    # too instead of left running.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if args.keep:
        Path(args.keep).mkdir(parents=True, exist_ok=True)
        report = soak(args, Path(args.keep))
    else:
        with tempfile.TemporaryDirectory(prefix="kiosk-soak-") as tmp:
            report = soak(args, Path(tmp))
    bench_report.emit(report, args.json)
    return 0 if report["errors"] == 0 and report["answered"] == report["turns_done"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
