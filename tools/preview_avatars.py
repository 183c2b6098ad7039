#!/usr/bin/env python3
"""Build the built-in avatar packs and write preview frames (layers composited with pygame, no window).

    .venv/bin/python tools/preview_avatars.py [OUT_DIR [PACK_DIR ...]]   # default /tmp/avatar-preview, built-ins

Writes OUT_DIR/<pack>_<frame>.png for a few poses, plus <pack>_visemes.png (every mouth shape, neutral
and smiling) and <pack>_gaze.png (pupils at +-gaze_px), so a change to the art can be judged at a glance.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pygame  # noqa: E402

from kiosk.avatar.build import build_pack, builtin_packs  # noqa: E402

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

# name: (lids, brows, cheeks, mouth, smiling)
FRAMES = {
    "idle": (None, "neutral", None, "sil", False),
    "aa": (None, "neutral", None, "aa", False),
    "pp": (None, "neutral", None, "PP", False),
    "oh": (None, "neutral", None, "oh", False),
    "blink": ("lids_closed", "neutral", None, "sil", False),
    "smile": (None, "smile", "smile", "sil", True),
    "smile_talk": (None, "smile", "smile", "E", True),
    "concern": (None, "concern", None, "sil", False),
    "thinking": ("lids_half", "thinking", None, "sil", False),
}
VISEMES = ("sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou")


def compose(pack: Path, toml: dict, lids: str | None, brows: str, cheeks: str | None, mouth: str, smiling: bool,
            gaze: tuple[float, float] = (0, 0)) -> pygame.Surface:
    img = lambda name: pygame.image.load(str(pack / name))  # noqa: E731
    layers, frame = toml["layers"], pygame.Surface(toml["avatar"]["canvas"])
    frame.fill(toml["avatar"]["background"])
    if "backdrop" in layers:
        frame.blit(img(layers["backdrop"]), (0, 0))
    mouths = toml.get("mouth_smile", {}) if smiling else {}
    for name in ("body", "head", "eyes"):
        frame.blit(img(layers[name]), (0, 0))
    frame.blit(img(layers["pupils"]), gaze)
    if lids:
        frame.blit(img(layers[lids]), (0, 0))
    frame.blit(img(toml["brows"].get(brows, toml["brows"]["neutral"])), (0, 0))
    if "hair_front" in layers:
        frame.blit(img(layers["hair_front"]), (0, 0))
    if cheeks and cheeks in toml.get("cheeks", {}):
        frame.blit(img(toml["cheeks"][cheeks]), (0, 0))
    frame.blit(img(mouths.get(mouth, toml["mouth"][mouth])), (0, 0))
    return frame


def sheet(tiles: list[pygame.Surface], columns: int) -> pygame.Surface:
    w, h = tiles[0].get_size()
    out = pygame.Surface((w * columns, h * -(-len(tiles) // columns)))
    for i, tile in enumerate(tiles):
        out.blit(tile, (i % columns * w, i // columns * h))
    return out


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/avatar-preview")
    out.mkdir(parents=True, exist_ok=True)
    pygame.display.init()
    pygame.display.set_mode((1, 1))
    packs = [Path(p) for p in sys.argv[2:]] or builtin_packs()
    for pack in packs:
        if not sys.argv[2:]:
            build_pack(pack)
        toml = tomllib.loads((pack / "avatar.toml").read_text(encoding="utf-8"))
        for name, args in FRAMES.items():
            pygame.image.save(compose(pack, toml, *args), str(out / f"{pack.name}_{name}.png"))
        mx, my = toml["anchors"]["mouth"]
        crop = pygame.Rect(int(mx) - 90, int(my) - 60, 180, 130)
        tiles = [compose(pack, toml, None, "neutral", None, v, smiling).subsurface(crop).copy()
                 for smiling in (False, True) for v in VISEMES]
        pygame.image.save(sheet(tiles, 5), str(out / f"{pack.name}_visemes.png"))
        g = toml["motion"]["gaze_px"]
        (lx, ly), (rx, _) = toml["anchors"]["eye_left"], toml["anchors"]["eye_right"]
        crop = pygame.Rect(int(lx) - 60, int(ly) - 45, int(rx - lx) + 120, 90)
        tiles = [compose(pack, toml, None, "neutral", None, "sil", False, (dx * g, dy * g)).subsurface(crop).copy()
                 for dx, dy in ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1), (-.7, -.7), (.7, .7), (-.7, .7), (.7, -.7))]
        pygame.image.save(sheet(tiles, 3), str(out / f"{pack.name}_gaze.png"))
        print(f"{pack.name}: {len(FRAMES) + 2} previews in {out}")


if __name__ == "__main__":
    main()
