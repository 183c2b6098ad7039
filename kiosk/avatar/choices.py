"""The buttons a learning mode offers (kiosk/appliance/lessons.py), in a row above the talk button: one per
activity when no lesson runs ("Hall safety quiz", "Practise: Upset visitor"), a quiz question's choices and
Stop while one does. A tap on one is the same as saying its words, so a lesson has one way in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kiosk.avatar.drawing import Backend
from kiosk.avatar.painter import ACCENT, INK, PANEL, WHITE, Painter, Rect

STOP = "Stop"


@dataclass(frozen=True)
class Choice:
    label: str
    rect: Rect


class ChoiceRow:
    """`set` what is on offer, `draw` each frame, `hit` for a tap; `height` is what the captions must clear."""

    def __init__(self, painter: Painter, size: tuple[int, int], margin: int, button_h: int, px: int,
                 bottom: int) -> None:
        """`bottom`: the top of the talk button's row; this row sits above it."""
        self.painter, self.size, self.margin, self.h, self.px, self.bottom = painter, size, margin, button_h, px, bottom
        self.choices: tuple[Choice, ...] = ()

    def set(self, labels: Sequence[str], stop: bool = False) -> None:
        """Left to right, wrapping onto more rows when the screen is too narrow; Stop last, in the accent."""
        words = [*labels, STOP] if stop else list(labels)
        gap, pad = round(self.h * 0.2), round(self.h * 0.45)
        rows: list[list[tuple[str, int]]] = [[]]
        used = 0
        for label in words:
            w = 2 * pad + self.painter.width(label, self.px)
            if rows[-1] and used + w > self.size[0] - 2 * self.margin:
                rows.append([])
                used = 0
            rows[-1].append((label, w))
            used += w + gap
        placed = []
        for r, row in enumerate(reversed(rows)):  # the last row just above the talk button
            y = self.bottom - (r + 1) * (self.h + gap)
            x = self.margin
            for label, w in row:
                placed.append(Choice(label, (x, y, w, self.h)))
                x += w + gap
        self.choices = tuple(placed) if words else ()

    @property
    def height(self) -> int:
        """Pixels above `bottom` the row takes (0 when empty)."""
        return self.bottom - min(c.rect[1] for c in self.choices) if self.choices else 0

    def hit(self, x: int, y: int) -> str | None:
        """The words a tap at (x, y) says: a choice's label, or "stop"."""
        for c in self.choices:
            rx, ry, rw, rh = c.rect
            if rx <= x < rx + rw and ry <= y < ry + rh:
                return "stop" if c.label == STOP else c.label
        return None

    def draw(self, backend: Backend) -> None:
        p = self.painter
        for c in self.choices:
            (x, y, w, h), stop = c.rect, c.label == STOP
            backend.draw(p.shape(w, h, h / 2, ACCENT if stop else PANEL), x, y)
            label = p.text(c.label, self.px, INK if stop else WHITE)
            lw, lh = p.size(label)
            backend.draw(label, x + (w - lw) // 2, y + (h - lh) // 2)
