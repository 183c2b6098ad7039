#!/usr/bin/env python3
"""Audio/video offset of the lip-sync: how far the drawn mouth's opening lags or leads the voice.

    .venv/bin/python tools/bench_av_sync.py [--avatar ava] [--fps 60] [--json]

Piper speaks a few sentences; the face is drawn for every frame with the mouth driven by the playback
position (as the kiosk and the demo video do), and the mouth's opening is measured in the pixels (the
share of the mouth box that differs from the closed mouth). The offset is the lag that maximises the
correlation between that opening and the voice's loudness, both sampled at the frame rate; positive =
the mouth moves after the sound. Target: within ±40 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk.avatar.animator import Animator  # noqa: E402
from kiosk.avatar.backend_pygame import PygameBackend  # noqa: E402
from kiosk.avatar.face import FaceRenderer  # noqa: E402
from kiosk.avatar.pack import pack_path, resolve_pack  # noqa: E402
from kiosk.config import Settings  # noqa: E402
from kiosk.runtime import build_speaker  # noqa: E402

SENTENCES = (
    "Welcome to Halvorsen Robotics! Orientation starts at half past nine in the Fjord room.",
    "Bring your passport, your bank details and a good pair of walking shoes.",
    "If a machine jams, press the red stop button, step back, and call your line lead.",
)


def loudness(pcm: np.ndarray, rate: int, fps: int) -> np.ndarray:
    hop = rate // fps
    frames = pcm[: pcm.size // hop * hop].astype(np.float64).reshape(-1, hop)
    return np.sqrt((frames ** 2).mean(axis=1))


def best_lag(a: np.ndarray, b: np.ndarray, max_lag: int) -> tuple[int, float]:
    """Lag (in samples of b relative to a) with the highest correlation, and that correlation."""
    a = (a - a.mean()) / (a.std() or 1)
    b = (b - b.mean()) / (b.std() or 1)
    best = (0, -2.0)
    for lag in range(-max_lag, max_lag + 1):
        x, y = (a[: a.size - lag], b[lag:]) if lag >= 0 else (a[-lag:], b[: b.size + lag])
        r = float(np.mean(x[: y.size] * y[: x.size]))
        best = max(best, (lag, r), key=lambda p: p[1])
    return best


def measure(avatar: str, fps: int) -> dict:
    speaker = build_speaker(Settings())
    pack, _ = resolve_pack(avatar)
    backend = PygameBackend((640, 640), mode="headless")
    face = FaceRenderer(pack, backend, height_px=640, centre_x=320, bottom_y=640)
    x, y = face._screen(pack.anchors["mouth"])
    s = face.scale
    box = (slice(int(y - 45 * s), int(y + 45 * s)), slice(int(x - 70 * s), int(x + 70 * s)))
    rows = []
    for text in SENTENCES:
        clip = speaker.speak_joined(text)
        animator = Animator(seed=1)
        animator.set_state("speaking", 0.0)
        backend.clear(pack.background)
        face.draw(animator.frame(0.0, None))
        closed = backend.snapshot()[box].astype(int)
        animator.start_clip(clip)
        opening = []
        n = int(clip.duration_s * fps)
        for i in range(n):
            t = i / fps
            backend.clear(pack.background)
            face.draw(animator.frame(t, t))
            frame = backend.snapshot()[box].astype(int)
            opening.append(float((np.abs(frame - closed).max(axis=2) > 40).mean()))
        pcm = np.frombuffer(clip.pcm, dtype=np.int16)
        voice = loudness(pcm, clip.sample_rate, fps)[:n]
        lag, r = best_lag(voice, np.array(opening[: voice.size]), max_lag=fps // 5)
        rows.append({"sentence": text, "offset_ms": round(1000 * lag / fps, 1), "correlation": round(r, 3)})
    offsets = [r["offset_ms"] for r in rows]
    return {"avatar": str(pack_path(avatar)), "fps": fps, "sentences": rows,
            "offset_ms_median": float(np.median(offsets)), "within_40ms": all(abs(o) <= 40 for o in offsets)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--avatar", default="ava")
    parser.add_argument("--fps", type=int, default=60, help="frames per second of the measurement")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = measure(args.avatar, args.fps)
    print(json.dumps(report, indent=1) if args.json else
          f"offset median {report['offset_ms_median']} ms: {[r['offset_ms'] for r in report['sentences']]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
