"""An on-screen keyboard for a touch screen or a mouse, and the events that typing or tapping produce.

A typed question becomes the same `Heard` event the speech recognizer emits (engine "keyboard") and a
tap the same `Wake` as the wake phrase (source "tap"), so the rest of the kiosk treats them alike.
The key rects are pure geometry from the screen size, so `press(x, y)` is testable without events.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.avatar.drawing import Backend, Colour
from kiosk.avatar.painter import ACCENT, DIM, INK, WHITE, Painter, Rect, polyline
from kiosk.events import Heard, Wake, WakeSource

# Every row is 10 units wide, so the rows line up at both edges.
ROWS: tuple[tuple[tuple[str, float], ...], ...] = (
    tuple((c, 1.0) for c in "1234567890"),
    tuple((c, 1.0) for c in "qwertyuiop"),
    tuple((c, 1.0) for c in "asdfghjkl'"),
    (("shift", 1.5), *((c, 1.0) for c in "zxcvbnm"), ("backspace", 1.5)),
    (("close", 2.0), ("space", 4.0), (".", 1.0), ("?", 1.0), ("ask", 2.0)),
)
LABELS = {"close": "Close", "space": "space", "ask": "Ask"}
SHIFT_ICON = polyline([(0.5, 0.2), (0.8, 0.52), (0.63, 0.52), (0.63, 0.8), (0.37, 0.8), (0.37, 0.52), (0.2, 0.52)],
                      0.07, closed=True)
BACKSPACE_ICON = (*polyline([(0.12, 0.5), (0.34, 0.26), (0.88, 0.26), (0.88, 0.74), (0.34, 0.74)], 0.06, closed=True),
                  (0.5, 0.4, 0.7, 0.6, 0.06), (0.7, 0.4, 0.5, 0.6, 0.06))
PHYSICAL = {"return": "ask", "enter": "ask", "kp_enter": "ask", "escape": "close", "backspace": "backspace",
            "space": " "}  # pygame.key.name() spellings
MAX_CHARS = 200
PLACEHOLDER = "Type your question…"
FLASH_S = 0.15
BOARD = (14, 18, 26, 236)
KEY = (255, 255, 255, 36)
SPECIAL = (255, 255, 255, 18)
FIELD = (8, 11, 16)  # opaque: it sits on the accent border


@dataclass(frozen=True)
class KeyboardResult:
    action: str
    """submit | cancel"""
    text: str = ""


@dataclass(frozen=True)
class Key:
    name: str
    """the character it types, or shift | backspace | space | close | ask"""
    rect: Rect


@dataclass(frozen=True)
class KeyboardLayout:
    panel: Rect
    field: Rect
    """the input box above the keys"""
    keys: tuple[Key, ...]
    gap: int
    pad: int
    radius: int
    key_px: int
    field_px: int

    @classmethod
    def for_size(cls, size: tuple[int, int]) -> KeyboardLayout:
        w, h = size
        s = min(w, h)
        gap, pad, key_h, field_h = round(0.012 * s), round(0.02 * s), round(0.078 * s), round(0.085 * s)
        unit = min(key_h * 1.3, (0.96 * w - 2 * pad - 9 * gap) / 10)  # big keys, narrowed on a portrait screen
        width, height = round(10 * unit + 9 * gap) + 2 * pad, 3 * pad + field_h + 5 * key_h + 4 * gap
        px, py = (w - width) // 2, h - round(0.02 * s) - height
        keys, y = [], py + 2 * pad + field_h
        for row in ROWS:
            x = float(px + pad)
            for name, units in row:
                keys.append(Key(name, (round(x), y, round(units * unit + (units - 1) * gap), key_h)))
                x += units * (unit + gap)
            y += key_h + gap
        return cls(panel=(px, py, width, height), field=(px + pad, py + pad, width - 2 * pad, field_h),
                   keys=tuple(keys), gap=gap, pad=pad, radius=round(key_h * 0.18), key_px=round(key_h * 0.4),
                   field_px=round(field_h * 0.42))


class OnScreenKeyboard:
    """`press` (a pointer) and `type_key` (a physical keyboard) edit one line; both return a
    KeyboardResult on submit ("Ask", return) or cancel ("Close", escape), else None."""

    def __init__(self, backend: Backend, size: tuple[int, int], painter: Painter | None = None) -> None:
        self.backend, self.layout, self.painter = backend, KeyboardLayout.for_size(size), painter or Painter(backend)
        self.is_open, self.text, self.shift, self.caps = False, "", False, False
        self._keys = {key.name: key for key in self.layout.keys}
        self._flash: str | None = None
        self._flash_t: float | None = None
        self._edited, self._edit_t = False, 0.0
        self._shown: tuple[str, str] = ("", "")  # (text, the tail of it that fits the input box)

    @property
    def top(self) -> int:
        """The keyboard's top edge: pass it to Overlay.reserve_bottom while open."""
        return self.layout.panel[1]

    def key(self, name: str) -> Key:
        return self._keys[name]

    def open(self) -> None:
        self.is_open, self.text, self.shift, self.caps, self._edited = True, "", False, False, True

    def close(self) -> None:
        self.is_open, self.text, self.shift, self.caps = False, "", False, False

    def press(self, x: int, y: int) -> KeyboardResult | None:
        if not self.is_open:
            return None
        g = self.layout.gap // 2 + 1  # half the gap on each side: no dead zones between keys
        for key in self.layout.keys:
            kx, ky, kw, kh = key.rect
            if kx - g <= x < kx + kw + g and ky - g <= y < ky + kh + g:
                self._flash, self._flash_t = key.name, None
                return self._apply(key.name, screen=True)
        return None

    def type_key(self, key: str) -> KeyboardResult | None:
        """A physical key: a printable character (already cased by the OS) or a pygame key name."""
        if not self.is_open:
            return None
        name = PHYSICAL.get(key.lower()) if len(key) > 1 else key
        if name is None or (len(name) == 1 and not name.isprintable()):
            return None
        return self._apply(name, screen=False)

    def _apply(self, name: str, screen: bool) -> KeyboardResult | None:
        if name == "ask":
            text = self.text.strip()
            if not text:  # nothing to ask: stay open
                return None
            self.close()
            return KeyboardResult("submit", text)
        if name == "close":
            self.close()
            return KeyboardResult("cancel")
        if name == "shift":  # off -> shift (one letter) -> caps lock -> off
            self.shift, self.caps = not self.shift and not self.caps, self.shift
        elif name == "backspace":
            self.text = self.text[:-1]
        else:
            ch = " " if name == "space" else name
            if screen and (self.shift or self.caps):
                ch, self.shift = ch.upper(), False
            self.text = (self.text + ch)[:MAX_CHARS]
        self._edited = True
        return None

    def _visible(self, max_w: int) -> str:
        """The end of the text, where the caret is, when all of it does not fit."""
        if self._shown[0] != self.text:
            text, px, shown = self.text, self.layout.field_px, self.text
            if self.painter.width(text, px) > max_w:  # binary search: the longest tail that fits after "…"
                lo, hi = 1, len(text)
                while lo < hi:
                    mid = (lo + hi) // 2
                    lo, hi = (lo, mid) if self.painter.width("…" + text[mid:], px) <= max_w else (mid + 1, hi)
                shown = "…" + text[lo:]
            self._shown = (text, shown)
        return self._shown[1]

    def draw(self, t: float) -> None:
        if not self.is_open:
            return
        L, p, draw = self.layout, self.painter, self.backend.draw
        if self._edited:  # the caret stays lit while typing, and blinks when idle
            self._edited, self._edit_t = False, t
        if self._flash and self._flash_t is None:
            self._flash_t = t
        if self._flash and self._flash_t is not None and t - self._flash_t > FLASH_S:
            self._flash = None
        p.panel(L.panel, BOARD, 2 * L.radius)
        fx, fy, fw, fh = L.field
        b = max(2, round(fh / 36))
        draw(p.shape(fw, fh, L.radius, ACCENT), fx, fy)
        draw(p.shape(fw - 2 * b, fh - 2 * b, L.radius - b, FIELD), fx + b, fy + b)
        shown = self._visible(fw - 3 * L.pad)
        image = p.text(shown or PLACEHOLDER, L.field_px, WHITE if shown else DIM)
        draw(image, fx + L.pad, fy + (fh - p.size(image)[1]) // 2)
        if (t - self._edit_t) % 1.0 < 0.6:
            caret_x = fx + L.pad + (p.size(image)[0] + 2 if shown else 0)
            self.backend.fill((caret_x, fy + round(fh * 0.22), max(2, L.field_px // 12), round(fh * 0.56)), ACCENT)
        for key in L.keys:
            self._draw_key(key)

    def _draw_key(self, key: Key) -> None:
        p, (x, y, w, h) = self.painter, key.rect
        lit = key.name == "ask" or (key.name == "shift" and self.caps)
        colour: Colour = ACCENT if lit else KEY if len(key.name) == 1 or key.name == "space" else SPECIAL
        if key.name == self._flash:
            colour = (*ACCENT, 150)
        self.backend.draw(p.shape(w, h, self.layout.radius, colour), x, y)
        ink = INK if lit else WHITE
        if key.name in ("shift", "backspace"):
            size = round(h * 0.62)
            glyph = SHIFT_ICON if key.name == "shift" else BACKSPACE_ICON
            self.backend.draw(p.icon(glyph, size, ACCENT if self.shift and key.name == "shift" else ink),
                              x + (w - size) // 2, y + (h - size) // 2)
            return
        upper = (self.shift or self.caps) and len(key.name) == 1
        label = p.text(LABELS.get(key.name, key.name.upper() if upper else key.name),
                       round(self.layout.key_px * 0.8) if key.name == "space" else self.layout.key_px,
                       DIM if key.name == "space" else ink)
        lw, lh = p.size(label)
        self.backend.draw(label, x + (w - lw) // 2, y + (h - lh) // 2)


def question_event(text: str, t: float) -> Heard:
    """A typed question as the event the speech recognizer would have produced for it."""
    return Heard(t=t, text=text, engine="keyboard", words=())


def tap_event(t: float) -> Wake:
    """A tap on the talk button: the same wake as the wake phrase."""
    return Wake(t, WakeSource.TAP)
