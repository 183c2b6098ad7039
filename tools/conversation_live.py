"""The live part of tools/bench_conversation.py: `kiosk run --headless` on a private PulseAudio, and the
visitors played to it one by one, interactively (`run_visitor`), watched through its notify socket and
GET /status, with the speaker and the microphone recorded (`live_run`). Every WAV is rendered before the kiosk
starts (`prepare_audio`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import conversation_corpus as cc
from conversation_watch import Notify, Recorder
from notify_socket import FIRST_AUDIO, wait_for_log
from pulse_sandbox import RAW_MIC, private_pulse
from speech_corpus import write_wav

BUSY = ("thinking", "speaking")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


class Session:
    """The kiosk under test and the ways to talk to it and watch it."""

    def __init__(self, tmp: Path, env: dict[str, str], port: int, follow_up_s: float) -> None:
        self.tmp, self.env, self.port, self.follow_up_s = tmp, env, port, follow_up_s
        self.notify: Notify
        self.rec: Recorder  # the speaker (kiosk_out's monitor)
        self.mic: Recorder  # the microphone (what the kiosk was given to hear)
        self.kiosk: subprocess.Popen
        self.log: list[str] = []
        self.where: tuple[str, str] = ("", "start")  # (visitor id, step) now: stamped on every turn first seen
        self.turn_log: dict[int, dict[str, Any]] = {}

    def status(self) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/status", timeout=5) as response:
                data = json.loads(response.read())
        except (OSError, ValueError) as error:
            self.log.append(f"status: {error}")
            return {}
        self._log_turns(data)
        return data

    def _log_turns(self, data: dict[str, Any]) -> None:
        """Every finished turn, numbered, with where the run was when it was first seen (`recent` where the
        kiosk has it, else only `last_turn`)."""
        n = data.get("turns")
        if not isinstance(n, int):
            return
        recent = data.get("recent")
        items = recent if isinstance(recent, list) and recent else [data.get("last_turn")]
        for k, turn in enumerate(reversed(items)):
            if isinstance(turn, dict) and n - k > 0 and n - k not in self.turn_log:
                self.turn_log[n - k] = {**turn, "no": n - k, "seen_at": time.monotonic(), "visitor": self.where[0],
                                        "step": self.where[1]}

    def play(self, wav: Path, device: str) -> tuple[float, float]:
        t0 = time.monotonic()
        subprocess.run(["paplay", f"--device={device}", str(wav)], env=self.env, check=True)
        return t0, time.monotonic()

    def play_async(self, wav: Path, device: str) -> tuple[subprocess.Popen, float]:
        return subprocess.Popen(["paplay", f"--device={device}", str(wav)], env=self.env), time.monotonic()

    def sleep_until(self, t: float) -> None:
        time.sleep(max(0.0, t - time.monotonic()))

    def wait_done(self, since: float, start_by: float, max_turn_s: float = 60.0,
                  grace_s: float = 8.0) -> tuple[float | None, float | None]:
        """Waits for the kiosk to start thinking after `since` (until `start_by`) and to be done: back in
        follow_up or idle and silent (a turn it cancels to hear the rest of a question and then answers
        merged is one wait), or listening for `grace_s` with nothing more coming. (first thinking, end), or
        (None, None) when it never started."""
        th = deadline = None
        while True:
            now = time.monotonic()
            if th is None:
                th = self.notify.first("thinking", since)
                if th is None:
                    if now > start_by:
                        return None, None
                    time.sleep(0.05)
                    continue
                deadline = th + max_turn_s
            t_last, last = self.notify.last()
            if t_last >= th and not self.rec.audible(0.3):
                if last in ("follow_up", "idle"):
                    return th, max(t_last, now - 0.3)
                if last == "listening" and now - t_last > grace_s:
                    return th, t_last
            if now > deadline:
                self.log.append(f"a turn started at {th:.1f} did not end within {max_turn_s} s")
                return th, now
            time.sleep(0.05)

    def settle(self) -> float | None:
        """If the kiosk is doing something (answering the rest of a split question, listening to someone),
        waits until it is done; the end time, or None if it was quiet."""
        t_last, last = self.notify.last()
        if last in ("follow_up", "idle") and not self.rec.audible(0.3):
            return None
        if last in BUSY:
            since = max(t for t, v in self.notify.between(0.0, t_last) if v == "thinking") - 0.01
        else:
            since = t_last
        _, end = self.wait_done(since, time.monotonic() + 6.0)
        return end if end is not None else time.monotonic()

    def close_window(self, answer_end: float, rounds: int = 3) -> list[float]:
        """Waits until the follow-up window after `answer_end` has closed (the kiosk says idle; without that
        status, follow_up_s has passed and nobody is being listened to); a turn the kiosk takes meanwhile is
        waited for, and opens the window again. The thinking times of such turns."""
        taken: list[float] = []
        for _ in range(rounds):
            soft = answer_end + self.follow_up_s + 0.7
            hard = soft + 8.0
            while True:
                now = time.monotonic()
                th, t_idle = self.notify.first("thinking", answer_end), self.notify.first("idle", answer_end)
                if th is not None and (t_idle is None or th < t_idle):
                    break
                if t_idle is not None or now > hard or (now > soft and self.notify.last()[1] != "listening"):
                    return taken
                time.sleep(0.05)
            _, end = self.wait_done(answer_end, time.monotonic())
            taken.append(th)
            answer_end = end or time.monotonic()
        return taken


def prepare_audio(visitors: list[cc.Visitor], out: Path, seed: int) -> dict[str, Any]:
    """Every WAV the run plays, rendered before the kiosk starts (so synthesis does not compete with it)."""
    files: dict[str, Any] = {}
    beds = {}
    for v in visitors:
        f: dict[str, Any] = {}
        wake = cc.render_wake(v)
        f["wake"] = (write_wav(out / f"{v.id}-wake.wav", wake.pcm), wake)
        if v.style == "separate":
            q = cc.render_question(v, v.question)
            f["question"] = (write_wav(out / f"{v.id}-question.wav", q.pcm), q)
        if v.follow_up:
            fu = cc.render_question(v, v.follow_up)
            f["follow_up"] = (write_wav(out / f"{v.id}-follow-up.wav", fu.pcm), fu)
        if v.after_answer:
            pcm, bounds = cc.render_bystander([v.after_answer])
            f["after_answer"] = (write_wav(out / f"{v.id}-after.wav", pcm), bounds)
        if v.stretch:
            pcm, bounds = cc.render_bystander(v.stretch)
            f["stretch"] = (write_wav(out / f"{v.id}-stretch.wav", pcm), bounds)
        if v.snr_db is not None:
            if v.noise_bed not in beds:
                beds[v.noise_bed] = cc.noise_bed(v.noise_bed, 120.0, seed)
            noise = cc.scaled_noise(beds[v.noise_bed], v.snr_db)
            f["noise"] = (write_wav(out / f"{v.id}-noise.wav", noise), noise)
        files[v.id] = f
    return files


def _ask(s: Session, wav: Path, step: dict[str, Any], patience_s: float) -> None:
    """Plays a question and waits for the kiosk to be done with it (or for the visitor's patience to end)."""
    step["play"] = s.play(wav, "both")
    th, end = s.wait_done(step["play"][0], step["play"][1] + patience_s)
    step["thinking"], step["end"] = th, end
    step["speaking"] = s.notify.first("speaking", th) if th else None


def run_visitor(s: Session, v: cc.Visitor, f: dict[str, Any], patience_s: float = 8.0) -> dict[str, Any]:
    """One visitor, interactively; raw observations (times are time.monotonic())."""
    row: dict[str, Any] = {"id": v.id, "steps": []}
    t_start = row["t_start"] = time.monotonic()
    s.where = (v.id, "question")
    pre = s.status()
    noise = None
    if "noise" in f:
        noise, row["t_noise"] = s.play_async(f["noise"][0], "mic_feed")
        time.sleep(1.0)
    t_w0, t_w1 = s.play(f["wake"][0], "both")
    row["t_wake"] = (t_w0, t_w1)
    q: dict[str, Any] = {"kind": "question", "text": v.question.text, "before": pre}
    if v.style == "separate":
        s.sleep_until(t_w1 + (v.pause_after_wake_s or 0.0))
        t = time.monotonic()
        while time.monotonic() - t < 15.0 and s.rec.talking():  # the kiosk is talking (a greeting): people wait
            time.sleep(0.05)
        q["waited_for_kiosk_s"] = round(time.monotonic() - t, 2)
        q["wav"] = "question"
        _ask(s, f["question"][0], q, patience_s)
    else:
        q["wav"] = "wake"
        q["play"] = (t_w0, t_w1)
        th, end = s.wait_done(t_w0, t_w1 + patience_s)
        q["thinking"], q["end"] = th, end
        q["speaking"] = s.notify.first("speaking", th) if th else None
    q["listening"] = s.notify.first("listening", t_w0)
    row["steps"].append(q)
    last, last_end = q, q["end"]

    if v.follow_up and last_end is not None:
        s.sleep_until(last_end + (v.follow_up_delay_s or 1.0))
        again = s.settle()  # still busy with the question (its second half?): wait, then the visitor goes on
        if again is not None:
            s.sleep_until(again + (v.follow_up_delay_s or 1.0))
        q["after"] = s.status()
        s.where = (v.id, "follow_up")
        fu: dict[str, Any] = {"kind": "follow_up", "text": v.follow_up.text, "before": q["after"], "wav": "follow_up"}
        _ask(s, f["follow_up"][0], fu, patience_s)
        row["steps"].append(fu)
        last, last_end = fu, fu["end"] or last_end
    if last_end is None:
        last_end = time.monotonic()

    window: dict[str, Any] = {"kind": "window"}
    if v.after_answer:
        s.sleep_until(last_end + (v.after_answer_delay_s or 1.0))
        again = s.settle()
        if again is not None:  # still answering: the bystander speaks after it
            s.sleep_until(again + (v.after_answer_delay_s or 1.0))
            last_end = again
        last["after"] = window["before"] = s.status()
        s.where = (v.id, "window")
        window["chatter"] = s.play(f["after_answer"][0], "mic_feed")
    else:
        last["after"] = window["before"] = s.status()
        s.where = (v.id, "window")
    window["taken"] = s.close_window(last_end)
    window["after"] = s.status()
    row["steps"].append(window)
    if noise is not None:
        noise.terminate()
        noise.wait(timeout=5)

    s.where = (v.id, "stretch")
    stretch: dict[str, Any] = {"kind": "stretch", "before": window["after"]}
    if "stretch" in f:
        stretch["play"] = s.play(f["stretch"][0], "mic_feed")
        if s.notify.first("thinking", stretch["play"][0]) is not None or s.notify.last()[1] == "listening":
            end = s.settle()  # the kiosk took some of the chatter, or is still listening to it
            s.close_window(end if end is not None else time.monotonic())
    time.sleep(1.0)
    stretch["after"] = s.status()
    row["steps"].append(stretch)
    row["statuses"] = [(round(t - t_start, 2), st) for t, st in s.notify.between(t_start, time.monotonic())]

    def rel(t: float | None) -> float | None:
        return None if t is None else round(t - t_start, 2)

    timeline: dict[str, Any] = {"noise": rel(row.get("t_noise")), "wake": [rel(t) for t in row["t_wake"]]}
    for st in row["steps"]:
        for key in ("play", "chatter"):
            if key in st:
                timeline[f"{st['kind']}_{key}"] = [rel(t) for t in st[key]]
        for key in ("thinking", "speaking", "end"):
            if st.get(key) is not None:
                timeline[f"{st['kind']}_{key}"] = rel(st[key])
    timeline["done"] = rel(time.monotonic())
    row["timeline"] = timeline
    return row


def live_run(visitors: list[cc.Visitor], files: dict[str, Any], tmp: Path, config: Path, port: int,
             follow_up_s: float, patience_s: float = 8.0) -> dict[str, Any]:
    out: dict[str, Any] = {"rows": []}
    with private_pulse("kiosk-bench-conv-") as env:
        subprocess.run(["pactl", "load-module", "module-combine-sink", "sink_name=both", "slaves=mic_feed,kiosk_out"],
                       env=env, check=True, capture_output=True)
        s = Session(tmp, env, port, follow_up_s)
        s.notify = Notify(tmp / "notify.sock")
        s.notify.start()
        s.rec = Recorder(env)
        s.rec.start()
        s.mic = Recorder(env, RAW_MIC)
        s.mic.start()
        started = time.monotonic()
        log = open(tmp / "kiosk.log", "w")  # noqa: SIM115
        s.kiosk = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "run", "--headless", "--config", str(config)],
                                   env={**env, "NOTIFY_SOCKET": str(tmp / "notify.sock")}, stderr=log, stdout=log)
        try:
            while s.notify.first("READY", started) is None:
                if s.kiosk.poll() is not None or time.monotonic() - started > 300:
                    raise RuntimeError("kiosk never became READY: " + (tmp / "kiosk.log").read_text()[-3000:])
                time.sleep(0.1)
            out["cold_start_to_ready_s"] = round(s.notify.first("READY", started) - started, 2)
            if not wait_for_log(tmp / "kiosk.log", FIRST_AUDIO, 60):
                raise RuntimeError("no audio from the microphone: " + (tmp / "kiosk.log").read_text()[-3000:])
            time.sleep(0.5)
            out["status_fields"] = sorted(s.status())
            cpu0, wall0, loads, own0 = cpu_seconds(s.kiosk.pid), time.monotonic(), [], time.process_time()
            for n, v in enumerate(visitors, 1):
                t = time.monotonic()
                row = run_visitor(s, v, files[v.id], patience_s)
                row["wall_s"] = round(time.monotonic() - t, 1)
                out["rows"].append(row)
                loads.append(os.getloadavg()[0])
                q = row["steps"][0]
                print(f"[{n}/{len(visitors)}] {v.id} {v.voice:<15} {v.style:<10} "
                      f"{'answered' if q['thinking'] else 'no answer':<9} {row['wall_s']:5.1f} s", file=sys.stderr)
                if s.kiosk.poll() is not None:
                    raise RuntimeError("kiosk exited: " + (tmp / "kiosk.log").read_text()[-3000:])
            out["kiosk_cpu_cores"] = round((cpu_seconds(s.kiosk.pid) - cpu0) / (time.monotonic() - wall0), 2)
            out["harness_cpu_cores"] = round((time.process_time() - own0) / (time.monotonic() - wall0), 3)
            out["machine_load_avg"] = round(statistics.mean(loads), 2) if loads else None
        finally:
            s.kiosk.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                s.kiosk.wait(timeout=30)
            if s.kiosk.poll() is None:
                s.kiosk.kill()
            log.close()
            time.sleep(0.3)
            s.rec.stop()
            s.mic.stop()
            s.notify.close()
        out["recording"] = s.rec.audio()
        out["rec"] = s.rec
        out["mic_recording"] = s.mic.audio()
        out["mic_rec"] = s.mic
        out["notify"] = s.notify.events
        out["turn_log"] = [s.turn_log[k] for k in sorted(s.turn_log)]
        out["harness_log"] = s.log
    return out
