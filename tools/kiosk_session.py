"""A real `kiosk run --headless` for tests and benchmarks: start it, speak to it, watch it, kill it.

The kiosk runs as a subprocess on a private PulseAudio (tools/pulse_sandbox.py) with its status endpoint on
a free port. Everything it tells the outside world is collected with the time it arrived (time.monotonic):
the systemd notify socket's lines (READY=1, STATUS=..., WATCHDOG=1, STOPPING=1), the lines of its log
(stderr) and GET /status. Questions are spoken into the virtual microphone as Piper WAVs.

    with KioskRun(tmp, pulse, kb, watchdog_s=2) as kiosk:
        kiosk.start()
        turn = kiosk.ask(question_wav(tmp, "what's the dress code in the office?"))

Faults are injected with tests/faultinject (its sitecustomize.py, switched by KIOSK_FAULT): pass `fault`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
FAULTINJECT = ROOT / "tests" / "faultinject"
PLUGIN_WARMUP_S = 3.0  # the ALSA pulse plugin delivers the first captured audio ~2 s after opening


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def question_wav(folder: Path, question: str, name: str | None = None) -> Path:
    """"Hey coach, <question>" in the Piper voice, with half a second before and a second after."""
    from speech_corpus import Line, render, write_wav

    pcm, _ = render([Line(f"Hey coach, {question}", "piper", pause_before_s=0.5)], tail_s=1.0)
    slug = name or re.sub(r"\W+", "-", question.lower()).strip("-")[:40]
    return write_wav(folder / f"{slug}.wav", pcm)


def trailing_silence_s(wav: Path, floor: int = 300) -> float:
    """Seconds of (near) silence at the end of a 16-bit WAV."""
    import wave

    import numpy as np

    with wave.open(str(wav), "rb") as w:
        rate, pcm = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > floor)
    return (pcm.size - (loud[-1] + 1 if loud.size else 0)) / rate


class Lines(threading.Thread):
    """Lines from a source, each with the monotonic time it arrived."""

    def __init__(self, name: str) -> None:
        super().__init__(daemon=True, name=name)
        self.lines: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def add(self, line: str) -> None:
        with self._lock:
            self.lines.append((time.monotonic(), line))

    def since(self, after: float = 0.0) -> list[tuple[float, str]]:
        with self._lock:
            return [(t, line) for t, line in self.lines if t >= after]

    def first(self, pattern: str, after: float = 0.0) -> float | None:
        """When the first line matching `pattern` (a regular expression) came after `after`."""
        return next((t for t, line in self.since(after) if re.search(pattern, line)), None)

    def last(self, pattern: str, after: float = 0.0) -> float | None:
        return next((t for t, line in reversed(self.since(after)) if re.search(pattern, line)), None)

    def wait(self, pattern: str, after: float, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (t := self.first(pattern, after)) is not None:
                return t
            time.sleep(0.02)
        return None


class NotifyLines(Lines):
    """The receiving end of systemd's notify socket; one entry per line of each datagram."""

    def __init__(self, path: Path) -> None:
        super().__init__("notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.closed = False

    def run(self) -> None:
        while not self.closed:
            try:
                message = self.sock.recv(4096).decode(errors="replace")
            except (TimeoutError, OSError):
                continue
            for line in message.split("\n"):
                self.add(line)

    def close(self) -> None:
        self.closed = True
        self.sock.close()


class LogLines(Lines):
    """The kiosk's stderr, line by line, also copied into a file."""

    def __init__(self, stream: IO[str], copy: Path) -> None:
        super().__init__("kiosk-log")
        self.stream, self.copy = stream, copy

    def run(self) -> None:
        with self.copy.open("a", encoding="utf-8") as out:
            for line in self.stream:
                self.add(line.rstrip("\n"))
                out.write(line)
                out.flush()


class KioskRun:
    """One `kiosk run --headless` process; `start()` may be called again after `kill()` (a restart).

    The config has the documents `kb`, the PulseAudio devices and a [service] table with the status port and
    no greeting; `extra_config` follows those [service] keys (more of them first, then other tables)."""

    def __init__(self, folder: Path, pulse: dict[str, str], kb: Path, *, extra_config: str = "",
                 fault: str = "", watchdog_s: float | None = None) -> None:
        self.folder, self.pulse, self.fault, self.watchdog_s = folder, pulse, fault, watchdog_s
        self.port = free_port()
        self.config = folder / "kiosk.toml"
        self.config.write_text(
            f'[persona]\nknowledge_base = "{kb}"\n\n[audio]\ninput_device = "pulse"\noutput_device = "pulse"\n\n'
            f"[service]\nstatus_port = {self.port}\ngreeting = false\n{extra_config}")
        self.fault_log = folder / "faults.log"
        self.notify = NotifyLines(folder / "notify.sock")
        self.notify.start()
        self.log: LogLines | None = None
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0

    # -- lifecycle -------------------------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        env = {**self.pulse, "NOTIFY_SOCKET": str(self.folder / "notify.sock"), "PYTHONUNBUFFERED": "1"}
        if self.watchdog_s is not None:
            env["WATCHDOG_USEC"] = str(int(self.watchdog_s * 1e6))
        if self.fault:
            path = os.pathsep.join(filter(None, [str(FAULTINJECT), env.get("PYTHONPATH", "")]))
            env.update(PYTHONPATH=path, KIOSK_FAULT=self.fault, KIOSK_FAULT_LOG=str(self.fault_log))
        return env

    def start(self, timeout: float = 240) -> float:
        """Starts `kiosk run` and waits for READY=1 and the microphone's first audio; the seconds to READY."""
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "run", "--headless", "--config",
                                      str(self.config)], env=self.env(), stderr=subprocess.PIPE, text=True,
                                     cwd=ROOT)
        assert self.proc.stderr is not None
        self.log = LogLines(self.proc.stderr, self.folder / "kiosk.log")
        self.log.start()
        ready = self.notify.wait("^READY=1$", self.started_at, timeout)
        if ready is None:
            raise RuntimeError(f"kiosk run not READY within {timeout:g} s (rc {self.proc.poll()}):\n{self.tail()}")
        time.sleep(PLUGIN_WARMUP_S)
        return ready - self.started_at

    def kill(self, sig: int = signal.SIGKILL) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=60)
        if self.log is not None:
            self.log.join(timeout=10)
        return rc

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, as systemd stops it; SIGKILL if it does not end within `timeout` (TimeoutStopSec)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc is not None else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return self.kill()
        if self.log is not None:
            self.log.join(timeout=10)
        return rc

    def __enter__(self) -> KioskRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop(timeout=30)
        self.notify.close()

    def tail(self, chars: int = 3000) -> str:
        path = self.folder / "kiosk.log"
        return path.read_text()[-chars:] if path.exists() else ""

    # -- talking to it ---------------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/status", timeout=10) as response:
            return json.loads(response.read())

    def say(self, wav: Path) -> float:
        """Plays `wav` into the microphone; when its speech ended (the end of playback less the silence the
        file ends with)."""
        subprocess.run(["paplay", "--device=mic_feed", str(wav)], env=self.pulse, check=True)
        return time.monotonic() - trailing_silence_s(wav)

    def say_in_background(self, wav: Path) -> subprocess.Popen:
        return subprocess.Popen(["paplay", "--device=mic_feed", str(wav)], env=self.pulse)

    def turns(self) -> list[dict[str, Any]]:
        return self.status()["recent"]

    def wait_turn(self, count: int, timeout: float = 120) -> dict[str, Any] | None:
        """The `count`-th turn /status lists, once it is finished (None if it does not come in time)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            recent = self.turns()
            if len(recent) >= count:
                return recent[count - 1]
            time.sleep(0.1)
        return None

    def wait_idle(self, timeout: float = 60) -> bool:
        """Until nobody is being served (the follow-up window closed): the next visitor's moment."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.status()["state"] == "idle":
                return True
            time.sleep(0.1)
        return False

    def ask(self, wav: Path, timeout: float = 120) -> tuple[dict[str, Any] | None, float]:
        """Speaks a question as a new visitor (once the kiosk is idle) and waits for its turn; (the turn,
        seconds from the question's end to the turn's end)."""
        self.wait_idle()
        count = len(self.turns())
        said = self.say(wav)
        turn = self.wait_turn(count + 1, timeout)
        return turn, time.monotonic() - said

    def faults_fired(self) -> list[tuple[float, str]]:
        """(monotonic time, fault) of each injected fault that fired."""
        if not self.fault_log.exists():
            return []
        return [(float(t), name) for t, name in (line.split() for line in self.fault_log.read_text().splitlines())]


