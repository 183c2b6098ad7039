"""`kiosk avatar from-photo`: one checked photo -> an ordinary avatar pack (docs/avatar-format.md).

The photo is turned level and scaled so the face sits where the built-in presenters' faces sit on a
1024 px canvas; the person is cut out (soft hair edges), the head with the upper neck becomes the layer
that tilts and sways about the neck, the shoulders the layer that breathes, and the background (blurred
and with the person painted out, a colour, or a company image) a still backdrop behind them. Eyes, lids,
brows and the 15 mouth shapes are warped from the photo's own pixels (face_parts.py, mouth.py)."""

from __future__ import annotations

import logging
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kiosk.avatar.photo import face_parts, mouth
from kiosk.avatar.photo.checks import CheckedPhoto, PhotoProblem, check_photo, read_photo
from kiosk.avatar.photo.landmarks import person_mask
from kiosk.avatar.photo.regions import CHIN, FACE_OVAL, eyes
from kiosk.avatar.photo.warp import feather, polygon_mask
from kiosk.speech.visemes import VISEMES

log = logging.getLogger(__name__)

CANVAS = 1024
EYES_AT = (512.0, 420.0)  # where the built-in presenters have their eyes
EYE_TO_MOUTH = 150.0  # px on the canvas
Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class BuildReport:
    pack: Path
    seconds: float
    faces_found: int
    face_px: int
    """the face's height in the photo"""


def _fit(rgb: np.ndarray, checked: CheckedPhoto) -> np.ndarray:
    """The 2 x 3 affine that levels the eyes and puts the face at the canvas' face position."""
    p = checked.face.points
    left, right = eyes(p)
    eye_mid = (left.iris + right.iris) / 2
    mouth_mid = (p[13] + p[14]) / 2
    roll = np.arctan2(right.iris[1] - left.iris[1], right.iris[0] - left.iris[0])
    scale = EYE_TO_MOUTH / max(1.0, float(np.linalg.norm(mouth_mid - eye_mid)))
    c, s = np.cos(-roll) * scale, np.sin(-roll) * scale
    m = np.array([[c, -s, 0.0], [s, c, 0.0]])
    m[:, 2] = np.array(EYES_AT) - m[:, :2] @ eye_mid
    return m


