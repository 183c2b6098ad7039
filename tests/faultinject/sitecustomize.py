"""Test-only fault injection for a real `kiosk run` (or any kiosk command): no hooks in the product.

Put this directory on the subprocess's PYTHONPATH and name the faults in KIOSK_FAULT:

    KIOSK_FAULT=llm-raise:once      llama.cpp's streamed completion (an answer) raises, the first time
    KIOSK_FAULT=llm-hang            every answer's completion blocks forever, as a wedged decode would
    KIOSK_FAULT=tts-raise:2         Piper's synthesis raises, the first two times
    KIOSK_FAULT=@/path/to/spec      the spec is read from that file at each call (missing or empty: no
                                    fault); a fault with a count rewrites the file as it is used up, so a
                                    benchmark can arm one fault at a time in a kiosk that keeps running

Several faults are separated by commas; without a count a fault fires every time. The faults wrap the
libraries at their boundary (`llama_cpp.llama.Llama.create_completion` with stream=True, which only
answers use: start-up's prefill does not stream; `piper.voice.PiperVoice.synthesize`) once those modules
are imported, so the kiosk's own code runs unchanged. Each fault that fires appends
"<CLOCK_MONOTONIC seconds> <fault>" to $KIOSK_FAULT_LOG when set (the same clock as the test's
time.monotonic()), so a test knows when the hang began.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

_LOCK = threading.Lock()
_USED: dict[str, int] = {}  # for a spec given in the environment: how often each fault fired


def _parse(spec: str) -> dict[str, int | None]:
    """"llm-raise:once,tts-raise" -> {"llm-raise": 1, "tts-raise": None} (None: every time)."""
    faults: dict[str, int | None] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, count = item.partition(":")
        faults[name] = None if not count else 1 if count == "once" else int(count)
    return faults


def _format(faults: dict[str, int | None]) -> str:
    return ",".join(name if count is None else f"{name}:{count}" for name, count in faults.items() if count != 0)


def _take(fault: str) -> bool:
    """Whether `fault` fires now; uses up one of its count."""
    spec = os.environ.get("KIOSK_FAULT", "")
    with _LOCK:
        if spec.startswith("@"):
            fired = _take_from_file(Path(spec[1:]), fault)
        else:
            faults = _parse(spec)
            count = faults.get(fault, 0)
            fired = fault in faults and (count is None or _USED.get(fault, 0) < count)
            if fired:
                _USED[fault] = _USED.get(fault, 0) + 1
    if fired and (log := os.environ.get("KIOSK_FAULT_LOG")):
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{time.monotonic():.3f} {fault}\n")
    return fired


def _take_from_file(path: Path, fault: str) -> bool:
    try:
        faults = _parse(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if fault not in faults or faults[fault] == 0:
        return False
    count = faults[fault]
    if count is not None:
        faults[fault] = count - 1
        path.write_text(_format(faults), encoding="utf-8")
    return True


def _hang() -> None:
    threading.Event().wait()  # forever: only SIGKILL (systemd's watchdog) ends it


def _patch_llama(module: Any) -> None:
    original = module.Llama.create_completion

    @functools.wraps(original)
    def create_completion(self: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("stream"):
            if _take("llm-raise"):
                raise RuntimeError("llama_decode returned -3 (fault injected: llm-raise)")
            if _take("llm-hang"):
                _hang()
        return original(self, *args, **kwargs)

    module.Llama.create_completion = create_completion


def _patch_piper(module: Any) -> None:
    original = module.PiperVoice.synthesize

    @functools.wraps(original)
    def synthesize(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        if _take("tts-raise"):
            raise RuntimeError("ONNXRuntimeError: fault injected: tts-raise")
        return original(self, *args, **kwargs)

    module.PiperVoice.synthesize = synthesize


PATCHES: dict[str, Callable[[Any], None]] = {"llama_cpp.llama": _patch_llama, "piper.voice": _patch_piper}


class _Loader(importlib.abc.Loader):
    """The module's own loader, then the patch."""

    def __init__(self, inner: importlib.abc.Loader, patch: Callable[[Any], None]) -> None:
        self.inner, self.patch = inner, patch

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Any:
        return self.inner.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self.inner.exec_module(module)
        self.patch(module)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if name not in PATCHES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _Loader(spec.loader, PATCHES[name])
                return spec
        return None


if os.environ.get("KIOSK_FAULT"):
    sys.meta_path.insert(0, _Finder())
