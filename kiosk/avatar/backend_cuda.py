"""The Jetson's drawing backend: the `kiosk.avatar.drawing.Backend` contract on the GPU with NVIDIA jetson-utils.

Images are `jetson_utils.cudaImage`s in `rgba8` (straight alpha), allocated in mapped (zero-copy) memory so the
CPU can read them after `cudaDeviceSynchronize()`. The screen is one more rgba8 cudaImage whose alpha stays 255.

What jetson-utils does for us, and where its documented behaviour falls short of the contract (sources: the
"Image Manipulation with CUDA" page, jetson-inference docs/aux-image.md; docs/aux-streaming.md; and the
jetson-utils sources python/bindings/PyCUDA.cpp, PyNumpy.cpp, cuda/cudaOverlay.cu, cudaAlphaBlend.cuh,
cudaDraw.cu, cudaResize.cu, cudaCrop.cu, cudaFont.cu, cudaNormalize.cu):

* `cudaOverlay(input, output, x, y)` alpha-blends rgba8/rgba32f inputs (gpuOverlayAlpha -> cudaAlphaBlend):
  out.rgb = a * in.rgb + (1 - a) * out.rgb with a = in.a / 255, out.a = 255. That is exactly straight-alpha
  "over" onto the opaque screen, so rgba8 suffices (rgba32f would only cost 4x the bandwidth). It has no
  opacity argument, and it rejects x < 0 or y < 0 (cudaErrorInvalidValue -> a Python exception).
  - opacity: the only GPU ops that could scale alpha alone do not exist in the Python API (cudaNormalize
    scales all four channels; cudaOverlay and the newer cudaDrawRect write alpha = 255), and pre-multiplied
    tricks need an "add" or a per-channel scale that jetson-utils lacks. So a faded draw is done exactly:
    a copy of the image with alpha * opacity is made on the CPU through the mapped memory (one pass over the
    image, cached per (image, 1/255 opacity step)), then composited by cudaOverlay like any other image.
  - off-screen: the visible part is cut out with `cudaCrop(input, output, (left, top, right, bottom))` into an
    image of exactly the ROI size (the crop kernel writes with the ROI width as stride).
* `cudaDrawRect(input, (left, top, right, bottom), (r, g, b, a))` blends a filled rectangle in place (right
  and bottom exclusive; a colour alpha of 0 draws nothing). Older builds do not clip negative coordinates, so
  rectangles are clipped here first.
* `cudaResize(input, output)`: the documented Python call takes no filter, and the kernels reviewed sample the
  nearest pixel when shrinking. That is fast (face.py squashes mouth shapes with `resized` every frame), but
  not "high quality" for strong reductions or for enlargements, so those are resampled once on the CPU
  (area average when shrinking, bilinear when enlarging, in pre-multiplied alpha) and uploaded.
* Rotation: jetson-utils has none; `rotated` resamples on the CPU (inverse-mapped bilinear, pre-multiplied)
  onto a canvas grown to fit, then uploads. Load time only.
* `cudaFont(font=path, size=px)` bakes a TTF with stb_truetype; `size` is stb's pixel height (ascent - descent),
  so it gets the size that makes the em `px` pixels, as in pygame. It draws the UTF-8 bytes one glyph each
  (on aarch64, `char` being unsigned, a byte >= 128 is a Latin-1 glyph: only ASCII text goes to it) and
  keeps the destination's alpha. Its kernel weights the colour by the coverage and also blends with alpha =
  coverage, so white on black gives coverage^2 / 255 while black on white gives 255 - coverage: `text` draws
  black on an opaque white canvas and makes 255 - red the alpha of an image in the requested colour, with a
  '|' drawn first so that every string of one font and size shares one baseline and line height (the bar's
  ink is cut off again). The kernel has a thread per pixel of the string's widest x tallest glyph box; past
  1024 the launch fails and is only logged (jetson-utils issue 158: nothing drawn), from about 35 px to the em
  in DejaVu Sans, below the 1080p caption sizes. So each font and size is tried once on all printable ASCII;
  where that draws nothing, and for other text (accents, CJK, Cyrillic), pygame.font draws (a dependency of
  the project already) with the font `kiosk.avatar.fonts.font_for` chooses.
* `present` renders to `videoOutput("display://0")` (an OpenGL window; needs X). There is no documented
  fullscreen or window-title option for it in the Python API, so "fullscreen" opens the same window at the
  requested size: make the kiosk session show it full screen (e.g. the window manager's kiosk mode).
  Nor has it a cursor option, so in "fullscreen" (the kiosk) the X pointer is hidden on the whole screen with
  XFixesHideCursor (`kiosk.avatar.pointer.PointerHider`, X11 through ctypes; X shows it again when the
  process ends); "window" keeps it.
* Input (`poll_input`): the Python binding exposes no input. glDisplay handles its window's X events in C++
  (ProcessEvents, run inside Render: key, mouse button and motion handlers registered with
  AddEventHandler), but the Python `videoOutput` offers only Open/Close/Render/GetWidth/GetHeight/
  GetFrameRate/IsStreaming/SetStatus, and the Python `glDisplay` only IsOpen/IsClosed/ProcessEvents among
  its event methods (python/bindings/PyVideo.cpp, PyGL.cpp). A second X connection cannot listen for
  clicks on that window either (X lets one client select ButtonPress on a window, and glDisplay does).
  What is reported: the window being closed (WM_DELETE_WINDOW, or Escape, which glDisplay turns into a
  close) as `IsStreaming()` turning False -> a quit event, remembered by `present` (Render handles the event,
  and the next Render's Open() makes it stream again). Taps and typing come from the kernel instead
  (`input_source`: kiosk.avatar.evdev_input, which grabs the touchscreen and keyboard, so Escape no
  longer reaches the window either).

Not confirmed (no GPU here, and jetson-utils versions differ): that cudaAlphaBlend has the uchar4 overload
gpuOverlayAlpha<uchar4> needs in the installed version (the copy reviewed shows only the float4 one) and how
it rounds (truncation costs at most 1 level); that old builds' cudaFromNumpy (which always made float32
images) convert to rgba8 through cudaConvertColor as expected; cudaFont.OverlayText's keyword names in the
installed version (image, text, x, y, color, background as in PyCUDA.cpp).
"""

