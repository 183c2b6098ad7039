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
bystanders go to the microphone only. After every step GET /status tells what the kiosk heard and answered
(`turns`, `last_turn`, and where the kiosk has them, `recent` and `wakes`; without them the turn count is
used).

After the live run, in this process with the same settings and models: every question typed (the
responder, non-streamed, on the true text: what a right answer would be), and the plain sequential
baseline - whole transcript of the question WAV (plus the same end-of-speech silence, i.e. `kiosk
transcribe`'s path) -> whole answer -> Piper on the whole answer -> first audio.

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
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
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

import conversation_corpus as cc  # noqa: E402
from notify_socket import FIRST_AUDIO, wait_for_log  # noqa: E402
from pulse_sandbox import private_pulse  # noqa: E402
from speech_corpus import RATE, write_wav  # noqa: E402

FLOOR = 300  # about -40 dBFS: where speech starts and ends (speech_corpus.speech_bounds, bench_voice)
BUSY = ("thinking", "speaking")


# -- text ------------------------------------------------------------------------------------------------------

CONTRACTIONS = {"what's": "what is", "where's": "where is", "when's": "when is", "who's": "who is",
                "how's": "how is", "it's": "it is", "i'm": "i am", "don't": "do not", "can't": "can not",
                "cannot": "can not", "i've": "i have", "that's": "that is", "there's": "there is",
                "doesn't": "does not", "isn't": "is not", "i'd": "i would", "we're": "we are", "you're": "you are"}
FILLERS = {"um", "uh", "er", "erm", "hmm", "mm", "ah"}
STOP = {"a", "an", "the", "is", "are", "do", "does", "i", "my", "me", "we", "to", "of", "in", "on", "for", "at",
        "it", "if", "can", "and", "or", "so", "what", "where", "when", "how", "who", "there", "this", "that", "be",
        "get", "here", "some", "just", "like", "okay", "hi", "hello", "excuse", "sorry", "oh", "also", "one", "more",
        "thing", "quick", "question", "thanks", "you", "your", "have", "has", "am", "with", "from", "up", "any"}


def words(text: str) -> list[str]:
    """Lower case, no punctuation, contractions spelled out, fillers dropped."""
    text = re.sub(r"[-/]", " ", (text or "").lower().replace("’", "'"))
    out = []
    for w in re.sub(r"[^a-z0-9' ]", " ", text).split():
        w = w.strip("'")
        for part in CONTRACTIONS.get(w, w).split():
            part = part.replace("'", "")
            if part and part not in FILLERS:
                out.append(part)
    return out


def _stem(w: str) -> str:
    return w[:-1] if len(w) > 3 and w.endswith("s") else w


def content(text: str) -> set[str]:
    return {_stem(w) for w in words(text) if w not in STOP}


def coverage(truth: str, heard: str) -> float:
    """Share of the true text's content words that were heard (1.0 when it has none)."""
    c = content(truth)
    return len(c & content(heard)) / len(c) if c else 1.0


def edits(ref: list[str], hyp: list[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def has_facts(answer: str, facts: list) -> bool:
    from kiosk.answer.evaluate import has_facts as check

    return check(answer or "", tuple((f,) if isinstance(f, str) else tuple(f) for f in facts))


# -- the kiosk's side channels ---------------------------------------------------------------------------------


class Notify(threading.Thread):
    """Collects the kiosk's notify-socket lines (READY=1, STATUS=...) with the time they came."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True, name="notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.events: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        self.stopped = False

    def run(self) -> None:
        while not self.stopped:
            try:
                message = self.sock.recv(4096).decode(errors="replace")
            except (TimeoutError, OSError):
                continue
            now = time.monotonic()
            with self.lock:
                for line in message.split("\n"):
                    if line.startswith("STATUS="):
                        self.events.append((now, line[7:].strip()))
                    elif line == "READY=1":
                        self.events.append((now, "READY"))

    def first(self, value: str, after: float) -> float | None:
        with self.lock:
            return next((t for t, v in self.events if t >= after and v == value), None)

    def last(self) -> tuple[float, str]:
        with self.lock:
            return self.events[-1] if self.events else (0.0, "")

    def between(self, t0: float, t1: float) -> list[tuple[float, str]]:
        with self.lock:
            return [(t, v) for t, v in self.events if t0 <= t <= t1]

    def close(self) -> None:
        self.stopped = True
        self.sock.close()


class Recorder(threading.Thread):
    """Records the speaker sink's monitor for the whole run (one clock), readable while it grows."""

    def __init__(self, env: dict[str, str], device: str = "kiosk_out.monitor") -> None:
        super().__init__(daemon=True, name="recorder")
        self.proc = subprocess.Popen(["parec", f"--device={device}", "--raw", "--format=s16le", f"--rate={RATE}",
                                      "--channels=1", "--latency-msec=20"], env=env, stdout=subprocess.PIPE)
        self.buf = bytearray()
        self.marks: list[tuple[float, int]] = []  # (monotonic time of a read, samples recorded by then)
        self.lock = threading.Lock()

    def run(self) -> None:
        assert self.proc.stdout is not None
        while True:
            data = self.proc.stdout.read1(3200) if hasattr(self.proc.stdout, "read1") else self.proc.stdout.read(640)
            if not data:
                return
            now = time.monotonic()
            with self.lock:
                self.buf += data
                self.marks.append((now, len(self.buf) // 2))

    def samples(self) -> int:
        with self.lock:
            return len(self.buf) // 2

    def sample_at(self, t: float) -> int:
        """The recording's sample for monotonic time `t` (from the read times: a hint, tens of ms off)."""
        with self.lock:
            marks = list(self.marks)
        if not marks:
            return 0
        times = np.array([m[0] for m in marks])
        i = int(np.searchsorted(times, t))
        if i >= len(marks):
            return marks[-1][1] + int((t - marks[-1][0]) * RATE)
        return max(0, marks[i][1] - int((marks[i][0] - t) * RATE))

    def tail(self, seconds: float) -> np.ndarray:
        n = int(seconds * RATE) * 2
        with self.lock:
            return np.frombuffer(bytes(self.buf[-n:]), dtype=np.int16)

    def talking(self, seconds: float = 0.8, share: float = 0.5) -> bool:
        """Speech from the speaker now (most 20-ms frames of the last `seconds` loud), not a short chime."""
        tail = self.tail(seconds)
        frames = tail[: tail.size // 320 * 320].reshape(-1, 320)
        return bool(frames.size and (np.abs(frames.astype(np.int32)).max(axis=1) > FLOOR).mean() > share)

    def audible(self, seconds: float = 0.3) -> bool:
        tail = self.tail(seconds)
        return bool(tail.size and np.abs(tail.astype(np.int32)).max() > FLOOR)

    def audio(self) -> np.ndarray:
        with self.lock:
            return np.frombuffer(bytes(self.buf), dtype=np.int16).copy()

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        if self.proc.poll() is None:
            self.proc.kill()
        self.join(timeout=5)


# -- the live run ----------------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


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
    for section, table in data.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {value(v)}" for k, v in table.items() if not isinstance(v, dict)]
        for k, v in table.items():
            if isinstance(v, dict):
                lines.append(f"[{section}.{json.dumps(k) if not re.fullmatch(r'[A-Za-z0-9_-]+', k) else k}]")
                lines += [f"{json.dumps(kk)} = {value(vv)}" for kk, vv in v.items()]
        lines.append("")
    return "\n".join(lines)


class Session:
    """The kiosk under test and the ways to talk to it and watch it."""

    def __init__(self, tmp: Path, env: dict[str, str], port: int, follow_up_s: float) -> None:
        self.tmp, self.env, self.port, self.follow_up_s = tmp, env, port, follow_up_s
        self.notify: Notify
        self.rec: Recorder
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


def wakes_between(before: dict, after: dict) -> int | None:
    if isinstance(after.get("wakes"), int) and isinstance(before.get("wakes"), int):
        return after["wakes"] - before["wakes"]
    return None


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
            s.notify.close()
        out["recording"] = s.rec.audio()
        out["rec"] = s.rec
        out["notify"] = s.notify.events
        out["turn_log"] = [s.turn_log[k] for k in sorted(s.turn_log)]
        out["harness_log"] = s.log
    return out


# -- measuring the recording -----------------------------------------------------------------------------------


def locate(audio: np.ndarray, clip: np.ndarray, hint: int, before_s: float = 0.5, after_s: float = 2.0) -> int:
    """Where `clip` starts in `audio`, searched around `hint` (FFT cross-correlation)."""
    lo = max(0, hint - int(before_s * RATE))
    hi = min(audio.size, hint + int(after_s * RATE) + clip.size)
    seg = audio[lo:hi].astype(np.float64)
    if seg.size < clip.size or not clip.size:
        return hint
    n = 1 << int(np.ceil(np.log2(seg.size + clip.size)))
    corr = np.fft.irfft(np.fft.rfft(seg, n) * np.conj(np.fft.rfft(clip.astype(np.float64), n)), n)
    corr = corr[: seg.size - clip.size + 1]
    return lo + int(np.argmax(corr))


def segments(audio: np.ndarray, start: int, stop: int, gap_s: float = 0.15) -> list[tuple[int, int]]:
    """Stretches of sound above the floor in audio[start:stop], joined over gaps shorter than `gap_s`."""
    loud = np.flatnonzero(np.abs(audio[start:stop].astype(np.int32)) > FLOOR)
    if not loud.size:
        return []
    breaks = np.flatnonzero(np.diff(loud) > int(gap_s * RATE))
    starts = np.concatenate([[loud[0]], loud[breaks + 1]])
    ends = np.concatenate([loud[breaks], [loud[-1]]])
    return [(start + int(a), start + int(b) + 1) for a, b in zip(starts, ends, strict=True)]


EARCON_BANDS = ((620, 700), (950, 1030), (1280, 1360), (1940, 2020))  # kiosk/audio/earcon.py: 660 + 990 Hz


def is_earcon(x: np.ndarray) -> bool:
    """The wake chime (two sine notes and their octaves, 0.16 s), not speech: nearly all its energy sits in
    four narrow bands."""
    if x.size < 400:
        return False
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64) * np.hanning(x.size))) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / RATE)
    tonal = sum(spectrum[(freqs >= lo) & (freqs <= hi)].sum() for lo, hi in EARCON_BANDS)
    return bool(tonal > 0.6 * spectrum.sum())


def answer_onset(audio: np.ndarray, q_end: int, speaking_hint: int | None) -> tuple[int | None, int]:
    """The answer's first sample (above the floor) after the question's end, skipping the wake chime and any
    sound that ended well before the kiosk said it was speaking; (onset, chimes skipped)."""
    pos, chimes = q_end + int(0.1 * RATE), 0
    stop = min(audio.size, q_end + 40 * RATE)
    while pos < stop:
        loud = np.flatnonzero(np.abs(audio[pos:stop].astype(np.int32)) > FLOOR)
        if not loud.size:
            return None, chimes
        a = pos + int(loud[0])
        if is_earcon(audio[a: a + int(0.16 * RATE)]):
            pos, chimes = a + int(0.17 * RATE), chimes + 1
            continue
        segs = segments(audio, a, stop)
        b = segs[0][1] if segs else a
        if speaking_hint is not None and b < speaking_hint - int(0.5 * RATE):
            pos = b + 1  # before the answer began: not the answer (a greeting cut short, a stray sound)
            continue
        return a, chimes
    return None, chimes


def measure(live: dict[str, Any], visitors: list[cc.Visitor], files: dict[str, Any]) -> None:
    """Adds the voice-to-voice times (true end of speech -> first answer sample) to the question steps."""
    audio, rec = live["recording"], live["rec"]
    for row, v in zip(live["rows"], visitors, strict=False):
        for step in row["steps"]:
            if step["kind"] not in ("question", "follow_up"):
                continue
            wav, rendered = files[v.id][step["wav"]]
            start = locate(audio, rendered.pcm, rec.sample_at(step["play"][0]))
            q_end = start + rendered.speech_end
            step["speech_end_sample"] = q_end
            if step["kind"] == "question" and v.style == "separate":  # the real pause after the wake
                w = files[v.id]["wake"][1]
                w_start = locate(audio, w.pcm, rec.sample_at(row["t_wake"][0]))
                step["pause_actual_s"] = round((start - (w_start + w.speech_end)) / RATE, 2)
                heard = segments(audio, w_start + w.speech_end + int(0.05 * RATE), start - int(0.02 * RATE))
                step["kiosk_sound_before_question_s"] = round(sum(b - a for a, b in heard) / RATE, 2)
            step["v2v_s"] = None
            if step.get("thinking") is not None:
                stop = step.get("end") or step["thinking"]
                step["thinking_count"] = sum(1 for t, st in live["notify"] if step["play"][0] <= t <= stop
                                             and st == "thinking")
                hint = rec.sample_at(step["speaking"]) if step.get("speaking") else None
                onset, step["chimes_skipped"] = answer_onset(audio, q_end, hint)
                if onset is not None:
                    step["v2v_s"] = round((onset - q_end) / RATE, 3)


# -- typed answers and the sequential baseline -------------------------------------------------------------------


async def _respond(rt, text: str) -> Any:  # noqa: ANN001
    from kiosk.answer.pipeline import run_turn

    return await run_turn(rt.responder, text, speak=False)


def offline(visitors: list[cc.Visitor], files: dict[str, Any], live: dict[str, Any], config: Path) -> None:
    """Typed answers (the truth's reach) and the sequential baseline, after the kiosk has stopped."""
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
                heard = transcribe(asr, pcm.tobytes())["text"]
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


# -- scoring ---------------------------------------------------------------------------------------------------


def halves(q: cc.Question) -> tuple[str, str]:
    if len(q.parts) == 2:
        return q.parts[0], q.parts[1]
    w = q.text.split()
    return " ".join(w[: len(w) // 2]), " ".join(w[len(w) // 2:])


def precision(truth: str, heard: str) -> float:
    """Share of the heard content words that the true text has (0 when fewer than two were heard)."""
    h = content(heard)
    return len(h & content(truth)) / len(h) if len(h) >= 2 else 0.0


def attribute(turns: list[dict[str, Any]], visitors: list[cc.Visitor], asked: dict[str, set[str]]) -> None:
    """Gives every turn the utterance it answered, by its words (never by its timing alone): the best match
    among what the current and the previous visitor's scene said - their questions, and the bystanders' lines
    - scored by recall or precision of content words, at least 0.5; else `None` (a mishearing of something
    unknown, or of the hall's noise). A turn that matches nothing while a visitor's question waits is that
    question misheard. A late answer is attributed all the same, and marked late."""
    index = {v.id: i for i, v in enumerate(visitors)}
    for turn in turns:
        heard = turn.get("question") or ""
        i = index.get(turn.get("visitor"), -1)
        best: tuple[float, str | None, str | None] = (0.0, None, None)
        for v in visitors[max(0, i - 1): i + 1] if i >= 0 else []:
            items = [("question", v.question.text)]
            if v.follow_up and "follow_up" in asked.get(v.id, ()):
                items.append(("follow_up", v.follow_up.text))
            if v.after_answer and "after_answer" in asked.get(v.id, ()):
                items.append(("bystander", v.after_answer.text))
            items += [("bystander", c.text) for c in v.stretch]
            for kind, text in items:
                score = max(coverage(text, heard), precision(text, heard))
                if score > best[0]:
                    best = (score, v.id, kind if kind == "bystander" else f"{kind}")
        ok = best[0] >= 0.5
        turn["answered_visitor"] = best[1] if ok else None
        turn["answered_kind"] = best[2] if ok else None
        turn["match"] = round(best[0], 2)
        if not ok and turn.get("step") in ("question", "follow_up"):
            # nobody but the visitor (and the hall) speaks while their question waits: a mishearing of it
            turn["answered_visitor"], turn["answered_kind"] = turn.get("visitor"), turn["step"]


def score_question(step: dict[str, Any] | None, q: cc.Question, turns: list[dict[str, Any]]) -> dict[str, Any]:
    """`turns`: the turns attributed to this question (on time: seen before the visitor went on)."""
    step = step or {}
    on_time = [t for t in turns if t.get("on_time")]
    best = max(on_time, key=lambda t: coverage(q.text, t.get("question", "")), default=None)
    heard = (best or {}).get("question")
    matched = best is not None and coverage(q.text, heard) >= 0.5
    first, second = halves(q)
    first_half_only = (heard is not None and coverage(first, heard) >= 0.5 and coverage(second, heard) < 0.34
                       and len(words(heard)) <= 0.75 * len(words(q.text)))
    answered = bool(on_time)
    ref, hyp = words(q.text), words(heard or "")
    return {
        "kind": step.get("kind"), "text": q.text, "heard": heard, "answer": (best or {}).get("answer"),
        "grounded": (best or {}).get("grounded"), "turns": len(on_time), "late_turns": len(turns) - len(on_time),
        "answered": answered, "matched": matched,
        "facts_ok": bool(matched and has_facts((best or {}).get("answer") or "", q.key_facts)),
        "cut_off": bool(answered and (len(on_time) >= 2 or first_half_only)),
        "hesitation_s": q.hesitation_s, "v2v_s": step.get("v2v_s") if matched else None,
        "wer_edits": edits(ref, hyp) if heard is not None else None, "ref_words": len(ref),
        "timings_ms": (best or {}).get("timings_ms"), "chimes_skipped": step.get("chimes_skipped"),
        "thinking_count": step.get("thinking_count"),
        "pause_actual_s": step.get("pause_actual_s"), "waited_for_kiosk_s": step.get("waited_for_kiosk_s"),
        "kiosk_sound_before_question_s": step.get("kiosk_sound_before_question_s"),
    }


def score(live: dict[str, Any], visitors: list[cc.Visitor], files: dict[str, Any]) -> list[dict[str, Any]]:
    rows_by_id = {row["id"]: row for row in live["rows"]}
    asked: dict[str, set[str]] = {}
    for row in live["rows"]:
        kinds = {st["kind"] for st in row["steps"]}
        asked[row["id"]] = kinds | ({"after_answer"} if any("chatter" in st for st in row["steps"]) else set())
    played = [v for v in visitors if v.id in rows_by_id]
    turns = live.get("turn_log", [])
    attribute(turns, played, asked)
    for t in turns:  # on time: first seen while its own visitor was still at that step (or went on with it)
        kind = t.get("answered_kind")
        t["on_time"] = bool(kind in ("question", "follow_up") and t.get("visitor") == t.get("answered_visitor")
                            and (t.get("step") == kind or (kind == "question" and t.get("step") == "follow_up")))
    out = []
    for v in played:
        row = rows_by_id[v.id]
        steps = {st["kind"]: st for st in row["steps"]}
        mine = [t for t in turns if t.get("answered_visitor") == v.id]
        q = score_question(steps["question"], v.question, [t for t in mine if t["answered_kind"] == "question"])
        wakes = wakes_between(steps["question"]["before"], steps["question"].get("after", {}))
        listening = steps["question"].get("listening")
        heard_wake = listening is not None and listening <= steps["question"]["play"][1] + 3.0
        woke = wakes > 0 if wakes is not None else (heard_wake or q["answered"])
        r: dict[str, Any] = {
            "id": v.id, "part": v.part, "voice": v.voice, "gender": v.gender, "speed": v.speed, "pitch": v.pitch,
            "style": v.style, "pause_after_wake_s": v.pause_after_wake_s, "snr_db": v.snr_db, "woke": bool(woke),
            "wake_evidence": "wakes" if wakes is not None else ("listening" if heard_wake else "turn"),
            # not woken in time, but the kiosk answered the question later (it was running behind)
            "woke_late": bool(not woke and q["late_turns"]),
            # end of the wake line's audio -> the kiosk says it is listening (for one breath: with the question)
            "wake_reaction_s": round(listening - row["t_wake"][1], 2) if listening is not None and woke and (
                steps["question"].get("end") is None or listening <= steps["question"]["end"]) else None,
            "question": q, "follow_up": None, "wall_s": row.get("wall_s"), "timeline": row.get("timeline"),
            "statuses": row.get("statuses"),
        }
        if v.follow_up:
            fu = steps.get("follow_up")
            r["follow_up"] = score_question(fu, v.follow_up, [t for t in mine if t["answered_kind"] == "follow_up"])
            r["follow_up"]["asked"] = fu is not None
        # what the kiosk answered while this visitor's scene went on that was not a visitor's question
        others = [t for t in turns if t.get("visitor") == v.id and t.get("answered_kind") not in ("question",
                                                                                                    "follow_up")]
        window = steps["window"]
        said = "chatter" in window
        r["after_answer"] = {"text": v.after_answer.text if v.after_answer else None, "said": said,
                             "answered": any(t.get("step") == "window" and t.get("answered_kind") == "bystander"
                                             for t in others) if said else False}
        r["non_visitor_turns"] = [{"heard": t.get("question"), "step": t.get("step"), "matched_bystander":
                                   t.get("answered_kind") == "bystander", "answer": (t.get("answer") or "")[:100]}
                                  for t in others]
        for key in ("wakes", "dismissed"):  # by bystanders (or the hall): after the visitor's last answer
            a, b = window["before"].get(key), steps["stretch"]["after"].get(key)
            r[f"bystander_{key}"] = b - a if isinstance(a, int) and isinstance(b, int) else None
        lines = files[v.id].get("stretch", (None, []))[1]
        after_lines = files[v.id].get("after_answer", (None, []))[1] if said else []
        r["bystander"] = {"lines": len(lines) + len(after_lines),
                          "speech_s": round(sum(b - a for a, b in list(lines) + list(after_lines)) / RATE, 2)}
        for kind in ("question", "follow_up"):
            if r.get(kind) and "typed" in row:
                r[kind]["typed_facts_ok"] = row["typed"].get(kind, {}).get("facts_ok")
                b = row["baseline"].get(kind, {})
                r[kind]["baseline"] = b
                live_heard = r[kind].get("heard")
                r[kind]["live_equals_transcribe"] = (None if live_heard is None else
                                                     words(live_heard) == words(b.get("transcript", "")))
        out.append(r)
    return out


def _share(hits: int, n: int) -> float | None:
    return round(hits / n, 3) if n else None


def _median(xs: list[float]) -> float | None:
    return round(statistics.median(xs), 3) if xs else None


def aggregate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    if not rows:
        return {"visitors": 0}
    qs = [r["question"] for r in rows]
    fus = [r["follow_up"] for r in rows if r["follow_up"] and r["follow_up"].get("asked")]
    allq = qs + fus
    woke = [r for r in rows if r["woke"]]
    typed_right = [r["question"] for r in rows if r["question"].get("typed_facts_ok")]
    lost = [r for r in woke if not r["question"]["matched"]]
    by_voice: dict[str, list[int]] = {}
    for r in rows:
        by_voice.setdefault(r["voice"], []).append(int(r["woke"]))
    by = sorted(by_voice.items())
    minutes = sum(r["bystander"]["speech_s"] for r in rows) / 60
    bystander_turns = sum(len(r["non_visitor_turns"]) for r in rows)
    after_said = [r for r in rows if r["after_answer"]["said"]]
    v2v = [q["v2v_s"] for q in allq if q.get("v2v_s") is not None]
    base = [q["baseline"]["first_audio_s"] for q in allq if q.get("v2v_s") is not None
            and (q.get("baseline") or {}).get("first_audio_s")]
    base_short = [q["baseline"]["first_audio_s_short_silence"] for q in allq if q.get("v2v_s") is not None
                  and (q.get("baseline") or {}).get("first_audio_s_short_silence")]
    ratios = [q["v2v_s"] / q["baseline"]["first_audio_s"] for q in allq if q.get("v2v_s") is not None
              and (q.get("baseline") or {}).get("first_audio_s")]

    def wer(pred) -> dict[str, Any]:  # noqa: ANN001
        sel = [q for r in rows if r["voice"] != "piper" and pred(r) for q in [r["question"], r["follow_up"]]
               if q and q.get("wer_edits") is not None]
        ref = sum(q["ref_words"] for q in sel)
        return {"wer": round(sum(q["wer_edits"] for q in sel) / ref, 3) if ref else None, "questions": len(sel)}

    eq = [q["live_equals_transcribe"] for q in allq if q.get("live_equals_transcribe") is not None]
    hes = [q for q in allq if q.get("hesitation_s")]
    return {
        "visitors": len(rows),
        "wake_recall": _share(len(woke), len(rows)),
        "woken_too_late": sum(1 for r in rows if r.get("woke_late")),
        "wake_recall_by_voice": {v: {"recall": _share(sum(x), len(x)), "n": len(x)} for v, x in by},
        "typed_right": len(typed_right),
        "answered_from_documents": {"n": len(typed_right),
                                    "share": _share(sum(1 for q in typed_right if q["facts_ok"]), len(typed_right))},
        "questions_lost": {"n": len(lost), "of_woken": len(woke), "share": _share(len(lost), len(woke)),
                           "no_turn": sum(1 for r in lost if not r["question"]["answered"]),
                           "answered_too_late": sum(1 for r in lost if r["question"]["late_turns"])},
        "wake_reaction_s": {"p50": _median([r["wake_reaction_s"] for r in rows if r["wake_reaction_s"] is not None]),
                            "max": max((r["wake_reaction_s"] for r in rows if r["wake_reaction_s"] is not None),
                                       default=None)},
        "follow_ups": {"asked": len(fus), "taken": sum(1 for q in fus if q["matched"]),
                       "share": _share(sum(1 for q in fus if q["matched"]), len(fus))},
        "bystander": {"speech_minutes": round(minutes, 2), "answered": bystander_turns,
                      "per_10_min": round(bystander_turns / minutes * 10, 2) if minutes else None,
                      "in_follow_up_window": {"said": len(after_said),
                                              "answered": sum(1 for r in after_said if r["after_answer"]["answered"])},
                      "matched_a_bystander_line": sum(1 for r in rows for t in r["non_visitor_turns"]
                                                      if t["matched_bystander"])},
        "unprompted_turns": sum(1 for r in rows for t in r["non_visitor_turns"] if not t["matched_bystander"]),
        "bystander_false_wakes": sum(r.get("bystander_wakes") or 0 for r in rows),
        "bystander_dismissed": sum(r.get("bystander_dismissed") or 0 for r in rows),
        "questions_merged_after_a_pause": sum(1 for q in allq if (q.get("thinking_count") or 0) > 1),
        "cut_off": {"questions": sum(1 for q in allq if q["answered"]),
                    "cut": sum(1 for q in allq if q["cut_off"]),
                    "share": _share(sum(1 for q in allq if q["cut_off"]), sum(1 for q in allq if q["answered"])),
                    "hesitation_questions": len(hes), "hesitation_cut": sum(1 for q in hes if q["cut_off"])},
        "v2v_s": {"n": len(v2v), "p50": _median(v2v),
                  "p95": round(float(np.percentile(v2v, 95)), 3) if v2v else None},
        "baseline_first_audio_s_p50": _median(base),
        "v2v_over_baseline": {"ratio_of_medians": round(statistics.median(v2v) / statistics.median(base), 3)
                              if v2v and base else None, "median_of_ratios": _median(ratios),
                              "ratio_of_medians_short_silence": round(statistics.median(v2v) / statistics.median(
                                  base_short), 3) if v2v and base_short else None},
        "question_wer_non_piper": {"clean": wer(lambda r: r["snr_db"] is None),
                                   "noise": wer(lambda r: r["snr_db"] is not None)},
        "live_equals_transcribe": {"n": len(eq), "share": _share(sum(eq), len(eq))},
    }


TARGETS = [
    ("wake recall (all voices)", lambda a: f"{a['wake_recall']} (+{a['woken_too_late']} too late)",
     "≥0.95 every voice"),
    ("answered from documents (typed right)", lambda a: f"{a['answered_from_documents']['share']} "
     f"of {a['answered_from_documents']['n']}", ""),
    ("questions lost (of woken)", lambda a: f"{a['questions_lost']['n']} of {a['questions_lost']['of_woken']} "
     f"({a['questions_lost']['answered_too_late']} too late)", ""),
    ("wake → listening p50 / max (s)", lambda a: f"{a['wake_reaction_s']['p50']} / {a['wake_reaction_s']['max']}", ""),
    ("follow-ups taken", lambda a: f"{a['follow_ups']['share']} "
     f"({a['follow_ups']['taken']}/{a['follow_ups']['asked']})", "≥0.90"),
    ("bystander answered / 10 min", lambda a: f"{a['bystander']['per_10_min']} ({a['bystander']['answered']} in "
     f"{a['bystander']['speech_minutes']} min)", "≤1"),
    ("  of which in follow-up window", lambda a: f"{a['bystander']['in_follow_up_window']['answered']}/"
     f"{a['bystander']['in_follow_up_window']['said']}", ""),
    ("bystander false wakes / dismissed", lambda a: f"{a['bystander_false_wakes']} / {a['bystander_dismissed']}", ""),
    ("  answered words nobody said (noise?)", lambda a: a["unprompted_turns"], ""),
    ("cut-off questions", lambda a: f"{a['cut_off']['share']} ({a['cut_off']['cut']}/{a['cut_off']['questions']}; "
     f"hesitations {a['cut_off']['hesitation_cut']}/{a['cut_off']['hesitation_questions']})", "≤0.02"),
    ("questions merged after a pause", lambda a: a["questions_merged_after_a_pause"], ""),
    ("voice to voice p50 / p95 (s)", lambda a: f"{a['v2v_s']['p50']} / {a['v2v_s']['p95']} (n={a['v2v_s']['n']})", ""),
    ("sequential baseline p50 (s)", lambda a: a["baseline_first_audio_s_p50"], ""),
    ("v2v ÷ baseline (medians)", lambda a: f"{a['v2v_over_baseline']['ratio_of_medians']} (with the short "
     f"silence: {a['v2v_over_baseline']['ratio_of_medians_short_silence']})", ""),
    ("question WER non-Piper clean", lambda a: f"{a['question_wer_non_piper']['clean']['wer']} "
     f"(n={a['question_wer_non_piper']['clean']['questions']})", ""),
    ("question WER non-Piper noise", lambda a: f"{a['question_wer_non_piper']['noise']['wer']} "
     f"(n={a['question_wer_non_piper']['noise']['questions']})", ""),
    ("live = kiosk transcribe", lambda a: f"{a['live_equals_transcribe']['share']} "
     f"(n={a['live_equals_transcribe']['n']})", ""),
]


def table(parts: dict[str, dict[str, Any]]) -> str:
    names = [p for p in ("tuning", "heldout", "all") if parts.get(p, {}).get("visitors")]
    lines = [f"{'measure':<40}" + "".join(f"{n:<34}" for n in names) + "target"]
    for label, get, target in TARGETS:
        cells = []
        for n in names:
            try:
                cells.append(str(get(parts[n])))
            except (KeyError, TypeError, ZeroDivisionError):
                cells.append("-")
        lines.append(f"{label:<40}" + "".join(f"{c:<34}" for c in cells) + target)
    lines.append("wake recall by voice:")
    for n in names:
        lines.append(f"  {n}: " + ", ".join(f"{v} {x['recall']} ({x['n']})"
                                           for v, x in parts[n]["wake_recall_by_voice"].items()))
    return "\n".join(lines)


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
                "service": {"status_port": port}}
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
        print("typed answers and the sequential baseline", file=sys.stderr)
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
        "cold_start_to_ready_s": live.get("cold_start_to_ready_s"), "status_fields": live.get("status_fields"),
        "kiosk_cpu_cores": live.get("kiosk_cpu_cores"), "machine_load_avg": live.get("machine_load_avg"),
        "harness_cpu_cores": live.get("harness_cpu_cores"), "listener_lag": listener_lag(full_log),
        "cpu_count": os.cpu_count(),
        "live_minutes": round(live_s / 60, 1), "total_minutes": round((time.monotonic() - started) / 60, 1),
        "parts": parts, "rows": rows, "harness_log": live["harness_log"], "kiosk_log_tail": kiosk_log,
    }
    print(table(parts))
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
