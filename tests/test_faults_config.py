"""Faults on purpose (issue 12): the config file becomes invalid before a restart.

Real `kiosk run --headless` (models embedded, no sound card, no screen). The kiosk keeps the configuration
it last started with; a broken edit then starts it on that one (READY, /status names the problem with its
file and line) instead of leaving the screen dark. With nothing to fall back on it exits with code 2 and the
problem on stderr, for systemd and the operator.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from notify_socket import wait_for

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(config: Path, data: Path, folder: Path) -> tuple[subprocess.Popen, socket.socket, list[str]]:
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = folder / f"notify-{time.monotonic_ns()}.sock"
    notify.bind(str(path))
    env = {**os.environ, "NOTIFY_SOCKET": str(path), "XDG_DATA_HOME": str(data)}
    proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "run", "--headless", "--config", str(config)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, notify, []


def stop(proc: subprocess.Popen) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


def status(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=10) as r:
        return json.load(r)


def started_once(tmp_path: Path) -> tuple[Path, Path, int]:
    """A kiosk started once on a good config (which it keeps as the last that worked) and stopped: (config,
    its data folder, the status port)."""
    data, port = tmp_path / "data", free_port()
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[persona]\nname = "Ava"\n\n[service]\nstatus_port = {port}\ngreeting = false\n')
    proc, notify, seen = start(config, data, tmp_path)
    assert wait_for(notify, "READY=1", 180, seen) is not None, proc.stderr.read() if proc.poll() is not None else seen
    rc, _ = stop(proc)
    assert rc == 0 and (data / "kiosk" / "last-good.toml").read_text() == config.read_text()
    return config, data, port


def restarted(config: Path, data: Path, port: int, folder: Path) -> tuple[list[str], int, str]:
    """`kiosk run` started again on `config` until READY: its /status errors, then its exit code and stderr."""
    proc, notify, seen = start(config, data, folder)
    assert wait_for(notify, "READY=1", 180, seen) is not None, proc.stderr.read() if proc.poll() is not None else seen
    try:
        errors = status(port)["errors"]
    finally:
        rc, err = stop(proc)
    return errors, rc, err


def test_a_broken_config_starts_the_last_one_that_worked(tmp_path: Path) -> None:
    config, data, port = started_once(tmp_path)

    # An operator's edit with two mistakes, then a restart.
    config.write_text(f'[persona]\nname = "Ava"\ngreeting = 3\n\n[service]\nstatus_port = {port}\n[listen\n')
    errors, rc, err = restarted(config, data, port, tmp_path)
    assert rc == 0
    problem = next(e for e in errors if "configuration problem" in e)
    assert f"{config}:" in problem and "last configuration that worked" in problem, errors
    assert "Traceback" not in err
    assert "greeting = false" in (data / "kiosk" / "last-good.toml").read_text()  # the good copy is kept


def test_a_broken_config_with_nothing_to_fall_back_on_exits_with_code_2(tmp_path: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text("[persona]\nname = 3\n")
    done = subprocess.run([sys.executable, "-m", "kiosk.cli", "run", "--headless", "--config", str(config)],
                          env={**os.environ, "XDG_DATA_HOME": str(tmp_path / "empty")}, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert f"{config}:2: persona.name" in done.stderr and "Traceback" not in done.stderr


def test_a_persona_prompt_too_long_for_the_model_starts_the_last_one_that_worked(tmp_path: Path) -> None:
    """The file parses, but its persona prompt does not fit the model's context window (issue 13: refused at
    start). That is a configuration problem like a syntax error: the last configuration that worked runs."""
    config, data, port = started_once(tmp_path)
    long_prompt = " ".join(f"Rule {n}: always be polite to visitors in the lobby." for n in range(400))
    config.write_text(f'[persona]\nname = "Ava"\nsystem_prompt = "{long_prompt}"\n\n'
                      f'[service]\nstatus_port = {port}\ngreeting = false\n')
    errors, rc, err = restarted(config, data, port, tmp_path)
    assert rc == 0 and "Traceback" not in err
    problem = next(e for e in errors if "configuration problem" in e)
    assert "persona.system_prompt" in problem and "last configuration that worked" in problem, errors
