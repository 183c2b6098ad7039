"""The UI drawn over the avatar: the visitor-state cue, captions, notices and the talk/type buttons.

Everything goes through the Backend protocol, so the CUDA backend draws the same UI. Sizes scale from
the screen's shorter side (the height of a landscape kiosk). Text, icons and fixed shapes are rasterized
once and cached; a steady frame costs `draw` calls plus three `fill`s per variable-size panel.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from kiosk.avatar.backend import Backend, Colour, Image

WHITE = (245, 247, 250)
SOFT = (200, 208, 218)  # the visitor's final words: quieter than the answer
DIM = (140, 150, 164)  # partial transcripts: the recognizer may still change them
ACCENT = (92, 200, 180)  # calm teal, the only colour
INK = (12, 24, 28)  # text and icons on the accent
PANEL = (14, 18, 26, 184)
FADE_S = 0.3
LEVEL_DECAY_S = 0.25  # the meter jumps up at once and sinks back smoothly, like a VU meter
STATES = ("idle", "listening", "thinking", "speaking")
DEFAULT_ATTRACT = 'Say "Hey coach" or tap to talk'

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


class Painter:
    """Cached text, shapes and icons over a Backend; shared by the overlay and the keyboard."""

    def __init__(self, backend: Backend, capacity: int = 512) -> None:
        self.backend, self.capacity = backend, capacity
        self._text: OrderedDict[tuple[str, int, Colour], Image] = OrderedDict()
        self._widths: dict[tuple[str, int], int] = {}
        self._shapes: dict[tuple, Image] = {}

    def text(self, text: str, px: int, colour: Colour) -> Image:
        key = (text, px, colour)
        if key in self._text:
            self._text.move_to_end(key)
        else:
            self._text[key] = self.backend.text(text, px, colour)
            if len(self._text) > self.capacity:
                self._text.popitem(last=False)
        return self._text[key]

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


@dataclass(frozen=True)
class Layout:
    """Pixel sizes for one screen, all scaled from its shorter side."""

    size: tuple[int, int]
    margin: int
    pad: int
    radius: int
    caption_px: int  # the answer; it shrinks to caption_min_px (>= 4.5% of the screen) before it is cut
    caption_min_px: int
    visitor_px: int
    small_px: int  # source title and notices
    cue_px: int  # state cue and button labels
    button: int  # height of the talk and type buttons: the touch targets
    text_width: int

    @classmethod
    def for_size(cls, size: tuple[int, int]) -> Layout:
        w, h = size
        s = min(w, h)
        return cls(size=(w, h), margin=round(0.035 * s), pad=round(0.022 * s), radius=round(0.02 * s),
                   caption_px=round(0.052 * s), caption_min_px=math.ceil(0.045 * s), visitor_px=round(0.033 * s),
                   small_px=max(12, round(0.025 * s)), cue_px=round(0.03 * s), button=round(0.1 * s),
                   text_width=round(0.8 * w))


@dataclass(frozen=True)
class Caption:
    lines: tuple[str, ...]
    px: int
    colour: Colour


def _ease(k: float) -> float:
    k = min(1.0, max(0.0, k))
    return k * k * (3 - 2 * k)


class Overlay:
    """Call the setters as events arrive and `draw(t)` once per frame, after the avatar."""

    def __init__(self, backend: Backend, size: tuple[int, int], painter: Painter | None = None) -> None:
        self.backend, self.layout, self.painter = backend, Layout.for_size(size), painter or Painter(backend)
        self.state, self._prev_state, self._state_t = "idle", "idle", -FADE_S
        self.attract, self.notice_text = DEFAULT_ATTRACT, None
        self.visitor: Caption | None = None
        self.answer: Caption | None = None
        self.source: Caption | None = None
        self._level_in = self._level = 0.0
        self._last_t: float | None = None
        self._bottom: int | None = None
        self._caption: tuple[Rect, list[tuple[Image, int, int]]] | None = None
        self.caption_rect: Rect | None = None  # where the captions were drawn last (tests, layout of others)
        self.meter_rect: Rect | None = None
        L, bh, icon = self.layout, self.layout.button, round(self.layout.button * 0.5)
        rects, right = [], size[0] - L.margin
        for label in ("Tap to talk", "Type"):  # pills sized to their label: measured once, here
            bw = round(bh * 0.8) + icon + self.painter.width(label, L.cue_px)
            rects.append((right - bw, size[1] - L.margin - bh, bw, bh))
            right -= bw + round(bh * 0.2)
        self.talk_rect, self.keyboard_rect = rects

    def set_state(self, state: str, t: float) -> None:
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}; expected one of {STATES}")
        if state != self.state:
            self._prev_state, self.state, self._state_t = self.state, state, t

    def set_attract(self, text: str) -> None:
        self.attract = text

    def set_level(self, level: float) -> None:
        """The microphone level 0..1, per audio chunk: the loudest since the last frame is shown."""
        self._level_in = max(self._level_in, min(1.0, max(0.0, level)))

    def visitor_partial(self, text: str) -> None:
        self._visitor(f"{text}…" if text.strip() else "", DIM)

    def visitor_final(self, text: str) -> None:
        self._visitor(text, SOFT)

    def _visitor(self, text: str, colour: Colour) -> None:
        L = self.layout  # a new question: the previous answer goes
        lines = self.painter.wrap(text, L.visitor_px, L.text_width, 2)
        self.visitor = Caption(lines, L.visitor_px, colour) if text.strip() else None
        self.answer = self.source = self._caption = None

    def answer_sentence(self, text: str, source_title: str | None = None) -> None:
        L, p = self.layout, self.painter
        for px in (L.caption_px, (L.caption_px + L.caption_min_px) // 2, L.caption_min_px):
            if len(lines := p.wrap(text, px, L.text_width, 99)) <= 3:
                break
        else:
            lines = p.wrap(text, px, L.text_width, 3)
        self.answer = Caption(lines, px, WHITE) if text.strip() else None
        self.source = Caption(p.wrap(f"Source: {source_title}", L.small_px, L.text_width, 1), L.small_px,
                              ACCENT) if source_title else None
        self._caption = None

    def clear_captions(self) -> None:
        self.visitor = self.answer = self.source = self._caption = None

    def notice(self, text: str | None) -> None:
        """A degraded mode, e.g. "Microphone disconnected — tap to type your question"; None removes it."""
        self.notice_text = text or None

    def reserve_bottom(self, y: int | None) -> None:
        """Keep everything above y (the on-screen keyboard's top); the cue and buttons hide meanwhile."""
        if y != self._bottom:
            self._bottom, self._caption = y, None

    def hit(self, x: int, y: int) -> str | None:
        """ "tap" or "keyboard" when (x, y) is on a button."""
        for name, (rx, ry, rw, rh) in (("tap", self.talk_rect), ("keyboard", self.keyboard_rect)):
            if self._bottom is None and rx <= x < rx + rw and ry <= y < ry + rh:
                return name
        return None

    def draw(self, t: float) -> None:
        dt = 0.0 if self._last_t is None else max(0.0, t - self._last_t)
        self._level = max(self._level_in, self._level * math.exp(-dt / LEVEL_DECAY_S))
        self._last_t, self._level_in = t, 0.0
        self._draw_notice()
        if self._caption is None:
            self._caption = self._layout_captions()
        self.caption_rect = self._caption[0] if self._caption else None
        if self._caption:
            self.painter.panel(self._caption[0], PANEL, self.layout.radius)
            for image, x, y in self._caption[1]:
                self.backend.draw(image, x, y)
        if self._bottom is None:
            k = _ease((t - self._state_t) / FADE_S)
            if self._prev_state != self.state:
                self._cue(self._prev_state, 1 - k, t)
            self._cue(self.state, k, t)
            self._buttons({self.state: k, self._prev_state: 1 - k}.get("listening", 0.0))

    def _draw_notice(self) -> None:
        if not self.notice_text:
            return
        L, p = self.layout, self.painter
        images = [p.text(line, L.small_px, WHITE) for line in p.wrap(self.notice_text, L.small_px, L.text_width, 2)]
        lh, dot = p.size(images[0])[1], round(L.small_px * 0.45)
        w, h = max(p.size(i)[0] for i in images) + dot + 3 * L.pad, lh * len(images) + L.pad
        x, y = (L.size[0] - w) // 2, L.margin
        p.panel((x, y, w, h), PANEL, min(2 * L.radius, h // 2))
        self.backend.draw(p.shape(dot, dot, dot / 2, ACCENT), x + L.pad, y + (L.pad + lh - dot) // 2)
        for i, image in enumerate(images):
            self.backend.draw(image, x + 2 * L.pad + dot, y + L.pad // 2 + i * lh)

    def _layout_captions(self) -> tuple[Rect, list[tuple[Image, int, int]]] | None:
        visitor = self.visitor if self._bottom is None else None  # over the keyboard, room for the answer only
        blocks = [c for c in (visitor, self.answer, self.source) if c]
        if not blocks:
            return None
        L, p = self.layout, self.painter
        rows = [(p.text(line, c.px, c.colour), L.pad // 2 if i and not j else 0)
                for i, c in enumerate(blocks) for j, line in enumerate(c.lines)]
        w = max(p.size(image)[0] for image, _ in rows) + 3 * L.pad
        h = sum(p.size(image)[1] + gap for image, gap in rows) + round(L.pad * 1.4)
        y = (self._bottom if self._bottom is not None else self.talk_rect[1]) - L.pad - h
        placed, cy = [], y + round(L.pad * 0.7)
        for image, gap in rows:
            placed.append((image, (L.size[0] - p.size(image)[0]) // 2, cy + gap))
            cy += gap + p.size(image)[1]
        return ((L.size[0] - w) // 2, y, w, h), placed

    def _cue(self, state: str, opacity: float, t: float) -> None:
        if state == "speaking" or opacity <= 0.004:  # the captions and the moving mouth say enough
            return
        L, p, draw = self.layout, self.painter, self.backend.draw
        h, dot, gap, inset = round(L.cue_px * 2.1), round(L.cue_px * 0.42), round(L.cue_px * 0.5), round(L.cue_px * 0.9)
        bar = max(2, round(L.cue_px * 0.14))
        meter_w, meter_h = 5 * bar + 4 * round(bar * 0.9), round(L.cue_px * 1.1)
        label = p.text("Listening…" if state == "listening" else self.attract, L.cue_px, WHITE)
        content = 3 * dot + 2 * gap if state == "thinking" else dot + gap + p.size(label)[0]
        w = content + (gap + meter_w if state == "listening" else 0) + 2 * inset
        cx = min(L.size[0] // 2, self.keyboard_rect[0] - L.pad - w // 2)  # centred unless the buttons are near
        x, cy = max(L.margin, cx - w // 2) + inset, self.talk_rect[1] + self.talk_rect[3] // 2
        p.panel((x - inset, cy - h // 2, w, h), PANEL, h // 2, opacity)
        disc = p.shape(dot, dot, dot / 2, ACCENT)
        if state == "thinking":  # three dots rippling left to right
            for i in range(3):
                wave = 0.5 + 0.5 * math.sin(2 * math.pi * t / 1.2 - i * 1.2)
                draw(disc, x + i * (dot + gap), cy - dot // 2 - round(dot * 0.4 * wave), opacity * (0.35 + 0.65 * wave))
            return
        pulse = 0.5 + 0.5 * math.sin(2 * math.pi * t / 2.4) if state == "idle" else 1.0  # a gentle invitation
        draw(disc, x, cy - dot // 2, opacity * (0.35 + 0.65 * pulse))
        draw(label, x + dot + gap, cy - p.size(label)[1] // 2, opacity * (0.82 + 0.18 * pulse))
        if state == "listening":
            x += dot + 2 * gap + p.size(label)[0]
            self.meter_rect = (x, cy - meter_h // 2, meter_w, meter_h)
            for i, shape in enumerate((0.55, 0.8, 1.0, 0.8, 0.55)):
                wiggle = 0.85 + 0.15 * math.sin(9 * t + 1.7 * i)  # alive, without hiding the level itself
                bh = max(bar, round(meter_h * min(1.0, 1.2 * self._level * shape * wiggle)))
                self.backend.fill((x + i * round(bar * 1.9), cy - bh // 2, bar, bh), (*ACCENT, round(255 * opacity)))

    def _buttons(self, listening: float) -> None:
        L, p, icon = self.layout, self.painter, round(self.layout.button * 0.5)
        if listening > 0.004:  # a halo around the talk button that breathes with the voice
            (x, y, w, h), e = self.talk_rect, round(L.button * 0.12)
            halo = p.shape(w + 2 * e, h + 2 * e, h / 2 + e, (*ACCENT, 80))
            self.backend.draw(halo, x - e, y - e, listening * (0.3 + 0.7 * self._level))
        for (x, y, w, h), fill, ink, glyph, text in ((self.talk_rect, ACCENT, INK, MIC_ICON, "Tap to talk"),
                                                     (self.keyboard_rect, PANEL, WHITE, KEYBOARD_ICON, "Type")):
            self.backend.draw(p.shape(w, h, h / 2, fill), x, y)
            self.backend.draw(p.icon(glyph, icon, ink), x + round(h * 0.3), y + (h - icon) // 2)
            label = p.text(text, L.cue_px, ink)
            self.backend.draw(label, x + round(h * 0.4) + icon, y + (h - p.size(label)[1]) // 2)
