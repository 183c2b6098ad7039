#!/usr/bin/env python3
"""The photo presenter measured: build time and peak memory per photo, each viseme's mouth opening on the
rendered frame, and how much of the person outside the eyes, brows and mouth differs from the photo.

    .venv/bin/python tools/bench_photo_avatar.py [PHOTO ...] [--json]     # default: the test photos

Each photo is built in a child process (its peak RSS is the build's own). The mouth is measured on frames the
kiosk's renderer draws (pygame, headless, 640 px): the opening is the inside of the mouth (dark throat or bright
colourless teeth) where the closed (sil) frame is not, in a box around the mouth anchor, as height and width
in canvas px; `inside_share` is the box's share of inside-of-mouth pixels (for sil: what a smile's teeth or a
beard leave). Identity: the mean absolute
difference (0-255) between the neutral frame and the photo (levelled and scaled like the pack), over the
person's pixels away from the eyes (70 px), the mouth (130 x 110 px) and so the brows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

VISEMES = ("sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou")


def build(photo: Path, out: Path) -> dict:
    """Build in a child process; its wall time and peak RSS."""
    code = ("import json,sys,resource; from pathlib import Path;"
            "from kiosk.avatar.photo.builder import build_from_photo;"
            "r=build_from_photo(Path(sys.argv[1]), Path(sys.argv[2]));"
            "print(json.dumps({'seconds': r.seconds, 'face_px': r.face_px,"
            "'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024}))")
    done = subprocess.run([sys.executable, "-c", code, str(photo), str(out)], capture_output=True, text=True,
                          cwd=ROOT)
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(pack_dir: Path, photo: Path) -> dict:
    from PIL import Image

    from kiosk.avatar.animator import FaceState
    from kiosk.avatar.backend_pygame import PygameBackend
    from kiosk.avatar.face import FaceRenderer
    from kiosk.avatar.pack import load_pack
    from kiosk.avatar.photo.builder import _fit, _to_canvas
    from kiosk.avatar.photo.checks import check_photo, read_photo

    pack = load_pack(pack_dir)
    size = 640
    face = FaceRenderer(pack, PygameBackend((size, size), mode="headless"), height_px=size, centre_x=size // 2,
                        bottom_y=size)
    x, y = face._screen(pack.anchors["mouth"])
    s = face.scale
    region = (slice(int(y - 32 * s), int(y + 48 * s)), slice(int(x - 80 * s), int(x + 80 * s)))
    table = {}
    frames = {}
    for viseme in VISEMES:
        state = FaceState(mouth=((viseme, 1.0),), openness=1.0, blink=0.0, gaze=(0.0, 0.0),
                          expression=(("neutral", 1.0),), head_tilt=0.0, head_sway=(0.0, 0.0), breath=0.0,
                          state="idle", state_blend=1.0)
        face.backend.clear(pack.background)
        face.draw(state)
        frames[viseme] = face.backend.snapshot()[region].astype(np.float32)
    for viseme, rgb in frames.items():
        value, low = rgb.max(axis=2), rgb.min(axis=2)
        inside = (value < 70) | ((value > 170) & ((value - low) / np.maximum(value, 1) < 0.12))
        # The opening: inside-of-mouth pixels that are not so in the closed mouth (a beard or a shadow stays put).
        opened = inside & (np.abs(rgb - frames["sil"]).max(axis=2) > 40)
        rows, cols = np.flatnonzero(opened.sum(axis=1) >= 2), np.flatnonzero(opened.sum(axis=0) >= 2)
        table[viseme] = {"height_px": round(len(rows) / s, 1), "width_px": round(len(cols) / s, 1),
                         "inside_share": round(float(inside.mean()), 3)}
    rgb = read_photo(photo)
    aligned = _to_canvas(rgb, _fit(rgb, check_photo(photo, rgb))).astype(np.float32)
    frame = np.zeros_like(aligned)
    for path in (pack.layers["backdrop"], pack.layers["body"], pack.layers["head"], pack.layers["eyes"],
                 pack.layers["pupils"], pack.brows["neutral"], pack.mouth["sil"]):
        layer = np.asarray(Image.open(path), dtype=np.float32)
        frame = layer[..., :3] * layer[..., 3:4] / 255 + frame * (1 - layer[..., 3:4] / 255)
    keep = np.asarray(Image.open(pack.layers["head"]))[..., 3] > 250
    for anchor, (hw, hh) in (("eye_left", (70, 70)), ("eye_right", (70, 70)), ("mouth", (130, 110))):
        ax, ay = (int(v) for v in pack.anchors[anchor])
        keep[ay - hh:ay + hh, ax - hw:ax + hw] = False
    return {"mouth": table, "identity_mean_abs_diff": round(float(np.abs(frame - aligned)[keep].mean()), 2)}


def main() -> int:
    from test_photos import default_dir

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("photos", nargs="*", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    photos = args.photos or [default_dir() / n for n in ("astronaut.png", "hopper.jpg", "obama.jpg", "jesper.jpg",
                                                          "new_wave.jpg", "bearded.png")]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for photo in photos:
            out = Path(tmp) / photo.stem
            row = {"photo": photo.name, **build(photo, out)}
            if "error" not in row:
                row.update(measure(out, photo))
            results.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "mouth"}), file=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            print(r["photo"], {k: v for k, v in r.items() if k not in ("photo", "mouth")})
            if "mouth" in r:
                print("  " + ", ".join(f"{v} {m['height_px']:.0f}x{m['width_px']:.0f}" for v, m in r["mouth"].items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
