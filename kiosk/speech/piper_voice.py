"""Piper TTS: text in, per-sentence mono 16-bit audio plus a viseme timeline out.

The voice is loaded with phoneme alignments (the ONNX graph is patched in memory, which needs the
`onnx` package) so every chunk says how many samples each phoneme lasts; that becomes the mouth
shapes the avatar shows while the chunk plays.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from kiosk.config import SpeechSettings
from kiosk.events import SpeechClip
from kiosk.speech.joining import join_clips
from kiosk.speech.speakers import resolve_speaker
from kiosk.speech.spoken_text import for_speech
from kiosk.speech.visemes import VisemeSpan, timeline_from_alignments

log = logging.getLogger(__name__)
class PiperSpeaker:
    """A loaded Piper voice. Synthesis is blocking and CPU/GPU bound: call it from a worker thread."""

    def __init__(self, model_path: Path, settings: SpeechSettings, config_path: Path | None = None) -> None:
        import onnxruntime
        from piper import PiperConfig, PiperVoice

        self.settings = settings
        config_path = config_path or Path(f"{model_path}.json")
        config = PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
        name = model_path.name.removesuffix(".onnx")
        self.speaker_id: int | None = resolve_speaker(config, settings.speaker, name)  # before the slow load
        opts = onnxruntime.SessionOptions()
        # Idle worker threads would otherwise spin after each sentence, stealing the CPU the LLM
        # needs on small boards.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # Every sentence has a different length: onnxruntime's CPU arena and memory patterns would keep
        # growing with each new input shape (measured: ~1.2 MB per turn, 230 MB over 200 turns).
        opts.enable_cpu_mem_arena = False
        opts.enable_mem_pattern = False
        if settings.threads:
            opts.intra_op_num_threads = settings.threads
            opts.inter_op_num_threads = 1
        providers: list = ["CPUExecutionProvider"]
        if settings.use_cuda:
            available = onnxruntime.get_available_providers()
            if "CUDAExecutionProvider" in available:
                providers = [("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC"}), *providers]
            else:
                log.warning("speech.use_cuda is set but onnxruntime has no CUDA provider (%s); "
                            "using the CPU. Install the Jetson onnxruntime-gpu wheel (see provisioning/).",
                            ", ".join(available))
        session = onnxruntime.InferenceSession(_with_alignment_output(model_path), sess_options=opts,
                                               providers=providers)
        self.voice = PiperVoice(session=session, config=config)
        self.sample_rate: int = config.sample_rate

    def _syn_config(self):  # noqa: ANN202 - piper's own type
        from piper import SynthesisConfig

        length = self.voice.config.length_scale / self.settings.rate
        return SynthesisConfig(length_scale=length, volume=self.settings.volume, speaker_id=self.speaker_id)

    def speak(self, text: str) -> Iterator[SpeechClip]:
        """Yields one chunk per sentence Piper finds in `text` (usually one: we feed it sentences). The first
        clip carries `text`, any further ones none: the words are shown and heard as said once (a chunk of two
        sentences captioned twice over was the bug), and Piper does not say which words each clip holds."""
        syn = self._syn_config()
        said = for_speech(text) if self.voice.config.espeak_voice.startswith("en") else text  # caption: as written
        for n, chunk in enumerate(self.voice.synthesize(said, syn_config=syn, include_alignments=True)):
            pcm = chunk.audio_int16_array
            lead = quiet_lead(pcm, chunk.sample_rate)
            yield SpeechClip(text=text if n == 0 else "", pcm=pcm[lead:].tobytes(), sample_rate=chunk.sample_rate,
                              visemes=tuple(self._visemes(chunk, len(pcm), lead)))

    def speak_joined(self, text: str) -> SpeechClip:
        """All of `text` as one clip; sentences separated by `sentence_pause_s` of silence."""
        return join_clips(list(self.speak(text)), self.settings.sentence_pause_s, self.sample_rate)

    def _visemes(self, chunk, n_samples: int, lead: int) -> list[VisemeSpan]:  # noqa: ANN001 - piper AudioChunk
        """The timeline of the chunk's audio without its first `lead` samples."""
        if chunk.phoneme_alignments is None:
            # Rare (alignment mismatch inside Piper): a neutral mouth is better than a wrong one.
            log.debug("no phoneme alignments for a chunk; using a neutral timeline")
            pairs: list[tuple[str, int]] = [(p, 1) for p in chunk.phonemes]
        else:
            pairs = [(a.phoneme, int(a.num_samples)) for a in chunk.phoneme_alignments]
            pairs = _drop_front(pairs, lead * sum(n for _, n in pairs) // max(1, n_samples))
        return timeline_from_alignments(pairs, chunk.sample_rate, n_samples - lead)


def quiet_lead(pcm: np.ndarray, sample_rate: int, floor: int = 300, keep_s: float = 0.01) -> int:
    """Samples of near-silence (below ~-40 dBFS) before the voice starts, less `keep_s`. Piper begins
    every sentence with ~50 ms of it: the first answer sample comes that much sooner without it."""
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > floor)
    if not loud.size:
        return 0
    return max(0, int(loud[0]) - int(keep_s * sample_rate))


def _drop_front(pairs: list[tuple[str, int]], samples: int) -> list[tuple[str, int]]:
    """(phoneme, samples) pairs with the first `samples` cut off (the silence they covered)."""
    out = []
    for phoneme, n in pairs:
        if samples > 0 and n <= samples:  # wholly inside the cut
            samples -= n
            continue
        out.append((phoneme, n - samples))
        samples = 0
    return out


def _with_alignment_output(model_path: Path) -> bytes | str:
    """The voice graph with Piper's per-phoneme duration output added (in memory, file untouched)."""
    try:
        import onnx
        from piper.patch_voice_with_alignment import add_alignment_output
    except ImportError:
        log.warning("the onnx package is missing, so there are no lip-sync timings; "
                    "fix: .venv/bin/pip install onnx")
        return str(model_path)
    model = onnx.load(str(model_path))
    try:
        add_alignment_output(model)
    except ValueError as error:  # already patched on disk
        log.debug("voice not patched for alignments: %s", error)
    return model.SerializeToString()

