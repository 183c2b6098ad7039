"""Voice activity detection without torch.

`SileroVad` runs the Silero VAD ONNX graph directly with onnxruntime. The model file ships in the
PyPI package `silero-vad`, which depends on torch; install it with `pip install --no-deps silero-vad`
and we only *locate* the file (never import the package, which would import torch).
`EnergyVad` is a model-free RMS fallback with the same interface.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
FRAME_SAMPLES = 512  # the only window size Silero v5+ accepts at 16 kHz
CONTEXT_SAMPLES = 64  # v5+ models expect the previous window's last 64 samples prepended
MODEL_NAME = "silero_vad.onnx"  # opset 16, accepts 8k and 16k; same file load_silero_vad(onnx=True) uses


@runtime_checkable
class Vad(Protocol):
    frame_samples: int

    def prob(self, frame: np.ndarray) -> float: ...

    def reset(self) -> None: ...


def _to_float(frame: np.ndarray, frame_samples: int) -> np.ndarray:
    a = np.asarray(frame)
    if a.ndim != 1 or a.shape[0] != frame_samples:
        raise ValueError(f"expected a mono frame of {frame_samples} samples, got shape {a.shape}")
    if a.dtype == np.int16:
        return a.astype(np.float32) / 32768.0
    if a.dtype.kind == "f":
        return a.astype(np.float32, copy=False)
    raise TypeError(f"unsupported sample dtype {a.dtype}; use int16 or float32")


def find_silero_model(name: str = MODEL_NAME) -> Path:
    """Path to the ONNX file inside the installed `silero_vad` package, found without importing it."""
    spec = importlib.util.find_spec("silero_vad")  # top-level: locates only, executes nothing
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("silero_vad package not installed (pip install --no-deps silero-vad)")
    for root in spec.submodule_search_locations:
        path = Path(root) / "data" / name
        if path.is_file():
            return path
    raise FileNotFoundError(f"{name} not found in silero_vad package at {list(spec.submodule_search_locations)}")


class SileroVad:
    """Streaming Silero VAD (16 kHz, 512-sample frames); mirrors silero_vad.utils_vad.OnnxWrapper."""

    frame_samples: int = FRAME_SAMPLES

    def __init__(self, model_path: Path | None = None, threshold: float = 0.5) -> None:
        import onnxruntime as ort  # deferred so EnergyVad users need no onnxruntime

        self.model_path = Path(model_path) if model_path is not None else find_silero_model()
        self.threshold = threshold
        opts = ort.SessionOptions()
        # One thread each: a 512-sample frame is tiny; extra threads only add wake-up latency.
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(self.model_path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)
        self.reset()
        log.info("Silero VAD loaded from %s", self.model_path)

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros((1, CONTEXT_SAMPLES), dtype=np.float32)

    def prob(self, frame: np.ndarray) -> float:
        x = _to_float(frame, self.frame_samples)[np.newaxis, :]
        inp = np.concatenate([self._context, x], axis=1)
        out, state = self._session.run(None, {"input": inp, "state": self._state, "sr": self._sr})
        self._state = state
        self._context = inp[:, -CONTEXT_SAMPLES:]
        return float(out[0, 0])

    def is_speech(self, frame: np.ndarray) -> bool:
        return self.prob(frame) >= self.threshold


class EnergyVad:
    """RMS-level fallback: maps dBFS linearly onto [0, 1] so 0.5 sits at `threshold_dbfs`.

    Crude (any loud noise is "speech") but needs no model; good enough to keep a kiosk usable.
    """

    frame_samples: int = FRAME_SAMPLES

    def __init__(self, threshold_dbfs: float = -40.0, width_db: float = 10.0, threshold: float = 0.5) -> None:
        self.threshold_dbfs = threshold_dbfs
        self.width_db = width_db  # dB span over which prob ramps from 0 to 1
        self.threshold = threshold

    def reset(self) -> None:  # stateless
        pass

    @staticmethod
    def dbfs(frame: np.ndarray) -> float:
        x = np.asarray(frame)
        x = x.astype(np.float64) / 32768.0 if x.dtype == np.int16 else x.astype(np.float64)
        rms = float(np.sqrt(np.mean(x * x))) if x.size else 0.0
        return 20.0 * np.log10(max(rms, 1e-10))

    def prob(self, frame: np.ndarray) -> float:
        _to_float(frame, self.frame_samples)  # same validation as SileroVad
        p = 0.5 + (self.dbfs(frame) - self.threshold_dbfs) / self.width_db
        return float(min(1.0, max(0.0, p)))

    def is_speech(self, frame: np.ndarray) -> bool:
        return self.prob(frame) >= self.threshold
