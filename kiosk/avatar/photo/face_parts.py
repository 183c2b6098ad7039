"""Eyes, eyelids and brows made from the photo's own pixels (canvas space, RGBA float layers 0..1).

- eyes: each eye opening with the iris painted out of the person's own whites and lid shadow (inpainting),
  so the iris can move; pupils: the iris disc cut from the photo, inside the opening shrunk by the gaze range.
- lids: in each column of the eye, the skin above the upper lid stretched down over the eye (half and
  closed), the lid's edge and lashes kept at their thickness, so a blink shows the person's own eyelid.
- brows: the brow and the forehead above it warped (raised, frowned, one raised for "thinking") with
  the crease line and a ring around it held still, so the patch meets the face without a seam."""

from __future__ import annotations

import numpy as np

from kiosk.avatar.photo.regions import Eye
from kiosk.avatar.photo.warp import feather, polygon_mask, triangulate, warp

Layer = np.ndarray  # H x W x 4 float32, straight alpha 0..1


def _ring(centre: np.ndarray, rx: float, ry: float, n: int = 16) -> np.ndarray:
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([centre[0] + rx * np.cos(a), centre[1] + ry * np.sin(a)], axis=1).astype(np.float32)


def crease(eye: Eye, share: float = 0.45) -> np.ndarray:
    """Points between each brow point and the nearest upper-lid point: the line brows and lids both keep."""
    out = []
    for b in eye.brow_lower:
        u = eye.upper[np.argmin(np.linalg.norm(eye.upper - b, axis=1))]
        out.append(b + share * (u - b))
    return np.array(out, dtype=np.float32)


def gaze_range(eye: Eye) -> float:
    return max(1.0, 0.3 * eye.iris_r)


def eyes_and_pupils(rgb: np.ndarray, pair: tuple[Eye, Eye]) -> tuple[Layer, Layer]:
    """The eye openings with the irises painted out (inpainted from the person's own whites and lid
    shadow), and the irises alone, cut to where they can move without leaving the opening."""
    import cv2

    h, w = rgb.shape[:2]
    img = rgb.astype(np.float32) / 255.0
    eyes = np.zeros((h, w, 4), np.float32)
    pupils = np.zeros((h, w, 4), np.float32)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    for eye in pair:
        opening = polygon_mask((w, h), eye.opening)
        disc_all = np.hypot(xs - eye.iris[0], ys - eye.iris[1]) <= eye.iris_r * 1.2
        hole = (disc_all & (opening > 0)).astype(np.uint8)
        x0, y0 = (eye.opening.min(axis=0) - 3 * eye.iris_r).astype(int).clip(0)
        x1, y1 = (eye.opening.max(axis=0) + 3 * eye.iris_r).astype(int).clip(0, [w, h])
        patch = rgb[y0:y1, x0:x1]
        whites = cv2.inpaint(np.ascontiguousarray(patch), hole[y0:y1, x0:x1], max(2.0, eye.iris_r / 3),
                             cv2.INPAINT_TELEA).astype(np.float32) / 255
        region = opening[y0:y1, x0:x1]
        eyes[y0:y1, x0:x1, :3] = np.where(region[..., None] > 0, whites, eyes[y0:y1, x0:x1, :3])
        eyes[y0:y1, x0:x1, 3] = np.maximum(eyes[y0:y1, x0:x1, 3], region)
        inner = _erode(opening, gaze_range(eye) + 1)
        disc = np.clip(eye.iris_r + 0.5 - np.hypot(xs - eye.iris[0], ys - eye.iris[1]), 0, 1) * inner
        pupils[..., :3] = np.where(disc[..., None] > 0, img, pupils[..., :3])
        pupils[..., 3] = np.maximum(pupils[..., 3], disc)
    return eyes, pupils


def _erode(mask: np.ndarray, px: float) -> np.ndarray:
    import cv2

    k = max(1, int(round(px)))
    return cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))


def _patch(img: np.ndarray, alpha: np.ndarray, moving: np.ndarray, moved: np.ndarray, fixed: np.ndarray,
           region: np.ndarray, soft: float) -> Layer:
    """The photo warped so `moving` points go to `moved` while `fixed` stay, cut to the `region` polygon
    (feathered inwards, where the warp is the identity)."""
    h, w = img.shape[:2]
    src = np.concatenate([moving, fixed]).astype(np.float32)
    dst = np.concatenate([moved, fixed]).astype(np.float32)
    triangles = triangulate(src, (w, h))
    rgba = np.dstack([img, alpha])
    out, covered = warp(rgba, src, dst, triangles)
    inside = feather(_erode(polygon_mask((w, h), region), soft), soft / 2) * covered
    out[..., 3] *= inside
    return out


