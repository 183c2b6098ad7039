"""The drawing-backend contract (kiosk.avatar.drawing.Backend), checked pixel by pixel on every backend.

"pygame" (the CPU backend, headless through SDL's dummy video driver) always runs; "cuda" (the Jetson's
jetson-utils backend) runs where NVIDIA jetson-utils can be imported and is skipped elsewhere; "cuda-fake" and
"cuda-fake-float32" run the CUDA backend on tests/fake_jetson_utils.py (a CPU twin of the jetson-utils calls it
makes, installed as sys.modules["jetson_utils"] for those tests only), the second as builds before 2020 whose
cudaFromNumpy made every image float32.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

SIZE = (64, 48)
TOL = 3

BLUE = (0, 0, 255)
RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLACK = (0, 0, 0)
WHITE = (255, 255, 255)


def install_fake(monkeypatch: pytest.MonkeyPatch, float_uploads: bool = False):  # noqa: ANN201
    """tests/fake_jetson_utils.py as `jetson_utils` for this test only."""
    import fake_jetson_utils

    monkeypatch.setitem(sys.modules, "jetson_utils", fake_jetson_utils)
    monkeypatch.setattr(fake_jetson_utils, "FLOAT_UPLOADS", float_uploads)
    monkeypatch.setattr(fake_jetson_utils, "overlaid_texts", [])
    monkeypatch.setattr(fake_jetson_utils, "_pending", [])  # no kernels left over from another test
    return fake_jetson_utils


def _make(name: str, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN202
    if name == "pygame":
        from kiosk.avatar.backend_pygame import PygameBackend

        return PygameBackend(SIZE, mode="headless")
    if name.startswith("cuda-fake"):
        install_fake(monkeypatch, float_uploads=name.endswith("float32"))
    try:
        import jetson_utils  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"the CUDA backend needs NVIDIA jetson-utils (a Jetson with JetPack); not importable here: {exc}")
    from kiosk.avatar.backend_cuda import CudaBackend

    return CudaBackend(SIZE, mode="headless")


@pytest.fixture(params=["pygame", "cuda", "cuda-fake", "cuda-fake-float32"])
def backend(request, monkeypatch):  # noqa: ANN001, ANN201
    if request.param == "cuda" and sys.modules.get("jetson_utils") is not None:
        assert not hasattr(sys.modules["jetson_utils"], "overlaid_texts"), "the fake leaked into sys.modules"
    return _make(request.param, monkeypatch)


def flat(w: int, h: int, colour: tuple[int, ...]) -> np.ndarray:
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[:, :] = colour if len(colour) == 4 else (*colour, 255)
    return rgba


def over(src: tuple[int, int, int], alpha: float, dst: tuple[int, int, int]) -> np.ndarray:
    """Straight-alpha "over" onto an opaque background."""
    return np.array(src) * alpha + np.array(dst) * (1 - alpha)


def assert_px(frame: np.ndarray, x: int, y: int, expected) -> None:  # noqa: ANN001
    got = frame[y, x].astype(int)
    assert np.all(np.abs(got - np.asarray(expected, float)) <= TOL), f"pixel ({x}, {y}) is {got}, expected {expected}"


def has_colour(region: np.ndarray, colour: tuple[int, int, int], tol: int = 60) -> bool:
    return bool(np.any(np.all(np.abs(region.astype(int) - np.array(colour)) <= tol, axis=-1)))


# -- frame -------------------------------------------------------------------------------------------------------


def test_snapshot_is_rgb_uint8_of_the_backend_size(backend) -> None:  # noqa: ANN001
    assert tuple(backend.size) == SIZE
    backend.clear(BLACK)
    frame = backend.snapshot()
    assert frame.shape == (SIZE[1], SIZE[0], 3)
    assert frame.dtype == np.uint8
    backend.present()  # headless: a no-op


def test_clear_fills_every_pixel(backend) -> None:  # noqa: ANN001
    backend.clear((10, 20, 30))
    frame = backend.snapshot()
    assert np.all(frame == (10, 20, 30))
    backend.clear((200, 150, 100, 0))  # a 4-tuple's alpha is ignored: the frame is opaque
    assert np.all(backend.snapshot() == (200, 150, 100))
    assert np.all(frame == (10, 20, 30)), "a snapshot is a copy, not a view of the frame"


# -- images ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("array", [
    np.zeros((4, 4, 3), np.uint8),
    np.zeros((4, 4), np.uint8),
    np.zeros((4, 4, 4, 1), np.uint8),
    np.zeros((4, 4, 4), np.float32),
    np.zeros((4, 4, 4), np.uint16),
], ids=["rgb", "gray", "4d", "float32", "uint16"])
def test_image_rejects_wrong_shapes_and_dtypes(backend, array: np.ndarray) -> None:  # noqa: ANN001
    with pytest.raises(ValueError):
        backend.image(array)


def test_image_size(backend) -> None:  # noqa: ANN001
    assert backend.image_size(backend.image(flat(7, 5, RED))) == (7, 5)


def test_opaque_draw_covers_exactly_its_rect(backend) -> None:  # noqa: ANN001
    backend.clear(BLUE)
    backend.draw(backend.image(flat(10, 6, RED)), 5, 7)
    frame = backend.snapshot()
    for x, y in ((5, 7), (14, 7), (5, 12), (14, 12), (9, 9)):
        assert_px(frame, x, y, RED)
    for x, y in ((4, 7), (15, 7), (5, 6), (5, 13), (14, 13), (0, 0), (63, 47)):
        assert_px(frame, x, y, BLUE)


def test_straight_alpha_over(backend) -> None:  # noqa: ANN001
    rgba = flat(8, 8, (255, 0, 0, 128))
    rgba[:, 4:] = (200, 100, 50, 64)
    rgba[6:, :] = (0, 255, 0, 0)  # fully transparent, whatever its colour
    backend.clear(BLUE)
    backend.draw(backend.image(rgba), 10, 10)
    frame = backend.snapshot()
    assert_px(frame, 11, 11, over(RED, 128 / 255, BLUE))
    assert_px(frame, 16, 11, over((200, 100, 50), 64 / 255, BLUE))
    assert_px(frame, 11, 17, BLUE)
    backend.clear((20, 40, 60))
    backend.draw(backend.image(rgba), 10, 10)
    assert_px(backend.snapshot(), 16, 12, over((200, 100, 50), 64 / 255, (20, 40, 60)))


def test_opacity_scales_the_alpha(backend) -> None:  # noqa: ANN001
    red = backend.image(flat(8, 8, RED))
    backend.clear(BLUE)
    backend.draw(red, 0, 0, 0.5)
    assert_px(backend.snapshot(), 3, 3, over(RED, 0.5, BLUE))
    backend.clear(BLUE)
    backend.draw(red, 0, 0, 0.0)
    assert_px(backend.snapshot(), 3, 3, BLUE)
    half = backend.image(flat(8, 8, (255, 0, 0, 128)))
    backend.clear(BLUE)
    backend.draw(half, 0, 0, 0.5)  # per-pixel alpha times opacity
    assert_px(backend.snapshot(), 3, 3, over(RED, 0.5 * 128 / 255, BLUE))
    backend.clear(BLUE)
    backend.draw(red, 0, 0, 1.0)
    assert_px(backend.snapshot(), 3, 3, RED)


def test_a_faded_draw_leaves_the_image_unchanged(backend, request) -> None:  # noqa: ANN001
    # (pygame: restoring with set_alpha(None) used to switch per-pixel alpha off for good.)
    rgba = flat(8, 8, (255, 0, 0, 128))
    rgba[:, 4:] = (0, 255, 0, 0)
    image = backend.image(rgba)
    backend.clear(BLUE)
    backend.draw(image, 0, 0, 0.5)
    backend.clear(BLUE)
    backend.draw(image, 0, 0)
    frame = backend.snapshot()
    assert_px(frame, 1, 1, over(RED, 128 / 255, BLUE))
    assert_px(frame, 6, 1, BLUE)


def test_drawing_partly_or_wholly_off_screen(backend) -> None:  # noqa: ANN001
    red = backend.image(flat(10, 10, RED))
    backend.clear(BLUE)
    backend.draw(red, -5, -5)
    backend.draw(red, 60, 44, 0.5)
    for x, y in ((-20, -20), (100, 100), (-10, 20), (64, 0), (0, 48)):
        backend.draw(red, x, y)
        backend.draw(red, x, y, 0.3)
    frame = backend.snapshot()
    assert_px(frame, 0, 0, RED)
    assert_px(frame, 4, 4, RED)
    assert_px(frame, 5, 5, BLUE)
    assert_px(frame, 63, 47, over(RED, 0.5, BLUE))
    assert_px(frame, 59, 43, BLUE)


# -- fill --------------------------------------------------------------------------------------------------------


def test_fill_opaque_and_with_alpha(backend) -> None:  # noqa: ANN001
    backend.clear(BLUE)
    backend.fill((2, 3, 10, 5), GREEN)
    backend.fill((20, 20, 6, 6), (255, 0, 0, 128))
    backend.fill((30, 30, 4, 4), (255, 255, 255, 255))
    backend.fill((40, 30, 4, 4), (255, 255, 255, 0))
    frame = backend.snapshot()
    assert_px(frame, 2, 3, GREEN)
    assert_px(frame, 11, 7, GREEN)
    assert_px(frame, 12, 7, BLUE)
    assert_px(frame, 11, 8, BLUE)
    assert_px(frame, 1, 3, BLUE)
    assert_px(frame, 22, 22, over(RED, 128 / 255, BLUE))
    assert_px(frame, 26, 22, BLUE)
    assert_px(frame, 31, 31, (255, 255, 255))
    assert_px(frame, 41, 31, BLUE)


def test_fill_partly_off_screen(backend) -> None:  # noqa: ANN001
    backend.clear(BLUE)
    backend.fill((60, 44, 10, 10), GREEN)
    backend.fill((-5, -5, 10, 10), (255, 0, 0, 128))
    for rect in ((-50, -50, 10, 10), (64, 0, 5, 5), (0, 48, 5, 5), (-50, 10, 10, 10)):
        backend.fill(rect, GREEN)
        backend.fill(rect, (255, 0, 0, 128))
    frame = backend.snapshot()
    assert_px(frame, 60, 44, GREEN)
    assert_px(frame, 63, 47, GREEN)
    assert_px(frame, 59, 43, BLUE)
    assert_px(frame, 0, 0, over(RED, 128 / 255, BLUE))
    assert_px(frame, 4, 4, over(RED, 128 / 255, BLUE))
    assert_px(frame, 5, 5, BLUE)
    assert_px(frame, 0, 10, BLUE)


def test_an_opaque_fill_left_of_or_above_the_screen_is_clipped(backend, request) -> None:  # noqa: ANN001
    # (pygame's Surface.fill moves a negative x/y to 0 without shortening the rect: the backend clips first.)
    backend.clear(BLUE)
    backend.fill((-5, -5, 10, 10), GREEN)
    backend.fill((-3, 20, 6, 4), (255, 0, 0, 255))
    frame = backend.snapshot()
    assert_px(frame, 0, 0, GREEN)
    assert_px(frame, 4, 4, GREEN)
    assert_px(frame, 5, 5, BLUE)
    assert_px(frame, 2, 21, RED)
    assert_px(frame, 3, 21, BLUE)


# -- load-time transforms ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("source,target", [((20, 10), (7, 13)), ((40, 40), (8, 8)), ((5, 5), (30, 30)),
                                           ((20, 20), (20, 15))])
def test_resized_has_the_size_and_keeps_a_flat_colour(backend, source, target) -> None:  # noqa: ANN001
    colour = (30, 160, 90)
    image = backend.resized(backend.image(flat(*source, colour)), target)
    assert backend.image_size(image) == target
    backend.clear(BLACK)
    backend.draw(image, 1, 1)
    frame = backend.snapshot()
    for x, y in ((1, 1), (target[0], 1), (1, target[1]), (target[0], target[1]), (1 + target[0] // 2, 1)):
        got = frame[y, x].astype(int)
        # 5, not 3: pygame's smoothscale loses about 1 % when it shrinks by more than 2 (alpha 253 and
        # colour - 2 on a flat opaque image).
        assert np.all(np.abs(got - colour) <= 5), f"pixel ({x}, {y}) is {got}, expected {colour}"
    assert_px(frame, target[0] + 1, 1, BLACK)
    assert_px(frame, 1, target[1] + 1, BLACK)


def _marked(w: int, h: int) -> np.ndarray:
    """Blue, with a 4 x 4 red marker in its top-left corner."""
    rgba = flat(w, h, BLUE)
    rgba[:4, :4] = (*RED, 255)
    return rgba


def test_rotated_90_degrees_counter_clockwise(backend) -> None:  # noqa: ANN001
    image = backend.rotated(backend.image(_marked(20, 10)), 90)
    w, h = backend.image_size(image)
    assert h >= 19 and w >= 10 and h > w, (w, h)
    backend.clear(GREEN)
    backend.draw(image, 0, 0)
    frame = backend.snapshot()
    assert_px(frame, 1, h - 2, RED)  # top-left went to bottom-left
    assert_px(frame, 2, 2, BLUE)
    assert_px(frame, 7, h - 2, BLUE)
    assert not has_colour(frame[: h // 2], RED), "the marker left the top half"


def test_rotated_90_degrees_clockwise(backend) -> None:  # noqa: ANN001
    image = backend.rotated(backend.image(_marked(20, 10)), -90)
    w, h = backend.image_size(image)
    assert h > w
    backend.clear(GREEN)
    backend.draw(image, 0, 0)
    frame = backend.snapshot()
    assert_px(frame, w - 3, 1, RED)  # top-left went to top-right
    assert not has_colour(frame[h // 2 : h], RED)
    assert not has_colour(frame[:h, : w // 2], RED)


def test_rotated_by_a_small_angle_grows_the_canvas(backend) -> None:  # noqa: ANN001
    image = backend.rotated(backend.image(flat(20, 10, RED)), 3)
    w, h = backend.image_size(image)
    assert w > 20 and h > 10
    assert w <= 24 and h <= 14
    backend.clear(BLUE)
    backend.draw(image, 5, 5)
    frame = backend.snapshot()
    assert_px(frame, 5 + w // 2, 5 + h // 2, RED)
    assert_px(frame, 5, 5, BLUE)  # the grown corners are transparent
    assert_px(frame, 5 + w - 1, 5 + h - 1, BLUE)


# -- text --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("caption", ["Hello kiosk", "Grüße"])
def test_text_is_a_drawable_image_in_the_colour(backend, caption: str) -> None:  # noqa: ANN001
    image = backend.text(caption, 24, (255, 40, 0))
    w, h = backend.image_size(image)
    assert w >= 20 and 10 <= h <= 60, (w, h)
    backend.clear(BLACK)
    backend.draw(image, 2, 2)
    frame = backend.snapshot()
    assert has_colour(frame[2 : 2 + h, 2 : 2 + w], (255, 40, 0), tol=30)
    assert not frame[2 + h :].any() and not frame[:, 2 + w :].any(), "nothing is drawn outside the image"
    assert not frame[:2].any() and not frame[:, :2].any()


def test_screen_mode_auto() -> None:
    from kiosk.avatar.backend import choose_mode

    assert choose_mode("auto", appliance=True, env={}) == "fullscreen"
    assert choose_mode("auto", appliance=False, env={"DISPLAY": ":0"}) == "window"
    assert choose_mode("auto", appliance=False, env={}) == "headless"
    assert choose_mode("window", appliance=True, env={}) == "window"


def test_open_backend_falls_back_to_pygame_without_jetson_utils() -> None:
    from kiosk.avatar.backend import open_backend
    from kiosk.config import ScreenSettings

    backend = open_backend(ScreenSettings(mode="headless", width=640, height=360))
    assert backend.name == "pygame" and backend.size == (640, 360) and backend.fallback is None  # a desktop
    asked = open_backend(ScreenSettings(mode="headless", backend="cuda"))  # asked for, absent: said, not fatal
    assert asked.name == "pygame" and asked.fallback is not None and "jetson-utils" in asked.fallback


def test_open_backend_falls_back_to_pygame_when_cuda_fails_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 14: only an ImportError fell back; a CUDA, GL or X error at start-up crash-looped the service."""
    import types

    from kiosk.avatar.backend import open_backend
    from kiosk.config import ScreenSettings

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("cudaMallocManaged failed: CUDA driver version is insufficient for CUDA runtime")

    fake = types.ModuleType("jetson_utils")
    fake.cudaFromNumpy = broken  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "jetson_utils", fake)
    backend = open_backend(ScreenSettings(mode="headless", backend="auto", width=320, height=240))
    assert backend.name == "pygame" and backend.fallback is not None
    assert "failed to start" in backend.fallback and "CUDA driver version" in backend.fallback


