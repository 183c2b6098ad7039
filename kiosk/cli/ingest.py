"""`kiosk ingest PATH... [--kb FILE] [--json]`: build or update the knowledge index."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from kiosk.config import Settings


def run_ingest(settings: Settings, paths: list[Path], kb: Path, json_out: bool = False) -> int:
    from kiosk.knowledge.documents import safe_name
    from kiosk.knowledge.rebuild import ingest_configured

    # lexists: a broken link or a symlink loop is there, and skipped with its reason like a FIFO or a device
    missing = [p for p in paths if not os.path.lexists(p)]
    if missing:
        print("kiosk ingest: not found: " + ", ".join(safe_name(str(p)) for p in missing), file=sys.stderr)
        return 2
    report = ingest_configured(settings, paths, kb)
    if json_out:
        print(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        print(
            f"{safe_name(str(kb))}: {len(report.added)} added, {len(report.updated)} updated, "
            f"{len(report.removed)} removed, {len(report.unchanged)} unchanged; {report.chunks} passages; "
            f"{report.pages:.1f} pages in {report.seconds:.2f} s"
        )
        if report.rebuilt:
            print(f"  the index was damaged and is rebuilt from the documents given here: {report.rebuilt}")
        for path, reason in report.skipped:
            print(f"  skipped {path}: {reason}")
    return 0
