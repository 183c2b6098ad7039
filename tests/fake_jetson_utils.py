"""A CPU twin of the part of NVIDIA jetson-utils' Python API that kiosk.avatar.backend_cuda uses, on numpy.

Installed as sys.modules["jetson_utils"] by the tests that want it (never globally). Each call takes the
real binding's arguments and keyword names, raises what it raises on bad ones, and computes what its CUDA
kernel computes (float32 arithmetic, float -> uint8 by truncation). Sources (dusty-nv/jetson-utils master):
python/bindings/PyCUDA.cpp, PyNumpy.cpp, PyVideo.cpp; cuda/cudaOverlay.cu, cudaAlphaBlend.cuh, cudaDraw.cu,
cudaResize.cu, cudaFilterMode.cu(h), cudaCrop.cu, cudaRGB.cu, cudaFont.cu(h); cpp/video/videoOutput.cpp,
cpp/display/glDisplay.cpp.

* Kernels are asynchronous: they are queued and run at cudaDeviceSynchronize() (or when a frame is rendered,
  as the texture copy is in stream order), so reading mapped memory through cudaToNumpy before a
  synchronize sees the old pixels, as it may on the GPU. Argument checks raise at the call, as on the host.
* cudaFont: glyphs come from FreeType (pygame.font) scaled as stb_truetype's BakeFontBitmap scales (the font's
  ascent - descent is `size` pixels); the layout follows cudaFont::OverlayText: the text is UTF-8, glyph boxes
  are drawn at the pen (xOffset is ignored), the baseline is y + the largest |yOffset| of *this* string, the
  pen advances by truncated xAdvance, the glyph kernel blends coverage * colour with alpha coverage * colour.a
  (so coverage counts twice on RGB) and keeps the destination's alpha. Its launch uses one thread per pixel of
  the largest glyph box (width x height, maxima over the string): above 1024 threads the launch fails
  ("invalid configuration argument", jetson-utils issue 158), which is only logged: nothing is drawn and
  OverlayText returns normally. Bytes 32..126 are glyphs; the font bakes 32..254, and `char` is unsigned on
  aarch64 (the Jetson), so there a UTF-8 byte >= 128 draws the Latin-1 glyph of that byte (mojibake);
  SIGNED_CHAR = True models x86, where they are skipped.
* videoOutput("display://N"): a glDisplay window (needs DISPLAY). Its Python object has no input getters.
  `user_closes_window()` is the test hook for WM_DELETE_WINDOW (or Escape): like the X event it is handled in
  the next Render (ProcessEvents), which sets IsStreaming() False; that Render first calls Open() (BeginRender),
  so a further Render shows the window again and IsStreaming() is True again.

Not modelled (the backend does not use them; they raise NotImplementedError): cudaMemory objects, BGR and YUV
formats, the linear resize filter, rect outlines, text backgrounds, outputs other than display://, and streams
(one queue for all).
"""

from __future__ import annotations

import logging
import operator
import os
from collections.abc import Callable
from typing import Any

import numpy as np

log = logging.getLogger("fake_jetson_utils")

FLOAT_UPLOADS = False  # True: builds before 2020, whose cudaFromNumpy made every array float32 (rgba32f)
SIGNED_CHAR = False  # False: aarch64 (the Jetson); True: x86, where cudaFont skips bytes >= 128
SCREEN = (1920, 1080)  # the X screen a glDisplay window opens at before its first frame
MAX_THREADS_PER_BLOCK = 1024
DEFAULT_FONTS = tuple(f"/usr/share/fonts/truetype/dejavu/{name}.ttf" for name in ("DejaVuSansMono", "DejaVuSans"))

overlaid_texts: list[str] = []  # test hook: every string given to cudaFont.OverlayText
_FORMATS = {"rgb8": (3, np.uint8), "rgba8": (4, np.uint8), "rgb32f": (3, np.float32), "rgba32f": (4, np.float32),
            "gray8": (1, np.uint8), "gray32f": (1, np.float32)}
_ALIASES = {"rgb32": "rgb32f", "rgba32": "rgba32f", "grey8": "gray8"}
_RGB = ("rgb8", "rgba8", "rgb32f", "rgba32f")
_pending: list[Callable[[], None]] = []
_UNSET: Any = object()
_F32 = np.float32


