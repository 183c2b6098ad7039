"""`kiosk transcribe FILE.wav`: a file through the same listening path the kiosk hears a visitor with.

The file goes through the kiosk's own Listener with no wake phrase: Silero VAD cuts it into utterances,
each gets `listen.preroll_ms` of audio before its detected start, Whisper starts decoding
`listen.early_decode_ms` into a pause and encodes its `listen.whisper_window_s` window. So the words
printed are the words the kiosk would act on had the file been spoken into its microphone, not those
of one decode over the whole file (which differ: other context, other silence, other window).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kiosk.listen.asr import SAMPLE_RATE, AsrEngine

if TYPE_CHECKING:
    from kiosk.config import Settings
    from kiosk.events import ListenEvent
    from kiosk.listen.listener import Listener
    from kiosk.listen.vad import Vad

CHUNK_S = 0.1  # the microphone delivers ~100 ms chunks too


def listen_file(listener: Listener, pcm: bytes) -> list[ListenEvent]:
    """All events of a 16 kHz mono file, fed in microphone-sized chunks, then the end of input."""
    events: list[ListenEvent] = []
    step = int(CHUNK_S * SAMPLE_RATE) * 2
    for i in range(0, len(pcm), step):
        events += listener.feed(pcm[i:i + step])
    return events + listener.flush()


def transcribe(engine: AsrEngine, pcm: bytes, settings: Settings | None = None, vad: Vad | None = None
               ) -> dict[str, Any]:
    """The `kiosk transcribe --json` contract: {"text", "engine", "words": [{"word", "start_s", "end_s"}]}.
    Every utterance the Listener hears (no wake phrase), joined; word times from the start of the file.
    `settings`: the [listen] and VAD settings the kiosk runs with (default: built-in)."""
    from kiosk.config import Settings
    from kiosk.events import Heard, SpeechStarted
    from kiosk.listen.engines import build_vad
    from kiosk.listen.listener import Listener

    settings = settings or Settings()
    listener = Listener(vad or build_vad(settings), engine, None, settings.listen)
    texts: list[str] = []
    words: list[dict[str, Any]] = []
    name, start = getattr(engine, "name", "?"), 0.0
    for event in listen_file(listener, pcm):
        if isinstance(event, SpeechStarted):
            start = event.t
        elif isinstance(event, Heard):
            texts.append(event.text.strip())
            name = event.engine
            words += [{"word": w.word, "start_s": round(start + w.start_s, 3), "end_s": round(start + w.end_s, 3)}
                      for w in event.words]
    return {"text": " ".join(t for t in texts if t), "engine": name, "words": words}
