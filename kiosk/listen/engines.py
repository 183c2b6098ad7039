"""Which speech recognizer runs, and why (`kiosk doctor` reports the same reason)."""

from __future__ import annotations

from kiosk.config import Settings
from kiosk.listen.asr import AsrEngine
from kiosk.models import ModelMissingError


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
    return WhisperEngine(loc.path, language=settings.listen.language or None)
