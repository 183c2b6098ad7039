"""The overlay and the on-screen keyboard, rendered for real through the headless PygameBackend."""

from __future__ import annotations

import os
import typing
from collections import Counter
from itertools import combinations
from pathlib import Path
from typing import Any

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import numpy as np  # noqa: E402
import pygame  # noqa: E402
import pytest  # noqa: E402

from kiosk.avatar.backend_pygame import PygameBackend  # noqa: E402
from kiosk.avatar.keyboard import KeyboardResult, OnScreenKeyboard, question_event, tap_event  # noqa: E402
from kiosk.avatar.overlay import (  # noqa: E402
    CAPTION_PANEL,
    DEFAULT_ATTRACT,
    NO_MICROPHONE,
    TYPE_PROMPT,
    Layout,
    Overlay,
    ends_sentence,
)
from kiosk.avatar.painter import ACCENT, DIM, INK, NO_LINE_START, SOFT, WHITE, Painter  # noqa: E402
from kiosk.events import Heard, ListenEvent, Wake  # noqa: E402

SIZE = (1280, 720)
BG = (96, 110, 124)  # a mid-tone stand-in for the avatar
PREVIEW = Path("/tmp/overlay-preview.png")
LONG = ("Badges are handed out at the front desk in building A from half past eight on your first morning, so "
        "bring a photo ID, your signed contract and the welcome letter, and ask for the onboarding coordinator, "
        "who will walk you to your desk, set up your laptop and introduce you to the rest of the team.")
CJK = ("新入社員の皆さん、ようこそ。受付は一階の正面玄関にあり、社員証は初日の朝九時から受け取れます。"
       "写真付きの身分証明書をお持ちください。")


@pytest.fixture(scope="module")
def backend() -> PygameBackend:
    return PygameBackend(SIZE)


@pytest.fixture
def overlay(backend: PygameBackend) -> Overlay:
    return Overlay(backend, SIZE)


@pytest.fixture
def keyboard(backend: PygameBackend) -> OnScreenKeyboard:
    kb = OnScreenKeyboard(backend, SIZE)
    kb.open()
    return kb


def frame(backend: PygameBackend, *layers: Any, t: float = 1.0) -> np.ndarray:
    backend.clear(BG)
    for layer in layers:
        layer.draw(t)
    return backend.snapshot()


def count(snap: np.ndarray, colour: tuple[int, ...], rect: tuple[int, int, int, int] | None = None,
          tol: int = 0) -> int:
    if rect:
        x, y, w, h = rect
        snap = snap[y:y + h, x:x + w]
    return int((np.abs(snap.astype(int) - colour[:3]).max(axis=2) <= tol).sum())


def shows(snap: np.ndarray, painter: Painter, text: str, px: int, colour: tuple[int, int, int]) -> bool:
    """Whether `text` is drawn in `colour` at full opacity somewhere in the frame: every fully inked pixel of
    the text, rasterized alone, is found at one offset with exactly that colour (whatever lies behind it)."""
    ink = pygame.surfarray.pixels_alpha(painter.text(text, px, colour)).T == 255
    ys, xs = np.nonzero(ink)
    h, w = ink.shape
    for y, x in np.argwhere(np.all(snap == colour, axis=2)):
        oy, ox = y - ys[0], x - xs[0]
        inside = 0 <= oy <= snap.shape[0] - h and 0 <= ox <= snap.shape[1] - w
        if inside and np.all(snap[oy + ys, ox + xs] == colour):
            return True
    return False


def tap(kb: OnScreenKeyboard, name: str) -> KeyboardResult | None:
    x, y, w, h = kb.key(name).rect
    return kb.press(x + w // 2, y + h // 2)


class Counting:
    """A backend proxy that counts the calls made through it."""

    def __init__(self, inner: PygameBackend) -> None:
        self.inner, self.calls, self.size, self.name = inner, Counter(), inner.size, inner.name

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return attr(*args, **kwargs)
        return counted


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720)])
def test_sizes_scale_with_the_screen(backend: PygameBackend, size: tuple[int, int]) -> None:
    L, h = Layout.for_size(size), size[1]
    assert L.caption_min_px >= 0.045 * h and L.caption_px >= L.caption_min_px
    assert L.button >= 0.09 * h and L.text_width <= 0.8 * size[0]
    ov = Overlay(backend, size)
    (tx, ty, tw, th), (kx, _, kw, kh) = ov.talk_rect, ov.keyboard_rect
    assert th >= 0.09 * h and kh >= 0.09 * h and tw >= th
    assert kx + kw < tx and tx + tw <= size[0] and ty + th <= h  # side by side, on screen
    kb = OnScreenKeyboard(backend, size)
    letters = [k for k in kb.layout.keys if k.name in "qwertyuiopasdfghjklzxcvbnm"]
    assert all(k.rect[1] >= h / 2 and k.rect[3] >= 0.07 * h for k in letters)  # big keys, lower half
    for a, b in combinations(kb.layout.keys, 2):
        ax, ay, aw, ah = a.rect
        bx, by, bw, bh = b.rect
        assert ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay, (a.name, b.name)


