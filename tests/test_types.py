"""kiosk/ type-checks with mypy at the level pyproject.toml sets ([tool.mypy]; its type-debt list only shrinks)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_kiosk_type_checks() -> None:
    done = subprocess.run([sys.executable, "-m", "mypy", "kiosk"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
