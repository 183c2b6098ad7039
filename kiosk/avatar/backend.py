"""Drawing backends: the few operations the avatar and the captions need, on the CPU or the GPU.

The contract is small on purpose so the Jetson's CUDA backend (kiosk.avatar.backend_cuda, jetson-utils)
can honour it exactly and share the contract tests: upload an RGBA image, resize or rotate it once at
load time, alpha-composite it at a position with an opacity, fill rectangles, draw text, and read the
frame back. Per-frame work is only `clear`, `draw`, `fill` and `text`: everything that would cost
more (scaling, rotation, font rasterization of static labels) is done once and cached by the caller.
The backend also owns the window, so it is what reports the visitor's input (`poll_input`).
"""

from __future__ import annotations

import os
from typing import Any, Protocol

import numpy as np

from kiosk.avatar.inputs import InputEvent, from_pygame

Colour = tuple[int, int, int] | tuple[int, int, int, int]


Image = Any  # a backend's own image type (pygame.Surface, jetson_utils.cudaImage)


class Backend(Protocol):
    size: tuple[int, int]
    name: str

    def image(self, rgba: np.ndarray) -> Image:
        """An H x W x 4 uint8 array (straight alpha) as a drawable image."""
        ...

    def resized(self, image: Image, size: tuple[int, int]) -> Image:
        """High-quality resize (load time)."""
        ...

    def image_size(self, image: Image) -> tuple[int, int]: ...

    def rotated(self, image: Image, degrees: float) -> Image:
        """Rotated counter-clockwise about its centre, antialiased, on a canvas grown to fit (load time)."""
        ...

    def clear(self, colour: Colour) -> None: ...

    def draw(self, image: Image, x: int, y: int, opacity: float = 1.0) -> None:
        """Alpha-composite `image` with its top-left corner at (x, y), scaled by `opacity` (0..1)."""
        ...

    def fill(self, rect: tuple[int, int, int, int], colour: Colour) -> None:
        """Blend a rectangle (x, y, w, h); a 4-tuple colour carries the opacity in its alpha."""
        ...

    def text(self, text: str, px: int, colour: Colour) -> Image:
        """`text` rasterized at `px` pixels with the best system font for its script."""
        ...

    def snapshot(self) -> np.ndarray:
        """The current frame as H x W x 3 uint8 RGB."""
        ...

    def present(self) -> None:
        """Show the frame (no-op when headless)."""
        ...

    def poll_input(self) -> list[InputEvent]:
        """Taps, keys and the window being closed since the last call, oldest first; never blocks."""
        ...


