"""Which speech recognizer runs, and why (`kiosk doctor` reports the same reason)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.config import Settings
from kiosk.listen.asr import AsrEngine
from kiosk.models.manifest import ModelMissingError

if TYPE_CHECKING:
    from kiosk.listen.listener import Listener
    from kiosk.listen.vad import Vad
    from kiosk.listen.wake import WakeSpotter

log = logging.getLogger(__name__)


def choose_asr(settings: Settings) -> tuple[str, str]:
    """(engine, reason). Vosk streams and supports grammars (wake phrase); Whisper is the fallback."""
    from kiosk.models.locate import locate

    listen = settings.listen
    if listen.engine == "whisper":
        return "whisper", "listen.engine = whisper"
    if listen.vosk_model:
        try:
            locate(settings, listen.vosk_model, "asr", "listen.vosk_model")
            return "vosk", f"listen.vosk_model = {listen.vosk_model!r} is installed"
        except ModelMissingError:
            if listen.engine == "vosk":
                raise
            return "whisper", f"listen.vosk_model = {listen.vosk_model!r} is not installed (kiosk models fetch it)"
    if listen.engine == "vosk":
        raise ModelMissingError("vosk", "listen.engine = vosk needs listen.vosk_model, e.g. "
                                "\"vosk-model-small-en-us-0.15\" (kiosk models fetch it on a connected machine)")
    return "whisper", "no Vosk model configured (listen.vosk_model)"


def build_asr(settings: Settings) -> AsrEngine:
    from kiosk.models.locate import locate

    engine, _ = choose_asr(settings)
    if engine == "vosk":
        from kiosk.listen.asr_vosk import VoskEngine

        vosk = VoskEngine(locate(settings, settings.listen.vosk_model, "asr", "listen.vosk_model").path)
        vosk.missing_words = vosk_missing_words(settings, vosk.model)
        return vosk
    from kiosk.listen.asr_whisper import WhisperEngine

    loc = locate(settings, settings.listen.whisper_model, "asr", "listen.whisper_model")
    listen = settings.listen
    return WhisperEngine(loc.path, language=listen.language or None, window_s=listen.whisper_window_s,
                         prompt=whisper_prompt(settings, loc.path / "tokenizer.json"),
                         question_window_s=listen.whisper_question_window_s, beam_size=listen.whisper_beam_size)


def _document_terms(settings: Settings, rarity: Callable[[str], float], max_codes: int | None = None) -> list[str]:
    """listen.vocabulary_extra, then the knowledge base's distinctive words, best first ([] when off)."""
    from kiosk.knowledge.index import KnowledgeError
    from kiosk.listen.vocabulary import extract
    from kiosk.models.locate import knowledge_path

    listen = settings.listen
    if listen.vocabulary == "off":
        return []
    terms = list(listen.vocabulary_extra)
    kb = knowledge_path(settings)
    if kb is not None:
        try:
            terms += [t.text for t in extract(kb, rarity, max_codes=max_codes)]
        except KnowledgeError as error:  # the answer path reports the index itself
            log.warning("no document vocabulary for the recognizer: %s", error)
    return terms


def whisper_prompt(settings: Settings, tokenizer_json: Path) -> str:
    """Whisper's initial prompt: the documents' vocabulary in listen.vocabulary_tokens ("" = none)."""
    from kiosk.listen.vocabulary import PROMPT_CODES, WhisperRarity, prompt_text

    if settings.listen.vocabulary == "off" or settings.listen.vocabulary_tokens == 0:
        return ""
    rarity = WhisperRarity(tokenizer_json)
    terms = _document_terms(settings, rarity, PROMPT_CODES)
    prompt = prompt_text(terms, rarity.count, settings.listen.vocabulary_tokens)
    if prompt:
        log.info("whisper primed with the documents' vocabulary (%d tokens): %s", rarity.count(prompt), prompt)
    return prompt


def vosk_missing_words(settings: Settings, model: Any, limit: int = 200) -> list[str]:
    """The documents' distinctive words (and listen.vocabulary_extra) that the Vosk model's vocabulary
    lacks: a small Vosk model can never write them, and cannot learn them at run time (only a bigger
    model's lexicon can be extended, on a connected machine). Ranked with Whisper's tokenizer when the
    embedded Whisper is installed, else every word of the documents counts."""
    from kiosk.listen.vocabulary import WhisperRarity, vosk_missing
    from kiosk.models.locate import ModelKindError, locate

    if settings.listen.vocabulary == "off":
        return []
    rarity: Callable[[str], float] = lambda _word: 1.0  # noqa: E731
    try:
        tokenizer = locate(settings, settings.listen.whisper_model, "asr", "listen.whisper_model").path
        if (tokenizer / "tokenizer.json").is_file():
            rarity = WhisperRarity(tokenizer / "tokenizer.json")
    except (ModelMissingError, ModelKindError):
        pass
    missing = vosk_missing(model, _document_terms(settings, rarity)[:limit])
    if missing:
        log.warning("the Vosk model cannot recognize %d of the documents' words (it will never write them): %s",
                    len(missing), ", ".join(missing[:30]) + (" ..." if len(missing) > 30 else ""))
    return missing