def _cuda_error(call: str, code: int = 1, name: str = "invalid argument") -> Exception:
    return Exception(f"CUDA error ({code}) - {name}\n    {call}")  # PYCUDA_CHECK's message


# -- PyArg_ParseTupleAndKeywords' conversions ----------------------------------------------------------------


def _i(value: Any, name: str) -> int:  # "i"
    if isinstance(value, float) or not hasattr(value, "__index__"):
        raise TypeError(f"'{name}' must be an integer, not {type(value).__name__}")
    return operator.index(value)


def _f(value: Any, name: str) -> float:  # "f": a C float
    if isinstance(value, (str, bytes)) or not (hasattr(value, "__float__") or hasattr(value, "__index__")):
        raise TypeError(f"'{name}' must be real number, not {type(value).__name__}")
    return float(_F32(float(value)))


def _s(value: Any, name: str) -> str:  # "s": UTF-8, no NUL
    if not isinstance(value, str):
        raise TypeError(f"'{name}' must be str, not {type(value).__name__}")
    if "\0" in value:
        raise ValueError("embedded null character")
    return value


def _seq4(value: Any, name: str) -> tuple[float, ...]:  # "(ffff)"
    if not hasattr(value, "__len__") or isinstance(value, (str, bytes)) or len(value) != 4:
        raise TypeError(f"'{name}' must be 4-item sequence, not {type(value).__name__}")
    return tuple(_f(v, name) for v in value)


def _colour(value: Any, default: tuple[float, ...], what: str, parse_error: type[Exception]) -> tuple[float, ...]:
    """A colour tuple: PyTuple_Check, then "fff|f" into a float4 preset to `default` (so a 3-tuple keeps its w)."""
    if value is None:
        return default
    if not isinstance(value, tuple):
        raise Exception(f"{what} argument isn't a valid tuple")
    if len(value) not in (3, 4):
        raise parse_error(f"{what} tuple must have 3 or 4 items, not {len(value)}")
    vals = tuple(_f(v, what) for v in value)
    return vals if len(vals) == 4 else (*vals, default[3])


def _format(value: Any) -> str | None:
    name = None if value is None else _ALIASES.get(_s(value, "format").lower(), value.lower())
    return name if name in _FORMATS else None


# -- images ------------------------------------------------------------------------------------------------


class cudaImage:  # noqa: N801 - jetson-utils' name
    """An image in mapped (zero-copy) memory: a flat buffer, so a kernel's stride is what it writes with."""

    def __init__(self, width: int, height: int, format: str = "rgb8", timestamp: int = 0, mapped: bool = True,
                 freeOnDelete: bool = True, ptr: int = 0, like: Any = None) -> None:
        fmt, w, h = _format(format), _i(width, "width"), _i(height, "height")
        if fmt is None or w <= 0 or h <= 0:
            raise Exception(f"cudaImage.__init()__ had invalid {'image format' if fmt is None else 'width/height'}")
        self._w, self._h, self._fmt, self._timestamp = w, h, fmt, _i(timestamp, "timestamp")
        self._data = np.zeros(w * h * _FORMATS[fmt][0], _FORMATS[fmt][1])

    width = property(lambda self: self._w)
    height = property(lambda self: self._h)
    format = property(lambda self: self._fmt)
    channels = property(lambda self: _FORMATS[self._fmt][0])
    shape = property(lambda self: (self._h, self._w, _FORMATS[self._fmt][0]))
    mapped = property(lambda self: True)
    timestamp = property(lambda self: self._timestamp)

    def _px(self) -> np.ndarray:
        return self._data.reshape(self._h, self._w, -1)


def _image(obj: Any, call: str) -> cudaImage:
    if not isinstance(obj, cudaImage):
        raise Exception(f"{call}() failed to get input/output image pointers (should be cudaImage)")
    return obj


def _store(dst: np.ndarray, values: np.ndarray) -> None:
    """A kernel's float result into uint8 (C conversion: truncation; saturated here) or float32 memory."""
    dst[...] = np.clip(values, 0, 255).astype(np.uint8) if dst.dtype == np.uint8 else values


