#!/usr/bin/env python3
"""Echo cancellation for voice barge-in: how much of the kiosk's own voice PulseAudio's module-echo-cancel
removes from the microphone, and what that does to `kiosk run` with `[listen] barge_in = "voice"`.

    nice .venv/bin/python tools/bench_aec.py [--json docs/bench/2026-12-05-aec.json] [--no-kiosk | --no-signal]
        [--no-sweep | --room "{'delay_ms': 80}" ...] [--signal-repeat 3] [--repeat 1] [--only aec|no_aec]
        [--keep DIR] [--verbose]
    nice .venv/bin/python tools/bench_aec.py --keep DIR --reanalyze REPORT [--json OUT]  # kept recordings again

Everything runs in the echo room of tools/pulse_sandbox.py: a private PulseAudio whose loudspeaker comes
back into the microphone (module-loopback, 40 ms, -6 dB), with the canceller in between (EchoRoom's
defaults: webrtc, gain controls off, adjust_time=0, a silent keep-alive stream on its sink).

Signal, per room variant: the visitor (espeak-ng, about -21 dBFS) says a line alone; then the kiosk's
Piper voice plays two FAQ answers of samples/halvorsen through the canceller's sink, 4 s apart, each its
own stream as the kiosk plays them (variant: both in one stream); 55 % into the second the visitor says
another line over it (double talk). The raw microphone,
the cancelled one and the loudspeaker are recorded and put on one clock. Reported: the echo's delay
(includes the recorders' start offsets, a few ms) and level at the microphone; ERLE (echo return loss
enhancement: the echo's power in the raw microphone over what is left of it in the cancelled one, on the
frames where only the kiosk speaks), converged (without the first 2 s and the second answer's first
0.5 s), at the second answer's onset, per 100 ms frame (median, 10th percentile); where the residual
peaks above -30 dBFS; how many utterances the kiosk's VAD (Silero + endpointer, the kiosk's settings)
finds in the echo alone before the double talk (with barge_in = "voice" each would stop the kiosk), and
their level relative to the visitor's speech through the canceller; the visitor's level change through
the canceller alone and in double talk; what Whisper hears of the double-talk line.

Kiosk: `kiosk run --headless` with barge_in = "voice", no greeting, in the room with the canceller and in
the control without. "own_voice": two questions whose answers are long, the second in the follow-up
window; counted are self-interruptions (STATUS=speaking straight followed by STATUS=listening; the
kiosk's "the visitor is speaking" / "barge-in" log lines) and turns completed. "interrupt" (canceller
only): the visitor asks, and 1.5 s into the answer asks something else; measured from the recordings is
the time from the start of the interrupting speech at the microphone to the kiosk's echo there going
silent (for over 1 s), and whether that second question is the one answered. "bystander": the same, but
another voice cuts in.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import wave
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import bench_report  # noqa: E402
from notify_socket import wait_for  # noqa: E402
from pulse_sandbox import (  # noqa: E402
    AEC_SOURCE,
    DEFAULT_AEC_ARGS,
    MIC_AIR,
    RAW_MIC,
    SPEAKER,
    EchoRoom,
    private_echo_room,
)
from speech_corpus import Line, render, speech_rms, write_wav  # noqa: E402

RATE = 16000
FRAME = 320  # 20 ms analysis frames
# What the kiosk says in the signal part: two FAQ answers of samples/halvorsen, as the kiosk reads them.
KIOSK_SPEECH = ("Register your visitor with reception through the visitor form on the intranet by 16:00 on the "
                "working day before the visit. Visitors sign in at reception and must be escorted by their host "
                "at all times.",
                "Yes. The fitness room is in the basement of Building A, room A-B10, open from 5:00 to 22:00 every "
                "day with your badge. The company also reimburses up to $50 a month for an outside gym.")
GAP_S = 4.0  # between the two answers (the visitor's next question)
ALONE = Line("Excuse me, where can I park my car?", "en-gb+f4", pause_before_s=0.0)
OVER = Line("How many vacation days do I get?", "en-us+m7", pause_before_s=0.0)
VISITOR_RMS = 3000.0  # the visitor's speech level at the microphone (about -21 dBFS)

# The kiosk part: questions whose FAQ answers are long (two in a row, the second a follow-up without
# the wake phrase), and an interruption by another voice.
OWN_VOICE = ("Hey coach, how do I bring a visitor on site?", "Hey coach, is there a gym?")
INTERRUPTED = "Hey coach, what do I need to wear on the assembly floor?"
INTERRUPTION = "Where do I park?"
INTERRUPTION_WORDS = ("park",)
VISITOR = "en-us+m7"  # the visitor who asks and interrupts (not the kiosk's Piper voice)
BYSTANDER = "en-gb+f4"  # somebody else, who cuts in
SELF_INTERRUPTION_LOG = re.compile(r"kiosk\.appliance\.app: (barge-in|the visitor is speaking)")


# -- recording helpers ------------------------------------------------------------------------------------

def read16(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)


@contextlib.contextmanager
def recording(env: dict[str, str], devices: dict[str, str], folder: Path,
              prefix: str = "") -> Iterator[dict[str, Path]]:
    """parecord of each source (name -> device) at 16 kHz mono while the block runs, into folder/prefix+name.wav."""
    paths = {name: folder / f"{prefix}{name}.wav" for name in devices}
    procs = [subprocess.Popen(["parecord", f"--device={device}", "--file-format=wav", "--channels=1",
                               f"--rate={RATE}", str(paths[name])], env=env)
             for name, device in devices.items()]
    try:
        time.sleep(0.5)
        yield paths
    finally:
        for p in procs:
            p.send_signal(signal.SIGINT)
        for p in procs:
            p.wait(timeout=10)


def lag_of(a: np.ndarray, b: np.ndarray, max_lag: int) -> int:
    """k such that a[n] ~ b[n - k] (|k| <= max_lag), by FFT cross-correlation."""
    n = min(a.size, b.size)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    c = np.fft.irfft(np.fft.rfft(a[:n], size) * np.conj(np.fft.rfft(b[:n], size)), size)
    c = np.concatenate([c[-max_lag:], c[:max_lag + 1]])
    return int(np.argmax(np.abs(c))) - max_lag


def find(haystack: np.ndarray, needle: np.ndarray) -> int:
    """Where `needle` (a clip we played) starts in a recording."""
    size = 1 << int(np.ceil(np.log2(haystack.size + needle.size)))
    c = np.fft.irfft(np.fft.rfft(haystack, size) * np.conj(np.fft.rfft(needle, size)), size)
    return int(np.argmax(c[:haystack.size]))


def dbfs(x: np.ndarray) -> float:
    return round(10 * np.log10(np.mean(np.square(x / 32768.0)) + 1e-12), 1)


def at_level(line: Line, rms: float) -> tuple[np.ndarray, int]:
    """The line rendered at a speech level of `rms`; and where its speech starts."""
    pcm, placed = render([line], tail_s=0.3)
    gain = rms / max(speech_rms(pcm), 1.0)
    return np.clip(pcm.astype(np.float64) * gain, -32768, 32767).astype(np.int16), placed[0].start


# -- the signal part ----------------------------------------------------------------------------------------

def kiosk_voice(folder: Path) -> tuple[Path, Path]:
    """KIOSK_SPEECH as the kiosk's Piper voice says it (its own rate, sentence pauses)."""
    from kiosk.audio.wav import write_wav as write
    from kiosk.config import Settings
    from kiosk.runtime import build_speaker

    speaker = build_speaker(Settings())
    paths = []
    for i, text in enumerate(KIOSK_SPEECH):
        clip = speaker.speak_joined(text)
        paths.append(folder / f"kiosk{i}.wav")
        write(paths[-1], clip.pcm, clip.sample_rate)
    return paths[0], paths[1]