def _to_canvas(image: np.ndarray, m: np.ndarray, interpolation: int | None = None) -> np.ndarray:
    import cv2

    return cv2.warpAffine(image, m, (CANVAS, CANVAS), flags=interpolation if interpolation is not None
                          else cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _backdrop(rgb: np.ndarray, person: np.ndarray, inside: np.ndarray, background: str) -> np.ndarray:
    """The still picture behind the presenter (RGB float 0..1)."""
    import cv2

    if re.fullmatch(r"#[0-9a-fA-F]{6}", background):
        colour = np.array([int(background[i:i + 2], 16) for i in (1, 3, 5)], np.float32) / 255
        return np.broadcast_to(colour, (CANVAS, CANVAS, 3)).copy()
    if background != "blur":
        picture = read_photo(Path(background))
        h, w = picture.shape[:2]
        cover = CANVAS / min(h, w)
        picture = cv2.resize(picture, (max(CANVAS, round(w * cover)), max(CANVAS, round(h * cover))),
                             interpolation=cv2.INTER_AREA)
        y0, x0 = (picture.shape[0] - CANVAS) // 2, (picture.shape[1] - CANVAS) // 2
        return picture[y0:y0 + CANVAS, x0:x0 + CANVAS].astype(np.float32) / 255
    # The photo's own background, the person (and anything outside the photo) painted out, then blurred.
    small = 256
    missing = cv2.dilate(((person > 0.15) | (inside < 0.99)).astype(np.uint8), np.ones((31, 31), np.uint8))
    low = cv2.resize(rgb, (small, small), interpolation=cv2.INTER_AREA)
    low_missing = cv2.resize(missing, (small, small), interpolation=cv2.INTER_NEAREST)
    if low_missing.mean() > 0.97:  # a close-up with no background left: a dark tone of the photo's own colours
        seen = rgb[inside > 0.99]
        tone = seen.mean(axis=0) / 255 * 0.35 if len(seen) else np.array([0.12, 0.16, 0.2])
        return np.broadcast_to(tone, (CANVAS, CANVAS, 3)).astype(np.float32)
    painted = cv2.inpaint(low, low_missing, 9, cv2.INPAINT_TELEA)
    blurred = cv2.GaussianBlur(painted, (0, 0), 6)
    return cv2.resize(blurred, (CANVAS, CANVAS), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255


def _head_region(points: np.ndarray, neck_y: float) -> np.ndarray:
    """1 over the head and the neck above `neck_y`; the shoulders beside the neck stay with the body."""
    import cv2

    oval_w = float(np.ptp(points[:, 0]))
    centre_x = float(points[CHIN][0])
    jaw_y = float(points[CHIN][1]) - 0.25 * oval_w
    region = np.zeros((CANVAS, CANVAS), np.float32)
    region[: int(jaw_y)] = 1.0
    x0, x1 = int(centre_x - 0.42 * oval_w), int(centre_x + 0.42 * oval_w)
    region[int(jaw_y): int(neck_y), max(0, x0): min(CANVAS, x1)] = 1.0
    return cv2.GaussianBlur(region, (0, 0), 4)


def build_from_photo(photo: Path, out: Path, name: str = "", face: int | None = None, background: str = "blur",
                     progress: Progress | None = None, licence: str = "the photo's own licence") -> BuildReport:
    """Writes the pack folder `out` (created; an existing pack there is replaced only when complete)."""
    import cv2

    from kiosk.avatar.pack import check_pack

    t0 = time.perf_counter()
    say = progress or (lambda _step, _share: None)
    say("reading the photo", 0.0)
    rgb = read_photo(photo)
    if background not in ("blur",) and not re.fullmatch(r"#[0-9a-fA-F]{6}", background) \
            and not Path(background).is_file():
        raise PhotoProblem(background, "background is neither 'blur', a colour like #20303f, nor an image file",
                           "give --background blur, a colour, or the path of a picture")
    say("finding the face", 0.05)
    checked = check_photo(photo, rgb, face)
    say("cutting out the person", 0.15)
    person = person_mask(rgb)
    m = _fit(rgb, checked)
    canvas_rgb = _to_canvas(rgb, m)
    inside = _to_canvas(np.ones(rgb.shape[:2], np.float32), m, cv2.INTER_LINEAR)
    alpha = np.clip(_to_canvas(person, m, cv2.INTER_LINEAR), 0, 1) * inside
    points = (checked.face.points @ m[:, :2].T + m[:, 2]).astype(np.float32)
    pair = eyes(points)
    light = float(np.clip(canvas_rgb[alpha > 0.9].mean() / 160.0, 0.35, 1.3)) if (alpha > 0.9).any() else 1.0

    say("head, body and background", 0.25)
    face_h = float(np.ptp(points[:, 1]))
    neck_y = float(points[CHIN][1]) + 0.2 * face_h
    head_region = _head_region(points, neck_y)
    core = cv2.erode((head_region > 0.99).astype(np.float32), np.ones((19, 19), np.uint8))
    layers: dict[str, np.ndarray] = {}
    base = canvas_rgb.astype(np.float32) / 255
    layers["head"] = np.dstack([base, alpha * head_region])
    # The photo's own edges, and the canvas' bottom (the kiosk repeats the last row down to the screen's
    # edge, which for a photo draws streaks), fade into the backdrop instead of ending in a hard line.
    edge = feather(cv2.erode((inside > 0.99).astype(np.float32), np.ones((25, 25), np.uint8)), 10)
    ramp = np.clip((np.minimum(np.arange(CANVAS), CANVAS - 1 - np.arange(CANVAS)) - 3) / 90.0, 0, 1)
    fade = ramp[:, None] * ramp[None, :]  # the canvas' sides too: there the photo goes on, the canvas does not
    layers["body"] = np.dstack([base, alpha * (1 - feather(core, 4)) * edge * fade.astype(np.float32)])
    layers["head"][..., 3] *= edge
    layers["backdrop"] = np.dstack([_backdrop(canvas_rgb, alpha, inside, background), np.ones((CANVAS, CANVAS))])

    # The face itself is always opaque in the warped parts, even where segmentation hesitates (close-ups).
    alpha = np.maximum(alpha, feather(polygon_mask((CANVAS, CANVAS), points[list(FACE_OVAL)]), 3) * inside)
    say("eyes and eyelids", 0.35)
    layers["eyes"], layers["pupils"] = face_parts.eyes_and_pupils(canvas_rgb, pair)
    layers["lids_half"] = face_parts.lids(canvas_rgb, alpha, pair, 0.5)
    layers["lids_closed"] = face_parts.lids(canvas_rgb, alpha, pair, 1.0)
    brows = {}
    for i, expression in enumerate(face_parts.BROW_MOVES):
        say(f"brows: {expression}", 0.4 + 0.05 * i)
        brows[expression] = layers[f"brows_{expression}"] = face_parts.brows(canvas_rgb, alpha, pair, expression)
    for i, viseme in enumerate(VISEMES):
        say(f"mouth: {viseme}", 0.6 + 0.35 * i / len(VISEMES))
        layers[f"mouth_{viseme.lower()}"] = mouth.mouth_layer(canvas_rgb, alpha, points, viseme, light)
        layers[f"mouth_{viseme.lower()}_smile"] = mouth.mouth_layer(canvas_rgb, alpha, points, viseme, light,
                                                                    smile=True)

    say("writing the pack", 0.95)
    gaze = round(min(face_parts.gaze_range(e) for e in pair), 1)
    mouth_at = (points[13] + points[14]) / 2
    manifest = _manifest(name or photo.stem, pair, mouth_at, (float(points[CHIN][0]), neck_y), gaze,
                         _edge_colour(layers["backdrop"]), licence)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp:
        staging = Path(tmp) / "pack"
        staging.mkdir()
        for key, layer in layers.items():
            _write_png(staging / f"{key}.png", layer)
        (staging / "avatar.toml").write_text(manifest, encoding="utf-8")
        problems = check_pack(staging)
        if problems:
            raise RuntimeError("the pack made from the photo does not pass kiosk avatar check: " + "; ".join(problems))
        if out.exists():
            old = Path(tmp) / "old"
            out.rename(old)
        staging.rename(out)
    say("done", 1.0)
    return BuildReport(out, time.perf_counter() - t0, checked.faces_found,
                       int(np.ptp(checked.face.points[:, 1])))


def _edge_colour(backdrop: np.ndarray) -> str:
    edge = np.concatenate([backdrop[0, :, :3], backdrop[-1, :, :3], backdrop[:, 0, :3], backdrop[:, -1, :3]])
    r, g, b = (np.clip(edge.mean(axis=0), 0, 1) * 255).round().astype(int)
    return f"#{r:02x}{g:02x}{b:02x}"


def _write_png(path: Path, layer: np.ndarray) -> None:
    from PIL import Image

    rgba = np.clip(np.nan_to_num(layer) * 255 + 0.5, 0, 255).astype(np.uint8)
    rgba[..., :3][rgba[..., 3] == 0] = 0  # fully transparent pixels compress to nothing
    Image.fromarray(rgba, "RGBA").save(path, optimize=False, compress_level=6)


def _manifest(name: str, pair: tuple, mouth_at: np.ndarray, neck: tuple[float, float], gaze: float,
              background: str, licence: str) -> str:
    left, right = pair
    safe = name.replace("\\", "").replace('"', "'")
    mouth_lines = "\n".join(f'{v} = "mouth_{v.lower()}.png"' for v in VISEMES)
    smile_lines = "\n".join(f'{v} = "mouth_{v.lower()}_smile.png"' for v in VISEMES)
    brow_lines = "\n".join(f'{e} = "brows_{e}.png"' for e in face_parts.BROW_MOVES)
    return f"""# Made by `kiosk avatar from-photo` (kiosk/avatar/photo/): every layer is the photo's own pixels.
[avatar]
name = "{safe}"
canvas = [{CANVAS}, {CANVAS}]
background = "{background}"
author = "kiosk avatar from-photo"
license = "{licence.replace('"', "'")}"

[anchors]
neck = [{neck[0]:.1f}, {min(neck[1], CANVAS - 1):.1f}]
eye_left = [{left.iris[0]:.1f}, {left.iris[1]:.1f}]
eye_right = [{right.iris[0]:.1f}, {right.iris[1]:.1f}]
mouth = [{mouth_at[0]:.1f}, {mouth_at[1]:.1f}]

[motion]
gaze_px = {gaze}
head_deg = 1.5
head_px = 3.0
breath_px = 2.0
blink_ms = 150
mouth_min_scale = 1.0

[layers]
backdrop = "backdrop.png"
body = "body.png"
head = "head.png"
eyes = "eyes.png"
pupils = "pupils.png"
lids_half = "lids_half.png"
lids_closed = "lids_closed.png"

[brows]
{brow_lines}

[mouth]
{mouth_lines}

[mouth_smile]
{smile_lines}
"""
