"""An upload streamed to disk: a temporary name beside the target, renamed when complete, so a file is there
whole or not at all; larger than the limit (or empty) raises the caller's refusal, and nothing is left."""

from __future__ import annotations

from pathlib import Path
from typing import Any


async def stream_to(path: Path, part: Any, limit_mb: float, refused: type[ValueError]) -> int:
    """Writes the multipart `part` to `path`; its size in bytes. `refused(message)` for too large or empty."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.uploading")
    size, limit = 0, int(limit_mb * 2**20)
    try:
        with tmp.open("wb") as out:
            while chunk := await part.read_chunk(256 * 1024):
                size += len(chunk)
                if size > limit:
                    raise refused(f"{path.name} is larger than {limit_mb:.0f} MB")
                out.write(chunk)
        if size == 0:
            raise refused(f"{path.name} is empty")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return size
