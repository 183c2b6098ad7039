#!/usr/bin/env python3
"""Ingest throughput (pages/s) on copies of the sample knowledge base, every format included.

    .venv/bin/python tools/bench_ingest.py [--copies 20] [--runs 3] [--json]

Each run ingests a fresh index from `copies` copies of samples/halvorsen (Markdown, HTML, PDF, DOCX,
FAQ): parsing, chunking, FTS5 indexing, one transaction. Pages are the parsers' own count (real
pages for PDF, 3000 characters elsewhere). A re-run over the unchanged folder is timed too.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk.knowledge.index import ingest  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "halvorsen"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        for i in range(args.copies):
            shutil.copytree(SAMPLES, docs / f"copy{i:03d}")
        rates, rescans, pages, files = [], [], 0.0, 0
        for run in range(args.runs):
            index = Path(tmp) / f"kb{run}.sqlite"
            report = ingest(index, [docs])
            assert not report.skipped, report.skipped
            rates.append(report.pages / report.seconds)
            pages, files = report.pages, len(report.added)
            rescans.append(ingest(index, [docs]).seconds)
    result = {"files": files, "pages": round(pages, 1), "pages_per_s_median": round(statistics.median(rates), 1),
              "pages_per_s_runs": [round(r, 1) for r in rates],
              "unchanged_rescan_s_median": round(statistics.median(rescans), 3)}
    print(json.dumps(result, indent=1) if args.json else
          f"{files} files, {pages:.0f} pages: {result['pages_per_s_median']} pages/s (median of {args.runs}); "
          f"unchanged re-run {result['unchanged_rescan_s_median']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
