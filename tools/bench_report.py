"""How a benchmark hands in its result: the JSON report on stdout, and into --json when given."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def emit(report: dict[str, Any], json_path: str | None) -> None:
    text = json.dumps(report, indent=1, ensure_ascii=False)
    print(text)
    if json_path:
        Path(json_path).write_text(text + "\n")
