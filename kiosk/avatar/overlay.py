"""The UI drawn over the avatar: the visitor-state cue, captions, notices and the talk/type buttons.

Everything goes through the Backend protocol, so the CUDA backend draws the same UI. Sizes scale from
the screen's shorter side (the height of a landscape kiosk). Text, icons and fixed shapes are rasterized
once and cached; a steady frame costs `draw` calls plus three `fill`s per variable-size panel.

What it offers is what works: without a microphone the prompt says to tap Type and Type takes the talk
button's place; a caption always starts at the start of a sentence (later chunks of a sentence grow it);
the caption panel is opaque, so nothing of the avatar shows through it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

from kiosk.answer.sentences import CLOSERS, TERMINATORS
from kiosk.avatar.drawing import Backend, Colour, Image
from kiosk.avatar.painter import ACCENT, DIM, INK, KEYBOARD_ICON, MIC_ICON, PANEL, SOFT, WHITE, Painter, Rect, Segment
from kiosk.events import VisitorState

FADE_S = 0.3
LEVEL_DECAY_S = 0.25  # the meter jumps up at once and sinks back smoothly, like a VU meter
CAPTION_LINES = 3  # landscape: more would reach the chin (the mouth is at 45 % of the height, face.py)
CAPTION_PANEL = (*PANEL[:3], 255)  # opaque: nothing of the avatar may show through the captions
TYPE_PROMPT = "Tap Type to ask your question"  # no microphone: the one way in
NO_MICROPHONE = "Microphone unavailable — tap Type to ask your question"
SENTENCE_END = tuple(TERMINATORS + "。！？")  # the speech chunker's, and the CJK full stops


def attract_text(wake_phrase: str) -> str:
    return f'Say "{wake_phrase.capitalize()}" or tap to talk'


DEFAULT_ATTRACT = attract_text("hey coach")


def ends_sentence(text: str) -> bool:
    """Whether a spoken chunk ends its sentence: the chunker cuts early chunks at clause boundaries
    (",", ";", ":", a dash, or a word), never after a sentence's final punctuation."""
    return text.rstrip().rstrip(CLOSERS + "」』").endswith(SENTENCE_END)


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
    caption_lines: int  # the most a sentence gets before it is cut: a portrait screen has room below the face

    @classmethod
    def for_size(cls, size: tuple[int, int]) -> Layout:
        w, h = size
        s = min(w, h)
        return cls(size=(w, h), margin=round(0.035 * s), pad=round(0.022 * s), radius=round(0.02 * s),
                   caption_px=round(0.052 * s), caption_min_px=math.ceil(0.045 * s), visitor_px=round(0.033 * s),
                   small_px=max(12, round(0.025 * s)), cue_px=round(0.03 * s), button=round(0.1 * s),
                   text_width=round(0.8 * w), caption_lines=CAPTION_LINES if w >= h else 2 * CAPTION_LINES)


class CueSizes(NamedTuple):
    """The state cue's pill, in px."""

    height: int
    dot: int
    gap: int
    inset: int
    bar: int  # one bar of the level meter
    meter_w: int
    meter_h: int

    @classmethod
    def for_px(cls, px: int) -> CueSizes:
        bar = max(2, round(px * 0.14))
        return cls(round(px * 2.1), round(px * 0.42), round(px * 0.5), round(px * 0.9), bar,
                   5 * bar + 4 * round(bar * 0.9), round(px * 1.1))


