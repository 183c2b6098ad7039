"""Turn-taking the way visitors really talk, through `kiosk run --headless` on a PulseAudio virtual
microphone with the real engines (Silero, Whisper, SmolLM2, Piper) and the default settings (greeting on).

Each failure named in issue 11 is one step of one conversation:
- a visitor pauses after "Hey coach." before asking (before: the greeting started 0.8 s after the wake,
  closed the microphone, and the question was never heard);
- a quieter bystander chats in the follow-up window after the answer (before: every utterance there
  was a question, and each one extended the window);
- a second visitor with another voice pauses only briefly (0.35 s);
- a third visitor, quieter and in another voice, says "Hey coach." right after that answer, in its
  follow-up window, and pauses 1.5 s (before: the phrase was judged as a follow-up with nothing in it, the
  window closed during the pause and the question was lost; docs/reliability.md).
No assertion depends on the exact words a model writes: only on facts the documents hold, turn counts
and the kiosk's states.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from notify_socket import FIRST_AUDIO, wait_for, wait_for_log
from speech_corpus import Line, render, write_wav

pytestmark = [pytest.mark.slow, pytest.mark.audio]
ROOT = Path(__file__).resolve().parents[1]


class Session:
    """A `kiosk run` process, what it says on the notify socket, and its status endpoint."""

    def __init__(self, tmp: Path, pulse: dict[str, str], extra: str = "") -> None:
        from kiosk.knowledge.index import ingest

        kb = tmp / "kb.sqlite"
        ingest(kb, [ROOT / "samples" / "halvorsen"])
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        config = tmp / "kiosk.toml"
        config.write_text(f'[persona]\nknowledge_base = "{kb}"\n\n[audio]\ninput_device = "pulse"\n'
                          f'output_device = "pulse"\n\n[service]\nstatus_port = {self.port}\n{extra}')
        self.tmp, self.pulse, self.seen = tmp, pulse, []
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(tmp / "notify.sock"))
        env = {**pulse, "NOTIFY_SOCKET": str(tmp / "notify.sock")}
        self.log = tmp / "kiosk.log"
        self.proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "run", "--headless", "--config", str(config)],
                                     env=env, stderr=open(self.log, "w"))  # noqa: SIM115
        if not (self.wait("READY=1", 180) and wait_for_log(self.log, FIRST_AUDIO, 60)):
            self.proc.kill()  # never leave a kiosk behind holding its ports
            self.proc.wait(timeout=30)
            raise AssertionError(f"kiosk run did not start:\n{self.tail()}")
        time.sleep(0.5)

    def tail(self) -> str:
        return self.log.read_text()[-3000:]

    def wait(self, status: str, timeout: float) -> bool:
        return wait_for(self.notify, status, timeout, self.seen) is not None

    def say(self, name: str, lines: list[Line], gain: float = 1.0) -> None:
        pcm, _ = render(lines, tail_s=0.3, gain=gain)
        subprocess.run(["paplay", "--device=mic_feed", str(write_wav(self.tmp / f"{name}.wav", pcm))],
                       env=self.pulse, check=True)

    def status(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/status", timeout=5) as response:
            return json.loads(response.read())

    def close(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=30)
        self.notify.close()
        return rc


def test_visitors_who_pause_are_answered_and_bystanders_are_not(pulse: dict[str, str], tmp_path: Path) -> None:
    kiosk = Session(tmp_path, pulse, "\n[logging]\nlevel = \"debug\"\n")
    try:
        # 1. "Hey coach." ... 2 s ... the question, in a voice unlike Piper's.
        kiosk.say("visitor1", [Line("Hey coach.", "en-us", pause_before_s=0.3),
                               Line("Where do I pick up my badge?", "en-us", pause_before_s=2.0)])
        assert kiosk.wait("STATUS=follow_up", 90), (kiosk.seen, kiosk.tail())
        status = kiosk.status()
        assert status["turns"] == 1, status
        assert "reception" in status["last_turn"]["answer"].lower(), status["last_turn"]
        assert "badge" in status["last_turn"]["question"].lower()
        # 2. A bystander, 12 dB quieter, chats right after the answer: a statement and a question
        #    that is not for the kiosk. Neither is answered; the window closes on time.
        kiosk.say("bystander", [Line("Yeah, I will see you at lunch later.", "en-gb", pause_before_s=0.4),
                                Line("Did you watch the match last night?", "en-gb", pause_before_s=0.6)],
                  gain=0.25)
        assert kiosk.wait("STATUS=idle", 30), (kiosk.seen, kiosk.tail())
        status = kiosk.status()
        assert status["turns"] == 1 and status["dismissed"] >= 1, status
        # 3. Another visitor and voice, a short pause (0.35 s) after the wake phrase.
        kiosk.say("visitor2", [Line("Hey coach.", "en-gb", pause_before_s=0.3),
                               Line("Where do I park my car?", "en-gb", pause_before_s=0.35)])
        assert kiosk.wait("STATUS=follow_up", 90), (kiosk.seen, kiosk.tail())
        status = kiosk.status()
        assert status["turns"] == 2, status
        answer = status["last_turn"]["answer"]
        assert "Lot N" in answer or "car park" in answer, status["last_turn"]
        # 4. At once (the follow-up window is open), the next visitor, 6 dB quieter, another voice.
        # (0.6 s after the answer: a phrase begun inside the gate's tail loses its "h", and Whisper's spelling
        # of the rest, "A-coach" or "A code", is luck; that clipping is docs/reliability.md's, not this step's.)
        kiosk.say("visitor3", [Line("Hey coach.", "en-us", pause_before_s=0.6),
                               Line("Where do I pick up my laptop?", "en-us", pause_before_s=1.5)], gain=0.5)
        assert wait_turns(kiosk, 3, 90), (kiosk.seen, kiosk.tail())
        status = kiosk.status()
        answer = status["last_turn"]["answer"]
        assert "B-214" in answer or "help desk" in answer, status["last_turn"]  # the handbook or the FAQ
    finally:
        rc = kiosk.close()
    assert rc == 0, kiosk.tail()
    assert status["wakes"] == 3


def wait_turns(kiosk: Session, turns: int, timeout: float) -> bool:
    """/status counts `turns` answered turns within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if kiosk.status()["turns"] >= turns:
            return True
        time.sleep(0.3)
    return False