# -- input -------------------------------------------------------------------------------------------------------


def test_poll_input_returns_typed_events_and_never_blocks(backend) -> None:  # noqa: ANN001
    from kiosk.avatar.inputs import InputEvent

    events = backend.poll_input()  # (pygame: may drain what earlier tests left in the queue)
    assert isinstance(events, list) and all(isinstance(ev, InputEvent) for ev in events)
    assert backend.poll_input() == []  # headless, nothing happened since


def test_pygame_input_comes_out_typed() -> None:
    """pygame's events through PygameBackend.poll_input (SDL's dummy driver): taps, touches, keys, quit."""
    import pygame

    from kiosk.avatar.backend_pygame import PygameBackend
    from kiosk.avatar.inputs import QUIT, InputEvent

    backend = PygameBackend(SIZE, mode="headless")
    backend.poll_input()
    post = pygame.event.post
    post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(5, 6), button=1))
    post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(7, 8), button=3))  # right button: ignored
    post(pygame.event.Event(pygame.FINGERDOWN, x=0.5, y=0.25, touch_id=0, finger_id=0))
    post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_RETURN, unicode="\r", mod=0))
    post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_a, unicode="A", mod=0))
    post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_LSHIFT, unicode="", mod=0))  # no character: ignored
    post(pygame.event.Event(pygame.QUIT))
    assert backend.poll_input() == [InputEvent.tap(5, 6), InputEvent.tap(32, 12), InputEvent.press("return"),
                                    InputEvent.press("A"), QUIT]


