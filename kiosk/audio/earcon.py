"""The wake earcon: a short, soft rising chime that says "I'm listening" the moment a wake is heard.

Made here rather than shipped as a file: two sine notes (a fifth apart) with smooth edges, 16-bit mono.
Short (0.16 s) and tonal, so it never looks like speech to the VAD (which needs `min_speech_ms` of
speech) and never delays an answer that is already on its way.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

RATE = 22050


@lru_cache(maxsize=4)
def chime(level_dbfs: float = -18.0, rate: int = RATE) -> bytes:
    notes = ((660.0, 0.07), (990.0, 0.09))
    parts = []
    for freq, seconds in notes:
        t = np.arange(int(seconds * rate)) / rate
        tone = np.sin(2 * np.pi * freq * t) + 0.25 * np.sin(4 * np.pi * freq * t)  # a little warmth
        edge = min(int(0.012 * rate), t.size // 2)
        envelope = np.ones(t.size)
        envelope[:edge] = np.linspace(0.0, 1.0, edge)
        envelope[-edge:] = np.linspace(1.0, 0.0, edge) ** 2
        parts.append(tone * envelope)
    wave = np.concatenate(parts)
    wave *= 10 ** (level_dbfs / 20) / np.max(np.abs(wave))
    return (wave * 32767).astype(np.int16).tobytes()
