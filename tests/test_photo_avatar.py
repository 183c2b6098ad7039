"""`kiosk avatar from-photo` on real photographs (tools/test_photos.py takes them from PyPI packages): the pack
it writes passes `kiosk avatar check` and is drawn by the kiosk's own renderer; the mouth shapes, blinks and
gaze are measured on rendered frames; the person stays themselves; and every bad photo is refused with a
message naming the problem, writing nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import ImageFilter

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from kiosk.avatar.animator import FaceState  # noqa: E402
from kiosk.avatar.backend_pygame import PygameBackend  # noqa: E402
from kiosk.avatar.face import FaceRenderer  # noqa: E402
from kiosk.avatar.pack import check_pack, load_pack  # noqa: E402

pytest.importorskip("mediapipe", reason="the photo tools are installed by tools/dev setup (mediapipe 0.10.21)")
pytestmark = pytest.mark.slow  # MediaPipe's models and a pack built per photo: seconds each

from kiosk.avatar.photo.builder import build_from_photo  # noqa: E402
from kiosk.avatar.photo.checks import PhotoProblem  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from test_photos import default_dir  # noqa: E402

SIZE = 640


def photo(name: str) -> Path:
    path = default_dir() / name
    assert path.is_file(), f"{path} missing: run tools/dev setup (or .venv/bin/python tools/test_photos.py)"
    return path


@pytest.fixture(scope="module")
def astronaut(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("packs") / "astronaut"
    steps: list[float] = []
    report = build_from_photo(photo("astronaut.png"), out, name="Eileen",
                              progress=lambda _step, share: steps.append(share))
    assert report.pack == out and steps[0] == 0.0 and steps[-1] == 1.0 and steps == sorted(steps)
    return out


@pytest.fixture(scope="module")
def face(astronaut: Path) -> FaceRenderer:
    backend = PygameBackend((SIZE, SIZE), mode="headless")
    return FaceRenderer(load_pack(astronaut), backend, height_px=SIZE, centre_x=SIZE // 2, bottom_y=SIZE)


def state(**changes: object) -> FaceState:
    base = dict(mouth=(("sil", 1.0),), openness=1.0, blink=0.0, gaze=(0.0, 0.0), expression=(("neutral", 1.0),),
                head_tilt=0.0, head_sway=(0.0, 0.0), breath=0.0, state="idle", state_blend=1.0)
    base.update(changes)
    return FaceState(**base)  # type: ignore[arg-type]


def render(face: FaceRenderer, s: FaceState) -> np.ndarray:
    face.backend.clear(face.pack.background)
    face.draw(s)
    return face.backend.snapshot().astype(np.int16)


def box(face: FaceRenderer, anchor: str, half_w: float, half_h: float, dy: float = 0.0) -> tuple[slice, slice]:
    x, y = face._screen(face.pack.anchors[anchor])
    s = face.scale
    return (slice(int(y + (dy - half_h) * s), int(y + (dy + half_h) * s)),
            slice(int(x - half_w * s), int(x + half_w * s)))


def inside_mouth(frame: np.ndarray) -> np.ndarray:
    """Pixels of the mouth's inside: dark throat, or teeth (bright, colourless)."""
    rgb = frame.astype(np.float32)
    value, low = rgb.max(axis=2), rgb.min(axis=2)
    saturation = (value - low) / np.maximum(value, 1)
    return (value < 70) | ((value > 170) & (saturation < 0.12))


def test_a_photo_makes_a_pack_the_kiosk_accepts(astronaut: Path) -> None:
    assert check_pack(astronaut) == []
    pack = load_pack(astronaut)
    assert pack.name == "Eileen" and "backdrop" in pack.layers and pack.motion.mouth_min_scale == 1.0
    assert len(pack.mouth) == 15 and set(pack.brows) == {"neutral", "smile", "concern", "thinking"}
    assert len(pack.mouth_smile) == 15