from __future__ import annotations

import logging
import math
import os
from collections import OrderedDict
from typing import Any

import numpy as np

from kiosk.avatar.drawing import Colour, InputSource
from kiosk.avatar.inputs import QUIT, InputEvent
from kiosk.avatar.pointer import PointerHider

log = logging.getLogger(__name__)

_FADE_CACHE = 64  # faded copies kept (a fade draws a new opacity step each frame; a constant weight hits)
_CROP_CACHE = 8  # scratch images for partly off-screen draws, by size
_PRINTABLE = "".join(chr(c) for c in range(33, 127))  # every glyph cudaFont draws that has ink


class CudaBackend:
    """The GPU backend: jetson-utils cudaImages; a display window (X) or headless."""

    name = "cuda"
    fallback: str | None = None  # the configured backend itself: nothing fell back

    def __init__(self, size: tuple[int, int], mode: str = "headless", title: str = "kiosk",
                 input_source: InputSource | None = None) -> None:
        """mode: headless | window | fullscreen (see the module notes on fullscreen). `input_source`: where
        taps and keys come from (this window reports none)."""
        if mode not in ("headless", "window", "fullscreen"):
            raise ValueError(f"mode must be headless, window or fullscreen, not {mode!r}")
        import jetson_utils

        self._ju = jetson_utils
        self.mode = mode
        self.title = title  # videoOutput has no documented title option; kept for parity
        w, h = int(size[0]), int(size[1])
        if w < 1 or h < 1:
            raise ValueError(f"size must be positive, got {size}")
        self.size = (w, h)
        blank = np.zeros((h, w, 4), np.uint8)
        blank[:, :, 3] = 255
        self.screen = self._upload(blank)
        self._output = None
        self._closed = False  # the window was closed since the last poll_input
        self._input = input_source
        if mode != "headless":
            if not os.environ.get("DISPLAY"):
                raise RuntimeError("the CUDA backend's display (jetson-utils display://) needs X: DISPLAY is unset")
            self._output = jetson_utils.videoOutput("display://0")
            if input_source is None:
                log.warning("screen.backend cuda without screen.input = \"evdev\": taps and typing are not read "
                            "(jetson-utils exposes no input to Python); visitors use the wake phrase")
        self._pointer = self._hide_pointer() if mode == "fullscreen" else None
        self._fonts: dict[tuple[str, int], Any] = {}
        self._bars: dict[tuple[str, int], tuple[int, int] | None] = {}
        self._faded: OrderedDict[tuple[int, int], tuple[Any, Any]] = OrderedDict()
        self._crops: OrderedDict[tuple[int, int], Any] = OrderedDict()

    @staticmethod
    def _hide_pointer() -> PointerHider | None:
        try:
            return PointerHider()
        except OSError as error:  # a visible pointer is a blemish, not a reason to stop the kiosk
            log.warning("the mouse pointer stays visible: %s", error)
            return None

    # -- images ----------------------------------------------------------------------------------------------

    def image(self, rgba: np.ndarray) -> Any:
        if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
            raise ValueError(f"expected H x W x 4 uint8, got {rgba.shape} {rgba.dtype}")
        if rgba.shape[0] < 1 or rgba.shape[1] < 1:
            raise ValueError(f"expected a non-empty image, got {rgba.shape}")
        return self._upload(rgba)

    def resized(self, image: Any, size: tuple[int, int]) -> Any:
        tw, th = int(size[0]), int(size[1])
        if tw < 1 or th < 1:
            raise ValueError(f"size must be positive, got {size}")
        w, h = image.width, image.height
        if (tw, th) == (w, h):
            return image
        if w / 2 <= tw <= w and h / 2 <= th <= h:
            # A mild reduction: nearest sampling on the GPU drops at most every other row or column.
            out = self._ju.cudaAllocMapped(width=tw, height=th, format=image.format)
            self._ju.cudaResize(image, out)
            return out
        return self._upload(_resample(self._download(image), tw, th))

    def image_size(self, image: Any) -> tuple[int, int]:
        return int(image.width), int(image.height)

    def rotated(self, image: Any, degrees: float) -> Any:
        if degrees % 360 == 0:
            return image
        return self._upload(_rotate(self._download(image), degrees))

    # -- per frame -------------------------------------------------------------------------------------------

    def clear(self, colour: Colour) -> None:
        r, g, b = colour[:3]
        self._ju.cudaDrawRect(self.screen, (0, 0, self.size[0], self.size[1]), (r, g, b, 255))

    def draw(self, image: Any, x: int, y: int, opacity: float = 1.0) -> None:
        if opacity <= 0.004:  # as PygameBackend: nothing at (nearly) zero opacity
            return
        src = image if opacity >= 0.999 else self._fade(image, opacity)
        x, y = int(x), int(y)
        w, h = src.width, src.height
        left, top = max(x, 0), max(y, 0)
        right, bottom = min(x + w, self.size[0]), min(y + h, self.size[1])
        if right <= left or bottom <= top:
            return
        if (left, top, right, bottom) != (x, y, x + w, y + h):
            src = self._crop(src, (left - x, top - y, right - x, bottom - y))
        self._ju.cudaOverlay(src, self.screen, left, top)

    def fill(self, rect: tuple[int, int, int, int], colour: Colour) -> None:
        x, y, w, h = (int(v) for v in rect)
        left, top = max(x, 0), max(y, 0)
        right, bottom = min(x + w, self.size[0]), min(y + h, self.size[1])
        alpha = colour[3] if len(colour) == 4 else 255
        if right <= left or bottom <= top or alpha <= 0:
            return
        r, g, b = colour[:3]
        self._ju.cudaDrawRect(self.screen, (left, top, right, bottom), (r, g, b, min(alpha, 255)))

    def text(self, text: str, px: int, colour: Colour) -> Any:
        from kiosk.avatar.fonts import font_for

        path = font_for(text)
        if path is not None and all(32 <= ord(ch) < 127 for ch in text):
            font = self._font(path, px)
            if font is not None:
                return self._cuda_text(font, (path, px), text, colour)
        return self._pygame_text(path, text, px, colour)

    def snapshot(self) -> np.ndarray:
        return np.ascontiguousarray(self._download(self.screen)[:, :, :3])

    def present(self) -> None:
        if self._output is not None:
            self._output.Render(self.screen)
            self._closed = self._closed or not self._output.IsStreaming()

    def poll_input(self) -> list[InputEvent]:
        """Taps and keys from the input source, and a quit event once the display window has been closed
        (IsStreaming() False): jetson-utils' Python API exposes no input of its own (see the module notes)."""
        events = self._input.poll() if self._input is not None else []
        if self._output is not None and (self._closed or not self._output.IsStreaming()):
            events.append(QUIT)
            self._closed = False
        return events

    def close(self) -> None:
        """Stops reading input (the window closes with the process)."""
        if self._input is not None:
            self._input.stop()
            self._input = None

    # -- helpers ---------------------------------------------------------------------------------------------

    def _upload(self, rgba: np.ndarray) -> Any:
        """An H x W x 4 uint8 array as an rgba8 cudaImage in mapped memory (a copy)."""
        img = self._ju.cudaFromNumpy(np.ascontiguousarray(rgba, dtype=np.uint8))
        if img.format != "rgba8":  # builds before uint8 support upload float32 (rgba32f), values 0..255
            out = self._ju.cudaAllocMapped(width=img.width, height=img.height, format="rgba8")
            self._ju.cudaConvertColor(img, out)
            img = out
        return img

    def _download(self, image: Any) -> np.ndarray:
        """A copy of a cudaImage's pixels (H x W x 4 uint8), after the GPU's pending work."""
        self._ju.cudaDeviceSynchronize()
        arr = np.array(self._ju.cudaToNumpy(image), copy=True)
        if arr.dtype != np.uint8:
            arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return arr.reshape(image.height, image.width, -1)

    def _fade(self, image: Any, opacity: float) -> Any:
        """`image` with its alpha scaled by opacity (in 1/255 steps, as pygame's per-surface alpha)."""
        level = int(opacity * 255)
        key = (id(image), level)  # the cached entry holds `image`, so its id cannot be reused meanwhile
        hit = self._faded.get(key)
        if hit is not None:
            self._faded.move_to_end(key)
            return hit[1]
        rgba = self._download(image)
        rgba[:, :, 3] = (rgba[:, :, 3].astype(np.uint16) * level + 127) // 255
        faded = self._upload(rgba)
        self._faded[key] = (image, faded)
        if len(self._faded) > _FADE_CACHE:
            self._faded.popitem(last=False)
        return faded

    def _crop(self, image: Any, roi: tuple[int, int, int, int]) -> Any:
        """The ROI (left, top, right, bottom) of `image` as an image of exactly that size."""
        size = (roi[2] - roi[0], roi[3] - roi[1])
        out = self._crops.pop(size, None)
        if out is None:
            out = self._ju.cudaAllocMapped(width=size[0], height=size[1], format=image.format)
        self._crops[size] = out  # reused in stream order: the overlay reading it runs before the next crop
        if len(self._crops) > _CROP_CACHE:
            self._crops.popitem(last=False)
        self._ju.cudaCrop(image, out, roi)
        return out

    def _font(self, path: str, px: int) -> Any:
        """The cudaFont for a font and size; None where pygame draws instead: a font stb_truetype cannot bake,
        or a size whose largest glyphs overflow the glyph kernel's thread block (it would draw nothing)."""
        key = (path, px)
        if key not in self._fonts:
            try:
                font = self._ju.cudaFont(font=path, size=_pixel_height(path, px))
            except Exception:  # noqa: BLE001 - e.g. a font stb_truetype cannot bake: pygame draws instead
                font = None
            if font is not None and not self._ink(font, _PRINTABLE, px).any():
                log.info("cudaFont draws nothing at %d px (its glyph kernel's thread block is too large): "
                         "pygame draws this size", px)
                font = None
            self._fonts[key] = font
        return self._fonts[key]

    def _ink(self, font: Any, text: str, px: int) -> np.ndarray:
        """Coverage (H x W uint8) of `text` drawn at (pad, pad): black on an opaque white canvas, where the
        glyph kernel leaves 255 - coverage (white on black would leave coverage^2 / 255)."""
        pad = _pad(px)
        canvas = np.full((2 * pad + 2 * px, 2 * pad + px * (len(text) + 1), 4), 255, np.uint8)
        image = self._upload(canvas)
        font.OverlayText(image, text=text, x=pad, y=pad, color=(0, 0, 0, 255), background=(0, 0, 0, 0))
        return 255 - self._download(image)[:, :, 0]

    def _bar(self, font: Any, key: tuple[str, int]) -> tuple[int, int] | None:
        """(advance of '|', its ink height) for a font, measured once; None if it cannot be measured."""
        if key not in self._bars:
            ink = self._ink(font, "||", key[1])
            cols = np.nonzero(ink.max(axis=0))[0]
            rows = np.nonzero(ink.max(axis=1))[0]
            starts = cols[np.nonzero(np.diff(cols) > 1)[0] + 1] if cols.size else cols
            self._bars[key] = (int(starts[0] - cols[0]), int(rows[-1] + 1 - _pad(key[1]))) if starts.size else None
        return self._bars[key]

    def _cuda_text(self, font: Any, key: tuple[str, int], text: str, colour: Colour) -> Any:
        pad = _pad(key[1])
        bar = self._bar(font, key)
        if bar is None:  # no '|' to align on: the ink's own box
            ink = self._ink(font, text, key[1])
            x0, line_h = pad, 0
        else:
            ink = self._ink(font, "|" + text, key[1])
            x0, line_h = pad + bar[0], bar[1]
        body = ink[:, x0:]
        cols = np.nonzero(body.max(axis=0))[0]
        rows = np.nonzero(body.max(axis=1))[0]
        width = int(cols[-1]) + 1 if cols.size else 1
        top = pad if bar is not None or not rows.size else int(rows[0])
        bottom = max(pad + line_h, int(rows[-1]) + 1 if rows.size else pad + 1)
        alpha = body[top:bottom, :width]
        rgba = np.empty((*alpha.shape, 4), np.uint8)
        rgba[:, :, :3] = colour[:3]
        rgba[:, :, 3] = alpha
        return self._upload(rgba)

    def _pygame_text(self, path: str | None, text: str, px: int, colour: Colour) -> Any:
        import pygame

        pygame.font.init()
        key = ("pygame:" + (path or ""), px)
        if key not in self._fonts:
            self._fonts[key] = pygame.font.Font(path, px)
        surface = self._fonts[key].render(text, True, colour[:3])
        w, h = surface.get_size()
        if w < 1 or h < 1:
            return self._upload(np.zeros((max(h, 1), max(w, 1), 4), np.uint8))
        rgba = np.empty((h, w, 4), np.uint8)
        rgba[:, :, :3] = pygame.surfarray.pixels3d(surface).transpose(1, 0, 2)
        rgba[:, :, 3] = pygame.surfarray.pixels_alpha(surface).T
        return self._upload(rgba)


