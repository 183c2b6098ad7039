"""Facts about the machine the kiosk runs on, read once from the OS; no policy here (kiosk.checks judges)."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def is_jetson() -> bool:
    """An NVIDIA Jetson (L4T): the appliance, where a missing screen, speaker or GPU is a failure."""
    return Path("/etc/nv_tegra_release").exists() or "tegra" in platform.release()


def has_display(env: dict[str, str] | None = None) -> bool:
    """An X or Wayland display to open a window on."""
    env = dict(os.environ) if env is None else env
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