def test_smiling_mouths_turn_up_at_the_corners(face: FaceRenderer) -> None:
    """The smiling variant of a shape raises the mouth's corners: the lips' dark line moves up at the sides."""
    x, y = face._screen(face.pack.anchors["mouth"])
    s = face.scale
    corner = (slice(int(y - 30 * s), int(y + 20 * s)), slice(int(x + 35 * s), int(x + 60 * s)))
    plain = render(face, state(mouth=(("E", 1.0),)))[corner]
    smiling = render(face, state(mouth=(("E", 1.0),), expression=(("smile", 1.0),)))[corner]

    def line_y(frame: np.ndarray) -> float:
        dark = frame.max(axis=2) < np.percentile(frame.max(axis=2), 15)
        return float(np.nonzero(dark)[0].mean())

    assert line_y(smiling) < line_y(plain) - 1.0, (line_y(smiling), line_y(plain))


def test_mouth_shapes_follow_their_definitions(face: FaceRenderer) -> None:
    """Opening height and width of the mouth's inside per viseme, on frames the kiosk's renderer draws. The
    photo smiles with its teeth showing; sil and PP must still be closed."""
    region = box(face, "mouth", 60, 40, dy=8)
    size = {}
    for viseme in ("sil", "PP", "FF", "aa", "E", "ih", "oh", "ou", "kk"):
        inner = inside_mouth(render(face, state(mouth=((viseme, 1.0),)))[region])
        rows, cols = np.flatnonzero(inner.sum(axis=1) >= 2), np.flatnonzero(inner.sum(axis=0) >= 2)
        size[viseme] = (len(rows), len(cols), int(inner.sum()))
    source = inside_mouth(_photo_mouth(face))
    assert source.sum() > 40, "the test photo shows its teeth (an open smile)"
    for closed in ("sil", "PP"):
        assert size[closed][2] <= 0.1 * size["aa"][2], (closed, size)
    assert size["aa"][0] == max(h for h, _, _ in size.values()), size  # aa opens widest (tallest)
    assert size["aa"][0] > size["E"][0] > size["sil"][0], size
    assert size["ou"][1] < size["E"][1] and size["oh"][1] < size["aa"][1], size  # rounded lips are narrower
    assert size["FF"][0] < size["aa"][0] / 2, size


