"""The drawing port: the few operations the avatar and the captions need, on the CPU or the GPU.

The contract is small on purpose so the Jetson's CUDA backend (kiosk.avatar.backend_cuda, jetson-utils)
can honour it exactly and share the contract tests: upload an RGBA image, resize or rotate it once at
load time, alpha-composite it at a position with an opacity, fill rectangles, draw text, and read the
frame back. Per-frame work is only `clear`, `draw`, `fill` and `text`: everything that would cost
more (scaling, rotation, font rasterization of static labels) is done once and cached by the caller.
The backend also owns the window, so it is what reports the visitor's input (`poll_input`).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from kiosk.avatar.inputs import InputEvent

Colour = tuple[int, int, int] | tuple[int, int, int, int]


Image = Any  # a backend's own image type (pygame.Surface, jetson_utils.cudaImage)


class InputSource(Protocol):
    """Taps and keys from somewhere other than the window (kiosk.avatar.evdev_input)."""

    def poll(self) -> list[InputEvent]: ...

    def stop(self) -> None: ...


class Backend(Protocol):
    size: tuple[int, int]
    name: str
    fallback: str | None  # why this backend draws instead of the configured one; None when it is that one

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