class _Source:  # what kiosk.avatar.evdev_input delivers: the touchscreen's taps and the keyboard's keys
    def __init__(self, *batches: list) -> None:
        self.batches, self.stopped = list(batches), False

    def poll(self) -> list:
        return self.batches.pop(0) if self.batches else []

    def stop(self) -> None:
        self.stopped = True


@pytest.mark.parametrize("mode", ["window", "fullscreen"])
def test_the_cuda_backend_takes_taps_from_its_input_source_and_a_closed_window_as_quit(monkeypatch, mode) -> None:  # noqa: ANN001
    """On the fake: display:// has no input of its own, so taps and keys come from the input source; the
    window closed (handled by the next Render, after which a further Render reopens it) is a quit."""
    from kiosk.avatar import backend_cuda
    from kiosk.avatar.inputs import QUIT, InputEvent

    fake = install_fake(monkeypatch)
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(RuntimeError, match="DISPLAY"):
        backend_cuda.CudaBackend(SIZE, mode=mode)
    monkeypatch.setenv("DISPLAY", ":99")
    hiders: list[object] = []
    monkeypatch.setattr(backend_cuda, "PointerHider", lambda: hiders.append(object()) or hiders[-1])
    source = _Source([InputEvent.tap(5, 6)], [InputEvent.press("a")])
    backend = backend_cuda.CudaBackend(SIZE, mode=mode, input_source=source)
    output = backend._output
    assert isinstance(output, fake.videoOutput) and len(hiders) == (mode == "fullscreen")
    assert not [n for n in dir(output) if any(w in n.lower() for w in ("mouse", "key", "event", "input"))]
    backend.clear(BLUE)
    backend.fill((2, 3, 4, 5), RED)
    backend.present()
    assert output.frames == 1 and (output.GetWidth(), output.GetHeight()) == SIZE
    assert np.array_equal(output.last_frame, backend.snapshot())
    assert backend.poll_input() == [InputEvent.tap(5, 6)]
    output.user_closes_window()
    assert output.IsStreaming() and backend.poll_input() == [InputEvent.press("a")]  # not handled before Render
    backend.present()
    backend.present()  # BeginRender's Open() shows the window again: the close must not be lost
    assert output.IsStreaming() and backend.poll_input() == [QUIT]
    assert backend.poll_input() == []
    output.user_closes_window()
    backend.present()
    assert not output.IsStreaming() and backend.poll_input() == [QUIT] and not source.stopped
    backend.close()
    assert source.stopped and backend.poll_input() == [QUIT]  # stopped: no more taps; the window is still shut


