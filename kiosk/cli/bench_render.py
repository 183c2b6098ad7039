"""`kiosk bench --render`: how fast the talking head draws, headless, while an answer is generated.

Same run, same backend, same screen size (default 1920x1080):
  floor     a plain full-screen blit of one image per frame: the cheapest possible frame
  avatar    the avatar speaking (lip-sync from a real Piper clip, blinks, gaze, head motion) with a
            caption, while the LLM generates answers in a background thread of the same process
fps = 1 / mean frame time of the avatar phase; ratio_to_floor = avatar fps / floor fps.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from typing import Any

import numpy as np

from kiosk.config import Settings

log = logging.getLogger(__name__)

SENTENCE = ("Welcome to Halvorsen Robotics! Orientation starts at half past nine in room A-104, "
            "and your buddy will meet you at reception.")


def _percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2)


def _generate_while(rt: Any, stop: threading.Event, counter: list[int]) -> None:
    questions = ("What should I bring on my first day?", "Where can I get lunch around here?")
    i = 0
    while not stop.is_set():
        turn = rt.engine.gate.begin()
        for _ in rt.engine.generate(turn, questions[i % 2]):
            counter[0] += 1
            if stop.is_set():
                rt.engine.gate.begin()  # cancels the turn
                break
        rt.engine.reset()
        i += 1


def measure_render(settings: Settings, seconds: float = 10.0, size: tuple[int, int] = (1920, 1080),
                   with_llm: bool = True, backend_name: str = "pygame") -> dict[str, Any]:
    """`backend_name`: pygame or cuda (the Jetson; what the first-boot checklist compares), drawn headless."""
    import dataclasses

    from kiosk.avatar.animator import Animator
    from kiosk.avatar.backend import open_backend
    from kiosk.avatar.face import FaceRenderer
    from kiosk.avatar.overlay import Overlay
    from kiosk.avatar.pack import resolve_pack
    from kiosk.runtime import Runtime

    screen = dataclasses.replace(settings.screen, backend=backend_name, mode="headless", width=size[0], height=size[1])
    backend = open_backend(screen)
    pack, _ = resolve_pack(settings.persona.avatar)
    face = FaceRenderer.presenter(pack, backend)
    overlay = Overlay(backend, size)
    floor_image = backend.image(np.full((size[1], size[0], 4), 255, dtype=np.uint8))  # an opaque photo
    frames = int(seconds * 30)

    floor = []
    for _ in range(frames):
        t0 = time.perf_counter()
        backend.draw(floor_image, 0, 0)
        backend.present()
        floor.append(time.perf_counter() - t0)

    with Runtime(settings, speech=True) as rt:
        assert rt.speaker is not None  # Runtime(speech=True)
        clip = rt.speaker.speak_joined(SENTENCE)
        animator = Animator(seed=1)
        animator.set_state("speaking", 0.0)
        overlay.set_state("speaking", 0.0)
        overlay.answer_sentence(SENTENCE, "Onboarding handbook")
        stop, tokens = threading.Event(), [0]
        worker = threading.Thread(target=_generate_while, args=(rt, stop, tokens), daemon=True)
        if with_llm:
            worker.start()
        times = []
        start = time.perf_counter()
        for n in range(frames):
            t = n / 30
            if n % int(clip.duration_s * 30) == 0:
                animator.start_clip(clip)
            playback = t % clip.duration_s
            t0 = time.perf_counter()
            backend.clear(pack.background)
            face.draw(animator.frame(t, playback))
            overlay.draw(t)
            backend.present()
            times.append(time.perf_counter() - t0)
        wall = time.perf_counter() - start
        stop.set()
        if with_llm:
            worker.join(timeout=30)
    fps = 1 / statistics.mean(times)
    floor_fps = 1 / statistics.mean(floor)
    return {
        "fps": round(fps, 1),
        "frame_ms_p50": _percentile([x * 1000 for x in times], 50),
        "frame_ms_p99": _percentile([x * 1000 for x in times], 99),
        "floor_fps": round(floor_fps, 1),
        "floor_frame_ms_p50": _percentile([x * 1000 for x in floor], 50),
        "ratio_to_floor": round(fps / floor_fps, 4),
        "frames": frames, "size": list(size), "backend": backend.name, "fallback": backend.fallback,
        "avatar": pack.name,
        "llm_generating": with_llm, "llm_tokens_during_frames": tokens[0],
        "llm_tokens_per_s_during_frames": round(tokens[0] / wall, 1),
        "targets": {"fps>=30": fps >= 30, "p99<=33ms": _percentile([x * 1000 for x in times], 99) <= 33},
    }