def cudaDeviceSynchronize() -> None:
    while _pending:
        _pending.pop(0)()


def cudaFromNumpy(array: Any, isBGR: int = 0, timestamp: int = 0) -> cudaImage:
    if not isinstance(array, np.ndarray):
        raise Exception("Object passed to cudaFromNumpy() wasn't a numpy ndarray")
    if _i(timestamp, "timestamp") < 0:
        raise Exception("cudaFromNumpy() timestamp cannot be negative")
    uint8 = array.dtype == np.uint8 and not FLOAT_UPLOADS
    data = np.ascontiguousarray(array, np.uint8 if uint8 else np.float32)  # NPY_ARRAY_FORCECAST
    if data.size == 0:
        raise Exception("cudaFromNumpy() numpy ndarray has data size of 0 bytes")
    name = {2: "gray", 3: {1: "gray", 3: "rgb", 4: "rgba"}.get(data.shape[-1])}.get(data.ndim)
    if name is None or _i(isBGR, "isBGR") > 0:
        raise NotImplementedError("fake jetson_utils: only gray, rgb and rgba arrays (no cudaMemory, no BGR)")
    image = cudaImage(data.shape[1], data.shape[0], name + ("8" if uint8 else "32f"), timestamp)
    image._data[:] = data.ravel()  # a memcpy on the CPU, at the call
    return image


def cudaToNumpy(array: Any, width: int = 0, height: int = 1, depth: int = 1) -> np.ndarray:
    if not isinstance(array, cudaImage):
        raise Exception("cudaToNumpy() failed to get input CUDA pointer from first arg (should be cudaImage)")
    return array._px()  # a view of the mapped memory, not a copy


def cudaAllocMapped(size: int = 0, width: float = 0, height: float = 0, format: str | None = None,
                    timestamp: int = 0, like: Any = None, clear: bool = True) -> cudaImage:
    w, h, fmt = int(_f(width, "width")), int(_f(height, "height")), _format(format)
    if like is not None:
        w, h, fmt = _image(like, "cudaAllocMapped").width, like.height, like.format
    if w <= 0 or h <= 0:  # (a size alone would be a cudaMemory)
        raise Exception("cudaAllocMapped() requested size/dimensions are negative or zero")
    if fmt is None:
        raise Exception("cudaAllocMapped() invalid format string")
    image = cudaImage(w, h, fmt, timestamp)
    if not clear:
        image._data[:] = 0xCD if image._data.dtype == np.uint8 else np.nan  # whatever the memory held
    return image


def cudaConvertColor(input: Any, output: Any, stream: int = 0) -> None:
    src, dst = _image(input, "cudaConvertColor"), _image(output, "cudaConvertColor")
    if (src.width, src.height) != (dst.width, dst.height):
        raise Exception("cudaConvertColor() input and output image resolutions are different")
    if src.format not in _RGB or dst.format not in _RGB:
        raise _cuda_error("cudaConvertColor")

    def kernel() -> None:  # cudaRGB.cu: RGBToRGB / RGBToRGB_Norm with the range (0, 255): values kept
        px = src._px().astype(_F32)
        if px.shape[2] == 3:
            px = np.concatenate([px, np.full(px.shape[:2] + (1,), 255, _F32)], axis=2)
        _store(dst._px(), px[:, :, : dst.channels])

    _pending.append(kernel)


def cudaOverlay(input: Any, output: Any, x: float = 0.0, y: float = 0.0, stream: int = 0) -> None:
    src, dst = _image(input, "cudaOverlay"), _image(output, "cudaOverlay")
    x0, y0 = int(_f(x, "x")), int(_f(y, "y"))  # float -> int: truncation
    if src.format != dst.format:
        raise Exception("cudaOverlay() input and output image formats are different")
    if x0 < 0 or y0 < 0 or x0 >= dst.width or y0 >= dst.height:
        raise _cuda_error("cudaOverlay(input->base.ptr, ..., x, y, stream)")
    w, h = min(src.width, dst.width - x0), min(src.height, dst.height - y0)

    def kernel() -> None:
        under, over = dst._px()[y0 : y0 + h, x0 : x0 + w], src._px()[:h, :w]
        if under.shape[2] != 4:  # gpuOverlay: a copy
            under[...] = over
            return
        a = over[:, :, 3:4].astype(_F32) / _F32(255)  # gpuOverlayAlpha -> cudaAlphaBlend
        _store(under[:, :, :3], a * over[:, :, :3].astype(_F32) + (_F32(1) - a) * under[:, :, :3].astype(_F32))
        under[:, :, 3] = 255

    _pending.append(kernel)