def _photo_mouth(face: FaceRenderer) -> np.ndarray:
    """The head layer alone (the photo's own pixels) around the mouth."""
    face.backend.clear(face.pack.background)
    face._place(face.head["head"], len(face.angles) // 2, 0.0, (0.0, 0.0))
    return face.backend.snapshot().astype(np.int16)[box(face, "mouth", 60, 40, dy=8)]


def test_blinks_close_the_persons_own_eyelids(face: FaceRenderer, astronaut: Path) -> None:
    """The closed lids redraw the whole eye with skin from the lid (so it looks like the skin above the eye),
    and the half-closed lids about half of it."""
    pack = load_pack(astronaut)
    assert covered_when_shut(pack) > 0.8
    for anchor in ("eye_left", "eye_right"):
        region = box(face, anchor, 14, 5)
        opened, shut = render(face, state())[region], render(face, state(blink=1.0))[region]
        skin = render(face, state())[box(face, anchor, 14, 5, dy=-14)].reshape(-1, 3).mean(axis=0)
        assert np.abs(shut.reshape(-1, 3) - skin).mean() < np.abs(opened.reshape(-1, 3) - skin).mean(), anchor


def test_gaze_moves_the_irises_inside_the_eyes(face: FaceRenderer) -> None:
    region = box(face, "eye_left", 20, 10)

    def iris_x(frame: np.ndarray) -> float:
        dark = frame[region].max(axis=2) < 110
        return float(np.nonzero(dark)[1].mean())

    rest, right, left = (iris_x(render(face, state(gaze=(g, 0.0)))) for g in (0.0, 1.0, -1.0))
    assert right > rest + 0.5 and left < rest - 0.5, (left, rest, right)


def test_brows_move_for_expressions(face: FaceRenderer) -> None:
    region = box(face, "eye_left", 30, 22, dy=-30)
    neutral = render(face, state())[region]
    for expression in ("smile", "concern", "thinking"):
        moved = render(face, state(expression=((expression, 1.0),)))[region]
        assert np.abs(moved - neutral).max(axis=2).mean() > 1.0, expression


def test_outside_the_face_the_person_is_unchanged(astronaut: Path) -> None:
    """The neutral frame's pixels away from eyes, brows and mouth are the photo's own (identity)."""
    from PIL import Image

    from kiosk.avatar.photo.builder import _fit, _to_canvas
    from kiosk.avatar.photo.checks import check_photo, read_photo

    rgb = read_photo(photo("astronaut.png"))
    aligned = _to_canvas(rgb, _fit(rgb, check_photo(photo("astronaut.png"), rgb))).astype(np.float32)
    pack = load_pack(astronaut)
    frame = np.zeros((1024, 1024, 3), np.float32)
    for path in (pack.layers["backdrop"], pack.layers["body"], pack.layers["head"], pack.layers["eyes"],
                 pack.layers["pupils"], pack.brows["neutral"], pack.mouth["sil"]):
        layer = np.asarray(Image.open(path), dtype=np.float32)
        a = layer[..., 3:4] / 255
        frame = layer[..., :3] * a + frame * (1 - a)
    person = np.asarray(Image.open(pack.layers["head"]), dtype=np.float32)[..., 3] > 250
    keep = person.copy()
    for anchor, (hw, hh) in (("eye_left", (70, 70)), ("eye_right", (70, 70)), ("mouth", (130, 110))):
        x, y = (int(v) for v in pack.anchors[anchor])
        keep[y - hh:y + hh, x - hw:x + hw] = False
    assert keep.sum() > 50_000
    assert float(np.abs(frame - aligned)[keep].mean()) < 3.0


def _variant(tmp_path: Path, name: str, change) -> Path:  # noqa: ANN001
    from PIL import Image

    image = change(Image.open(photo("astronaut.png")).convert("RGB"))
    path = tmp_path / name
    image.save(path)
    return path


BAD = {
    "small": (lambda im: im.resize((200, 200)), "px tall"),
    "tilted": (lambda im: im.rotate(40, expand=True, fillcolor=(200, 200, 200)), "tilted"),
    "blurred": (lambda im: im.filter(ImageFilter.GaussianBlur(5)), "blurred"),
    "dark": (lambda im: im.point(lambda v: int(v * 0.12)), "too dark"),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_bad_photo_is_refused_with_what_to_do(tmp_path: Path, kind: str) -> None:
    change, words = BAD[kind]
    bad = _variant(tmp_path, f"{kind}.png", change)
    with pytest.raises(PhotoProblem) as refused:
        build_from_photo(bad, tmp_path / "pack")
    assert words in str(refused.value) and str(bad) in str(refused.value)
    assert not (tmp_path / "pack").exists()


def test_several_faces_need_a_choice(tmp_path: Path) -> None:
    with pytest.raises(PhotoProblem, match="5 faces found.*--face N"):
        build_from_photo(photo("group5.jpg"), tmp_path / "pack")
    assert not (tmp_path / "pack").exists()
    with pytest.raises(PhotoProblem, match="--face 9, but"):
        build_from_photo(photo("group5.jpg"), tmp_path / "pack", face=9)
    assert check_pack(build_from_photo(photo("group5.jpg"), tmp_path / "pack", face=1).pack) == []


def test_a_turned_face_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PhotoProblem, match="turned .* to the side"):
        build_from_photo(photo("luispedro.jpg"), tmp_path / "pack")
    assert not (tmp_path / "pack").exists()


@pytest.mark.parametrize("name", ["hopper.jpg", "obama.jpg", "jesper.jpg", "new_wave.jpg", "bearded.png"])
def test_different_people_make_presenters(tmp_path: Path, name: str) -> None:
    """Age, skin tone, glasses, a beard, a wide smile, a close-up: each makes a pack whose sil mouth is
    closed, whose aa mouth is open and whose blink hides the eyes' whites."""
    pack = build_from_photo(photo(name), tmp_path / "pack").pack
    assert check_pack(pack) == []
    face = FaceRenderer(load_pack(pack), PygameBackend((SIZE, SIZE), mode="headless"), height_px=SIZE,
                        centre_x=SIZE // 2, bottom_y=SIZE)
    mouth = box(face, "mouth", 60, 40, dy=8)
    closed = inside_mouth(render(face, state())[mouth]).sum()
    opened = inside_mouth(render(face, state(mouth=(("aa", 1.0),)))[mouth]).sum()
    assert opened > 150 and closed < 0.15 * opened, (closed, opened)
    assert covered_when_shut(load_pack(pack)) > 0.8


def composite(pack, names: list[Path]) -> np.ndarray:  # noqa: ANN001
    from PIL import Image

    frame = np.zeros((*pack.canvas[::-1], 3), np.float32)
    for path in names:
        layer = np.asarray(Image.open(path), dtype=np.float32)
        frame = layer[..., :3] * layer[..., 3:4] / 255 + frame * (1 - layer[..., 3:4] / 255)
    return frame


def covered_when_shut(pack) -> float:  # noqa: ANN001
    """Share of the open eyes' pixels that the closed lids redraw (at the canvas' resolution)."""
    from PIL import Image

    base = [pack.layers[k] for k in ("backdrop", "body", "head", "eyes", "pupils")]
    opened = composite(pack, base)
    shut = composite(pack, [*base, pack.layers["lids_closed"]])
    eyes = np.asarray(Image.open(pack.layers["eyes"]))[..., 3] > 128
    changed = np.abs(shut - opened).max(axis=2) > 12
    return float(changed[eyes].mean())


def test_closed_eyes_and_no_face_are_refused(tmp_path: Path, astronaut: Path) -> None:
    from PIL import Image

    pack = load_pack(astronaut)
    frame = np.zeros((1024, 1024, 3), np.float32)
    for path in (pack.layers["backdrop"], pack.layers["body"], pack.layers["head"], pack.layers["lids_closed"]):
        layer = np.asarray(Image.open(path), dtype=np.float32)
        frame = layer[..., :3] * layer[..., 3:4] / 255 + frame * (1 - layer[..., 3:4] / 255)
    shut = tmp_path / "shut.png"
    Image.fromarray(frame.astype(np.uint8)).save(shut)
    with pytest.raises(PhotoProblem, match="eyes are closed"):
        build_from_photo(shut, tmp_path / "pack")
    with pytest.raises(PhotoProblem, match="no face found"):
        build_from_photo(photo("coffee.png"), tmp_path / "pack")
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    with pytest.raises(PhotoProblem, match="not an image"):
        build_from_photo(text, tmp_path / "pack")
    assert not (tmp_path / "pack").exists()


def test_cli_writes_a_pack_and_refuses_a_bad_photo(tmp_path: Path) -> None:
    kiosk = [sys.executable, "-m", "kiosk.cli"]
    done = subprocess.run([*kiosk, "avatar", "from-photo", str(photo("astronaut.png")), "--out",
                           str(tmp_path / "p"), "--background", "#203040"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "100% done" in done.stderr and "[persona] avatar" in done.stdout
    assert load_pack(tmp_path / "p").background == (0x20, 0x30, 0x40)
    bad = subprocess.run([*kiosk, "avatar", "from-photo", str(photo("coffee.png")), "--out", str(tmp_path / "q"),
                          "--json"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and json.loads(bad.stdout)["problem"] == "no face found"
    assert "Traceback" not in bad.stderr and not (tmp_path / "q").exists()


def test_the_head_moves_with_the_neck_without_tearing(face: FaceRenderer) -> None:
    """Tilted and swayed as far as the pack allows, the neck band (where head and body layers meet) stays the
    person's, close to the resting frame: no backdrop shows through, no second outline."""
    x, y = face._screen(face.pack.anchors["neck"])
    s = face.scale
    band = (slice(int(y - 12 * s), int(y + 12 * s)), slice(int(x - 40 * s), int(x + 40 * s)))
    rest = render(face, state())[band]
    for tilt, sway in ((1.0, (1.0, 0.0)), (-1.0, (-1.0, 0.5))):
        moved = render(face, state(head_tilt=tilt, head_sway=sway))[band]
        assert float(np.abs(moved - rest).mean()) < 5.0, (tilt, float(np.abs(moved - rest).mean()))  # ~1-1.5 here


def test_a_company_picture_as_background(tmp_path: Path) -> None:
    from PIL import Image

    picture = tmp_path / "brand.png"
    Image.new("RGB", (800, 500), (10, 120, 200)).save(picture)
    pack = build_from_photo(photo("hopper.jpg"), tmp_path / "pack", background=str(picture)).pack
    backdrop = np.asarray(Image.open(load_pack(pack).layers["backdrop"]))
    assert np.abs(backdrop[5, 5, :3].astype(int) - [10, 120, 200]).max() <= 2
    with pytest.raises(PhotoProblem, match="background"):
        build_from_photo(photo("hopper.jpg"), tmp_path / "other", background=str(tmp_path / "missing.png"))