class PygameBackend:
    """The CPU backend: pygame surfaces; a window, full screen, or headless (SDL_VIDEODRIVER=dummy)."""

    name = "pygame"

    def __init__(self, size: tuple[int, int], mode: str = "headless", title: str = "kiosk") -> None:
        """mode: headless | window | fullscreen."""
        import pygame

        if mode == "headless":
            os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        pygame.display.init()
        pygame.font.init()
        self._pg = pygame
        self.mode = mode
        if mode == "headless":
            self._display = None
            self.screen = pygame.Surface(size)
        else:
            flags = pygame.FULLSCREEN if mode == "fullscreen" else 0
            self._display = pygame.display.set_mode((0, 0) if mode == "fullscreen" else size, flags)
            pygame.display.set_caption(title)
            pygame.mouse.set_visible(mode != "fullscreen")  # a kiosk shows no pointer; a window (development) does
            self.screen = self._display
        self.size = self.screen.get_size()
        self._fonts: dict[tuple[str, int], Any] = {}

    def image(self, rgba: np.ndarray) -> Any:
        if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
            raise ValueError(f"expected H x W x 4 uint8, got {rgba.shape} {rgba.dtype}")
        h, w = rgba.shape[:2]
        if rgba[:, :, 3].min() == 255:  # fully opaque (a background): no per-pixel alpha, ~3x faster blits
            return self._pg.image.frombuffer(np.ascontiguousarray(rgba[:, :, :3]).tobytes(), (w, h), "RGB").copy()
        return self._pg.image.frombuffer(np.ascontiguousarray(rgba).tobytes(), (w, h), "RGBA").copy()

    def resized(self, image: Any, size: tuple[int, int]) -> Any:
        return self._pg.transform.smoothscale(image, size)

    def image_size(self, image: Any) -> tuple[int, int]:
        return image.get_size()

    def rotated(self, image: Any, degrees: float) -> Any:
        return self._pg.transform.rotozoom(image, degrees, 1.0)

    def clear(self, colour: Colour) -> None:
        self.screen.fill(colour[:3])

    def draw(self, image: Any, x: int, y: int, opacity: float = 1.0) -> None:
        if opacity >= 0.999:
            self.screen.blit(image, (x, y))
        elif opacity > 0.004:
            image.set_alpha(int(opacity * 255))  # per-surface alpha multiplies per-pixel alpha (SDL2)
            self.screen.blit(image, (x, y))
            image.set_alpha(255)  # not None: that would also switch off the per-pixel alpha

    def fill(self, rect: tuple[int, int, int, int], colour: Colour) -> None:
        if len(colour) == 4 and colour[3] < 255:
            overlay = self._pg.Surface(rect[2:], self._pg.SRCALPHA)
            overlay.fill(colour)
            self.screen.blit(overlay, rect[:2])
        else:  # clipped first: pygame moves a negative x/y to 0 without shortening the rectangle
            self.screen.fill(colour[:3], self._pg.Rect(rect).clip(self.screen.get_rect()))

    def text(self, text: str, px: int, colour: Colour) -> Any:
        from kiosk.avatar.fonts import font_for

        path = font_for(text)
        key = (path or "", px)
        if key not in self._fonts:
            self._fonts[key] = self._pg.font.Font(path, px)
        return self._fonts[key].render(text, True, colour[:3])

    def snapshot(self) -> np.ndarray:
        return np.ascontiguousarray(self._pg.surfarray.pixels3d(self.screen).transpose(1, 0, 2)).copy()

    def present(self) -> None:
        if self._display is not None:
            self._pg.display.flip()

    def poll_input(self) -> list[InputEvent]:
        """pygame's event queue (also headless: SDL's dummy driver has one, so tests can post events)."""
        events = (from_pygame(ev, self.size) for ev in self._pg.event.get())
        return [ev for ev in events if ev is not None]


def _has_display(env: dict[str, str]) -> bool:
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def choose_mode(configured: str, appliance: bool, env: dict[str, str] | None = None) -> str:
    """[screen] mode "auto": full screen on the appliance, a window where there is a display, else headless."""
    if configured != "auto":
        return configured
    env = dict(os.environ) if env is None else env
    if appliance:
        return "fullscreen"
    return "window" if _has_display(env) else "headless"


def kiosk_mode(configured: str, appliance: bool, env: dict[str, str] | None = None) -> str:
    """`kiosk run` is the kiosk itself: "auto" is full screen (no pointer) wherever there is a display, not
    only on the Jetson; a window, with the pointer, only when [screen] mode asks for one (development)."""
    env = dict(os.environ) if env is None else env
    return choose_mode(configured, appliance or _has_display(env), env)


class PointerHider:
    """Hides the X pointer on the whole screen while it lives (XFixes, as `unclutter` does), for backends whose
    window has no cursor API of its own (jetson-utils' display://). X restores it when the connection closes."""

    def __init__(self) -> None:
        import ctypes
        import ctypes.util

        names = {name: ctypes.util.find_library(name) for name in ("X11", "Xfixes")}
        if not all(names.values()):
            raise OSError("libX11 or libXfixes not found")
        self._x11, self._xfixes = ctypes.CDLL(names["X11"]), ctypes.CDLL(names["Xfixes"])
        self._x11.XOpenDisplay.restype = ctypes.c_void_p
        self._x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        self._x11.XDefaultRootWindow.restype = ctypes.c_ulong
        self._x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        self._x11.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
        self._x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
        self._xfixes.XFixesHideCursor.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        self._display = self._x11.XOpenDisplay(None)
        if not self._display:
            raise OSError("cannot open the X display")
        self._xfixes.XFixesHideCursor(self._display, self._x11.XDefaultRootWindow(self._display))
        self._x11.XSync(self._display, 0)

    def close(self) -> None:
        """Shows the pointer again."""
        if self._display:
            self._x11.XCloseDisplay(self._display)
            self._display = None


def open_backend(screen: Any, mode: str | None = None, title: str = "kiosk") -> Backend:
    """The configured backend ([screen] settings); CUDA only where jetson-utils imports, with a logged reason."""
    import logging

    from kiosk.doctor import is_jetson

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