def _pad(px: int) -> int:
    return max(2, px // 4)


def _pixel_height(path: str, px: int) -> float:
    """cudaFont's size for text `px` pixels to the em, as pygame.font (and so PygameBackend and the non-ASCII
    text here) draws it: stb_truetype bakes `size` as the font's ascent - descent (ScaleForPixelHeight), which
    is 1.16 em in DejaVu Sans and 1.36 em in Noto Sans."""
    import pygame

    pygame.font.init()
    probe = pygame.font.Font(path, 1000)  # FreeType at 72 dpi: 1000 px to the em
    return px * (probe.get_ascent() - probe.get_descent()) / 1000


def _premultiplied(rgba: np.ndarray) -> np.ndarray:
    p = rgba.astype(np.float32)
    p[:, :, :3] *= p[:, :, 3:4] / 255.0
    return p


def _straight(p: np.ndarray) -> np.ndarray:
    out = np.empty(p.shape, np.uint8)
    a = p[:, :, 3:4]
    rgb = np.where(a > 1e-3, p[:, :, :3] * 255.0 / np.maximum(a, 1e-3), 0.0)
    out[:, :, :3] = np.clip(np.rint(rgb), 0, 255)
    out[:, :, 3:] = np.clip(np.rint(a), 0, 255)
    return out


def _weights(n: int, m: int) -> np.ndarray:
    """m x n resampling weights: area average when shrinking, bilinear (edge-clamped) when enlarging."""
    wts = np.zeros((m, n), np.float32)
    scale = n / m
    if m < n:
        for i in range(m):
            lo, hi = i * scale, (i + 1) * scale
            for j in range(int(math.floor(lo)), min(n, int(math.ceil(hi)))):
                wts[i, j] = min(hi, j + 1) - max(lo, j)
        wts /= wts.sum(axis=1, keepdims=True)
    else:
        s = np.clip((np.arange(m) + 0.5) * scale - 0.5, 0, n - 1)
        j0 = np.floor(s).astype(int)
        j1 = np.minimum(j0 + 1, n - 1)
        f = (s - j0).astype(np.float32)
        np.add.at(wts, (np.arange(m), j0), 1 - f)
        np.add.at(wts, (np.arange(m), j1), f)
    return wts


def _resample(rgba: np.ndarray, tw: int, th: int) -> np.ndarray:
    p = _premultiplied(rgba)
    p = np.tensordot(_weights(rgba.shape[0], th), p, axes=(1, 0))  # th x w x 4
    p = np.tensordot(_weights(rgba.shape[1], tw), p, axes=(1, 1))  # tw x th x 4
    return _straight(np.ascontiguousarray(p.transpose(1, 0, 2)))


def _rotate(rgba: np.ndarray, degrees: float) -> np.ndarray:
    """Counter-clockwise on screen (y down) about the centre, bilinear, on a canvas grown to fit."""
    h, w = rgba.shape[:2]
    t = math.radians(degrees)
    c, s = math.cos(t), math.sin(t)
    out_w = max(1, math.ceil(abs(w * c) + abs(h * s) - 1e-6))
    out_h = max(1, math.ceil(abs(w * s) + abs(h * c) - 1e-6))
    p = np.pad(_premultiplied(rgba), ((1, 1), (1, 1), (0, 0)))  # a transparent border outside the image
    dx = np.arange(out_w, dtype=np.float64)[None, :] + 0.5 - out_w / 2
    dy = np.arange(out_h, dtype=np.float64)[:, None] + 0.5 - out_h / 2
    # Forward, a source offset (x, y) lands at (x c + y s, -x s + y c); this is its inverse.
    u = dx * c - dy * s + w / 2 - 0.5 + 1  # +1: the border
    v = dx * s + dy * c + h / 2 - 0.5 + 1
    u0, v0 = np.floor(u), np.floor(v)
    fu, fv = (u - u0)[:, :, None], (v - v0)[:, :, None]
    inside = ((u0 >= 0) & (u0 <= w) & (v0 >= 0) & (v0 <= h))[:, :, None]
    u0 = np.clip(u0, 0, w).astype(int)
    v0 = np.clip(v0, 0, h).astype(int)
    sample = (p[v0, u0] * (1 - fu) * (1 - fv) + p[v0, u0 + 1] * fu * (1 - fv)
              + p[v0 + 1, u0] * (1 - fu) * fv + p[v0 + 1, u0 + 1] * fu * fv)
    return _straight((sample * inside).astype(np.float32))