def test_cuda_text_on_the_fake_has_pygames_size_and_coverage_at_every_size_and_sends_cudafont_only_ascii(
        monkeypatch) -> None:  # noqa: ANN001
    """cudaFont's size is ascent - descent, not the em; its kernel squares the coverage of light text on dark; its
    launch fails silently past 1024 threads a block (about 35 px); on the Jetson it draws UTF-8 bytes >= 128 as
    Latin-1 glyphs. ASCII text must still match pygame's text (the fake rasterizes with the same FreeType)."""
    import pygame

    from kiosk.avatar.backend_cuda import CudaBackend
    from kiosk.avatar.fonts import font_for

    fake = install_fake(monkeypatch)
    backend = CudaBackend(SIZE, mode="headless")
    if font_for("Hello") is None:
        pytest.skip("no TrueType font installed for cudaFont")
    pygame.font.init()
    for px in (24, 56):  # 56: the 1080p caption, which cudaFont cannot draw
        reference = pygame.surfarray.array_alpha(pygame.font.Font(font_for("Hello"), px).render("Hello", True, WHITE))
        image = backend.text("Hello", px, WHITE)
        alpha = backend._download(image)[:, :, 3].astype(int)
        assert abs(backend.image_size(image)[0] - reference.shape[0]) <= 3
        assert abs(alpha.sum() - reference.sum()) <= 0.02 * reference.sum(), (px, alpha.sum(), reference.sum())
    assert fake.overlaid_texts and all(t.isascii() for t in fake.overlaid_texts)
    backend.text("Grüße", 24, WHITE)
    assert all(t.isascii() for t in fake.overlaid_texts), "non-ASCII text reached cudaFont (mojibake on aarch64)"


