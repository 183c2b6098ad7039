"""A private PulseAudio server with a null speaker sink and a virtual microphone, for tests and benchmarks.

Gives PortAudio (through the ALSA pulse plugin) a real device path on machines without a sound card:
audio played into the sink `mic_feed` comes out of the source `virtual_mic`; what the kiosk plays goes
to the sink `kiosk_out`, whose monitor can be recorded.

`private_echo_room` is the same server as a room with echo, for voice barge-in: what the kiosk plays
comes back into the microphone, late and quieter, and PulseAudio's module-echo-cancel (or nothing, for
the control) sits between the microphone and the kiosk:

    kiosk ──▶ kiosk_speaker (AEC sink, default; its input is the reference) ──▶ kiosk_out (loudspeaker)
    kiosk_out.monitor ──module-loopback, delay_ms, gain_db──▶ mic_feed (the air at the microphone)
    visitor ──paplay --device=mic_feed──▶ mic_feed ──▶ virtual_mic (the raw microphone)
    virtual_mic ──▶ kiosk_mic (AEC source, default: the echo-cancelled microphone) ──▶ kiosk
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass


def start_pulse(env: dict[str, str]) -> None:
    """Starts PulseAudio in env's XDG_RUNTIME_DIR: null sinks kiosk_out (speaker) and mic_feed, and
    virtual_mic, a source fed by mic_feed (recipe in shared/recipes.md)."""
    if shutil.which("pulseaudio") is None:
        raise RuntimeError("pulseaudio is not installed: run tools/dev setup")
    subprocess.run(
        ["pulseaudio", "-D", "--exit-idle-time=-1", "-n", "--load=module-native-protocol-unix",
         "--load=module-null-sink sink_name=kiosk_out", "--load=module-null-sink sink_name=mic_feed",
         "--load=module-remap-source master=mic_feed.monitor source_name=virtual_mic"],
        env=env, check=True, capture_output=True)
    for _ in range(50):
        if subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    subprocess.run(["pactl", "set-default-sink", "kiosk_out"], env=env, check=True)
    subprocess.run(["pactl", "set-default-source", "virtual_mic"], env=env, check=True)


@contextlib.contextmanager
def private_pulse(prefix: str, start: Callable[[dict[str, str]], None] = start_pulse) -> Iterator[dict[str, str]]:
    """A PulseAudio server of our own; PortAudio's ALSA pulse plugin finds it via XDG_RUNTIME_DIR.
    `start` sets it up (default: start_pulse's speaker and virtual microphone)."""
    runtime_dir = tempfile.mkdtemp(prefix=prefix)
    env = {**os.environ, "XDG_RUNTIME_DIR": runtime_dir}
    try:
        start(env)
    except BaseException:  # a half-started server must not outlive us
        subprocess.run(["pactl", "exit"], env=env, capture_output=True)
        shutil.rmtree(runtime_dir, ignore_errors=True)
        raise
    old = os.environ.get("XDG_RUNTIME_DIR")
    os.environ["XDG_RUNTIME_DIR"] = runtime_dir
    try:
        yield env
    finally:
        subprocess.run(["pactl", "exit"], env=env, capture_output=True)
        # Only if it is still ours: a server started while this one ran (the tests' session-wide one, first
        # asked for meanwhile) must keep its place in this process's environment, where PortAudio looks.
        if os.environ.get("XDG_RUNTIME_DIR") == runtime_dir:
            if old is None:
                os.environ.pop("XDG_RUNTIME_DIR", None)
            else:
                os.environ["XDG_RUNTIME_DIR"] = old
        shutil.rmtree(runtime_dir, ignore_errors=True)


# -- a room with echo ------------------------------------------------------------------------------------

SPEAKER = "kiosk_out"  # the loudspeaker (null sink); record SPEAKER + ".monitor" for what the visitor hears
MIC_AIR = "mic_feed"  # the air at the microphone: play the visitor's voice here
RAW_MIC = "virtual_mic"  # the microphone: the visitor plus the room's echo of the loudspeaker
AEC_SINK = "kiosk_speaker"  # module-echo-cancel's sink: what the kiosk plays, the canceller's reference
AEC_SOURCE = "kiosk_mic"  # module-echo-cancel's source: the microphone with the echo removed

# webrtc (webrtc-audio-processing 0.3 in Debian 12): its analog AGC would turn the microphone's volume
# down (to 33 % here within seconds), which moves the VAD's and the recognizer's levels; the kiosk does
# its own level handling, so both gain controls are off. Echo cancellation, its echo suppressor and
# noise suppression stay on (the defaults).
DEFAULT_AEC_ARGS = "analog_gain_control=0 digital_gain_control=0"
# module-echo-cancel re-aligns the loudspeaker's signal with the microphone every second by default
# (adjust_time=1), dropping a few ms of reference whenever the two sound cards' clocks seem to differ;
# each jump makes the canceller adapt again, with echo leaking meanwhile. Here both null sinks run on one
# clock (like a microphone and loudspeaker on one device, e.g. a USB speakerphone): never re-align.
DEFAULT_AEC_OPTIONS = "adjust_time=0"


@dataclass(frozen=True)
class EchoRoom:
    delay_ms: int = 40
    """module-loopback's latency from the loudspeaker to the microphone (measured: 38-40 ms)"""
    gain_db: float = -6.0
    """level of the echo at the microphone relative to the loudspeaker"""
    aec: str | None = "webrtc"
    """module-echo-cancel's aec_method (webrtc, speex, adrian, null); None: no canceller at all, the
    defaults are the loudspeaker and the raw microphone (the control: the kiosk hears itself)"""
    aec_args: str = DEFAULT_AEC_ARGS
    rate: int = 48000
    """the null sinks' rate (the same for both, so the loopback does not resample)"""
    options: str = DEFAULT_AEC_OPTIONS
    """more module-echo-cancel arguments"""
    loopback_options: str = "adjust_time=0"
    """more module-loopback arguments for the echo path. adjust_time=0: a room's echo comes back after a
    fixed time; module-loopback's default rate adjustment (every 10 s) lets its delay creep, here from 40 to
    16 ms within 2.5 min, and the canceller has to chase it"""
    keepalive: bool = True
    """a silent stream always playing into the canceller's sink (module-null-source + module-loopback), so
    it never idles: module-echo-cancel "resyncs" its reference whenever playback resumes after an idle
    sink, dropping 10-25 ms of it, and then the echo at the start of each answer is barely cancelled until
    the filter adapts again (provisioning/pulse/kiosk-aec.pa does the same)"""


def _pactl(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(["pactl", *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"pactl {' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done.stdout.strip()


def start_echo_room(env: dict[str, str], room: EchoRoom = EchoRoom()) -> None:
    """Starts PulseAudio in env's XDG_RUNTIME_DIR as `room` (the module docstring's diagram); the defaults
    the kiosk's "pulse" device uses are the canceller's sink and source (without a canceller, SPEAKER and
    RAW_MIC)."""
    if shutil.which("pulseaudio") is None:
        raise RuntimeError("pulseaudio is not installed: run tools/dev setup")
    subprocess.run(
        ["pulseaudio", "-D", "--exit-idle-time=-1", "-n", "--load=module-native-protocol-unix",
         f"--load=module-null-sink sink_name={SPEAKER} rate={room.rate}",
         f"--load=module-null-sink sink_name={MIC_AIR} rate={room.rate}",
         f"--load=module-remap-source master={MIC_AIR}.monitor source_name={RAW_MIC}"],
        env=env, check=True, capture_output=True)
    for _ in range(50):
        if subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    module = _pactl(env, "load-module", "module-loopback", f"source={SPEAKER}.monitor", f"sink={MIC_AIR}",
                    f"latency_msec={room.delay_ms}", "source_dont_move=true", "sink_dont_move=true",
                    *room.loopback_options.split())
    echo = [i["index"] for i in json.loads(_pactl(env, "-f", "json", "list", "sink-inputs"))
            if str(i.get("owner_module")) == module]
    if len(echo) != 1:
        raise RuntimeError(f"the echo loopback's sink input was not found (module {module})")
    _pactl(env, "set-sink-input-volume", str(echo[0]), f"{10 ** (room.gain_db / 20):.4f}")  # linear factor
    if room.aec is None:
        _pactl(env, "set-default-sink", SPEAKER)
        _pactl(env, "set-default-source", RAW_MIC)
        return
    _pactl(env, "load-module", "module-echo-cancel", f"source_master={RAW_MIC}", f"sink_master={SPEAKER}",
           f"source_name={AEC_SOURCE}", f"sink_name={AEC_SINK}", f"aec_method={room.aec}",
           f'aec_args="{room.aec_args}"', *room.options.split())
    if room.keepalive:
        _pactl(env, "load-module", "module-null-source", "source_name=aec_keepalive", f"rate={room.rate}",
               "channels=1")
        _pactl(env, "load-module", "module-loopback", "source=aec_keepalive", f"sink={AEC_SINK}",
               "source_dont_move=true", "sink_dont_move=true")
    _pactl(env, "set-default-sink", AEC_SINK)
    _pactl(env, "set-default-source", AEC_SOURCE)


def private_echo_room(prefix: str, room: EchoRoom = EchoRoom()) -> contextlib.AbstractContextManager[dict[str, str]]:
    """private_pulse, set up as `room`."""
    return private_pulse(prefix, start=lambda env: start_echo_room(env, room))
