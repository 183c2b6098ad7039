"""Drawing helpers shared by the overlay and the on-screen keyboard: palette, cached text and shapes,
line-drawn icons and word wrapping (CJK-aware), all through the Backend protocol."""

from __future__ import annotations

import math
import re
from collections import OrderedDict

import numpy as np

from kiosk.avatar.drawing import Backend, Colour, Image

WHITE = (245, 247, 250)
SOFT = (200, 208, 218)  # the visitor's final words: quieter than the answer
DIM = (140, 150, 164)  # partial transcripts: the recognizer may still change them
ACCENT = (92, 200, 180)  # calm teal, the only colour
INK = (12, 24, 28)  # text and icons on the accent
PANEL = (14, 18, 26, 184)

Rect = tuple[int, int, int, int]
Segment = tuple[float, float, float, float, float]  # x0, y0, x1, y1, width in icon sizes; zero length: a dot

# Han and kana lines may break between any two characters; Hangul is written with spaces, so it wraps by words.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_TOKEN = re.compile(rf"(\s*)([{_CJK}]|[^\s{_CJK}]+)")
NO_LINE_START = set("、。，．！？：；）」』】〉》…ー・,.!?:;)")  # closing punctuation stays with its word (kinsoku)


def polyline(points: list[tuple[float, float]], width: float, closed: bool = False) -> tuple[Segment, ...]:
    pts = [*points, points[0]] if closed else points
    return tuple((*a, *b, width) for a, b in zip(pts, pts[1:], strict=False))


def _arc(cx: float, cy: float, r: float, a0: float, a1: float, width: float) -> tuple[Segment, ...]:
    return polyline([(cx + r * math.cos(a), cy + r * math.sin(a)) for a in np.radians(np.linspace(a0, a1, 13))], width)


MIC_ICON = ((0.5, 0.25, 0.5, 0.41, 0.24), *_arc(0.5, 0.43, 0.21, -5, 185, 0.07),
            (0.5, 0.64, 0.5, 0.79, 0.07), (0.36, 0.79, 0.64, 0.79, 0.07))
KEYBOARD_ICON = (*polyline([(0.14, 0.3), (0.86, 0.3), (0.86, 0.7), (0.14, 0.7)], 0.06, closed=True),
                 *((x, y, x, y, 0.08) for y in (0.42, 0.52) for x in (0.27, 0.385, 0.5, 0.615, 0.73)),
                 (0.36, 0.605, 0.64, 0.605, 0.06))


def _rgba(alpha: np.ndarray, colour: Colour) -> np.ndarray:
    out = np.zeros((*alpha.shape, 4), np.uint8)
    out[..., :3] = colour[:3]
    out[..., 3] = np.round(alpha * (colour[3] if len(colour) == 4 else 255))
    return out


def rounded_rgba(w: int, h: int, r: float, colour: Colour) -> np.ndarray:
    """An antialiased rounded rectangle (signed distance, one pixel of edge); r = h/2 gives a pill."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    qx, qy = np.abs(xx - w / 2) - (w / 2 - r), np.abs(yy - h / 2) - (h / 2 - r)
    d = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0)) + np.minimum(np.maximum(qx, qy), 0) - r
    return _rgba(np.clip(0.5 - d, 0, 1), colour)


def strokes_rgba(size: int, segments: tuple[Segment, ...], colour: Colour) -> np.ndarray:
    """Round-capped antialiased strokes: icons without depending on a font's symbol coverage."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    alpha = np.zeros((size, size), np.float32)
    for x0, y0, x1, y1, width in segments:
        ax, ay, dx, dy = x0 * size, y0 * size, (x1 - x0) * size, (y1 - y0) * size
        length2 = dx * dx + dy * dy
        u = np.clip(((xx - ax) * dx + (yy - ay) * dy) / length2, 0, 1) if length2 else 0.0
        alpha = np.maximum(alpha, np.clip(width * size / 2 + 0.5 - np.hypot(xx - ax - u * dx, yy - ay - u * dy), 0, 1))
    return _rgba(alpha, colour)


def _tokens(text: str) -> list[tuple[str, bool]]:
    """(piece, preceded by a space): words and single CJK characters, closing punctuation glued on."""
    out: list[tuple[str, bool]] = []
    for m in _TOKEN.finditer(text):
        if out and not m[1] and m[2][0] in NO_LINE_START:
            out[-1] = (out[-1][0] + m[2], out[-1][1])
        else:
            out.append((m[2], bool(m[1])))
    return out


TEXT_CACHE_BYTES = 24 << 20  # rendered text kept for reuse (prompts, buttons, the captions on screen)


