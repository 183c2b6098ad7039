"""Avatar packs: a folder with `avatar.toml` and layered PNGs (format: docs/avatar-format.md).

`load_pack` validates everything up front and reports every problem at once (file or key, and what
to do), so a designer fixes a pack in one round trip; `resolve_pack` is what the kiosk uses: the
configured pack, or a built-in one with the reason when the configured one is broken.
"""

from __future__ import annotations

import logging
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.config_check import loads_toml
from kiosk.speech.visemes import VISEMES

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10 (JetPack 6)
    import tomli as tomllib  # type: ignore[no-redef]

log = logging.getLogger(__name__)

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"
DEFAULT_PACK = "ava"
EXPRESSIONS = ("neutral", "smile", "concern", "thinking")
REQUIRED_LAYERS = ("body", "head", "eyes", "pupils", "lids_half", "lids_closed")
OPTIONAL_LAYERS = ("hair_front", "backdrop")
ANCHORS = ("neck", "eye_left", "eye_right", "mouth")
MOTION_DEFAULTS = {"gaze_px": 6.0, "head_deg": 2.0, "head_px": 4.0, "breath_px": 3.0, "blink_ms": 150.0,
                   "mouth_min_scale": 0.55}
MOTION_RANGES = {"gaze_px": (0.0, 60.0), "head_deg": (0.0, 15.0), "head_px": (0.0, 60.0),
                 "breath_px": (0.0, 30.0), "blink_ms": (60.0, 600.0), "mouth_min_scale": (0.3, 1.0)}
SECTIONS = ("avatar", "anchors", "motion", "layers", "brows", "mouth", "mouth_smile", "cheeks")


class AvatarError(ValueError):
    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path, self.problems = path, problems
        super().__init__(f"avatar pack {path}: " + "; ".join(problems))


@dataclass(frozen=True)
class Motion:
    gaze_px: float
    head_deg: float
    head_px: float
    breath_px: float
    blink_ms: float
    mouth_min_scale: float = 0.55
    """an open mouth shape is drawn this much of its height when speech is quiet (1: always whole; photo
    packs, whose mouth layers hold the chin, must not be squashed)"""


@dataclass(frozen=True)
class AvatarPack:
    path: Path
    name: str
    canvas: tuple[int, int]
    background: tuple[int, int, int]
    anchors: dict[str, tuple[float, float]]
    motion: Motion
    layers: dict[str, Path]
    """body, head, eyes, pupils, lids_half, lids_closed and optionally hair_front and backdrop (a still
    picture behind everything, scaled to cover the screen)"""
    brows: dict[str, Path]
    mouth: dict[str, Path]
    mouth_smile: dict[str, Path] = field(default_factory=dict)
    cheeks: dict[str, Path] = field(default_factory=dict)
    author: str = ""
    license: str = ""


def png_info(path: Path) -> tuple[int, int, int]:
    """(width, height, PNG colour type) from the IHDR chunk; raises ValueError if not a PNG."""
    with open(path, "rb") as f:
        head = f.read(26)
    if len(head) < 26 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    width, height = struct.unpack(">II", head[16:24])
    return width, height, head[25]


def pack_path(name_or_path: str) -> Path:
    """A built-in pack's name ("ava", "max", "nova") or a folder path; "" is the default built-in."""
    name = name_or_path.strip() or DEFAULT_PACK
    if "/" not in name and (BUILTIN_DIR / name / "avatar.toml").is_file():
        return BUILTIN_DIR / name
    return Path(name).expanduser()


