"""`kiosk ingest PATH... [--kb FILE] [--json]`: build or update the knowledge index."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from kiosk.config import Settings


def run_ingest(settings: Settings, paths: list[Path], kb: Path, json_out: bool = False) -> int:
    from kiosk.knowledge.index import ingest
    from kiosk.knowledge.parsers import ParseLimits

    missing = [p for p in paths if not p.exists()]
    if missing:
        print("kiosk ingest: not found: " + ", ".join(str(p) for p in missing), file=sys.stderr)
        return 2
    limits = ParseLimits(max_bytes=int(settings.knowledge.max_file_mb * 1024 * 1024))
    embedder = None
    if settings.knowledge.embedding:
        from kiosk.knowledge.embed import LlamaEmbedder
        from kiosk.models.locate import locate

        loc = locate(settings, settings.knowledge.embedding, "embedding", "knowledge.embedding")
        embedder = LlamaEmbedder(loc.path, settings.knowledge.embedding, settings.llm)
    report = ingest(kb, paths, limits=limits, embedder=embedder)
    if json_out:
        print(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        print(
            f"{kb}: {len(report.added)} added, {len(report.updated)} updated, {len(report.removed)} removed, "
            f"{len(report.unchanged)} unchanged; {report.chunks} passages; "
            f"{report.pages:.1f} pages in {report.seconds:.2f} s"
        )
        for path, reason in report.skipped:
            print(f"  skipped {path}: {reason}")
    return 0
