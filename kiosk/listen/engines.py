"""Which speech recognizer runs, and why (`kiosk doctor` reports the same reason)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from kiosk.config import Settings
from kiosk.listen.asr import AsrEngine
from kiosk.models import ModelMissingError

if TYPE_CHECKING:
    from kiosk.listen.listener import Listener
    from kiosk.listen.vad import Vad
    from kiosk.listen.wake import WakeSpotter


def choose_asr(settings: Settings) -> tuple[str, str]:
    """(engine, reason). Vosk streams and supports grammars (wake phrase); Whisper is the fallback."""
    from kiosk.runtime import locate

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
    from kiosk.runtime import locate

    engine, _ = choose_asr(settings)
    if engine == "vosk":
        from kiosk.listen.asr_vosk import VoskEngine

        return VoskEngine(locate(settings, settings.listen.vosk_model, "asr", "listen.vosk_model").path)
    from kiosk.listen.asr_whisper import WhisperEngine

    loc = locate(settings, settings.listen.whisper_model, "asr", "listen.whisper_model")
    return WhisperEngine(loc.path, language=settings.listen.language or None, window_s=settings.listen.whisper_window_s)


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
    return TranscriptSpotter(asr, phrase, settings.listen.wake_sensitivity)


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
