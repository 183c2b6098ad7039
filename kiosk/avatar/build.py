"""Build avatar packs kept as sources: every `src/NAME.svg` becomes `NAME.png` in the pack folder, at the
canvas size from the pack's avatar.toml (format: docs/avatar-format.md); a pack whose source is a photo
(`src/photo.png` or `.jpg`, with `src/photo.toml` naming the presenter and the photo's licence) is made by
the photo avatar builder (kiosk/avatar/photo/).

cairosvg and MediaPipe are imported only when something has to be built, so loading prebuilt packs never
needs them.
"""

from __future__ import annotations

from pathlib import Path

from kiosk.avatar.pack import BUILTIN_DIR
from kiosk.config_check import loads_toml


def builtin_packs() -> list[Path]:
    """The built-in pack folders (those under kiosk/avatar/builtin with an avatar.toml), sorted by name."""
    if not BUILTIN_DIR.is_dir():
        return []
    return sorted(p for p in BUILTIN_DIR.iterdir() if (p / "avatar.toml").is_file())


def build_pack(pack_dir: Path, force: bool = False) -> list[Path]:
    """Rasterize `pack_dir/src/*.svg` to PNGs beside avatar.toml; returns the PNGs written.

    A PNG newer than its SVG is kept unless `force`. Raises ValueError if avatar.toml has no valid canvas.
    """
    pack_dir = Path(pack_dir)
    manifest = loads_toml((pack_dir / "avatar.toml").read_text(encoding="utf-8"))
    canvas = manifest.get("avatar", {}).get("canvas")
    if not (isinstance(canvas, list) and len(canvas) == 2 and all(isinstance(v, int) and v > 0 for v in canvas)):
        raise ValueError(f"{pack_dir / 'avatar.toml'}: avatar.canvas must be [width, height], got {canvas!r}")
    width, height = canvas
    photo = next(iter(sorted((pack_dir / "src").glob("photo.[jp][pn]g"))), None)
    if photo is not None:
        return _build_from_photo(pack_dir, photo, force)
    written: list[Path] = []
    for svg in sorted((pack_dir / "src").glob("*.svg")):
        png = pack_dir / f"{svg.stem}.png"
        if not force and png.is_file() and png.stat().st_mtime >= svg.stat().st_mtime:
            continue
        import cairosvg  # only needed when something is out of date

        cairosvg.svg2png(url=str(svg), write_to=str(png), output_width=width, output_height=height)
        written.append(png)
    return written


def _build_from_photo(pack_dir: Path, photo: Path, force: bool) -> list[Path]:
    """The pack's layers and avatar.toml made from its photo, when any is missing or older than the photo."""
    import shutil
    import tempfile

    from kiosk.avatar.pack import load_pack

    try:
        current = load_pack(pack_dir)
        made = [current.path / "avatar.toml", *current.layers.values(), *current.mouth.values(),
                *current.brows.values()]
        if not force and all(p.is_file() and p.stat().st_mtime >= photo.stat().st_mtime for p in made):
            return []
    except ValueError:
        pass  # not built yet (or broken): build it
    from kiosk.avatar.photo.builder import build_from_photo

    about = loads_toml((pack_dir / "src" / "photo.toml").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        built = build_from_photo(photo, Path(tmp) / "pack", name=str(about.get("name", pack_dir.name)),
                                 licence=str(about.get("license", ""))).pack
        written = []
        for item in sorted(built.iterdir()):
            shutil.copy2(item, pack_dir / item.name)
            written.append(pack_dir / item.name)
    return written
