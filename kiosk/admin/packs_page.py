"""The console's Content packs page behind the scenes: a signed pack uploaded into the packs folder's own
upload area, verified (signature and every file), installed with the health check and automatic rollback
(kiosk.appliance.packs), and any installed release made current again. The kiosk restarts to use a new one."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from kiosk.admin.upload import stream_to
from kiosk.appliance import pack_archive, packs
from kiosk.config import ServiceSettings

MAX_PACK_MB = 1024.0
_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class PackRefused(ValueError):
    pass


class Shelf:
    def __init__(self, service: ServiceSettings) -> None:
        self.root = Path(service.packs_root).expanduser()
        self.trust = Path(service.packs_trust).expanduser()
        self.uploads = self.root / ".uploads"

    def state(self) -> dict[str, Any]:
        current, found = packs.releases(self.root) if self.root.is_dir() else (None, [])
        return {"current": _describe(current) if current else None,
                "releases": [{**_describe(r), "current": r == current} for r in found],
                "uploaded": sorted(p.name for p in self.uploads.glob("*.kpack")) if self.uploads.is_dir() else [],
                "trust": str(self.trust), "root": str(self.root)}

    def target(self, filename: str) -> Path:
        base = filename.replace("\\", "/").rsplit("/", 1)[-1]
        if not base.lower().endswith(".kpack"):
            raise PackRefused("a content pack is a .kpack file (made with kiosk pack build)")
        stem = _NAME.sub("_", base[:-6]).strip("._") or "pack"
        return self.uploads / f"{stem[:80]}.kpack"

    async def save(self, filename: str, chunks: Any) -> Path:
        path = self.target(filename)
        await stream_to(path, chunks, MAX_PACK_MB, PackRefused)
        return path

    def uploaded(self, name: str) -> Path:
        path = self.target(name)
        if not path.is_file():
            raise PackRefused(f"{path.name} has not been uploaded")
        return path

    def verify(self, name: str) -> dict[str, Any]:
        """The pack's manifest when its signature and files check out; PackError otherwise."""
        manifest = pack_archive.verify(self.uploaded(name), self.trust)
        return {"name": manifest.get("name"), "version": manifest.get("version"),
                "files": len(manifest.get("files", {}))}

    def install(self, name: str) -> packs.Installed:
        return packs.install(self.uploaded(name), self.trust, self.root)

    def activate(self, release: str) -> packs.Installed:
        if "/" in release or release.startswith("."):
            raise PackRefused("not an installed release")
        return packs.activate(self.root, self.root / "releases" / release)


def _describe(release: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((release / pack_archive.MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = {}
    return {"release": release.name, "name": manifest.get("name", "?"), "version": manifest.get("version", "?")}