def cudaDrawRect(input: Any, rect: Any, color: Any = None, line_color: Any = None, line_width: float = 1.0,
                 output: Any = None, stream: int = 0) -> None:
    src = _image(input, "cudaDrawRect")
    dst = src if output is None else _image(output, "cudaDrawRect")
    left, top, right, bottom = (int(v) for v in _seq4(rect, "rect"))
    if (src.width, src.height, src.format) != (dst.width, dst.height, dst.format):
        raise TypeError("input/output images need to have matching dimensions and formats")
    r, g, b, a = _colour(color, (0.0, 0.0, 0.0, 0.0), "color", TypeError)
    if _colour(line_color, (0.0, 0.0, 0.0, 0.0), "line_color", TypeError)[3] > 0 and _f(line_width, "line_width") > 0:
        raise NotImplementedError("fake jetson_utils: rect outlines")
    if dst is not src:
        _pending.append(lambda: dst._data.__setitem__(slice(None), src._data))
    left, right = min(left, right), max(left, right)
    top, bottom = min(top, bottom), max(top, bottom)
    if right - left <= 0 or bottom - top <= 0:
        raise _cuda_error("cudaDrawRect(...)")  # "rect had width/height <= 0"
    if a <= 0:
        return
    if dst.format not in _RGB:
        raise _cuda_error("cudaDrawRect(...)")

    def kernel() -> None:  # gpuDrawRect: pixels outside the image are skipped; cudaAlphaBlend: alpha 255
        box = dst._px()[max(top, 0) : max(bottom, 0), max(left, 0) : max(right, 0)]
        alpha = _F32(a) / _F32(255)
        _store(box[:, :, :3], alpha * np.array([r, g, b], _F32) + (_F32(1) - alpha) * box[:, :, :3].astype(_F32))
        if box.shape[2] == 4:
            box[:, :, 3] = 255

    _pending.append(kernel)


def cudaResize(input: Any, output: Any, filter: str = "point", stream: int = 0) -> None:
    src, dst = _image(input, "cudaResize"), _image(output, "cudaResize")
    name = _s(filter, "filter").lower()
    linear = name not in ("point", "nearest")  # cudaFilterModeFromStr: anything else is its default, linear
    if src.format != dst.format:
        raise Exception("cudaResize() input and output image formats are different")
    if linear and not (dst.width < src.width and dst.height < src.height):  # (both shrink: always point)
        raise NotImplementedError("fake jetson_utils: the linear filter")

    def kernel() -> None:  # cudaFilterPixel: px = x / out_w * in_w (float)
        iw, ih, ow, oh = (_F32(v) for v in (src.width, src.height, dst.width, dst.height))
        fx, fy = np.arange(dst.width, dtype=_F32) / ow * iw, np.arange(dst.height, dtype=_F32) / oh * ih
        px = src._px().astype(_F32)
        _store(dst._px(), px[fy.astype(int)][:, fx.astype(int)])  # FILTER_POINT: int(px)

    _pending.append(kernel)


def cudaCrop(input: Any, output: Any, roi: Any, stream: int = 0) -> None:
    src, dst = _image(input, "cudaCrop"), _image(output, "cudaCrop")
    left, top, right, bottom = _seq4(roi, "roi")
    if src.format != dst.format:
        raise Exception("cudaCrop() input and output image formats are different")
    rw, rh = right - left, bottom - top
    if (min(left, top, right, bottom) < 0 or right > src.width or bottom > src.height or rw <= 0 or rh <= 0
            or rw > dst.width or rh > dst.height):
        raise ValueError("cudaCrop() had an invalid ROI")
    x0, y0, x1, y1 = int(left), int(top), int(right), int(bottom)  # make_int4

    def kernel() -> None:  # gpuCrop writes rows of the ROI's width: the output's own width is not its stride
        part = src._px()[y0:y1, x0:x1].ravel()
        dst._data[: part.size] = part

    _pending.append(kernel)