def test_answer_caption_is_drawn_in_its_panel(backend: PygameBackend, overlay: Overlay) -> None:
    before = frame(backend, overlay)
    assert overlay.caption_rect is None
    overlay.answer_sentence("Badges are handed out at the front desk.", "Onboarding handbook")
    after = frame(backend, overlay)
    rect = overlay.caption_rect
    assert rect is not None and overlay.answer.px >= 0.045 * SIZE[1]
    assert count(before, WHITE, rect) == 0 and count(after, WHITE, rect) > 300
    assert count(after, ACCENT, rect) > 30  # "Source: Onboarding handbook"
    assert overlay.source.lines == ("Source: Onboarding handbook",)
    overlay.clear_captions()
    assert count(frame(backend, overlay), WHITE, rect) == 0 and overlay.caption_rect is None


def test_long_answers_wrap_to_three_lines_within_the_width(overlay: Overlay) -> None:
    L, p = overlay.layout, overlay.painter
    overlay.answer_sentence(LONG)
    assert 1 < len(overlay.answer.lines) <= 3 and overlay.answer.lines[-1].endswith("…")
    assert overlay.answer.px >= L.caption_min_px
    assert all(p.width(line, overlay.answer.px) <= L.text_width for line in overlay.answer.lines)
    lines = p.wrap(LONG, 30, 400, max_lines=99)  # nothing cut: every word kept, in order
    assert " ".join(lines) == LONG and all(p.width(line, 30) <= 400 for line in lines)
    assert p.wrap("Antidisestablishmentarianism" * 3, 30, 200, 99)[0] != "Antidisestablishmentarianism" * 3


def test_cjk_wraps_between_characters(overlay: Overlay) -> None:
    p = overlay.painter
    lines = p.wrap(CJK, 40, 500, max_lines=99)
    assert len(lines) > 2 and "".join(lines) == CJK
    assert all(p.width(line, 40) <= 500 for line in lines)
    assert not any(line[0] in NO_LINE_START for line in lines)  # "。" and "、" stay with their sentence
    overlay.answer_sentence(CJK * 3)
    assert len(overlay.answer.lines) <= 3
    assert all(p.width(line, overlay.answer.px) <= overlay.layout.text_width for line in overlay.answer.lines)


def test_partial_words_are_dimmer_than_final_ones(backend: PygameBackend, overlay: Overlay) -> None:
    overlay.answer_sentence("An old answer.")
    overlay.visitor_partial("where is the")
    partial = frame(backend, overlay)
    assert overlay.answer is None and overlay.visitor.lines == ("where is the…",)
    assert count(partial, DIM, overlay.caption_rect) > 50 and count(partial, SOFT, overlay.caption_rect) == 0
    overlay.visitor_final("where is the canteen?")
    final = frame(backend, overlay)
    assert count(final, SOFT, overlay.caption_rect) > 50 and count(final, DIM, overlay.caption_rect) == 0
    overlay.answer_sentence("On the second floor.")
    assert overlay.visitor.lines == ("where is the canteen?",)  # the question stays above its answer


def test_level_meter_grows_with_the_level_and_decays(backend: PygameBackend) -> None:
    lit = []
    for level in (0.1, 0.5, 1.0):
        ov = Overlay(backend, SIZE)
        ov.set_state("listening", 0.0)
        ov.set_level(level)
        lit.append(count(frame(backend, ov, t=1.0), ACCENT, ov.meter_rect, tol=3))
    assert lit[0] < lit[1] < lit[2]
    assert count(frame(backend, ov, t=2.0), ACCENT, ov.meter_rect, tol=3) < lit[2]  # no new level: it sinks


def test_each_state_has_its_own_cue_and_fades(backend: PygameBackend) -> None:
    snaps = {}
    for state in ("idle", "listening", "thinking", "speaking"):
        ov = Overlay(backend, SIZE)
        ov.set_state(state, 0.0)
        snaps[state] = frame(backend, ov, t=1.0)
    for a, b in combinations(snaps, 2):
        assert not np.array_equal(snaps[a], snaps[b]), (a, b)
    ov = Overlay(backend, SIZE)
    ov.set_state("thinking", 0.0)
    halfway = frame(backend, ov, t=0.15)
    assert not np.array_equal(halfway, snaps["idle"]) and not np.array_equal(halfway, frame(backend, ov, t=1.0))
    with pytest.raises(ValueError):
        ov.set_state("dancing", 1.0)


