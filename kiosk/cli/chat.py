"""`kiosk chat`: a text conversation in the terminal, spoken aloud where there is a sound device."""

from __future__ import annotations

import asyncio
import sys

from kiosk.answer.pipeline import run_turn
from kiosk.audio.playback import open_player
from kiosk.config import Settings
from kiosk.events import AnswerToken, Event, SpeechAudio
from kiosk.runtime import Runtime

HELP = "Type a question. /reset forgets the conversation, /quit leaves."


async def _loop(rt: Runtime, speech: bool) -> None:
    player = open_player(rt.settings.audio.output_device, rt.settings.speech.sentence_pause_s) if speech else None
    print(f"{rt.settings.persona.name}: {rt.settings.persona.greeting}\n({HELP})")
    loop = asyncio.get_running_loop()
    try:
        while True:
            line = await loop.run_in_executor(None, _prompt)
            if line is None or line.strip() in {"/quit", "/exit"}:
                break
            question = line.strip()
            if not question:
                continue
            if question == "/reset":
                rt.engine.reset()
                print("(conversation forgotten)")
                continue
            print(f"{rt.settings.persona.name}: ", end="", flush=True)
            def show(event: Event) -> None:
                if isinstance(event, AnswerToken):
                    print(event.text, end="", flush=True)
                elif isinstance(event, SpeechAudio) and player is not None:
                    player.submit(event.clip.pcm, event.clip.sample_rate)

            done = await run_turn(rt.responder, question, speak=speech, on_event=show)
            t = done.timings
            note = f" [{done.error}]" if done.error else ""
            print(f"\n  (first token {t.ttft} ms, first audio {t.first_audio} ms){note}")
            if player is not None:
                await player.drain()
    finally:
        if player is not None:
            player.close()


def _prompt() -> str | None:
    try:
        return input("you> ")
    except EOFError:
        return None


def run_chat(settings: Settings, speech: bool = True) -> int:
    with Runtime(settings, speech=speech) as rt:
        try:
            asyncio.run(_loop(rt, speech))
        except KeyboardInterrupt:
            print(file=sys.stderr)
    return 0