# -- the sound device coming and going (tools/pulse_sandbox.py's modules) --------------------------------------


def _pactl(pulse: dict[str, str], *args: str) -> str:
    return subprocess.run(["pactl", *args], env=pulse, capture_output=True, text=True, check=True).stdout


def unplug(pulse: dict[str, str], speaker: bool = False) -> None:
    """The microphone goes away: the virtual source and the sink feeding it are unloaded (`speaker`: the
    loudspeaker too, as when a USB speakerphone is pulled)."""
    wanted = ("module-remap-source", "sink_name=mic_feed", *(("sink_name=kiosk_out",) if speaker else ()))
    rows = [line.split("\t") for line in _pactl(pulse, "list", "short", "modules").splitlines()]
    for index, *rest in sorted(rows, key=lambda row: -int(row[0])):  # the remap source before its master
        if any(w in " ".join(rest) for w in wanted):
            _pactl(pulse, "unload-module", index)


def plug_back(pulse: dict[str, str], speaker: bool = False) -> None:
    """The devices unplug() removed, loaded again as pulse_sandbox.start_pulse made them, and the defaults."""
    if speaker:
        _pactl(pulse, "load-module", "module-null-sink", "sink_name=kiosk_out")
        _pactl(pulse, "set-default-sink", "kiosk_out")
    _pactl(pulse, "load-module", "module-null-sink", "sink_name=mic_feed")
    _pactl(pulse, "load-module", "module-remap-source", "master=mic_feed.monitor", "source_name=virtual_mic")
    _pactl(pulse, "set-default-source", "virtual_mic")


def capture_source(pulse: dict[str, str], pid: int) -> str | None:
    """The name of the PulseAudio source process `pid` records from (None: it records nothing)."""
    sources = {str(s["index"]): s["name"] for s in json.loads(_pactl(pulse, "-f", "json", "list", "sources"))}
    for output in json.loads(_pactl(pulse, "-f", "json", "list", "source-outputs")):
        if str(output.get("properties", {}).get("application.process.id")) == str(pid):
            return sources.get(str(output["source"]))
    return None
