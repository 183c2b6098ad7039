"""The CPU drawing backend (pygame), for development machines, tests and Jetsons without jetson-utils."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from kiosk.avatar.drawing import Colour, InputSource
from kiosk.avatar.inputs import InputEvent, from_pygame


class PygameBackend:
    """The CPU backend: pygame surfaces; a window, full screen, or headless (SDL_VIDEODRIVER=dummy)."""

    name = "pygame"

    fallback: str | None = None  # why this backend and not the configured one (kiosk.avatar.backend)

    def __init__(self, size: tuple[int, int], mode: str = "headless", title: str = "kiosk",
                 input_source: InputSource | None = None) -> None:
        """mode: headless | window | fullscreen. `input_source`: taps and keys from elsewhere as well (evdev)."""
        self._input = input_source
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
        """pygame's event queue (also headless: SDL's dummy driver has one, so tests can post events), then the
        input source's."""
        events = (from_pygame(ev, self.size) for ev in self._pg.event.get())
        extra = self._input.poll() if self._input is not None else []
        return [ev for ev in events if ev is not None] + extra

    def close(self) -> None:
        if self._input is not None:
            self._input.stop()
            self._input = None