def load_pack(path: Path) -> AvatarPack:
    path = Path(path)
    manifest = path / "avatar.toml"
    problems: list[str] = []
    if not manifest.is_file():
        raise AvatarError(path, [f"{manifest}: not found (a pack is a folder with avatar.toml; "
                                 "see docs/avatar-format.md)"])
    try:
        data = loads_toml(manifest.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise AvatarError(path, [f"{manifest}: {error}"]) from None
    for section in data:
        if section not in SECTIONS:
            problems.append(f"avatar.toml: unknown section [{section}]; allowed: {', '.join(SECTIONS)}")
    avatar = _table(data, "avatar", problems)
    canvas = _canvas(avatar.get("canvas"), problems)
    background = _colour(avatar.get("background", "#202830"), problems)
    anchors = {name: _point(_table(data, "anchors", problems), name, canvas, problems) for name in ANCHORS}
    motion = _motion(data.get("motion", {}), problems)
    layers = _images(path, data, "layers", REQUIRED_LAYERS, OPTIONAL_LAYERS, canvas, problems)
    brows = _images(path, data, "brows", ("neutral",), EXPRESSIONS[1:], canvas, problems)
    mouth = _images(path, data, "mouth", VISEMES, (), canvas, problems)
    mouth_smile = _images(path, data, "mouth_smile", (), VISEMES, canvas, problems)
    cheeks = _images(path, data, "cheeks", (), EXPRESSIONS, canvas, problems)
    if problems:
        raise AvatarError(path, problems)
    return AvatarPack(path=path, name=str(avatar.get("name", path.name)), canvas=canvas, background=background,
                      anchors=anchors, motion=motion, layers=layers, brows=brows, mouth=mouth,
                      mouth_smile=mouth_smile, cheeks=cheeks, author=str(avatar.get("author", "")),
                      license=str(avatar.get("license", "")))


def check_pack(path: Path) -> list[str]:
    """Every problem of a pack (empty: it is good)."""
    try:
        load_pack(path)
    except AvatarError as error:
        return error.problems
    return []


def resolve_pack(configured: str) -> tuple[AvatarPack, str | None]:
    """The configured pack, or the default built-in one and why (never raises for a broken pack)."""
    try:
        return load_pack(pack_path(configured)), None
    except AvatarError as error:
        log.error("%s; using the built-in avatar %r", error, DEFAULT_PACK)
        if pack_path(configured) == BUILTIN_DIR / DEFAULT_PACK:
            raise  # the built-in pack itself is broken: an installation problem, not a content one
        return load_pack(BUILTIN_DIR / DEFAULT_PACK), str(error)


# -- validation helpers ------------------------------------------------------------------------------------


def _table(data: dict[str, Any], name: str, problems: list[str]) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        problems.append(f"avatar.toml: [{name}] must be a table")
        return {}
    return value


def _canvas(value: Any, problems: list[str]) -> tuple[int, int]:
    if (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) and 64 <= v <= 8192 for v in value)):
        return value[0], value[1]
    problems.append(f"avatar.canvas: expected [width, height] in px (64..8192), got {value!r}")
    return 0, 0


def _colour(value: Any, problems: list[str]) -> tuple[int, int, int]:
    if isinstance(value, str) and re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)
    problems.append(f"avatar.background: expected a colour like \"#20303f\", got {value!r}")
    return 0, 0, 0


def _point(anchors: dict[str, Any], name: str, canvas: tuple[int, int], problems: list[str]) -> tuple[float, float]:
    value = anchors.get(name)
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)):
        problems.append(f"anchors.{name}: expected [x, y] in canvas px, got {value!r}")
        return 0.0, 0.0
    x, y = float(value[0]), float(value[1])
    if canvas != (0, 0) and not (0 <= x < canvas[0] and 0 <= y < canvas[1]):
        problems.append(f"anchors.{name}: [{x:g}, {y:g}] is outside the {canvas[0]}x{canvas[1]} canvas")
    return x, y


def _motion(table: Any, problems: list[str]) -> Motion:
    values = dict(MOTION_DEFAULTS)
    if not isinstance(table, dict):
        problems.append("avatar.toml: [motion] must be a table")
        table = {}
    for key, value in table.items():
        if key not in MOTION_DEFAULTS:
            problems.append(f"motion.{key}: unknown key; allowed: {', '.join(MOTION_DEFAULTS)}")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not MOTION_RANGES[key][0] <= value <= MOTION_RANGES[key][1]:
            lo, hi = MOTION_RANGES[key]
            problems.append(f"motion.{key}: expected a number from {lo:g} to {hi:g}, got {value!r}")
        else:
            values[key] = float(value)
    return Motion(**values)


def _images(root: Path, data: dict[str, Any], section: str, required: tuple[str, ...], optional: tuple[str, ...],
            canvas: tuple[int, int], problems: list[str]) -> dict[str, Path]:
    table = _table(data, section, problems)
    out: dict[str, Path] = {}
    for key in required:
        if key not in table:
            problems.append(f"[{section}] {key}: missing (required; see docs/avatar-format.md)")
    for key, value in table.items():
        if key not in required and key not in optional:
            problems.append(f"[{section}] {key}: unknown; allowed: {', '.join(required + optional)}")
            continue
        if not isinstance(value, str) or not value:
            problems.append(f"[{section}] {key}: expected a PNG file name, got {value!r}")
            continue
        image = root / value
        problem = _image_problem(image, canvas)
        if problem:
            problems.append(f"[{section}] {key}: {problem}")
        else:
            out[key] = image
    return out


def _image_problem(image: Path, canvas: tuple[int, int]) -> str | None:
    if not image.is_file():
        svg = image.parent / "src" / (image.stem + ".svg")
        photo = next(iter(sorted((image.parent / "src").glob("photo.[jp][pn]g"))), None)
        source = svg if svg.is_file() else photo
        hint = f"; its source {source.name} exists: run kiosk avatar build" if source is not None else ""
        return f"{image}: not found{hint}"
    try:
        width, height, colour_type = png_info(image)
    except (OSError, ValueError) as error:
        return f"{image}: {error} (export it as PNG with transparency)"
    if colour_type != 6:
        return f"{image}: not RGBA (PNG colour type {colour_type}); export it with an alpha channel"
    if canvas != (0, 0) and (width, height) != canvas:
        return f"{image}: {width}x{height}, but the canvas is {canvas[0]}x{canvas[1]}; export every layer on the canvas"
    return None