def vad_utterances(pcm: np.ndarray) -> list[float]:
    """Utterances the kiosk's VAD and endpointer (its default settings) find in `pcm`: the level of each
    (dBFS over its speech frames, as kiosk.listen.addressee.LevelMeter measures it)."""
    from kiosk.config import Settings
    from kiosk.listen.endpoint import segments
    from kiosk.listen.engines import build_vad
    from kiosk.listen.listener import endpoint_settings

    settings = Settings()
    vad = build_vad(settings)
    n = vad.frame_samples
    x = pcm.astype(np.int16)
    probs = [vad.prob(x[i:i + n]) for i in range(0, x.size - n + 1, n)]
    levels = []
    for start, end in segments(probs, n, endpoint_settings(settings.listen)):
        frames = [x[i:i + n] for i in range(start - start % n, min(end, x.size - n), n)
                  if probs[i // n] >= settings.listen.vad_threshold]
        levels.append(dbfs(np.concatenate(frames).astype(np.float64)) if frames else -120.0)
    return levels


@dataclass
class SignalRun:
    room: dict
    one_stream: bool = False
    """the kiosk's two answers played as one stream"""
    echo_delay_ms: float = 0.0
    echo_level_db: float = 0.0
    """echo at the raw microphone relative to the loudspeaker"""
    visitor_to_echo_db: float = 0.0
    erle_db: float = 0.0
    """over the frames where only the kiosk speaks, before the double talk"""
    erle_converged_db: float = 0.0
    """over the echo-only frames from 2 s after the kiosk starts speaking (less the second answer's onset)"""
    erle_second_onset_db: float = 0.0
    """over the first 0.5 s of the second answer, after a pause and on a new stream (what starts a turn)"""
    erle_after_double_talk_db: float = 0.0
    """the kiosk alone again after the visitor's line: the canceller re-learning what double talk upset"""
    erle_frames_median_db: float = 0.0
    erle_frames_p10_db: float = 0.0
    """10th percentile of per-frame (100 ms) ERLE after convergence: the canceller's bad moments"""
    canceller_delay_drift_ms: float = 0.0
    """how much the cancelled microphone's delay behind the raw one changed between the visitor's lines"""
    residual_bursts_s: list[float] = field(default_factory=list)
    """where the residual echo peaks above -30 dBFS before the double talk (seconds into the recording)"""
    residual_bursts_after_double_talk_s: list[float] = field(default_factory=list)
    residual_peak_dbfs: float = 0.0
    vad_utterances_raw: int = 0
    vad_utterances_cancelled: int = 0
    vad_levels_cancelled_db: list[float] = field(default_factory=list)
    """each of those utterances' level relative to the visitor's speech through the canceller"""
    near_end_change_db: float = 0.0
    """the visitor alone: cancelled level - raw level (0 = untouched)"""
    double_talk_change_db: float = 0.0
    """the visitor over the kiosk's voice: cancelled level - the visitor's own level"""
    double_talk_heard: str = ""
    double_talk_words: float = 0.0
    """fraction of the double-talk line's words Whisper hears in the cancelled microphone"""
    notes: list[str] = field(default_factory=list)


def signal_run(room: EchoRoom, kiosk_wavs: tuple[Path, Path], whisper, folder: Path,  # noqa: ANN001
               one_stream: bool = False) -> SignalRun:
    """`one_stream`: the two answers and the silence between them as one playback stream, instead of a stream
    per answer (the kiosk's player: the stream idles, underruns and restarts between answers)."""
    from kiosk.audio.wav import read_wav
    from kiosk.audio.wav import write_wav as write

    alone, _ = at_level(ALONE, VISITOR_RMS)
    over, _ = at_level(OVER, VISITOR_RMS)
    alone_wav, over_wav = write_wav(folder / "alone.wav", alone), write_wav(folder / "over.wav", over)
    (first_pcm, rate), (second_pcm, _) = read_wav(kiosk_wavs[0]), read_wav(kiosk_wavs[1])
    second_s = len(second_pcm) / 2 / rate
    both = folder / "kiosk-one-stream.wav"
    if one_stream:
        write(both, first_pcm + b"\0\0" * int(GAP_S * rate) + second_pcm, rate)
    run = SignalRun(room=asdict(room), one_stream=one_stream)
    cancelled = AEC_SOURCE if room.aec else RAW_MIC
    with private_echo_room("kiosk-bench-aec-", room) as env, \
            recording(env, {"raw": RAW_MIC, "cancelled": cancelled, "speaker": f"{SPEAKER}.monitor"},
                      folder) as paths:
        subprocess.run(["paplay", f"--device={MIC_AIR}", str(alone_wav)], env=env, check=True)
        time.sleep(1.0)
        # The default sink: through the canceller.
        if one_stream:
            kiosk = subprocess.Popen(["paplay", str(both)], env=env)
            time.sleep(len(first_pcm) / 2 / rate + GAP_S)
        else:  # each answer its own stream, as the kiosk plays them
            subprocess.run(["paplay", str(kiosk_wavs[0])], env=env, check=True)
            time.sleep(GAP_S)
            kiosk = subprocess.Popen(["paplay", str(kiosk_wavs[1])], env=env)
        time.sleep(second_s * 0.55)
        subprocess.run(["paplay", f"--device={MIC_AIR}", str(over_wav)], env=env, check=True)
        kiosk.wait(timeout=120)
        time.sleep(1.0)
    return analyze(run, paths, alone.astype(np.float64), over.astype(np.float64), whisper)


def analyze(run: SignalRun, paths: dict[str, Path], alone: np.ndarray, over: np.ndarray, whisper) -> SignalRun:  # noqa: ANN001
    from kiosk.listen.transcribe import transcribe

    raw, out, spk = (read16(paths[k]) for k in ("raw", "cancelled", "speaker"))
    spk = np.concatenate([spk, np.zeros(max(0, raw.size - spk.size))])[:raw.size]
    # One clock: the cancelled recording on the raw one's, by the visitor's two lines, which both hold. The
    # canceller's own delay drifts by some ms meanwhile (its rate adjustment): interpolated in between.
    a0 = find(raw, alone)
    a1 = a0 + alone.size
    o0 = find(raw[a1:], over) + a1
    o1 = o0 + over.size
    anchors = (a0, o0)
    shifts = (find(out, alone) - a0, find(out[a1:], over) + a1 - o0)
    if abs(shifts[1] - shifts[0]) > RATE // 5:  # the double-talk line not found in the cancelled microphone
        run.notes.append("double-talk line not found in the cancelled microphone: aligned on the first line only")
        shifts = (shifts[0], shifts[0])
    n = raw.size
    at = np.arange(n) + np.round(np.interp(np.arange(n), anchors, shifts)).astype(np.int64)
    out = np.where((at >= 0) & (at < out.size), out[np.clip(at, 0, out.size - 1)], 0.0)
    run.canceller_delay_drift_ms = round((shifts[1] - shifts[0]) / RATE * 1000, 1)
    # The echo: the loudspeaker's recording, delayed, in the raw microphone.
    k0 = a1 + int(0.5 * RATE)
    lag = lag_of(raw[k0:o0], spk[k0:o0], 4000)
    run.echo_delay_ms = round(lag / RATE * 1000, 1)  # includes the two recorders' start offset (a few ms)
    spk_at_mic = np.roll(spk, lag)[:n]
    speaking = np.zeros(n, dtype=bool)  # the kiosk's voice is at the microphone here
    for i in range(k0, n - FRAME, FRAME):
        speaking[i:i + FRAME] = np.sqrt(np.mean(np.square(spk_at_mic[i:i + FRAME]))) > 300
    talk = np.flatnonzero(speaking)
    first = int(talk[0])
    second = int(talk[np.flatnonzero(np.diff(talk) > (GAP_S - 1) * RATE)[0] + 1])  # after the gap
    echo_only = speaking.copy()  # before the double talk
    echo_only[o0 - RATE // 2:] = False
    after = speaking.copy()  # the kiosk alone again after it
    after[:o1 + RATE // 2] = False
    converged = echo_only.copy()
    converged[first:first + 2 * RATE] = False
    converged[second:second + RATE // 2] = False
    run.echo_level_db = round(dbfs(raw[echo_only]) - dbfs(spk_at_mic[echo_only]), 1)
    run.visitor_to_echo_db = round(dbfs(over[np.abs(over) > 100]) - dbfs(raw[echo_only]), 1)
    run.erle_db = round(dbfs(raw[echo_only]) - dbfs(out[echo_only]), 1)
    run.erle_converged_db = round(dbfs(raw[converged]) - dbfs(out[converged]), 1)
    onset = np.zeros(n, dtype=bool)
    onset[second:second + RATE // 2] = echo_only[second:second + RATE // 2]
    run.erle_second_onset_db = round(dbfs(raw[onset]) - dbfs(out[onset]), 1)
    run.erle_after_double_talk_db = round(dbfs(raw[after]) - dbfs(out[after]), 1) if after.any() else 0.0
    per = [dbfs(raw[i:i + 1600]) - dbfs(out[i:i + 1600]) for i in range(first, n - 1600, 1600)
           if converged[i:i + 1600].all()]
    run.erle_frames_median_db = round(float(np.median(per)), 1) if per else 0.0
    run.erle_frames_p10_db = round(float(np.percentile(per, 10)), 1) if per else 0.0

    def bursts(mask: np.ndarray) -> list[float]:
        return sorted({round(i / RATE, 1) for i in range(first, n - FRAME, FRAME)
                       if mask[i:i + FRAME].all() and np.abs(out[i:i + FRAME]).max() > 1000})

    run.residual_bursts_s = bursts(echo_only)
    run.residual_bursts_after_double_talk_s = bursts(after)
    run.residual_peak_dbfs = round(20 * np.log10(max(np.abs(out[converged]).max(), 1) / 32768), 1)
    # The kiosk's VAD on the echo alone (from the kiosk's first word to the double talk): each utterance it
    # finds would stop the kiosk with barge_in = "voice".
    run.vad_utterances_raw = len(vad_utterances(raw[max(0, first - RATE // 4):o0 - RATE // 2]))
    levels = vad_utterances(out[max(0, first - RATE // 4):o0 - RATE // 2])
    visitor = vad_utterances(out[max(0, a0 - RATE // 4):a1 + RATE // 4])
    run.vad_utterances_cancelled = len(levels)
    run.vad_levels_cancelled_db = [round(v - max(visitor), 1) for v in levels] if visitor else []
    run.near_end_change_db = round(dbfs(out[a0:a1]) - dbfs(raw[a0:a1]), 1)
    run.double_talk_change_db = round(dbfs(out[o0:o1]) - dbfs(over), 1)
    heard = transcribe(whisper, out[o0 - 4000:o1 + 4000].astype(np.int16).tobytes())["text"]
    said = re.findall(r"[a-z]+", OVER.text.lower())
    got = set(re.findall(r"[a-z]+", heard.lower()))
    run.double_talk_heard = heard
    run.double_talk_words = round(sum(w in got for w in said) / len(said), 2)
    return run


# -- the kiosk part ------------------------------------------------------------------------------------------

class KioskSession:
    """`kiosk run --headless` on the room's default devices, with the notify socket and /status."""

    def __init__(self, env: dict[str, str], folder: Path, kb: Path, verbose: bool = False) -> None:
        self.env, self.folder = env, folder
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        config = folder / "kiosk.toml"
        config.write_text(f'[persona]\nknowledge_base = "{kb}"\n\n[audio]\ninput_device = "pulse"\n'
                          f'output_device = "pulse"\n\n[service]\nstatus_port = {self.port}\ngreeting = false\n\n'
                          f'[listen]\nbarge_in = "voice"\n')
        self.log = folder / "kiosk.log"
        self.seen: list[str] = []
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(folder / "notify.sock"))
        run_env = {**env, "NOTIFY_SOCKET": str(folder / "notify.sock")}
        self.process = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "run", "--headless", "--config",
                                         str(config), *(["--verbose"] if verbose else [])],
                                        env=run_env, stderr=open(self.log, "w"))  # noqa: SIM115
        self.rc: int | None = None

    def wait(self, status: str, timeout: float) -> float | None:
        """Monotonic time the notify line `status` (e.g. STATUS=speaking) came, or None."""
        return wait_for(self.notify, status, timeout, self.seen)

    def wait_any(self, statuses: tuple[str, ...], timeout: float) -> str | None:
        """The first of `statuses` (e.g. "follow_up") the kiosk reports within `timeout`, or None."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            self.notify.settimeout(max(0.05, left))
            try:
                message = self.notify.recv(4096).decode()
            except TimeoutError:
                return None
            self.seen.append(message)
            for line in message.split("\n"):
                if line.startswith("STATUS=") and line[7:] in statuses:
                    return line[7:]
        return None

    def statuses(self) -> list[str]:
        return [line[7:] for message in self.seen for line in message.split("\n") if line.startswith("STATUS=")]

    def status(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/status", timeout=5) as response:
            return json.loads(response.read())

    def say(self, pcm: np.ndarray, name: str, wait: bool = True) -> subprocess.Popen | None:
        wav = write_wav(self.folder / f"{name}.wav", pcm)
        p = subprocess.Popen(["paplay", f"--device={MIC_AIR}", str(wav)], env=self.env)
        if wait:
            p.wait(timeout=60)
            return None
        return p

    def log_text(self) -> str:
        return self.log.read_text()

    def close(self) -> int:
        if self.rc is None:
            self.process.send_signal(signal.SIGTERM)
            self.rc = self.process.wait(timeout=60)
            self.notify.close()
        return self.rc


def transitions(statuses: list[str], a: str, b: str) -> int:
    """How often STATUS=a was straight followed by STATUS=b: speaking -> listening is the kiosk stopping to
    listen (a barge-in), speaking -> follow_up an answer spoken to its end. (/status counts a turn whose
    answer was cut off while playing as answered too.)"""
    return sum(1 for x, y in zip(statuses, statuses[1:], strict=False) if (x, y) == (a, b))


def own_voice(session: KioskSession) -> dict:
    """Two questions in a row with long answers; the kiosk's answers echo into the microphone."""
    started = time.monotonic()
    before = len(session.statuses())
    for i, question in enumerate(OWN_VOICE):
        session.say(at_level(Line(question, VISITOR, pause_before_s=0.3), VISITOR_RMS)[0], f"own_voice-question{i}")
        if session.wait_any(("follow_up", "idle"), 120) != "follow_up":  # interrupted: the window closes
            session.wait_any(("idle",), 30)
    time.sleep(1.0)
    status = session.status()
    statuses = session.statuses()[before:]
    log = session.log_text()
    return {"questions": len(OWN_VOICE), "answers_spoken_to_the_end": transitions(statuses, "speaking", "follow_up"),
            "self_interruptions": transitions(statuses, "speaking", "listening"),
            "barge_in_log_lines_so_far": len(SELF_INTERRUPTION_LOG.findall(log)), "statuses": statuses,
            "last_answer": (status.get("last_turn") or {}).get("answer", ""),
            "elapsed_s": round(time.monotonic() - started, 1)}


def interrupt(session: KioskSession, voice: str = VISITOR, tag: str = "interrupt") -> dict:
    """The visitor (an espeak-ng voice, not the kiosk's) asks a question; 1.5 s into the answer `voice` asks
    something else: the visitor again, or a bystander."""
    question, _ = at_level(Line(INTERRUPTED, VISITOR, pause_before_s=0.3), VISITOR_RMS)
    session.say(question, f"{tag}-question")
    if session.wait("STATUS=speaking", 120) is None:
        return {"error": "the kiosk never spoke"}
    time.sleep(1.5)
    pcm, start = at_level(Line(INTERRUPTION, voice, pause_before_s=0.0), VISITOR_RMS)
    said_at = time.monotonic()
    session.say(pcm, f"{tag}-interruption")
    stopped = session.wait("STATUS=listening", 10)
    outcome = session.wait_any(("follow_up", "thinking"), 3.5)  # within the question window (5 s)
    repeated = outcome is None  # the kiosk stopped and listens ("go on"): the visitor says it again, alone
    if repeated:
        session.say(pcm, f"{tag}-repeated")
    if outcome != "follow_up":
        outcome = session.wait_any(("follow_up", "idle"), 120)
    time.sleep(1.0)
    status = session.status()
    turn = status.get("last_turn") or {}
    return {"voice": voice, "stopped_by_status_s": round(stopped - said_at, 2) if stopped else None,
            "repeated": repeated, "answered": outcome == "follow_up", "question": turn.get("question", ""),
            "answer": turn.get("answer", ""),
            "interruption_answered": all(w in turn.get("question", "").lower() for w in INTERRUPTION_WORDS),
            "_interruption": pcm, "_speech_start": start}


def interrupt_to_silence(raw: np.ndarray, spk: np.ndarray, interruption: np.ndarray, speech_start: int) -> dict:
    """From the recordings: the interrupting voice's first sample at the microphone -> the last sample of the
    kiosk's echo there before it goes quiet for over 1 s (one clock: the raw microphone's)."""
    n = min(raw.size, spk.size)
    raw, spk = raw[:n], spk[:n]
    at = find(raw, interruption.astype(np.float64))
    onset = at + speech_start
    # The loudspeaker's recording on the microphone's clock: the echo is the loudspeaker, `lag` later.
    k0 = max(0, onset - 8 * RATE)
    lag = lag_of(raw[k0:onset], spk[k0:onset], 4000)
    spk_at_mic = np.roll(spk, lag)
    loud = np.array([np.sqrt(np.mean(np.square(spk_at_mic[i:i + FRAME]))) > 100
                     for i in range(0, n - FRAME, FRAME)])
    i = onset // FRAME
    while i < loud.size and loud[i:i + RATE // FRAME].any():
        i += 1 + int(np.flatnonzero(loud[i:i + RATE // FRAME])[-1])
    silent_at = i * FRAME
    return {"interrupt_to_silence_s": round((silent_at - onset) / RATE, 3), "echo_lag_ms": round(lag / RATE * 1000, 1),
            "kiosk_speaking_at_interruption": bool(loud[max(0, onset // FRAME - 25):onset // FRAME].any())}


def echo_removed(paths: dict[str, Path]) -> dict:
    """How much of the kiosk's echo the canceller removed while the kiosk spoke in a scenario: per 100 ms block
    where the loudspeaker is loud, raw microphone level - cancelled microphone level (dB)."""
    if "cancelled" not in paths or not all(p.exists() for p in paths.values()):
        return {}
    raw, out, spk = (read16(paths[k]) for k in ("raw", "cancelled", "speaker"))
    n = min(raw.size, out.size, spk.size)
    raw, out, spk = raw[:n], out[:n], spk[:n]
    spk_at_mic = np.roll(spk, lag_of(raw, spk, 4000))
    blocks = [dbfs(raw[i:i + 1600]) - dbfs(out[i:i + 1600]) for i in range(0, n - 1600, 1600)
              if np.sqrt(np.mean(np.square(spk_at_mic[i:i + 1600]))) > 300]
    if not blocks:
        return {"echo_blocks": 0}
    return {"echo_blocks": len(blocks), "erle_blocks_median_db": round(float(np.median(blocks)), 1),
            "erle_blocks_p10_db": round(float(np.percentile(blocks, 10)), 1)}


def warm_up(env: dict[str, str], folder: Path) -> None:
    """The kiosk's voice (the first answer of KIOSK_SPEECH, ~12 s) through the room's default sink, so the
    canceller has learnt the echo before the kiosk starts, as on an appliance that has been talking all day
    (the very first answer after start-up is otherwise heard with the canceller still adapting)."""
    wav = folder / "kiosk0.wav"
    if not wav.exists():
        wav = kiosk_voice(folder)[0]
    subprocess.run(["paplay", str(wav)], env=env, check=True)


def kiosk_runs(kb: Path, folder: Path, aec: bool, scenarios: tuple[str, ...], verbose: bool = False) -> dict:
    room = EchoRoom() if aec else EchoRoom(aec=None)
    out: dict = {"room": asdict(room)}
    with private_echo_room("kiosk-bench-aec-kiosk-", room) as env:
        warm_up(env, folder)
        session = KioskSession(env, folder, kb, verbose)
        try:
            started = time.monotonic()
            if session.wait("READY=1", 300) is None:
                raise RuntimeError("kiosk never became READY: " + session.log_text()[-3000:])
            out["ready_s"] = round(time.monotonic() - started, 1)
            time.sleep(3.0)  # the capture's first audio arrives ~2 s after the stream opens
            for scenario in ("interrupt", "own_voice", "bystander"):  # the clean barge-in first
                if scenario not in scenarios:
                    continue
                mics = {"raw": RAW_MIC, "cancelled": AEC_SOURCE if aec else RAW_MIC, "speaker": f"{SPEAKER}.monitor"}
                before = len(session.statuses())
                with recording(env, mics, folder, f"{scenario}-") as paths:
                    if scenario == "own_voice":
                        result = own_voice(session)
                    else:
                        result = interrupt(session, VISITOR if scenario == "interrupt" else BYSTANDER, scenario)
                if scenario != "own_voice":
                    pcm, start = result.pop("_interruption", None), result.pop("_speech_start", 0)
                    result["statuses"] = session.statuses()[before:]
                    if pcm is not None:
                        result.update(interrupt_to_silence(read16(paths["raw"]), read16(paths["speaker"]), pcm,
                                                           start))
                if aec:
                    result.update(echo_removed(paths))
                out[scenario] = result
                time.sleep(6.0)  # past the follow-up window
        finally:
            rc = session.close()
        log = session.log_text()
        out["exit_code"] = rc
        out["barge_in_log_lines"] = len(SELF_INTERRUPTION_LOG.findall(log))
        out["log_excerpt"] = [line for line in log.splitlines()
                              if SELF_INTERRUPTION_LOG.search(line) or "cancelled" in line or "dismissed" in line][:20]
    return out


def reanalyze(report_path: Path, folder: Path, out: str | None) -> int:
    from kiosk.listen.asr_whisper import WhisperEngine
    from kiosk.models.manifest import load_manifest

    report = json.loads(report_path.read_text())
    whisper = WhisperEngine(load_manifest().locate("whisper-base-ct2").path, language="en")
    runs = sorted(folder.glob("signal*-*"), key=lambda d: tuple(int(x) for x in d.name[6:].split("-")))
    if len(runs) != len(report.get("signal", [])):
        raise SystemExit(f"{len(runs)} recordings in {folder} for {len(report.get('signal', []))} signal runs")
    for i, (entry, sub) in enumerate(zip(report["signal"], runs, strict=True)):
        paths = {k: sub / f"{k}.wav" for k in ("raw", "cancelled", "speaker")}
        run = SignalRun(room=entry["room"], one_stream=entry.get("one_stream", False))
        report["signal"][i] = asdict(analyze(run, paths, read16(sub / "alone.wav"), read16(sub / "over.wav"), whisper))
    for key, runs_ in report.get("kiosk", {}).items():
        for r, run_ in enumerate(runs_):
            for scenario in ("own_voice", "interrupt", "bystander"):
                if scenario in run_ and key == "aec":
                    paths = {k: folder / f"kiosk-{key}-{r}" / f"{scenario}-{k}.wav"
                             for k in ("raw", "cancelled", "speaker")}
                    run_[scenario].update(echo_removed(paths))
    bench_report.emit(report, out)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the report here too")
    parser.add_argument("--no-sweep", action="store_true", help="the default room only in the signal part")
    parser.add_argument("--no-kiosk", action="store_true", help="the signal part only")
    parser.add_argument("--no-signal", action="store_true", help="the kiosk part only")
    parser.add_argument("--repeat", type=int, default=1, help="kiosk runs per variant")
    parser.add_argument("--signal-repeat", type=int, default=3,
                        help="runs of the default room, a stream per answer and one stream (others: one)")
    parser.add_argument("--room", action="append", type=ast.literal_eval, metavar="DICT",
                        help="instead of the sweep: a room for the signal part as EchoRoom's fields, e.g. "
                             "\"{'options': 'adjust_time=0'}\" (repeatable)")
    parser.add_argument("--keep", help="keep the recordings and the kiosk's logs in this folder")
    parser.add_argument("--only", choices=("aec", "no_aec"), help="the kiosk part with / without the canceller only")
    parser.add_argument("--verbose", action="store_true", help="the kiosk logs at debug level")
    parser.add_argument("--reanalyze", metavar="REPORT",
                        help="measure the signal part again from the recordings a run kept in --keep (its report "
                             "REPORT); the kiosk part is copied")
    args = parser.parse_args()
    from kiosk.listen.asr_whisper import WhisperEngine
    from kiosk.models.manifest import load_manifest

    if args.reanalyze:
        return reanalyze(Path(args.reanalyze), Path(args.keep), args.json)
    report: dict = {"date": time.strftime("%Y-%m-%d"), "pulseaudio": subprocess.run(
        ["pulseaudio", "--version"], capture_output=True, text=True).stdout.strip()}
    rooms: list[EchoRoom | tuple[EchoRoom, bool]] = [EchoRoom()]  # (room, one_stream)
    if args.room:
        rooms = [EchoRoom(**fields) for fields in args.room]
    elif not args.no_sweep:
        rooms += [(EchoRoom(), True),  # the two answers as one stream
                  EchoRoom(aec=None),  # the control: no canceller
                  EchoRoom(aec_args=""),  # webrtc's own defaults: its analog AGC turns the microphone down
                  EchoRoom(options=""),  # module-echo-cancel's default adjust_time=1: re-aligns every second
                  EchoRoom(keepalive=False),  # the canceller's sink idles between answers
                  EchoRoom(loopback_options=""),  # the echo path's delay creeps (module-loopback's rate control)
                  EchoRoom(aec_args=DEFAULT_AEC_ARGS + " extended_filter=1"),
                  EchoRoom(delay_ms=20), EchoRoom(delay_ms=80), EchoRoom(gain_db=0.0),
                  EchoRoom(aec="speex", aec_args="")]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if not args.no_signal:
            whisper = WhisperEngine(load_manifest().locate("whisper-base-ct2").path, language="en")
            kiosk_wavs = kiosk_voice(folder)
            report["signal"] = []
            for i, variant in enumerate(rooms):
                room, one_stream = variant if isinstance(variant, tuple) else (variant, False)
                for r in range(args.signal_repeat if i < 2 else 1):
                    sub = folder / f"signal{i}-{r}"
                    sub.mkdir(exist_ok=True)
                    run = asdict(signal_run(room, kiosk_wavs, whisper, sub, one_stream))
                    print(json.dumps(run), file=sys.stderr)
                    report["signal"].append(run)
        if not args.no_kiosk:
            from kiosk.knowledge.index import ingest

            kb = folder / "kb.sqlite"
            ingest(kb, [ROOT / "samples" / "halvorsen"])
            report["kiosk"] = {"aec": [], "no_aec": []}
            for r in range(args.repeat):
                for key, aec, scenarios in (("aec", True, ("own_voice", "interrupt", "bystander")),
                                            ("no_aec", False, ("own_voice",))):
                    if args.only not in (None, key):
                        continue
                    sub = folder / f"kiosk-{key}-{r}"
                    sub.mkdir(exist_ok=True)
                    run = kiosk_runs(kb, sub, aec, scenarios, args.verbose)
                    print(json.dumps(run), file=sys.stderr)
                    report["kiosk"][key].append(run)
    bench_report.emit(report, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
