"""Avatar packs: loading, every validation message, and the fallback to a built-in pack."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from kiosk.avatar.pack import (
    REQUIRED_LAYERS,
    AvatarError,
    check_pack,
    load_pack,
    png_info,
)
from kiosk.speech.visemes import VISEMES

SIZE = (96, 80)


def write_png(path: Path, width: int, height: int, colour_type: int = 6) -> Path:
    channels = {6: 4, 2: 3}[colour_type]
    pixels = np.zeros((height, width, channels), dtype=np.uint8)
    pixels[height // 4: height // 2, width // 4: width // 2] = 200
    raw = b"".join(b"\0" + row.tobytes() for row in pixels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))
    return path


def make_pack(root: Path, extra: str = "", skip: tuple[str, ...] = ()) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    layers = [name for name in REQUIRED_LAYERS if name not in skip]
    mouth = [v for v in VISEMES if v not in skip]
    for name in [*layers, "brows_neutral", *(f"mouth_{v}" for v in mouth)]:
        write_png(root / f"{name}.png", *SIZE)
    lines = ["[avatar]", 'name = "Test"', f"canvas = [{SIZE[0]}, {SIZE[1]}]", 'background = "#102030"',
             "[anchors]", "neck = [48, 60]", "eye_left = [40, 30]", "eye_right = [56, 30]", "mouth = [48, 50]",
             "[layers]", *(f'{n} = "{n}.png"' for n in layers),
             "[brows]", 'neutral = "brows_neutral.png"',
             "[mouth]", *(f'{v} = "mouth_{v}.png"' for v in mouth), extra]
    (root / "avatar.toml").write_text("\n".join(lines) + "\n")
    return root


def test_a_good_pack_loads(tmp_path: Path) -> None:
    pack = load_pack(make_pack(tmp_path / "good"))
    assert pack.name == "Test" and pack.canvas == SIZE and pack.background == (0x10, 0x20, 0x30)
    assert set(pack.mouth) == set(VISEMES) and pack.anchors["neck"] == (48.0, 60.0)
    assert pack.motion.blink_ms == 150.0  # defaults fill a missing [motion]
    assert png_info(pack.layers["head"]) == (*SIZE, 6)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    root = make_pack(tmp_path / "bad", skip=("pupils", "aa"), extra="[motion]\ngaze_px = 500\nwobble = 1\n[extra]\n")
    write_png(root / "head.png", 50, 50)  # wrong size
    write_png(root / "eyes.png", *SIZE, colour_type=2)  # no alpha
    (root / "mouth_PP.png").write_bytes(b"GIF89a")  # not a PNG
    text = (root / "avatar.toml").read_text().replace("eye_left = [40, 30]", "eye_left = [400, 30]")
    (root / "avatar.toml").write_text(text)
    problems = check_pack(root)
    joined = "\n".join(problems)
    for expected in ("[layers] pupils: missing", "[mouth] aa: missing", "head.png: 50x50, but the canvas is 96x80",
                     "eyes.png: not RGBA", "mouth_PP.png: not a PNG", "anchors.eye_left: [400, 30] is outside",
                     "motion.gaze_px: expected a number from 0 to 60", "motion.wobble: unknown key",
                     "unknown section [extra]"):
        assert expected in joined, (expected, problems)
    assert len(problems) == 9


def test_missing_png_with_svg_source_says_to_build(tmp_path: Path) -> None:
    root = make_pack(tmp_path / "src")
    (root / "head.png").unlink()
    (root / "src").mkdir()
    (root / "src" / "head.svg").write_text("<svg/>")
    assert any("kiosk avatar build" in p for p in check_pack(root))


def test_not_a_pack(tmp_path: Path) -> None:
    with pytest.raises(AvatarError, match="avatar.toml: not found"):
        load_pack(tmp_path)
    (tmp_path / "avatar.toml").write_text("[avatar\n")
    with pytest.raises(AvatarError, match="avatar.toml"):
        load_pack(tmp_path)


def test_avatar_check_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from kiosk.cli.main import main

    good = make_pack(tmp_path / "good")
    assert main(["avatar", "check", str(good)]) == 0
    assert "ok" in capsys.readouterr().out
    bad = make_pack(tmp_path / "bad", skip=("eyes",))
    assert main(["avatar", "check", str(bad), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert report["problems"] == ["[layers] eyes: missing (required; see docs/avatar-format.md)"]
