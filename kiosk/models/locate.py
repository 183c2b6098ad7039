"""Finding what the settings name on disk: a configured model (of the right kind) and the knowledge base."""

from __future__ import annotations

from pathlib import Path

from kiosk.config import Settings
from kiosk.models.manifest import Manifest, ModelLocation, load_manifest


class ModelKindError(ValueError):
    pass


def locate(settings: Settings, name: str, kind: str, key: str, manifest: Manifest | None = None) -> ModelLocation:
    """Finds a configured model and checks it is of the kind the config key needs."""
    manifest = manifest or load_manifest(settings.models.resolved_manifest, settings.models.resolved_dir)
    try:
        entry = manifest.get(name)
    except LookupError:
        choices = ", ".join(m for m in manifest.names() if manifest.get(m).kind == kind)
        raise ModelKindError(f"{_where(settings)}{key} = {name!r} is not in the model manifest; "
                             f"known {kind} models: {choices}") from None
    if entry.kind != kind:
        raise ModelKindError(f"{_where(settings)}{key} = {name!r} is a {entry.kind} model; a {kind} model is needed")
    return manifest.locate(name, settings.models.resolved_dir)


def _where(settings: Settings) -> str:
    return f"{settings.source}: " if settings.source else ""


def knowledge_path(settings: Settings, kb: str | Path | None = None) -> Path | None:
    """--kb wins over persona.knowledge_base; None when the persona has no documents."""
    value = str(kb) if kb else settings.persona.knowledge_base
    return Path(value).expanduser() if value else None