def build_vad(settings: Settings) -> Vad:
    from kiosk.listen.vad import EnergyVad, SileroVad

    if settings.listen.vad == "energy":
        return EnergyVad()
    return SileroVad(threshold=settings.listen.vad_threshold)


def build_spotter(settings: Settings, asr: AsrEngine, phrase: str | None = None) -> WakeSpotter:
    """Vosk: a grammar recognizer on the same model; otherwise the question recognizer's transcript."""
    from kiosk.listen.wake import TranscriptSpotter, VoskGrammarSpotter

    phrase = phrase or settings.listen.wake_phrase
    model = getattr(asr, "model", None)
    if asr.name == "vosk" and model is not None:
        return VoskGrammarSpotter(model, phrase, settings.listen.wake_decoys)
    if getattr(asr, "prompt", ""):
        asr = Unprimed(asr)
    sound = None
    if settings.listen.wake_acoustic and hasattr(asr, "encode"):
        from kiosk.listen.wake_samples import phrase_templates, samples_dir

        sound = phrase_templates(asr, phrase, settings.listen.wake_acoustic, samples_dir(settings))
    return TranscriptSpotter(asr, phrase, settings.listen.wake_sensitivity, sound)


class Unprimed:
    """The question recognizer as the wake spotter sees it: every utterance decoded without the
    documents' vocabulary. Primed, Whisper base kept the wake phrase in 0.69-0.75 of "Hey coach, ..."
    lines against 0.94 unprimed (it drops the phrase or spells it like a listed word; docs/benchmarks.md,
    "Document vocabulary"). Everything else is the engine's own (one model, one decode at a time)."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine

    def start(self) -> None:
        self._engine.start(bias=False)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


def build_listener(settings: Settings, wake_phrase: str | None = None, wake: bool = True) -> Listener:
    """The whole listening stack from the config; `wake=False`: every utterance is a question."""
    from kiosk.listen.listener import Listener

    asr = build_asr(settings)
    spotter = build_spotter(settings, asr, wake_phrase) if wake else None
    listen = settings.listen
    if wake_phrase:
        listen = dataclasses.replace(listen, wake_phrase=wake_phrase)
    return Listener(build_vad(settings), asr, spotter, listen, speaker=build_speaker_check(settings) if wake else None)


def build_speaker_check(settings: Settings):  # noqa: ANN201 - SpeakerEmbedder | None
    """The speaker-embedding model that tells the visitor's voice from a bystander's, when installed."""
    import logging

    from kiosk.listen.speaker import DVectorEmbedder, SpeakerModelMissing

    if not settings.listen.speaker_similarity:
        return None
    try:
        return DVectorEmbedder(models_dir=settings.models.resolved_dir)
    except SpeakerModelMissing as error:
        logging.getLogger(__name__).info("follow-ups judged without comparing voices: %s", error)
        return None


def describe_vocabulary(settings: Settings) -> tuple[str, str]:
    """(status "ok" | "warn", detail) for `kiosk doctor`: what the recognizer is told of the documents.
    Whisper: the primed words; Vosk (loads its model): the documents' words it lacks."""
    from kiosk.listen.vocabulary import WhisperRarity
    from kiosk.models.locate import knowledge_path, locate

    listen = settings.listen
    if listen.vocabulary == "off":
        return "ok", "listen.vocabulary = off: the recognizer hears the documents' words unprimed"
    source = str(knowledge_path(settings) or "no knowledge base")
    engine, _ = choose_asr(settings)
    if engine == "vosk":
        import vosk

        vosk.SetLogLevel(-1)
        model = vosk.Model(str(locate(settings, listen.vosk_model, "asr", "listen.vosk_model").path))
        missing = vosk_missing_words(settings, model)
        if not missing:
            return "ok", f"the Vosk model knows the documents' distinctive words ({source})"
        return "warn", (f"the Vosk model cannot write {len(missing)} of the documents' words ({source}): "
                        + ", ".join(missing[:20]) + (" ..." if len(missing) > 20 else "")
                        + "; a bigger Vosk model, or Whisper (listen.engine = whisper), hears them")
    tokenizer = locate(settings, listen.whisper_model, "asr", "listen.whisper_model").path / "tokenizer.json"
    prompt = whisper_prompt(settings, tokenizer)
    if not prompt:
        return "ok", f"Whisper unprimed ({source})"
    return "ok", (f"Whisper primed with {len(prompt.split(', '))} words of the documents "
                  f"({WhisperRarity(tokenizer).count(prompt)} of listen.vocabulary_tokens = "
                  f"{listen.vocabulary_tokens} tokens): {prompt[:120]}{' ...' if len(prompt) > 120 else ''}")
