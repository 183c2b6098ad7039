"""Shared fixtures. The engine fixtures load the real embedded models (SmolLM2 + Piper joe) once."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.config import Settings, with_overrides

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))  # speech_corpus, pulse_sandbox

from pulse_sandbox import private_pulse, start_pulse  # noqa: E402,F401 - re-exported for the tests

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("KIOSK_CORPUS_FIXED_PIPER", "1")  # test speech is the same audio every run


@pytest.fixture(scope="session")
def settings() -> Settings:
    # Greedy decoding keeps answers repeatable between runs of the suite.
    return with_overrides(Settings(), answer={"temperature": 0.0, "max_tokens": 96})


@pytest.fixture(scope="session")
def runtime(settings: Settings) -> Iterator:
    from kiosk.runtime import Runtime

    with Runtime(settings, speech=True) as rt:
        yield rt


@pytest.fixture
def fresh(runtime):  # noqa: ANN001, ANN201
    """The shared runtime with a forgotten visitor, before and after the test."""
    runtime.engine.reset()
    yield runtime
    runtime.engine.reset()


@pytest.fixture(scope="session")
def pulse() -> Iterator[dict[str, str]]:
    """A private PulseAudio with a null speaker sink and a virtual microphone, shared by the session.

    Gives PortAudio a real device path on machines without a sound card.
    """
    with private_pulse("kiosk-pulse-") as env:
        yield env


def indexed(folder: Path, docs: dict[str, str]) -> Path:
    """`docs` (name: text) written into `folder` and ingested into a knowledge base beside it; its path."""
    from kiosk.knowledge.index import ingest

    folder.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        (folder / name).write_text(text)
    path = folder.parent / f"{folder.name}.sqlite"
    assert not ingest(path, [folder]).skipped
    return path


def wav_duration(path: Path) -> float:
    import wave

    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """Commands run in-process (`main([...])`) set up logging with a handler on the stderr pytest captured for
    that test; left in place, a later test's log lines would go to a closed stream ("--- Logging error ---")."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)
