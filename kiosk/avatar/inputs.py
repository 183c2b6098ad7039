"""What a visitor does to the screen, as the drawing backend reports it: a tap, a key, or the window closed.

The Screen reads input only through `Backend.poll_input()`, so it never touches a windowing library itself:
pygame's event queue exists only where pygame opened the display, and on the Jetson's CUDA backend
(jetson-utils' display://) it does not ("video system not initialized").
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any


class InputKind(enum.Enum):
    TAP = "tap"  # a left click or a touch at (x, y), screen pixels
    KEY = "key"  # `key`: a printable character (already cased) or one of KEY_NAMES
    QUIT = "quit"  # the window was closed


KEY_NAMES = ("return", "backspace", "escape")  # the keys without a character that the Screen uses


@dataclasses.dataclass(frozen=True)
class InputEvent:
    kind: InputKind
    x: int = 0
    y: int = 0
    key: str = ""

    @classmethod
    def tap(cls, x: int, y: int) -> InputEvent:
        return cls(InputKind.TAP, int(x), int(y))

    @classmethod
    def press(cls, key: str) -> InputEvent:
        return cls(InputKind.KEY, key=key)


QUIT = InputEvent(InputKind.QUIT)


def from_pygame(ev: Any, size: tuple[int, int]) -> InputEvent | None:
    """A pygame event as an InputEvent; None for events the kiosk ignores (motion, releases, modifiers)."""
    import pygame

    if ev.type == pygame.QUIT:
        return QUIT
    if ev.type == pygame.MOUSEBUTTONDOWN and ev.button == 1:
        return InputEvent.tap(*ev.pos)
    if ev.type == pygame.FINGERDOWN:  # normalized 0..1 coordinates
        return InputEvent.tap(int(ev.x * size[0]), int(ev.y * size[1]))
    if ev.type == pygame.KEYDOWN:
        names = {pygame.K_BACKSPACE: "backspace", pygame.K_RETURN: "return", pygame.K_KP_ENTER: "return",
                 pygame.K_ESCAPE: "escape"}
        key = names.get(ev.key) or ev.unicode
        return InputEvent.press(key) if key else None
    return None
