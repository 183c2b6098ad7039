"""Which PulseAudio source this process records from: the one thing PortAudio cannot tell.

When a USB microphone is pulled, PulseAudio (and PipeWire's pulse server) does not end the kiosk's capture
stream: it moves it to another source, often the loudspeaker's monitor, and PortAudio goes on delivering
audio. The kiosk would listen to its own voice and silence, with no notice (issue 12's fault tests found it).
So the microphone supervisor asks the sound server where the stream is; a monitor source means the
microphone is gone. `pactl`'s text output is read (its `-f json` needs pactl 16; JetPack 6's Ubuntu 22.04
ships 15.99), and any failure answers None: the check then simply does not apply.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

_BLOCK = re.compile(r"^Source Output #\d+$", re.M)


def _pactl(*args: str) -> str | None:
    if shutil.which("pactl") is None:
        return None
    try:
        done = subprocess.run(["pactl", *args], capture_output=True, text=True, timeout=3,
                              env={**os.environ, "LC_ALL": "C"})
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def sources_of(pid: int, outputs: str) -> list[str]:
    """The source indexes the record streams of process `pid` read from, in `pactl list source-outputs`."""
    found = []
    for block in _BLOCK.split(outputs)[1:]:
        source = re.search(r"^\s*Source: (\d+)\s*$", block, re.M)
        owner = re.search(r'^\s*application\.process\.id = "(\d+)"\s*$', block, re.M)
        if source and owner and int(owner.group(1)) == pid:
            found.append(source.group(1))
    return found


def source_names(short_sources: str) -> dict[str, str]:
    """index -> name, from `pactl list short sources`."""
    names = {}
    for line in short_sources.splitlines():
        fields = line.split("\t")
        if len(fields) >= 2:
            names[fields[0]] = fields[1]
    return names


def recording_from(pid: int | None = None) -> list[str] | None:
    """The names of the sources this process records from; None when that cannot be asked (no PulseAudio)."""
    outputs, short = _pactl("list", "source-outputs"), _pactl("list", "short", "sources")
    if outputs is None or short is None:
        return None
    names = source_names(short)
    return [names.get(index, index) for index in sources_of(os.getpid() if pid is None else pid, outputs)]


def moved_to_monitor(names: list[str] | None) -> str | None:
    """The monitor source the recording was moved to (the microphone is gone), else None."""
    if not names:
        return None
    monitors = [n for n in names if n.endswith(".monitor")]
    return monitors[0] if len(monitors) == len(names) else None
