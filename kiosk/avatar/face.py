"""Draws an avatar pack in a given FaceState through a Backend.

Load time does everything expensive: each layer is cropped to its visible pixels, scaled to the
screen, and pre-rotated at a few head angles (0.5 degree steps within the pack's head_deg). A frame
is then only blits: the layers of the nearest angle, each placed where the head's pivot rotation and
sway put it, pupils shifted for gaze, eyelids/brows/mouth chosen by the FaceState.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.avatar.drawing import Backend, Image
from kiosk.avatar.pack import AvatarPack

ANGLE_STEP = 0.5


@dataclass(frozen=True)
class _Layer:
    images: tuple[Image, ...]  # one per head angle (a single one for the body)
    centre: tuple[float, float]  # of the cropped layer, in screen px relative to the pivot, unrotated


def load_rgba(path: Any) -> np.ndarray:
    """A PNG as H x W x 4 uint8 (straight alpha), decoded once per file version (read-only: shared)."""
    p = Path(path)
    return _decoded(str(p), p.stat().st_mtime_ns)


@functools.lru_cache(maxsize=128)  # a pack's layers; a screen rebuilt (resize, tests) does not decode again
def _decoded(path: str, _mtime_ns: int) -> np.ndarray:
    import pygame

    surface = pygame.image.load(path)
    w, h = surface.get_size()
    rgba = np.frombuffer(pygame.image.tobytes(surface, "RGBA"), dtype=np.uint8).reshape(h, w, 4)
    rgba.setflags(write=False)
    return rgba


def _crop(rgba: np.ndarray) -> tuple[np.ndarray, int, int]:
    rows, cols = np.flatnonzero(rgba[:, :, 3].any(axis=1)), np.flatnonzero(rgba[:, :, 3].any(axis=0))
    if rows.size == 0:
        return rgba[:1, :1], 0, 0
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    return rgba[y0:y1, x0:x1], int(x0), int(y0)


MOUTH_AT = 0.45  # of the screen height: captions and buttons own the lower part of the screen
HEAD_TOP_MARGIN = 0.03


def presenter_layout(pack: AvatarPack, size: tuple[int, int]) -> tuple[int, int, int]:
    """(height_px, centre_x, bottom_y) that puts the mouth at 45 % of the screen height, as large as the top of
    the head allows, so the captions below never cover the lips."""
    w, h = size
    mouth = pack.anchors["mouth"][1] / pack.canvas[1]
    top = min(pack.anchors["eye_left"][1], pack.anchors["neck"][1]) / pack.canvas[1] * 0.45  # ~ top of the hair
    scale = min(1.0, (MOUTH_AT - HEAD_TOP_MARGIN) / max(0.05, mouth - top))
    height = round(h * scale)
    origin_y = round(h * MOUTH_AT - mouth * height)
    return height, w // 2, origin_y + height


class FaceRenderer:
    @classmethod
    def presenter(cls, pack: AvatarPack, backend: Backend) -> FaceRenderer:
        """Full screen, framed by `presenter_layout`, the torso reaching the bottom edge."""
        return cls(pack, backend, *presenter_layout(pack, backend.size), screen_bottom=backend.size[1])

    def __init__(self, pack: AvatarPack, backend: Backend, height_px: int, centre_x: int, bottom_y: int,
                 screen_bottom: int | None = None) -> None:
        """The canvas is drawn `height_px` tall, centred on `centre_x`, its bottom edge at `bottom_y`; the
        body's last rows are extended down to `screen_bottom` when the canvas ends above it."""
        self.pack, self.backend = pack, backend
        self._extend = max(0, (screen_bottom or bottom_y) - bottom_y)
        self._squash_cache: dict[tuple[int, int], Image] = {}
        self.scale = height_px / pack.canvas[1]
        w = pack.canvas[0] * self.scale
        self.origin = (centre_x - w / 2, bottom_y - height_px)  # canvas (0, 0) on screen
        self.pivot = self._screen(pack.anchors["neck"])
        steps = int(pack.motion.head_deg / ANGLE_STEP)
        self.angles = tuple(ANGLE_STEP * i for i in range(-steps, steps + 1)) or (0.0,)
        self.backdrop = self._backdrop(pack.layers["backdrop"]) if "backdrop" in pack.layers else None
        self.body = self._layer(pack.layers["body"], rotate=False, extend=self._extend)
        head_names = ("head", "eyes", "pupils", "lids_half", "lids_closed", "hair_front")
        self.head = {name: self._layer(pack.layers[name]) for name in head_names if name in pack.layers}
        self.brows = {name: self._layer(path) for name, path in pack.brows.items()}
        self.cheeks = {name: self._layer(path) for name, path in pack.cheeks.items()}
        self.mouth = {name: self._layer(path) for name, path in pack.mouth.items()}
        self.mouth_smile = {name: self._layer(path) for name, path in pack.mouth_smile.items()}

    def _screen(self, point: tuple[float, float]) -> tuple[float, float]:
        return self.origin[0] + point[0] * self.scale, self.origin[1] + point[1] * self.scale

    def _backdrop(self, path: Any) -> tuple[Image, int, int]:
        """The still picture behind the presenter, scaled to cover the whole screen around the canvas."""
        rgba = load_rgba(path)
        sw, sh = self.backend.size
        h, w = rgba.shape[:2]
        cover = max(sw / w, sh / h, self.scale)
        size = (max(1, round(w * cover)), max(1, round(h * cover)))
        centre_x = self.origin[0] + w / 2 * self.scale  # the canvas centre stays the picture's centre
        x = min(0, max(sw - size[0], round(centre_x - size[0] / 2)))
        y = min(0, max(sh - size[1], round(self.origin[1] + h / 2 * self.scale - size[1] / 2)))
        return self.backend.resized(self.backend.image(np.ascontiguousarray(rgba)), size), x, y

    def _layer(self, path: Any, rotate: bool = True, extend: int = 0) -> _Layer:
        rgba, x0, y0 = _crop(load_rgba(path))
        if extend:  # the torso continues below the canvas: repeat its bottom row (flat clothes colours)
            rows = int(extend / self.scale) + 2
            rgba = np.concatenate([rgba, np.repeat(rgba[-1:], rows, axis=0)])
        size = (max(1, round(rgba.shape[1] * self.scale)), max(1, round(rgba.shape[0] * self.scale)))
        image = self.backend.resized(self.backend.image(rgba), size)
        cx, cy = self._screen((x0 + rgba.shape[1] / 2, y0 + rgba.shape[0] / 2))
        images = tuple(self.backend.rotated(image, a) if a else image for a in self.angles) if rotate else (image,)
        return _Layer(images, (cx - self.pivot[0], cy - self.pivot[1]))

    # -- per frame -------------------------------------------------------------------------------------------

    def draw(self, face: Any) -> None:
        """`face`: a FaceState (kiosk.avatar.animator)."""
        m = self.pack.motion
        if self.backdrop is not None:
            self.backend.draw(*self.backdrop, 1.0)
        breath = face.breath * m.breath_px * self.scale
        self._place(self.body, 0, 0.0, (0.0, -breath))
        angle = -face.head_tilt * m.head_deg  # FaceState: > 0 is clockwise; rotation angles are counter-clockwise
        index = min(range(len(self.angles)), key=lambda i: abs(self.angles[i] - angle))
        theta = self.angles[index]
        # FaceState's +y is up, the screen's is down.
        sway = (face.head_sway[0] * m.head_px * self.scale, -face.head_sway[1] * m.head_px * self.scale - breath * 0.6)
        head = self.head
        self._place(head["head"], index, theta, sway)
        self._place(head["eyes"], index, theta, sway)
        gaze = (face.gaze[0] * m.gaze_px * self.scale, -face.gaze[1] * m.gaze_px * self.scale)  # +y is up
        self._place(head["pupils"], index, theta, (sway[0] + gaze[0], sway[1] + gaze[1]))
        if face.blink >= 0.75:
            self._place(head["lids_closed"], index, theta, sway)
        elif face.blink >= 0.25:
            self._place(head["lids_half"], index, theta, sway)
        expressions = sorted(face.expression, key=lambda e: -e[1])
        for rank, (name, weight) in enumerate(expressions[:2]):
            layer = self.brows.get(name, self.brows["neutral"])
            self._place(layer, index, theta, sway, 1.0 if rank == 0 else weight)
        for name, weight in face.expression:
            if name in self.cheeks and weight > 0.02:
                self._place(self.cheeks[name], index, theta, sway, weight)
        smiling = dict(face.expression).get("smile", 0.0) > 0.5
        shapes = sorted(face.mouth, key=lambda s: -s[1])
        for rank, (viseme, weight) in enumerate(shapes[:2]):
            layer = (self.mouth_smile.get(viseme) if smiling else None) or self.mouth.get(viseme) or self.mouth["sil"]
            self._mouth(layer, index, theta, sway, face.openness, viseme, 1.0 if rank == 0 else weight)
        if "hair_front" in head:
            self._place(head["hair_front"], index, theta, sway)

    def _offset(self, layer: _Layer, theta: float, shift: tuple[float, float]) -> tuple[float, float]:
        """Screen centre of a layer after rotating the head by theta (degrees, counter-clockwise) and shifting."""
        c, s = math.cos(math.radians(theta)), math.sin(math.radians(theta))
        dx, dy = layer.centre
        # Screen y points down, so a counter-clockwise turn is (x, y) -> (x c + y s, -x s + y c).
        return self.pivot[0] + dx * c + dy * s + shift[0], self.pivot[1] - dx * s + dy * c + shift[1]

    def _place(self, layer: _Layer, index: int, theta: float, shift: tuple[float, float],
               opacity: float = 1.0) -> None:
        image = layer.images[min(index, len(layer.images) - 1)]
        cx, cy = self._offset(layer, theta if len(layer.images) > 1 else 0.0, shift)
        w, h = self.backend.image_size(image)
        self.backend.draw(image, round(cx - w / 2), round(cy - h / 2), opacity)

    def _squashed(self, image: Image, w: int, h: int) -> Image:
        """A mouth shape at a lower height; resized once per (shape, angle, height), not once per frame."""
        key = (id(image), h)
        if key not in self._squash_cache:
            if len(self._squash_cache) > 2048:  # bounded: heights are whole pixels, shapes a few dozen
                self._squash_cache.clear()
            self._squash_cache[key] = self.backend.resized(image, (w, h))
        return self._squash_cache[key]

    def _mouth(self, layer: _Layer, index: int, theta: float, shift: tuple[float, float], openness: float,
               viseme: str, opacity: float) -> None:
        if viseme in ("sil", "PP") or openness >= 0.97 or self.pack.motion.mouth_min_scale >= 1.0:
            self._place(layer, index, theta, shift, opacity)
            return
        image = layer.images[min(index, len(layer.images) - 1)]
        w, h = self.backend.image_size(image)
        low = self.pack.motion.mouth_min_scale
        squash = low + (1 - low) * max(0.0, openness)
        small = self._squashed(image, w, max(1, round(h * squash)))
        cx, cy = self._offset(layer, theta, shift)
        top = cy - h / 2 + h * (1 - squash) * 0.35  # the upper lip moves less than the jaw
        self.backend.draw(small, round(cx - w / 2), round(top), opacity)
