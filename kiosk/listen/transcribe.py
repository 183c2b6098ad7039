"""`kiosk transcribe FILE.wav`: a file through the same listening path the kiosk hears a visitor with.

The file goes through the kiosk's own Listener with no wake phrase: Silero VAD cuts it into utterances,
each gets `listen.preroll_ms` of audio before its detected start, Whisper starts decoding
`listen.early_decode_ms` into a pause and encodes its `listen.whisper_window_s` window. So the words
printed are the words the kiosk would act on had the file been spoken into its microphone, not those
of one decode over the whole file (which differ: other context, other silence, other window).

With `wake` (`kiosk transcribe --wake`), the file is heard exactly as `kiosk run` hears its microphone: the wake
phrase is spotted (and decoded in the wake phrase's window, unprimed), and only the questions the kiosk would
act on are printed, each without its wake phrase. That is the comparison "live = file" needs: without it a
line said in one breath ("Hey coach, where ...") is decoded as one question, in another window, and Whisper
base, on audio it finds hard, writes other words for it.
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


def transcribe(engine: AsrEngine, pcm: bytes, settings: Settings | None = None, vad: Vad | None = None,
               wake: bool = False, questions: bool = False) -> dict[str, Any]:
    """The `kiosk transcribe --json` contract: {"text", "engine", "words": [{"word", "start_s", "end_s"}]}.
    Every utterance the Listener hears (no wake phrase), joined; word times from the start of the file.
    `settings`: the [listen] and VAD settings the kiosk runs with (default: built-in). `wake`: only what the
    kiosk would act on after its wake phrase (listen.wake_phrase); `questions`: as if the visitor had tapped
    first (a question or follow-up cut out on its own); both add "questions", one text per question."""
    from kiosk.config import Settings
    from kiosk.events import Heard, SpeechStarted
    from kiosk.listen.engines import build_spotter, build_vad
    from kiosk.listen.listener import Listener

    settings = settings or Settings()
    spotter = build_spotter(settings, engine) if wake or questions else None
    listener = Listener(vad or build_vad(settings), engine, spotter, settings.listen)
    if questions:
        listener.wake("tap", at=0)
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
    result = {"text": " ".join(t for t in texts if t), "engine": name, "words": words}
    return {**result, "questions": texts} if spotter is not None else result
