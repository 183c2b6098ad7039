"""A private PulseAudio server with a null speaker sink and a virtual microphone, for tests and benchmarks.

Gives PortAudio (through the ALSA pulse plugin) a real device path on machines without a sound card:
audio played into the sink `mic_feed` comes out of the source `virtual_mic`; what the kiosk plays goes
to the sink `kiosk_out`, whose monitor can be recorded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator


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
def private_pulse(prefix: str) -> Iterator[dict[str, str]]:
    """A PulseAudio server of our own; PortAudio's ALSA pulse plugin finds it via XDG_RUNTIME_DIR."""
    runtime_dir = tempfile.mkdtemp(prefix=prefix)
    env = {**os.environ, "XDG_RUNTIME_DIR": runtime_dir}
    start_pulse(env)
    old = os.environ.get("XDG_RUNTIME_DIR")
    os.environ["XDG_RUNTIME_DIR"] = runtime_dir
    try:
        yield env
    finally:
        subprocess.run(["pactl", "exit"], env=env, capture_output=True)
        if old is None:
            os.environ.pop("XDG_RUNTIME_DIR", None)
        else:
            os.environ["XDG_RUNTIME_DIR"] = old
        shutil.rmtree(runtime_dir, ignore_errors=True)