def test_the_fake_rejects_what_jetson_utils_rejects(monkeypatch) -> None:  # noqa: ANN001
    """The binding's own checks (PyCUDA.cpp, cudaOverlay.cu, cudaDraw.cu, cudaCrop), which the backend avoids."""
    fake = install_fake(monkeypatch)
    screen, red = fake.cudaAllocMapped(width=8, height=8, format="rgba8"), fake.cudaFromNumpy(flat(4, 4, RED))
    assert red.format == "rgba8" and red.shape == (4, 4, 4)
    for bad in ((-1, 0), (0, -2), (8, 0)):
        with pytest.raises(Exception, match="CUDA error"):
            fake.cudaOverlay(red, screen, *bad)
    with pytest.raises(Exception, match="formats are different"):
        fake.cudaOverlay(fake.cudaAllocMapped(width=4, height=4, format="rgb8"), screen)
    with pytest.raises(Exception, match="CUDA error"):
        fake.cudaDrawRect(screen, (3, 3, 3, 6), (1, 2, 3, 255))
    with pytest.raises(ValueError, match="ROI"):
        fake.cudaCrop(red, screen, (-1, 0, 2, 2))
    with pytest.raises(TypeError):
        fake.cudaFont(font=None, size=20)
    fake.cudaDrawRect(screen, (0, 0, 8, 8), (255, 0, 0))  # a 3-tuple leaves alpha 0: nothing drawn
    fake.cudaOverlay(input=red, output=screen, x=6, y=6)
    fake.cudaDeviceSynchronize()
    assert fake.cudaToNumpy(screen)[0, 0].tolist() == [0, 0, 0, 0]
    assert fake.cudaToNumpy(screen)[7, 7].tolist() == [255, 0, 0, 255] and screen.format == "rgba8"
