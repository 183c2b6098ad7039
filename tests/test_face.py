"""The talking head drawn for real (built-in packs, pygame headless), driven by real Piper clips.

Frames are captured at known playback times and measured: the mouth's dark interior is large on open
vowels and gone on p/b/m closures; the eyes' irises disappear during a blink within 10 s of idle.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from kiosk.avatar.animator import Animator  # noqa: E402
from kiosk.avatar.backend import PygameBackend  # noqa: E402
from kiosk.avatar.build import build_pack, builtin_packs  # noqa: E402
from kiosk.avatar.face import FaceRenderer  # noqa: E402
from kiosk.avatar.pack import BUILTIN_DIR, DEFAULT_PACK, load_pack, resolve_pack  # noqa: E402

SIZE = (640, 640)


@pytest.fixture(scope="module")
def backend() -> PygameBackend:
    for pack in builtin_packs():
        build_pack(pack)  # no-op when tools/dev setup already built them
    return PygameBackend(SIZE, mode="headless")


def renderer(backend: PygameBackend, name: str) -> FaceRenderer:
    return FaceRenderer(load_pack(BUILTIN_DIR / name), backend, height_px=SIZE[1], centre_x=SIZE[0] // 2,
                        bottom_y=SIZE[1])


def render(face: FaceRenderer, state) -> np.ndarray:  # noqa: ANN001
    face.backend.clear(face.pack.background)
    face.draw(state)
    return face.backend.snapshot()


def box(face: FaceRenderer, anchor: str, half_w: float, half_h: float) -> tuple[slice, slice]:
    x, y = face._screen(face.pack.anchors[anchor])
    s = face.scale
    return slice(int(y - half_h * s), int(y + half_h * s)), slice(int(x - half_w * s), int(x + half_w * s))


def dark_share(frame: np.ndarray, region: tuple[slice, slice], level: int = 90) -> float:
    """Share of pixels darker than `level` (irises and pupils)."""
    return float((frame[region].max(axis=2) < level).mean())


@pytest.mark.parametrize("name", ["ava", "max"])
def test_mouth_open_on_vowels_and_closed_on_pbm(backend: PygameBackend, runtime, name: str) -> None:  # noqa: ANN001
    """Each frame's mouth is compared with the pack's own open ("aa", wide and least open) and pressed ("PP")
    mouths; Piper's synthesis varies between runs, so the spans come from this run's own clip."""
    face = renderer(backend, name)
    clip = runtime.speaker.speak_joined("Bob, pop by the map, papa! Ah, father saw a large car far away.")
    # Long open vowels only: a short "a" squeezed between two full p/b/m closures never opens wide, and the
    # sentence's last one fades out with the voice.
    vowels = [s for s in clip.visemes if s.viseme in ("aa", "oh") and s.end_s - s.start_s >= 0.12
              and s.end_s < clip.duration_s - 0.3]
    closures = [s for s in clip.visemes if s.viseme == "PP"]
    assert vowels and closures, clip.visemes
    animator = Animator(seed=3)
    animator.set_state("speaking", 0.0)
    mouth = box(face, "mouth", 60, 40)
    still = animator.frame(0.0, None)
    ref_open = render(face, dataclasses.replace(still, mouth=(("aa", 1.0),), openness=1.0))[mouth].astype(int)
    ref_shut = render(face, dataclasses.replace(still, mouth=(("PP", 1.0),), openness=0.0))[mouth].astype(int)
    # The least an open vowel opens (quiet syllables, e.g. the last word of a sentence).
    ref_least = render(face, dataclasses.replace(still, mouth=(("aa", 1.0),), openness=0.35))[mouth].astype(int)
    assert np.abs(ref_open - ref_shut).mean() > 5  # the two references really differ
    animator.start_clip(clip)
    # Frames at the middle of each sound as it is heard, but for vowels early enough that the 60 ms look-ahead
    # is not yet fading to the next sound (the lead itself is pinned down in test_animator).
    targets = sorted([(min((s.start_s + s.end_s) / 2, s.end_s - 0.09), "open") for s in vowels]
                     + [((s.start_s + s.end_s) / 2, "shut") for s in closures])
    t_prev, seen = 0.0, []
    for t, want in targets:
        for step in np.arange(t_prev, t, 1 / 60):  # tick through the clip like the renderer does
            animator.frame(float(step), float(step))
        region = render(face, animator.frame(t, t))[mouth].astype(int)
        to_open = min(np.abs(region - ref_open).mean(), np.abs(region - ref_least).mean())
        to_shut = np.abs(region - ref_shut).mean()
        seen.append((round(t, 3), want, "open" if to_open < to_shut else "shut"))
        t_prev = t
    assert [x for x in seen if x[1] != x[2]] == [], seen


def test_blink_within_ten_seconds_of_idle(backend: PygameBackend) -> None:
    face = renderer(backend, DEFAULT_PACK)
    animator = Animator(seed=11)
    eyes = box(face, "eye_left", 14, 10)
    open_share = dark_share(render(face, animator.frame(0.0, None)), eyes)
    assert open_share > 0.1  # iris and pupil visible
    blinked_at = None
    for n in range(1, 300):
        t = n / 30
        state = animator.frame(t, None)
        if state.blink >= 0.75:
            assert dark_share(render(face, state), eyes) < open_share / 4  # lids cover the iris
            blinked_at = t
            break
    assert blinked_at is not None and blinked_at <= 10.0


def test_broken_pack_falls_back_to_a_built_in_one(tmp_path: Path) -> None:
    (tmp_path / "avatar.toml").write_text("[avatar]\nname = 'Broken'\ncanvas = [100, 100]\n")
    pack, why = resolve_pack(str(tmp_path))
    assert pack.path == BUILTIN_DIR / DEFAULT_PACK
    assert why and "[layers] body: missing" in why and str(tmp_path) in why
    pack, why = resolve_pack("")
    assert pack.name and why is None