@dataclass(frozen=True)
class Button:
    name: str  # what `hit` returns: "tap" | "keyboard"
    label: str
    icon: tuple[Segment, ...]
    rect: Rect
    primary: bool  # the accent pill: the action the prompt names


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
        self.state = self._prev_state = VisitorState.IDLE
        self._state_t = -FADE_S
        self.attract = DEFAULT_ATTRACT
        self.notice_text: str | None = None
        self.voice = True  # a microphone is listening: the wake phrase and the talk button work
        self.visitor: Caption | None = None
        self.answer: Caption | None = None
        self.source: Caption | None = None
        self._open_sentence: str | None = None  # the caption's sentence while its later chunks are still to come
        self._level_in = self._level = 0.0
        self._last_t: float | None = None
        self._bottom: int | None = None
        self.lift = 0  # room kept above the buttons for a learning mode's row (kiosk/avatar/choices.py)
        self._caption: tuple[Rect, list[tuple[Image, int, int]]] | None = None
        self.caption_rect: Rect | None = None  # where the captions were drawn last (tests, layout of others)
        self.meter_rect: Rect | None = None
        self.cue_rect: Rect | None = None
        self._cue_sizes = CueSizes.for_px(self.layout.cue_px)
        talk, typed = self._button_rects(("Tap to talk", "Type"))
        self._voice_buttons = (Button("tap", "Tap to talk", MIC_ICON, talk, True),
                               Button("keyboard", "Type", KEYBOARD_ICON, typed, False))
        self._typed_buttons = (Button("keyboard", "Type", KEYBOARD_ICON, self._button_rects(("Type",))[0], True),)

    def _button_rects(self, labels: tuple[str, ...]) -> list[Rect]:
        """Pills sized to their label (measured once), right-aligned at the bottom, the first rightmost."""
        L, bh, icon, size = self.layout, self.layout.button, round(self.layout.button * 0.5), self.layout.size
        rects, right = [], size[0] - L.margin
        for label in labels:
            bw = round(bh * 0.8) + icon + self.painter.width(label, L.cue_px)
            rects.append((right - bw, size[1] - L.margin - bh, bw, bh))
            right -= bw + round(bh * 0.2)
        return rects

    @property
    def buttons(self) -> tuple[Button, ...]:
        """The buttons on offer now: Tap to talk only while a microphone listens."""
        return self._voice_buttons if self.voice else self._typed_buttons

    @property
    def talk_rect(self) -> Rect | None:
        return next((b.rect for b in self.buttons if b.name == "tap"), None)

    @property
    def keyboard_rect(self) -> Rect:
        return next(b.rect for b in self.buttons if b.name == "keyboard")

    @property
    def prompt(self) -> str:
        """The idle invitation: the wake phrase and talk button only while they work."""
        return self.attract if self.voice else TYPE_PROMPT

    def set_state(self, state: VisitorState | str, t: float) -> None:
        state = VisitorState(state)  # an unknown name raises ValueError
        if state != self.state:
            self._prev_state, self.state, self._state_t = self.state, state, t

    def set_attract(self, text: str) -> None:
        """The voice prompt (with the wake phrase), shown while a microphone listens."""
        self.attract, self._caption = text, None  # a longer prompt may move the captions up

    def set_voice(self, available: bool) -> None:
        """Whether a microphone listens: it decides the prompt and whether the talk button is offered."""
        self.voice, self._caption = available, None

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
        self.answer = self.source = self._caption = self._open_sentence = None

    def answer_chunk(self, text: str, source_title: str | None = None) -> None:
        """A spoken chunk: it starts a new caption, or grows the caption of the sentence it continues, so
        a caption never starts mid-sentence. A clip without words (the rest of a chunk Piper spoke in two
        parts) leaves the caption as it is."""
        text = text.strip()
        if not text:
            return
        whole = f"{self._open_sentence} {text}" if self._open_sentence else text
        self.answer_sentence(whole, source_title)
        self._open_sentence = None if ends_sentence(text) else whole

    def end_answer(self) -> None:
        """The answer is over (or was cut short): the next chunk starts a new caption."""
        self._open_sentence = None

    def answer_sentence(self, text: str, source_title: str | None = None) -> None:
        """A whole sentence as the caption, shrinking to caption_min_px to fit caption_lines, then cut."""
        L, p = self.layout, self.painter
        for px in (L.caption_px, (L.caption_px + L.caption_min_px) // 2, L.caption_min_px):
            if len(lines := p.wrap(text, px, L.text_width, 99)) <= L.caption_lines:
                break
        else:
            lines = p.wrap(text, px, L.text_width, L.caption_lines)
        self.answer = Caption(lines, px, WHITE) if text.strip() else None
        self.source = Caption(p.wrap(f"Source: {source_title}", L.small_px, L.text_width, 1), L.small_px,
                              ACCENT) if source_title else None
        self._caption, self._open_sentence = None, None

    def clear_captions(self) -> None:
        self.visitor = self.answer = self.source = self._caption = self._open_sentence = None

    def notice(self, text: str | None) -> None:
        """A degraded mode, e.g. "Microphone disconnected — tap to type your question"; None removes it."""
        self.notice_text = text or None

    def set_lift(self, px: int) -> None:
        """Keep `px` free above the buttons (the choices' row): the captions move up."""
        if px != self.lift:
            self.lift, self._caption = px, None

    def reserve_bottom(self, y: int | None) -> None:
        """Keep everything above y (the on-screen keyboard's top); the cue and buttons hide meanwhile."""
        if y != self._bottom:
            self._bottom, self._caption = y, None

    def hit(self, x: int, y: int) -> str | None:
        """ "tap" or "keyboard" when (x, y) is on a button on offer."""
        for button in self.buttons:
            rx, ry, rw, rh = button.rect
            if self._bottom is None and rx <= x < rx + rw and ry <= y < ry + rh:
                return button.name
        return None

    def draw(self, t: float) -> None:
        dt = 0.0 if self._last_t is None else max(0.0, t - self._last_t)
        self._level = max(self._level_in, self._level * math.exp(-dt / LEVEL_DECAY_S))
        self._last_t, self._level_in = t, 0.0
        self._draw_notice()
        if self._caption is None:
            self._caption = self._layout_captions()
        self.caption_rect = self._caption[0] if self._caption else None
        if self._caption:  # opaque: the avatar's clothes and badge must not show through the words
            self.painter.panel(self._caption[0], CAPTION_PANEL, self.layout.radius)
            for image, x, y in self._caption[1]:
                self.backend.draw(image, x, y)
        if self._bottom is None:
            k = _ease((t - self._state_t) / FADE_S)
            if self._prev_state != self.state:
                self._cue(self._prev_state, 1 - k, t)
            self._cue(self.state, k, t)
            self._buttons({self.state: k, self._prev_state: 1 - k}.get(VisitorState.LISTENING, 0.0))

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
        y = self._captions_bottom() - L.pad - h
        placed, cy = [], y + round(L.pad * 0.7)
        for image, gap in rows:
            placed.append((image, (L.size[0] - p.size(image)[0]) // 2, cy + gap))
            cy += gap + p.size(image)[1]
        return ((L.size[0] - w) // 2, y, w, h), placed

    def _captions_bottom(self) -> int:
        """The keyboard's top while it is open, else the buttons' row, or the cue's row above it."""
        if self._bottom is not None:
            return self._bottom
        top = self.keyboard_rect[1] - self.lift
        return top - self.layout.pad - self._cue_sizes.height if self._cue_above() else top

    def _cue(self, state: str, opacity: float, t: float) -> None:
        if state == "speaking" or opacity <= 0.004:  # the captions and the moving mouth say enough
            return
        L, p, draw = self.layout, self.painter, self.backend.draw
        h, dot, gap, inset, bar, meter_w, meter_h = self._cue_sizes
        label = p.text("Listening…" if state == "listening" else self.prompt, L.cue_px, WHITE)
        content = 3 * dot + 2 * gap if state == "thinking" else dot + gap + p.size(label)[0]
        w = content + (gap + meter_w if state == "listening" else 0) + 2 * inset
        x, cy = self._cue_place(w)
        self.cue_rect = (x, cy - h // 2, w, h)
        x += inset
        p.panel(self.cue_rect, PANEL, h // 2, opacity)
        disc = p.shape(dot, dot, dot / 2, ACCENT)
        if state == "thinking":  # three dots rippling left to right
            for i in range(3):
                wave = 0.5 + 0.5 * math.sin(2 * math.pi * t / 1.2 - i * 1.2)
                draw(disc, x + i * (dot + gap), cy - dot // 2 - round(dot * 0.4 * wave), opacity * (0.35 + 0.65 * wave))
            return
        inviting = state in (VisitorState.IDLE, VisitorState.FOLLOW_UP)
        pulse = 0.5 + 0.5 * math.sin(2 * math.pi * t / 2.4) if inviting else 1.0  # a gentle invitation
        draw(disc, x, cy - dot // 2, opacity * (0.35 + 0.65 * pulse))
        draw(label, x + dot + gap, cy - p.size(label)[1] // 2, opacity * (0.82 + 0.18 * pulse))
        if state == "listening":
            x += dot + 2 * gap + p.size(label)[0]
            self.meter_rect = (x, cy - meter_h // 2, meter_w, meter_h)
            for i, shape in enumerate((0.55, 0.8, 1.0, 0.8, 0.55)):
                wiggle = 0.85 + 0.15 * math.sin(9 * t + 1.7 * i)  # alive, without hiding the level itself
                bh = max(bar, round(meter_h * min(1.0, 1.2 * self._level * shape * wiggle)))
                self.backend.fill((x + i * round(bar * 1.9), cy - bh // 2, bar, bh), (*ACCENT, round(255 * opacity)))

    def _cue_place(self, w: int) -> tuple[int, int]:
        """(left, centre y) of a cue pill w wide: beside the buttons, centred unless they are near; on a row of
        its own above them when the widest cue would not fit beside them (a portrait screen)."""
        L, h = self.layout, self._cue_sizes.height
        row = min((b.rect for b in self.buttons), key=lambda r: r[0])  # the leftmost button
        if self._cue_above():
            return (L.size[0] - w) // 2, row[1] - L.pad - h // 2
        cx = min(L.size[0] // 2, row[0] - L.pad - w // 2)
        return max(L.margin, cx - w // 2), row[1] + row[3] // 2

    def _cue_above(self) -> bool:
        """Whether the widest cue (the prompt, or "Listening…" and the meter) would run into the buttons."""
        L, p, c = self.layout, self.painter, self._cue_sizes
        label = max(p.width(self.prompt, L.cue_px), p.width("Listening…", L.cue_px) + c.gap + c.meter_w)
        return L.margin + c.dot + c.gap + label + 2 * c.inset > min(b.rect[0] for b in self.buttons) - L.pad

    def _buttons(self, listening: float) -> None:
        L, p, icon = self.layout, self.painter, round(self.layout.button * 0.5)
        if listening > 0.004 and self.talk_rect:  # a halo around the talk button that breathes with the voice
            (x, y, w, h), e = self.talk_rect, round(L.button * 0.12)
            halo = p.shape(w + 2 * e, h + 2 * e, h / 2 + e, (*ACCENT, 80))
            self.backend.draw(halo, x - e, y - e, listening * (0.3 + 0.7 * self._level))
        for button in self.buttons:
            (x, y, w, h), fill, ink = button.rect, ACCENT if button.primary else PANEL, INK if button.primary else WHITE
            self.backend.draw(p.shape(w, h, h / 2, fill), x, y)
            self.backend.draw(p.icon(button.icon, icon, ink), x + round(h * 0.3), y + (h - icon) // 2)
            label = p.text(button.label, L.cue_px, ink)
            self.backend.draw(label, x + round(h * 0.4) + icon, y + (h - p.size(label)[1]) // 2)
