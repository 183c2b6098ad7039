"""The 15 viseme shapes from the person's own lips: the lower face's mesh points moved (jaw drop, lip
gap, spread or rounding), the photo warped along them, and the mouth's inside (shadow, teeth, tongue)
painted at the person's scale and light where the lips part. The inner lip contours of the photo are
excluded from the warp, so an open smile (teeth showing) still closes to a neutral mouth for sil and PP."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kiosk.avatar.photo.regions import (
    CHIN,
    LIPS_LOWER_INNER,
    LIPS_LOWER_OUTER,
    LIPS_UPPER_INNER,
    LIPS_UPPER_OUTER,
    NOSE_BASE,
)
from kiosk.avatar.photo.warp import feather, polygon_mask, triangulate, warp


@dataclass(frozen=True)
class Shape:
    gap: float  # lip opening at the centre, in mouth widths
    spread: float  # corners outwards (+) or together (-), in mouth widths
    upper_teeth: bool = True
    lower_teeth: bool = False
    tongue: float = 0.0  # 0 none, else how high the tongue shows (share of the opening)
    lower_lip_in: bool = False  # FF: the lower lip tucked under the upper teeth


SHAPES: dict[str, Shape] = {
    "sil": Shape(0.0, 0.0, upper_teeth=False),
    "PP": Shape(0.0, -0.03, upper_teeth=False),
    "FF": Shape(0.07, 0.02, lower_lip_in=True),
    "TH": Shape(0.12, 0.0, tongue=0.45),
    "DD": Shape(0.14, 0.02, tongue=0.3),
    "kk": Shape(0.16, 0.02, lower_teeth=True),
    "CH": Shape(0.11, -0.10, lower_teeth=True),
    "SS": Shape(0.05, 0.06, lower_teeth=True),
    "nn": Shape(0.10, 0.02, tongue=0.35),
    "RR": Shape(0.10, -0.12),
    "aa": Shape(0.34, 0.02, tongue=0.2),
    "E": Shape(0.19, 0.08, lower_teeth=True),
    "ih": Shape(0.12, 0.10, lower_teeth=True),
    "oh": Shape(0.25, -0.17),
    "ou": Shape(0.15, -0.27),
}

_UPPER = list(LIPS_UPPER_OUTER[1:-1]) + list(LIPS_UPPER_INNER[1:-1])
_LOWER = list(LIPS_LOWER_OUTER[1:-1]) + list(LIPS_LOWER_INNER[1:-1])
_CORNERS = [LIPS_UPPER_OUTER[0], LIPS_UPPER_OUTER[-1], LIPS_UPPER_INNER[0], LIPS_UPPER_INNER[-1]]


@dataclass(frozen=True)
class MouthFrame:
    centre: np.ndarray
    width: float
    ux: np.ndarray  # unit vector along the mouth (viewer's left to right)
    vy: np.ndarray  # unit vector down the face


def frame(points: np.ndarray) -> MouthFrame:
    a, b = points[LIPS_UPPER_OUTER[0]], points[LIPS_UPPER_OUTER[-1]]
    if a[0] > b[0]:
        a, b = b, a
    ux = (b - a) / (np.linalg.norm(b - a) or 1.0)
    return MouthFrame((a + b) / 2, float(np.linalg.norm(b - a)), ux, np.array([-ux[1], ux[0]]))


SMILE_LIFT = 0.07  # a smiling mouth's corners rise this much (in mouth widths) and spread half as much


def targets(points: np.ndarray, shape: Shape, smile: bool = False) -> np.ndarray:
    """Where every mesh point goes for `shape` (the mesh of the photo's own mouth as given); `smile` raises
    and spreads the corners, the lips and cheeks beside them following, for the smiling variant."""
    f = frame(points)
    rel = points - f.centre
    u, v = rel @ f.ux, rel @ f.vy  # along the mouth, down the face
    W = f.width
    upper_in, lower_in = list(LIPS_UPPER_INNER[1:-1]), list(LIPS_LOWER_INNER[1:-1])
    # The lips' own midline and the photo's opening (an open smile's gap is closed first).
    mid = (v[upper_in] + v[lower_in]) / 2
    u_in = (u[upper_in] + u[lower_in]) / 2
    if shape.spread < 0:  # rounded lips lose the smile's curve: the midline flattens towards its centre
        centre_mid = float(mid[len(mid) // 2])
        mid = centre_mid + (mid - centre_mid) * max(0.0, 1 + 3 * shape.spread)
    half = max(1.0, np.abs(u_in).max())
    profile = np.sqrt(np.clip(1 - (u_in / (half * 1.08)) ** 2, 0, 1))  # an elliptic opening
    gap = shape.gap * W * profile
    dv = np.zeros(len(points), np.float32)
    du = np.zeros(len(points), np.float32)
    up_move = (mid - 0.25 * gap) - v[upper_in]
    low_move = (mid + 0.75 * gap) - v[lower_in]
    if shape.lower_lip_in:
        low_move = (mid + 0.2 * W * 0.1) - v[lower_in] - 0.02 * W
        up_move = up_move - 0.035 * W * profile  # the upper lip lifts off the teeth
    dv[upper_in], dv[lower_in] = up_move, low_move
    # Outer lip points follow the inner point nearest along the mouth.
    for outer, inner_moves, inner_u in ((LIPS_UPPER_OUTER[1:-1], up_move, u[upper_in]),
                                        (LIPS_LOWER_OUTER[1:-1], low_move, u[lower_in])):
        for i in outer:
            dv[i] = np.interp(u[i], np.sort(inner_u), inner_moves[np.argsort(inner_u)])
    if shape.lower_lip_in:
        dv[list(LIPS_LOWER_OUTER[1:-1])] -= 0.03 * W  # the lower lip rolls in: it looks thinner
    jaw = float(low_move[len(low_move) // 2])
    lips = set(_UPPER) | set(_LOWER) | set(_CORNERS)
    for i in range(len(points)):
        if i in lips:
            continue
        side = np.clip(1 - max(0.0, abs(u[i]) - 0.35 * W) / (0.9 * W), 0, 1)
        if v[i] > 0:  # chin and jaw drop with the lower lip, fading towards the ears
            dv[i] = jaw * side * np.clip(v[i] / (0.15 * W), 0, 1) ** 0.5
        else:  # cheeks and the skin under the nose follow the upper lip a little
            dv[i] = float(up_move.mean()) * side * np.clip(1 + v[i] / (0.5 * W), 0, 1)
    corners_v = 0.35 * jaw + 0.65 * float(up_move.mean())
    for i in _CORNERS:
        dv[i] = corners_v
    # Spread or round: the lips scale along the mouth, the cheeks next to them a little.
    for i in range(len(points)):
        near = np.clip(1 - np.hypot(u[i] / (1.1 * W), v[i] / (0.7 * W)), 0, 1)
        scale = 1.0 if i in lips else near
        du[i] = shape.spread * 2 * u[i] * scale
        if smile:  # the corners pull up and out; the middle of the lips stays
            pull = (abs(u[i]) / (0.5 * W)) ** 2 * (1.0 if i in lips else near)
            dv[i] -= SMILE_LIFT * W * min(1.0, pull)
            du[i] += 0.5 * SMILE_LIFT * W * np.sign(u[i]) * min(1.0, pull)
    return (points + du[:, None] * f.ux + dv[:, None] * f.vy).astype(np.float32)


def _frame_ring(points: np.ndarray, f: MouthFrame) -> np.ndarray:
    """Fixed points around the lower face: from under the nose to below the chin, cheek to cheek."""
    top = float((points[NOSE_BASE] - f.centre) @ f.vy) - 0.08 * f.width
    bottom = float((points[CHIN] - f.centre) @ f.vy) + 0.9 * f.width
    a = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    rx, cy, ry = 1.35 * f.width, (top + bottom) / 2, (bottom - top) / 2
    u, v = rx * np.cos(a), cy + ry * np.sin(a)
    return (f.centre + u[:, None] * f.ux + v[:, None] * f.vy).astype(np.float32)


def mouth_layer(rgb: np.ndarray, alpha: np.ndarray, points: np.ndarray, name: str, light: float,
                smile: bool = False) -> np.ndarray:
    """The lower face for one viseme (smiling: its smiling variant) as an RGBA float layer (0..1), on the canvas."""
    h, w = rgb.shape[:2]
    f = frame(points)
    shape = SHAPES[name]
    ring = _frame_ring(points, f)
    src = np.concatenate([points, ring])
    dst = np.concatenate([targets(points, shape, smile), ring])
    triangles = _triangles(src, points, ring, f, (w, h))
    keep = None
    img = np.dstack([rgb.astype(np.float32) / 255.0, alpha])
    face, covered = warp(img, src, dst, triangles, keep)
    inner_dst = np.concatenate([dst[list(LIPS_UPPER_INNER)], dst[list(LIPS_LOWER_INNER[::-1][1:-1])]])
    opening = polygon_mask((w, h), inner_dst)
    interior = _interior(dst, opening, shape, f, light)
    region = feather(polygon_mask((w, h), ring * 0.9 + ring.mean(axis=0) * 0.1), 0.12 * f.width)
    face[..., 3] = face[..., 3] * covered * region * (1 - opening)
    out = interior
    a = face[..., 3:4]
    out_a = a + out[..., 3:4] * (1 - a)
    rgb_out = (face[..., :3] * a + out[..., :3] * out[..., 3:4] * (1 - a)) / np.maximum(out_a, 1e-6)
    return np.dstack([rgb_out, out_a[..., 0]]).astype(np.float32)


def _strip(outer: tuple[int, ...], inner: tuple[int, ...]) -> list[list[int]]:
    """Triangles between two contours of equal length that run the same way (a lip's outer and inner edge)."""
    out = []
    for i in range(len(outer) - 1):
        out += [[outer[i], outer[i + 1], inner[i]], [outer[i + 1], inner[i + 1], inner[i]]]
    return out


def _triangles(src: np.ndarray, points: np.ndarray, ring: np.ndarray, f: MouthFrame, size: tuple[int, int]
               ) -> np.ndarray:
    """The lips as strips between their outer and inner edges (so the mouth's gap is never bridged, however
    wide the photo's smile), the rest of the lower face by Delaunay around them."""
    lips = np.concatenate([points[list(LIPS_UPPER_OUTER)], points[list(LIPS_LOWER_OUTER[::-1][1:-1])]])
    contour = set(LIPS_UPPER_OUTER) | set(LIPS_LOWER_OUTER)
    inner = set(LIPS_UPPER_INNER) | set(LIPS_LOWER_INNER)
    lip_area = polygon_mask(size, lips)

    def on_lips(p: np.ndarray) -> bool:
        return bool(lip_area[int(np.clip(p[1], 0, size[1] - 1)), int(np.clip(p[0], 0, size[0] - 1))] >= 0.5)

    ids = [i for i in range(len(src)) if i >= len(points) or i in contour
           or (i not in inner and _in_lower_face(points[i], f, ring) and not on_lips(points[i]))]
    chosen = np.array(ids)
    around = chosen[triangulate(src[chosen], size)]
    outside = np.array([not on_lips(c) for c in src[around].mean(axis=1)], dtype=bool)
    strips = _strip(LIPS_UPPER_OUTER, LIPS_UPPER_INNER) + _strip(LIPS_LOWER_OUTER, LIPS_LOWER_INNER)
    return np.concatenate([around[outside], np.array(strips, dtype=np.int32)]).astype(np.int32)


def _in_lower_face(p: np.ndarray, f: MouthFrame, ring: np.ndarray) -> bool:
    rel = p - f.centre
    u, v = float(rel @ f.ux), float(rel @ f.vy)
    vs = (ring - f.centre) @ f.vy
    us = (ring - f.centre) @ f.ux
    return vs.min() + 2 < v < vs.max() - 2 and abs(u) < us.max() - 2


def _interior(dst: np.ndarray, opening: np.ndarray, shape: Shape, f: MouthFrame, light: float) -> np.ndarray:
    """Inside the mouth: a dark throat, the upper teeth under the upper lip, the lower teeth or tongue."""
    h, w = opening.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    rel_v = (xs - f.centre[0]) * f.vy[0] + (ys - f.centre[1]) * f.vy[1]
    rel_u = (xs - f.centre[0]) * f.ux[0] + (ys - f.centre[1]) * f.ux[1]
    top = float(((dst[list(LIPS_UPPER_INNER)] - f.centre) @ f.vy).min())
    bottom = float(((dst[list(LIPS_LOWER_INNER)] - f.centre) @ f.vy).max())
    span = max(1.0, bottom - top)
    throat = np.array([0.22, 0.09, 0.09]) * light
    rgb = np.broadcast_to(throat, (h, w, 3)).copy()
    depth = np.clip((rel_v - top) / span, 0, 1)[..., None]
    rgb *= 1.0 - 0.35 * (1 - np.abs(2 * depth - 1))  # darker in the middle of the opening
    teeth_colour = np.array([0.96, 0.94, 0.9]) * min(1.0, 0.7 + 0.4 * light)
    tooth_h = 0.11 * f.width
    edge = np.clip(1 - np.abs(rel_u) / (0.42 * f.width), 0, 1)[..., None] ** 0.35  # teeth recede at the sides
    if shape.upper_teeth:
        band = np.clip((top + tooth_h * (0.6 if shape.lower_lip_in else 1.0) - rel_v) / 1.5, 0, 1)[..., None]
        rgb = rgb * (1 - band * edge) + teeth_colour * (0.9 + 0.1 * depth) * band * edge
    if shape.lower_teeth:
        band = np.clip((rel_v - (bottom - 0.07 * f.width)) / 1.5, 0, 1)[..., None]
        rgb = rgb * (1 - band * edge) + teeth_colour * 0.85 * band * edge
    if shape.tongue:
        ty = bottom - shape.tongue * span
        tongue = np.clip(1 - np.hypot(rel_u / (0.32 * f.width), (rel_v - bottom) / max(1.0, bottom - ty)), 0, 1)
        tongue = np.clip(tongue * 6, 0, 1)[..., None]
        rgb = rgb * (1 - tongue) + np.array([0.62, 0.3, 0.3]) * light * tongue
    return np.dstack([np.clip(rgb, 0, 1), opening]).astype(np.float32)
