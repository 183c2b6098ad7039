"""Choosing the drawing backend and the window mode from the [screen] settings and the machine.

The contract every backend honours is kiosk.avatar.drawing.Backend; the backends are
kiosk.avatar.backend_pygame (CPU) and kiosk.avatar.backend_cuda (Jetson, jetson-utils).
"""

from __future__ import annotations

import os
from typing import Any

from kiosk.avatar.backend_pygame import PygameBackend
from kiosk.avatar.drawing import Backend
from kiosk.board import has_display


def choose_mode(configured: str, appliance: bool, env: dict[str, str] | None = None) -> str:
    """[screen] mode "auto": full screen on the appliance, a window where there is a display, else headless."""
    if configured != "auto":
        return configured
    env = dict(os.environ) if env is None else env
    if appliance:
        return "fullscreen"
    return "window" if has_display(env) else "headless"


def kiosk_mode(configured: str, appliance: bool, env: dict[str, str] | None = None) -> str:
    """`kiosk run` is the kiosk itself: "auto" is full screen (no pointer) wherever there is a display, not
    only on the Jetson; a window, with the pointer, only when [screen] mode asks for one (development)."""
    env = dict(os.environ) if env is None else env
    return choose_mode(configured, appliance or has_display(env), env)


def open_backend(screen: Any, mode: str | None = None, title: str = "kiosk") -> Backend:
    """The configured backend ([screen] settings); CUDA only where jetson-utils imports, with a logged reason."""
    import logging

    from kiosk.board import is_jetson

    mode = choose_mode(mode or screen.mode, is_jetson())
    size = (screen.width, screen.height)
    if screen.backend in ("auto", "cuda"):
        try:
            import jetson_utils  # noqa: F401

            from kiosk.avatar.backend_cuda import CudaBackend

            return CudaBackend(size, mode=mode, title=title)
        except ImportError as error:
            if screen.backend == "cuda":
                raise RuntimeError(f"screen.backend = \"cuda\" but jetson-utils is not importable ({error}); "
                                   "build it at provisioning or set screen.backend = \"pygame\"") from None
            logging.getLogger(__name__).info("drawing with pygame on the CPU (jetson-utils: %s)", error)
    return PygameBackend(size, mode=mode, title=title)