# -- text --------------------------------------------------------------------------------------------------


class _Face:
    """A font baked at `size` px: per byte, (coverage bitmap, yOffset, xAdvance) as stbtt_bakedchar gives them."""

    def __init__(self, path: str, size: float) -> None:
        import pygame

        pygame.font.init()
        probe = pygame.font.Font(path, 200)  # stbtt_ScaleForPixelHeight: size / (ascent - descent)
        self._font = pygame.font.Font(path, max(1, round(size * 200 / (probe.get_ascent() - probe.get_descent()))))
        self._glyphs: dict[int, tuple[np.ndarray, int, int]] = {}

    def glyph(self, byte: int) -> tuple[np.ndarray, int, int]:
        if byte not in self._glyphs:
            import pygame

            ch = chr(byte)  # the font map holds code points 32..254, indexed by the (unsigned) byte
            try:
                alpha = pygame.surfarray.array_alpha(self._font.render(ch, True, (255, 255, 255))).T
            except pygame.error:  # nothing to draw for this code point
                alpha = np.zeros((1, 1), np.uint8)
            rows, cols = np.nonzero(alpha.max(axis=1))[0], np.nonzero(alpha.max(axis=0))[0]
            metrics = self._font.metrics(ch)
            advance = metrics[0][4] if metrics and metrics[0] else 0
            if rows.size == 0:
                self._glyphs[byte] = (np.zeros((0, 0), np.uint8), 0, advance)
            else:
                box = alpha[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
                self._glyphs[byte] = (box, int(rows[0]) - self._font.get_ascent(), advance)
        return self._glyphs[byte]


def _bake(path: str, size: float) -> _Face | None:
    """cudaFont::init: the file must exist and be non-empty, and stb_truetype must read it at offset 0."""
    try:
        with open(path, "rb") as file:
            magic = file.read(4)
    except OSError:
        return None
    if magic not in (b"\x00\x01\x00\x00", b"true", b"typ1", b"OTTO", b"1\x00\x00\x00") or size <= 0:
        return None  # a collection (.ttc) or no font at all: stbtt_InitFont fails
    return _Face(path, size)


class cudaFont:  # noqa: N801 - jetson-utils' name
    def __init__(self, font: str = _UNSET, size: float = 32.0) -> None:
        self._size = _f(size, "size")
        paths = DEFAULT_FONTS if font is _UNSET else (_s(font, "font"),)
        self._face = next((face for p in paths if (face := _bake(p, self._size)) is not None), None)
        if self._face is None:
            raise Exception("failed to create cudaFont object")

    def GetSize(self) -> int:
        return int(self._size)

    def OverlayText(self, image: Any, width: int = 0, height: int = 0, text: str | None = None, x: int = 0,
                    y: int = 0, color: Any = None, background: Any = None, format: str = "rgba32f",
                    padding: int = 5, stream: int = 0) -> None:
        x, y, _, _, _, _ = (_i(v, n) for v, n in ((x, "x"), (y, "y"), (width, "width"), (height, "height"),
                                                   (padding, "padding"), (stream, "stream")))
        _s(format, "format")
        if text is None:
            raise Exception("cudaFont.OverlayText() needs to be called with the 'text' string argument")
        data = _s(text, "text").encode("utf-8")
        colour = _colour(color, (0.0, 0.0, 0.0, 255.0), "cudaFont.OverlayText() color", Exception)
        if _colour(background, (0.0, 0.0, 0.0, 0.0), "cudaFont.OverlayText() background color", Exception)[3] > 0:
            raise NotImplementedError("fake jetson_utils: text backgrounds")
        if not isinstance(image, cudaImage):
            raise Exception("function wasn't passed a valid cudaImage or cudaMemory object")
        if image.format not in _RGB:
            raise Exception(f'cudaFont failed to render text "{text}"')
        overlaid_texts.append(text)
        glyphs = [self._face.glyph(b) for b in data if 32 <= b <= (127 if SIGNED_CHAR else 254)]
        if not glyphs:
            log.error("[cuda] cudaOverlayText(...) invalid argument: no glyph in %r", text)
            return
        pen_x, pen_y = max(x, 0), max(y, 0) + max(abs(g[1]) for g in glyphs)
        commands = []
        for bitmap, y_offset, advance in glyphs:
            commands.append((pen_x, pen_y + y_offset, bitmap))
            pen_x = int(pen_x + advance)  # an int2 pen: each advance truncated
        block = (max(b.shape[1] for _, _, b in commands), max(b.shape[0] for _, _, b in commands))
        if block[0] * block[1] > MAX_THREADS_PER_BLOCK or 0 in block:
            log.error("[cuda] cudaOverlayText(...) invalid configuration argument (error 9): %s blocks of %dx%d "
                      "threads", text, *block)  # CUDA() logs it; OverlayText still returns true
            return
        _pending.append(lambda: _draw_glyphs(image, commands, colour))


def _draw_glyphs(image: cudaImage, commands: list[tuple[int, int, np.ndarray]], colour: tuple[float, ...]) -> None:
    scaled = np.array(colour, _F32) / _F32(255)
    px = image._px()
    for cx, cy, bitmap in commands:  # gpuOverlayText: one block per glyph, clipped to the image
        x0, y0 = max(cx, 0), max(cy, 0)
        x1, y1 = min(cx + bitmap.shape[1], image.width), min(cy + bitmap.shape[0], image.height)
        if x1 <= x0 or y1 <= y0:
            continue
        g = bitmap[y0 - cy : y1 - cy, x0 - cx : x1 - cx, None].astype(_F32)
        fg = g * scaled[:3]
        alpha = g * scaled[3] / _F32(255)
        under = px[y0:y1, x0:x1, :3]
        _store(under, alpha * fg + (_F32(1) - alpha) * under.astype(_F32))  # alpha_blend: keeps bg.w


# -- display -----------------------------------------------------------------------------------------------


class videoOutput:  # noqa: N801 - jetson-utils' name
    """videoOutput("display://0"): a glDisplay window. The Python object offers no input (PyVideo.cpp)."""

    def __init__(self, uri: str | None = None, argv: Any = None, positionArg: int = -1,
                 options: Any = None) -> None:
        uri = None if uri is None else _s(uri, "uri")
        _i(positionArg, "positionArg")
        if uri is not None and not uri.startswith("display://"):
            raise NotImplementedError("fake jetson_utils: only display:// outputs")
        if uri is not None and not os.environ.get("DISPLAY"):
            raise Exception("failed to create videoOutput device")  # glDisplay: XOpenDisplay failed
        self._display = uri is not None  # no URI: the null output
        self._streaming = True  # glDisplay::initWindow
        self._size = SCREEN if self._display else (0, 0)
        self._close_requested = False
        self.frames = 0  # test hooks: frames rendered, the last one (H x W x 3 uint8)
        self.last_frame: np.ndarray | None = None

    def user_closes_window(self) -> None:
        """Test hook: the window manager's close button (WM_DELETE_WINDOW), or Escape, which glDisplay turns
        into the same ClientMessage. Handled by the next Render's ProcessEvents."""
        self._close_requested = True

    def Open(self) -> None:
        self._streaming = True

    def Close(self) -> None:
        self._streaming = False

    def Render(self, image: Any, stream: int = 0) -> None:
        if not isinstance(image, cudaImage):
            raise Exception("videoOutput.Render() failed to get image pointer from first arg (should be cudaImage)")
        if not self._display:
            return
        if image.format not in _RGB:
            raise Exception("videoOutput failed to render image")
        self._streaming = True  # BeginRender -> Open(): shows the window (again)
        if self._close_requested:  # ProcessEvents -> WINDOW_CLOSED
            self._close_requested, self._streaming = False, False
        cudaDeviceSynchronize()  # the texture copy runs after the work queued before it
        self._size = (image.width, image.height)  # resized once to the feed
        self.last_frame = np.clip(image._px()[:, :, :3], 0, 255).astype(np.uint8)
        self.frames += 1

    def IsStreaming(self) -> bool:
        return self._streaming

    def GetWidth(self) -> int:
        return self._size[0]

    def GetHeight(self) -> int:
        return self._size[1]
