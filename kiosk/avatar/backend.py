"""Choosing the drawing backend and the window mode from the [screen] settings and the machine.

The contract every backend honours is kiosk.avatar.drawing.Backend; the backends are
kiosk.avatar.backend_pygame (CPU) and kiosk.avatar.backend_cuda (Jetson, jetson-utils).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from kiosk.avatar.backend_pygame import PygameBackend
from kiosk.avatar.drawing import Backend, InputSource
from kiosk.board import has_display, is_jetson

log = logging.getLogger(__name__)


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
    """The configured backend ([screen] settings). CUDA where jetson-utils imports and starts; on any failure
    the CPU backend instead, never a crash loop: quietly when CUDA was only "auto" and jetson-utils is absent
    (a desktop), else with the reason logged as an error and kept in `backend.fallback` (for /status)."""
    mode = choose_mode(mode or screen.mode, is_jetson())
    size = (screen.width, screen.height)
    if screen.backend in ("auto", "cuda"):
        try:
            return _cuda(screen, size, mode, title)
        except ImportError as error:
            why, quiet = f"jetson-utils is not importable ({error})", screen.backend == "auto" and not is_jetson()
        except Exception as error:  # noqa: BLE001 - a CUDA, GL or X failure at start-up
            why, quiet = f"the CUDA backend failed to start: {type(error).__name__}: {error}", False
        log.log(logging.INFO if quiet else logging.ERROR, "drawing with pygame on the CPU: %s", why)
        backend = _pygame(screen, size, mode, title)
        backend.fallback = None if quiet else why
        return backend
    return _pygame(screen, size, mode, title)


def _cuda(screen: Any, size: tuple[int, int], mode: str, title: str) -> Backend:
    import jetson_utils  # noqa: F401 - ImportError here means: not built on this machine

    from kiosk.avatar.backend_cuda import CudaBackend

    source = _input_source(screen, size, mode, default="evdev")
    try:
        return CudaBackend(size, mode=mode, title=title, input_source=source)
    except BaseException:
        if source is not None:
            source.stop()
        raise


def _pygame(screen: Any, size: tuple[int, int], mode: str, title: str) -> PygameBackend:
    return PygameBackend(size, mode=mode, title=title,
                         input_source=_input_source(screen, size, mode, default="window"))


def _input_source(screen: Any, size: tuple[int, int], mode: str, default: str) -> InputSource | None:
    """evdev when [screen] input asks for it (auto: what suits the backend); None: the window's own events."""
    kind = default if screen.input == "auto" else screen.input
    if kind != "evdev" or mode == "headless":
        return None
    try:
        from kiosk.avatar.evdev_input import EvdevInput

        return EvdevInput(size, rotation=screen.touch_rotation).start()
    except ImportError as error:
        log.error("no touch or keyboard input: python-evdev is not installed (%s); pip install evdev", error)
        return None