def test_buttons_are_hit(overlay: Overlay) -> None:
    x, y, w, h = overlay.talk_rect
    assert overlay.hit(x + w // 2, y + h // 2) == "tap"
    x, y, w, h = overlay.keyboard_rect
    assert overlay.hit(x + 4, y + h // 2) == "keyboard"
    assert overlay.hit(5, 5) is None and overlay.hit(SIZE[0] // 2, SIZE[1] // 3) is None
    overlay.reserve_bottom(300)  # the keyboard is open: the buttons are hidden
    assert overlay.hit(x + 4, y + h // 2) is None


def test_notice_banner(backend: PygameBackend, overlay: Overlay) -> None:
    top = (0, 0, SIZE[0], SIZE[1] // 8)
    assert count(frame(backend, overlay), WHITE, top) == 0
    overlay.notice("Microphone disconnected — tap to type your question")
    assert count(frame(backend, overlay), WHITE, top) > 100
    overlay.notice(None)
    assert count(frame(backend, overlay), WHITE, top) == 0


PEAK = 0.6  # the idle prompt's pulse at its peak: drawn at full opacity, so its pixels are exact


def test_without_a_microphone_the_prompt_and_buttons_offer_typing(backend: PygameBackend, overlay: Overlay) -> None:
    """Issue 11: the banner said "tap Type" while the prompt said "Say 'Hey coach'" and "Tap to talk" stayed."""
    L, p = overlay.layout, overlay.painter
    talk = overlay.talk_rect
    voice = frame(backend, overlay, t=PEAK)
    assert shows(voice, p, DEFAULT_ATTRACT, L.cue_px, WHITE) and shows(voice, p, "Tap to talk", L.cue_px, INK)
    overlay.set_voice(False)
    overlay.notice(NO_MICROPHONE)
    typed = frame(backend, overlay, t=PEAK)
    assert overlay.prompt == TYPE_PROMPT and overlay.talk_rect is None
    assert shows(typed, p, TYPE_PROMPT, L.cue_px, WHITE) and shows(typed, p, NO_MICROPHONE, L.small_px, WHITE)
    assert not shows(typed, p, DEFAULT_ATTRACT, L.cue_px, WHITE) and not shows(typed, p, "Tap to talk", L.cue_px, INK)
    assert shows(typed, p, "Type", L.cue_px, INK)  # Type is the accent button now, in the talk button's place
    assert overlay.hit(talk[0] + talk[2] // 2, talk[1] + talk[3] // 2) == "keyboard"
    assert all(overlay.hit(x, y) != "tap" for x in range(0, SIZE[0], 8) for y in range(SIZE[1] // 2, SIZE[1], 8))
    overlay.set_voice(True)  # the microphone is back: so are the wake phrase and the talk button
    overlay.notice(None)
    back = frame(backend, overlay, t=PEAK)
    assert np.array_equal(back, voice) and overlay.hit(talk[0] + 4, talk[1] + 4) == "tap"


def overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720), (1080, 1920), (720, 1280)])
@pytest.mark.parametrize("voice", [True, False], ids=["microphone", "no-microphone"])
def test_the_prompt_is_never_hidden_by_the_buttons_or_the_captions(size: tuple[int, int], voice: bool) -> None:
    """On a portrait screen the voice prompt ran under the Type button ("...or tap to ta" [Type])."""
    backend = PygameBackend(size)
    for state in ("idle", "listening"):
        ov = Overlay(backend, size)
        ov.set_voice(voice)
        ov.set_state(state, 0.0)
        ov.visitor_final("Where do I pick up my badge?")
        frame(backend, ov, t=PEAK)
        assert not any(overlaps(ov.cue_rect, b.rect) for b in ov.buttons), (state, ov.cue_rect)
        assert not overlaps(ov.cue_rect, ov.caption_rect) and ov.cue_rect[0] >= 0
        assert ov.cue_rect[0] + ov.cue_rect[2] <= size[0]


def test_a_sentence_arriving_in_chunks_grows_one_caption(overlay: Overlay) -> None:
    """Issue 11: the first chunk of a sentence is cut at a clause for early speech; its caption must not be
    replaced by the rest ("bring a photo ID ..." alone, starting mid-sentence)."""
    overlay.answer_chunk("New starters pick up their badge from 8:00,")
    overlay.answer_chunk("bring a photo ID and the welcome letter.")
    assert " ".join(overlay.answer.lines) == "New starters pick up their badge from 8:00, bring a photo ID and the " \
                                             "welcome letter."
    overlay.answer_chunk("The canteen is on the second floor.")  # a new sentence: a new caption
    assert overlay.answer.lines == ("The canteen is on the second floor.",)
    overlay.answer_chunk("It opens at 11:30;")
    overlay.end_answer()  # the turn ended (or was cut short): the next answer does not continue this caption
    overlay.answer_chunk("Hello again.")
    assert overlay.answer.lines == ("Hello again.",)
    overlay.answer_chunk("Where")
    overlay.visitor_final("wait, what?")  # a new question drops the unfinished sentence too
    overlay.answer_chunk("Sure.")
    assert overlay.answer.lines == ("Sure.",)


@pytest.mark.parametrize("text,ends", [("bring a photo ID.", True), ("Really?", True), ('He said "Stop!"', True),
                                       ("(see room 2.14.)", True), ("and so on…", True), ("受付は一階です。", True),
                                       ("from 8:00,", False), ("it opens at 11:30;", False), ("Badges –", False),
                                       ("the front desk in building A and", False), ("*Step 3:*", False)])
def test_ends_sentence(text: str, ends: bool) -> None:
    assert ends_sentence(text) is ends


def test_captions_from_the_real_chunker_always_start_a_sentence(overlay: Overlay) -> None:
    from kiosk.answer.sentences import SentenceChunker

    sentences = ["New starters pick up their badge from 8:00 at the front desk in building A, and they bring a "
                 "photo ID.", "The canteen on the second floor opens at 11:30.", "Ask the coordinator if you get lost!"]
    chunker = SentenceChunker()
    chunks = [c for piece in " ".join(sentences).split(" ") for c in chunker.feed(piece + " ")] + chunker.flush()
    assert len(chunks) > len(sentences)  # the first sentence was really cut early
    shown = []
    for chunk in chunks:
        overlay.answer_chunk(chunk)
        shown.append(" ".join(overlay.answer.lines))
        assert any(s.startswith(shown[-1]) for s in sentences), shown[-1]
    assert [s for s in sentences if s in shown] == sentences  # and each is shown whole in the end


def test_caption_panel_is_opaque(backend: PygameBackend, overlay: Overlay) -> None:
    """Issue 11: the avatar's badge showed through the translucent caption panel."""
    overlay.answer_sentence("Badges are handed out at the front desk.")
    snaps = []
    for bg in ((255, 0, 255), (0, 255, 0)):
        backend.clear(bg)
        overlay.draw(1.0)
        snaps.append(backend.snapshot())
    x, y, w, h = overlay.caption_rect
    r = overlay.layout.radius  # the rounded corners' antialiased edge is all that may differ
    inner = (slice(y + r, y + h - r), slice(x + r, x + w - r))
    assert np.array_equal(snaps[0][inner], snaps[1][inner])
    assert count(snaps[0], CAPTION_PANEL, (x + r, y + r, w - 2 * r, h - 2 * r)) > 0.5 * (w - 2 * r) * (h - 2 * r)


def test_steady_frames_only_draw(backend: PygameBackend) -> None:
    proxy = Counting(backend)
    ov, kb = Overlay(proxy, SIZE), OnScreenKeyboard(proxy, SIZE)
    ov.set_state("listening", 0.0)
    ov.notice("Microphone disconnected")
    ov.visitor_final("where is the canteen?")
    ov.answer_sentence("On the second floor, next to the library.", "Office map")
    kb.open()
    kb.type_key("h")
    for t in (1.0, 1.1):
        ov.set_level(0.5)
        ov.draw(t)
        kb.draw(t)
    proxy.calls.clear()
    ov.set_level(0.6)
    ov.draw(1.2)
    kb.draw(1.2)
    assert set(proxy.calls) <= {"draw", "fill", "image_size"}, proxy.calls


def test_keyboard_types_a_question_and_asks(keyboard: OnScreenKeyboard) -> None:
    for ch in "where is the canteen?":
        assert tap(keyboard, "space" if ch == " " else ch) is None
    assert keyboard.text == "where is the canteen?"
    assert tap(keyboard, "ask") == KeyboardResult("submit", "where is the canteen?")
    assert not keyboard.is_open and keyboard.text == ""
    assert tap(keyboard, "a") is None  # closed: presses do nothing


def test_keyboard_shift_caps_and_backspace(keyboard: OnScreenKeyboard) -> None:
    for name in ("shift", "h", "i"):
        tap(keyboard, name)
    assert keyboard.text == "Hi"  # shift lasts one letter
    tap(keyboard, "backspace")
    assert keyboard.text == "H"
    for name in ("shift", "shift", "o", "k", "shift", "x"):  # twice: caps lock, a third time: off
        tap(keyboard, name)
    assert keyboard.text == "HOKx"
    assert keyboard.press(2, 2) is None and keyboard.text == "HOKx"  # outside the keys


def test_keyboard_empty_text_does_not_submit_and_close_cancels(keyboard: OnScreenKeyboard) -> None:
    tap(keyboard, "space")
    assert tap(keyboard, "ask") is None and keyboard.is_open
    assert tap(keyboard, "close") == KeyboardResult("cancel") and not keyboard.is_open


def test_physical_keys(keyboard: OnScreenKeyboard) -> None:
    for key in [*"Where's", "space", *"lunch?", "backspace", "left shift", "f1"]:
        assert keyboard.type_key(key) is None
    assert keyboard.text == "Where's lunch"
    assert keyboard.type_key("return") == KeyboardResult("submit", "Where's lunch")
    keyboard.open()
    keyboard.type_key("x")
    assert keyboard.type_key("escape") == KeyboardResult("cancel")
    assert keyboard.type_key("y") is None and keyboard.text == ""


def test_keyboard_draws_the_text_line(backend: PygameBackend, keyboard: OnScreenKeyboard) -> None:
    field = keyboard.layout.field
    empty = frame(backend, keyboard)
    for ch in "hello":
        keyboard.type_key(ch)
    typed = frame(backend, keyboard)
    assert count(empty, WHITE, field) == 0 and count(typed, WHITE, field) > 50
    keyboard.close()
    assert count(frame(backend, keyboard), BG) == SIZE[0] * SIZE[1]  # closed: nothing drawn


def test_typed_questions_and_taps_are_the_listeners_events() -> None:
    from kiosk.listen.listener import Listener

    event = question_event("where is the canteen?", 3.5)
    assert event == Heard(t=3.5, text="where is the canteen?", engine="keyboard", words=())
    asr_final = typing.get_args(typing.get_type_hints(Listener._question)["return"])[0]
    assert type(event) is asr_final is Heard and Heard in typing.get_args(ListenEvent)
    assert tap_event(2.0) == Wake(2.0, "tap")


def test_preview_frame() -> None:
    """One 1080p frame with captions, a notice and the keyboard open, written for a human to look at."""
    from kiosk.avatar.face import load_rgba

    size = (1920, 1080)
    backend = PygameBackend(size)
    backend.clear((215, 227, 234))
    pack = Path(__file__).resolve().parents[1] / "kiosk/avatar/builtin/ava"
    for name in ("body", "head", "eyes", "pupils", "brows_neutral", "mouth_sil_smile"):
        if (pack / f"{name}.png").is_file():
            layer = backend.resized(backend.image(load_rgba(pack / f"{name}.png")), (size[1], size[1]))
            backend.draw(layer, (size[0] - size[1]) // 2, 0)
    ov, kb = Overlay(backend, size), OnScreenKeyboard(backend, size)
    ov.set_state("speaking", 0.0)
    ov.notice("Microphone disconnected — tap to type your question")
    ov.visitor_final("Where do I pick up my badge?")
    ov.answer_sentence("Badges are handed out at the front desk in building A from 8:30; bring a photo ID.",
                       "Onboarding handbook")
    kb.open()
    for ch in "Where is the canteen":
        kb.type_key("space" if ch == " " else ch)
    ov.reserve_bottom(kb.top)
    ov.draw(1.0)
    kb.draw(1.0)
    pygame.image.save(backend.screen, str(PREVIEW))
    assert PREVIEW.stat().st_size > 10_000


def test_the_text_cache_is_bounded_by_pixels_not_only_by_count() -> None:
    """The soak found resident memory climbing ~40 MB per 100 turns: every answer's caption lines are new text,
    and 512 cached full-width lines at 1080p are ~230 MB. The cache now also keeps to a byte budget."""
    from kiosk.avatar.painter import Painter

    backend = PygameBackend((1920, 1080))
    painter = Painter(backend, budget_bytes=4 << 20)
    for n in range(300):  # 300 different caption lines, as 100 answers would bring
        painter.text(f"Answer {n}: the IT help desk is in room B-214 on the second floor of Building B.", 56,
                     (255, 255, 255))
    assert painter._text_bytes <= 4 << 20 and 0 < len(painter._text) < 300
    assert painter._text_bytes == sum(size for _, size in painter._text.values())
    kept = next(reversed(painter._text))  # the newest is kept, and found again without rendering
    assert painter.text(*kept) is painter._text[kept][0]
