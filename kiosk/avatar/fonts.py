"""Which font draws a caption: Noto where installed (Debian/Ubuntu fonts-noto-core, fonts-noto-cjk),
DejaVu otherwise, pygame's built-in font as the last resort. CJK text needs a CJK font; Noto Sans and
DejaVu Sans both cover Latin, Cyrillic and Greek."""

from __future__ import annotations

import functools
from pathlib import Path

LATIN = (
    "/usr/share/fonts/truetype/noto/NotoSans-Medium.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)
CJK = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Medium.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)


def is_cjk(ch: str) -> bool:
    o = ord(ch)
    return (0x3040 <= o <= 0x30FF or 0x3400 <= o <= 0x4DBF or 0x4E00 <= o <= 0x9FFF
            or 0xAC00 <= o <= 0xD7AF or 0x1100 <= o <= 0x11FF or 0xF900 <= o <= 0xFAFF or 0xFF00 <= o <= 0xFFEF)


@functools.lru_cache(maxsize=4)
def _first(paths: tuple[str, ...]) -> str | None:
    return next((p for p in paths if Path(p).is_file()), None)


def font_for(text: str) -> str | None:
    """A font file for `text` (None: pygame's default font, Latin only)."""
    if any(is_cjk(ch) for ch in text):
        return _first(CJK) or _first(LATIN)
    return _first(LATIN)