class Painter:
    """Cached text, shapes and icons over a Backend; shared by the overlay and the keyboard."""

    def __init__(self, backend: Backend, capacity: int = 512, budget_bytes: int = TEXT_CACHE_BYTES) -> None:
        self.backend, self.capacity, self.budget_bytes = backend, capacity, budget_bytes
        self._text: OrderedDict[tuple[str, int, Colour], tuple[Image, int]] = OrderedDict()
        self._text_bytes = 0
        self._widths: dict[tuple[str, int], int] = {}
        self._shapes: dict[tuple, Image] = {}

    def text(self, text: str, px: int, colour: Colour) -> Image:
        """Rendered once and kept, least recently used first out: by count and by pixels, since every answer's
        caption lines are new text and a full-width line at 1080p is half a megabyte (a kiosk runs for months)."""
        key = (text, px, colour)
        if key in self._text:
            self._text.move_to_end(key)
            return self._text[key][0]
        image = self.backend.text(text, px, colour)
        w, h = self.backend.image_size(image)
        self._text[key] = (image, 4 * w * h)
        self._text_bytes += 4 * w * h
        while len(self._text) > 1 and (len(self._text) > self.capacity or self._text_bytes > self.budget_bytes):
            _, (_, size) = self._text.popitem(last=False)
            self._text_bytes -= size
        return image

    def width(self, text: str, px: int) -> int:
        if (text, px) not in self._widths:
            if len(self._widths) > 8 * self.capacity:
                self._widths.clear()
            self._widths[text, px] = self.backend.image_size(self.backend.text(text, px, WHITE))[0] if text else 0
        return self._widths[text, px]

    def size(self, image: Image) -> tuple[int, int]:
        return self.backend.image_size(image)

    def shape(self, w: int, h: int, r: float, colour: Colour) -> Image:
        key = ("rounded", w, h, r, colour)
        if key not in self._shapes:
            self._shapes[key] = self.backend.image(rounded_rgba(w, h, r, colour))
        return self._shapes[key]

    def icon(self, segments: tuple[Segment, ...], size: int, colour: Colour) -> Image:
        key = ("icon", segments, size, colour)
        if key not in self._shapes:
            self._shapes[key] = self.backend.image(strokes_rgba(size, segments, colour))
        return self._shapes[key]

    def panel(self, rect: Rect, colour: Colour, radius: int, opacity: float = 1.0) -> None:
        """A rounded translucent panel of any size: four cached corners and three non-overlapping fills."""
        x, y, w, h = rect
        r, alpha = max(1, min(radius, w // 2, h // 2)), round((colour[3] if len(colour) == 4 else 255) * opacity)
        if alpha <= 0:
            return
        key = ("corners", r, colour)
        if key not in self._shapes:
            disc = rounded_rgba(2 * r, 2 * r, r, colour)
            self._shapes[key] = [self.backend.image(np.ascontiguousarray(q))
                                 for q in (disc[:r, :r], disc[:r, r:], disc[r:, :r], disc[r:, r:])]
        corners = ((x, y), (x + w - r, y), (x, y + h - r), (x + w - r, y + h - r))
        for image, (cx, cy) in zip(self._shapes[key], corners, strict=True):
            self.backend.draw(image, cx, cy, opacity)
        for fx, fy, fw, fh in ((x + r, y, w - 2 * r, h), (x, y + r, r, h - 2 * r), (x + w - r, y + r, r, h - 2 * r)):
            if fw > 0 and fh > 0:
                self.backend.fill((fx, fy, fw, fh), (*colour[:3], alpha))

    def wrap(self, text: str, px: int, max_w: int, max_lines: int = 3) -> tuple[str, ...]:
        """Greedy word wrap measured with the backend's own text images; CJK breaks between characters.
        Text beyond max_lines is cut with an ellipsis."""
        lines, line = [], ""
        for piece, spaced in _tokens(text):
            joined = f"{line} {piece}" if spaced and line else line + piece
            if self.width(joined, px) <= max_w:
                line = joined
                continue
            lines += [line] if line else []
            line = piece
            while len(line) > 1 and self.width(line, px) > max_w:  # a word wider than a line: cut it
                cut = next(n for n in range(len(line) - 1, 0, -1) if self.width(line[:n], px) <= max_w or n == 1)
                lines, line = [*lines, line[:cut]], line[cut:]
        lines += [line] if line else []
        if len(lines) > max_lines:
            last = lines[max_lines - 1]
            while len(last) > 1 and self.width(last.rstrip() + "…", px) > max_w:
                last = last[:-1]
            lines = [*lines[: max_lines - 1], last.rstrip() + "…"]
        return tuple(lines)
