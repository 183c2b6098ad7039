"""Piecewise-affine warping: a point set triangulated once (Delaunay, OpenCV), each triangle of the moved
points filled from its source triangle through one inverse map and one cv2.remap, so the photo's own
pixels (skin, lips, lids) take the new shape without seams."""

from __future__ import annotations

import numpy as np


def _cv2():  # noqa: ANN202 - the module
    from kiosk.avatar.photo.landmarks import INSTALL_HINT, PhotoToolMissing

    try:
        import cv2
    except ImportError as error:
        raise PhotoToolMissing(f"{INSTALL_HINT} ({error})") from None
    return cv2


def triangulate(points: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Delaunay triangles (T x 3 indices into `points`) of points inside a w x h image."""
    cv2 = _cv2()
    w, h = size
    subdiv = cv2.Subdiv2D((0, 0, w, h))
    index: dict[tuple[float, float], int] = {}
    for i, (x, y) in enumerate(points):
        x, y = float(np.clip(x, 0, w - 1)), float(np.clip(y, 0, h - 1))
        if (x, y) not in index:
            index[(x, y)] = i
            subdiv.insert((x, y))
    keys = np.array(list(index), dtype=np.float32)
    ids = np.array(list(index.values()))
    triangles = []
    for t in subdiv.getTriangleList():
        corners = t.reshape(3, 2)
        if (corners < 0).any() or (corners[:, 0] >= w).any() or (corners[:, 1] >= h).any():
            continue  # a triangle with one of Subdiv2D's outer helper vertices
        nearest = [int(ids[np.argmin(((keys - c) ** 2).sum(axis=1))]) for c in corners]
        if len(set(nearest)) == 3:
            triangles.append(nearest)
    return np.array(triangles, dtype=np.int32).reshape(-1, 3)


def warp(image: np.ndarray, src: np.ndarray, dst: np.ndarray, triangles: np.ndarray,
         keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`image` warped so that each triangle of `src` points lands on the same triangle of `dst` points.

    Returns (warped image, coverage): coverage is 1 where a kept triangle was drawn, 0 elsewhere (there the
    image is left as it was). `keep`: a mask of triangles to draw (default all)."""
    cv2 = _cv2()
    h, w = image.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    map_x, map_y = xs.copy(), ys.copy()
    covered = np.zeros((h, w), np.float32)
    for n, tri in enumerate(triangles):
        if keep is not None and not keep[n]:
            continue
        d, s = dst[tri].astype(np.float32), src[tri].astype(np.float32)
        (ax, ay), (bx, by) = d[1] - d[0], d[2] - d[0]
        if abs(float(ax * by - ay * bx)) < 1e-3:
            continue  # collapsed (a closed mouth's gap): nothing to fill
        x0, y0 = np.floor(d.min(axis=0)).astype(int).clip(0, [w - 1, h - 1])
        x1, y1 = np.ceil(d.max(axis=0)).astype(int).clip(0, [w - 1, h - 1]) + 1
        inside = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillConvexPoly(inside, np.round((d - [x0, y0]) * 16).astype(np.int32), 1, cv2.LINE_8, 4)
        m = cv2.getAffineTransform(d, s)  # target pixel -> source pixel
        gx, gy = xs[y0:y1, x0:x1], ys[y0:y1, x0:x1]
        sel = inside.astype(bool)
        map_x[y0:y1, x0:x1][sel] = (m[0, 0] * gx + m[0, 1] * gy + m[0, 2])[sel]
        map_y[y0:y1, x0:x1][sel] = (m[1, 0] * gx + m[1, 1] * gy + m[1, 2])[sel]
        covered[y0:y1, x0:x1][sel] = 1.0
    out = cv2.remap(image, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out, covered


def feather(mask: np.ndarray, radius: float) -> np.ndarray:
    """A 0..1 mask with edges softened over about `radius` px (a Gaussian blur of the hard mask)."""
    cv2 = _cv2()
    if radius <= 0:
        return mask.astype(np.float32)
    k = int(radius * 3) | 1
    return cv2.GaussianBlur(mask.astype(np.float32), (k, k), radius / 2)


def polygon_mask(size: tuple[int, int], polygon: np.ndarray) -> np.ndarray:
    """Float32 h x w, 1 inside the polygon (antialiased edge)."""
    cv2 = _cv2()
    w, h = size
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [np.round(polygon * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    return mask.astype(np.float32) / 255.0
