"""Indexing the way the configuration says: the parsers' size limit and, when `knowledge.embedding` names a
model, its vectors. Shared by `kiosk ingest` and the admin console's re-index."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from kiosk.config import Settings
from kiosk.knowledge.index import IngestReport, ingest
from kiosk.knowledge.parsers import ParseLimits


def ingest_configured(settings: Settings, paths: Sequence[Path], kb: Path,
                      progress: Callable[[int, int, str], None] | None = None) -> IngestReport:
    limits = ParseLimits.from_settings(settings.knowledge.max_file_mb)
    embedder = None
    if settings.knowledge.embedding:
        from kiosk.knowledge.embed import LlamaEmbedder
        from kiosk.models.locate import locate

        loc = locate(settings, settings.knowledge.embedding, "embedding", "knowledge.embedding")
        embedder = LlamaEmbedder(loc.path, settings.knowledge.embedding, settings.llm)
    return ingest(kb, paths, limits=limits, embedder=embedder, progress=progress)