def lids(rgb: np.ndarray, alpha: np.ndarray, pair: tuple[Eye, Eye], closed: float) -> Layer:
    """Both upper lids lowered `closed` of the way to the lower lids (1 = shut): in each column of the eye,
    the skin from the crease to the lid's edge (lashes included) is stretched down to the new edge, so the
    person's own lid covers the eye; the crease stays where it is, and so do the brows above it."""
    import cv2

    img = rgb.astype(np.float32) / 255.0
    h, w = rgb.shape[:2]
    layer = np.zeros((h, w, 4), np.float32)
    for eye in pair:
        upper = eye.upper[np.argsort(eye.upper[:, 0])]
        lower = eye.lower[np.argsort(eye.lower[:, 0])]
        line = crease(eye)
        line = line[np.argsort(line[:, 0])]
        x0, x1 = int(np.floor(upper[:, 0].min())), int(np.ceil(upper[:, 0].max()))
        xs = np.arange(x0, x1 + 1, dtype=np.float32)
        top = np.interp(xs, upper[:, 0], upper[:, 1])
        bottom = np.maximum(np.interp(xs, lower[:, 0], lower[:, 1]), top)
        gap = bottom - top
        # Skin enough to cover the eye: from the crease, or higher for a lid that shows little skin.
        fold = np.minimum(np.interp(xs, line[:, 0], line[:, 1]), top - 0.8 * gap.max() - 2)
        edge = top + min(closed, 1.0) * gap + (0.8 if closed >= 1.0 else 0.0)
        lash = 0.15 * gap.max() + 1.5  # the lid's edge and lashes keep their own thickness
        y0, y1 = int(np.floor(fold.min())), int(np.ceil(edge.max())) + 2
        ys = np.arange(y0, y1, dtype=np.float32)[:, None]
        skin = (top - lash - fold) / np.maximum(edge - lash - fold, 1e-3)
        src_y = np.where(ys < fold, ys, np.where(ys < edge - lash, fold + (ys - fold) * skin,
                                                 top - (edge - ys))).astype(np.float32)
        src_x = np.broadcast_to(xs, src_y.shape).astype(np.float32)
        part = cv2.remap(np.dstack([img, alpha]), src_x, src_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        cover = np.clip(edge + 0.5 - ys, 0, 1) * np.clip(ys - fold + 1, 0, 1)
        ends = np.clip(np.minimum(xs - x0, x1 - xs) / 2.0, 0, 1)  # soft at the corners
        part[..., 3] = cover * ends
        region = layer[y0:y1, x0:x1 + 1]
        layer[y0:y1, x0:x1 + 1] = _over(part, region)
    return layer


BROW_MOVES = {  # (raise of each brow point, outer end first) in units of the brow's height above the eye
    "neutral": ((0, 0, 0, 0, 0), (0, 0, 0, 0, 0)),
    "smile": ((0.18, 0.24, 0.26, 0.24, 0.2), (0.18, 0.24, 0.26, 0.24, 0.2)),
    "concern": ((-0.08, 0.0, 0.14, 0.3, 0.4), (-0.08, 0.0, 0.14, 0.3, 0.4)),
    "thinking": ((0.3, 0.38, 0.4, 0.36, 0.3), (-0.04, -0.1, -0.14, -0.16, -0.16)),
}


def brows(rgb: np.ndarray, alpha: np.ndarray, pair: tuple[Eye, Eye], expression: str) -> Layer:
    img = rgb.astype(np.float32) / 255.0
    h, w = rgb.shape[:2]
    layer = np.zeros((h, w, 4), np.float32)
    for eye, raises in zip(pair, BROW_MOVES[expression], strict=True):
        line = crease(eye)
        height = float(np.mean(eye.upper[:, 1].min() - eye.brow_upper[:, 1])) or 10.0
        brow = np.concatenate([eye.brow_upper, eye.brow_lower])
        lift = np.array([*raises, *raises], np.float32)[:, None] * [0, -height]
        inward = 0.06 * height * (1 if eye.iris[0] < pair[1].iris[0] else -1) if expression == "concern" else 0.0
        shift = np.zeros_like(brow)
        shift[[3, 4, 8, 9], 0] = inward  # the inner ends draw together in a frown
        centre = brow.mean(axis=0)
        width = float(np.ptp(brow[:, 0]))
        top = _ring(centre - [0, 0.1 * height], 0.85 * width, 1.1 * height)
        ring = top[top[:, 1] < line[:, 1].min()]
        region = np.concatenate([ring, line])  # the forehead's arc and the crease, in order around the brow
        region = region[np.argsort(np.arctan2(region[:, 1] - centre[1], region[:, 0] - centre[0]))]
        part = _patch(img, alpha, brow, brow + lift + shift, np.concatenate([line, ring]), region,
                      soft=0.25 * height)
        layer = _over(part, layer)
    return layer


def _over(top: Layer, below: Layer) -> Layer:
    a = top[..., 3:4]
    out_a = a + below[..., 3:4] * (1 - a)
    rgb = (top[..., :3] * a + below[..., :3] * below[..., 3:4] * (1 - a)) / np.maximum(out_a, 1e-6)
    return np.dstack([rgb, out_a[..., 0]]).astype(np.float32)
