"""`kiosk demo`: a scripted onboarding conversation, printed with timings and spoken into WAV files
(and through the speaker when one exists); with `--out demo.mp4` also rendered, talking head and
captions, to a video (kiosk.avatar.recording)."""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.answer.pipeline import run_turn
from kiosk.audio.playback import PlaybackQueue, open_player
from kiosk.audio.wav import write_timeline, write_wav
from kiosk.config import REPO_ROOT, Settings
from kiosk.events import AnswerSentence, Event, SpeechAudio
from kiosk.runtime import Runtime, answer_json
from kiosk.speech.joining import join_clips

if TYPE_CHECKING:
    from kiosk.avatar.drawing import Backend
    from kiosk.avatar.face import FaceRenderer
    from kiosk.avatar.overlay import Overlay
    from kiosk.avatar.recording import Cue

SCRIPT = (
    "Hi! When does orientation start on my first day?",
    "Where do I pick up my badge?",
    "And when is the canteen open for lunch?",
    "Where's the IT help desk if my laptop doesn't work?",
    "How much does the company put in my 401k?",
    "Can I bring my dog to work?",
)
SAMPLE_KB = REPO_ROOT / "samples" / "halvorsen"


def _slug(i: int, text: str) -> str:
    return f"{i:02d}-" + "-".join(re.findall(r"[a-z0-9]+", text.lower())[:6])


async def _run(rt: Runtime, out_dir: Path, player: PlaybackQueue | None, quiet: bool,
               turns: list | None = None, script: tuple[str, ...] = SCRIPT) -> list[dict]:
    """Answers the script; `turns` (if given) collects each turn for the video."""
    pause = rt.settings.speech.sentence_pause_s
    results = []
    if rt.speaker is None:  # the demo's runtime is opened with speech
        raise RuntimeError("kiosk demo needs a runtime with speech")
    greeting = rt.speaker.speak_joined(rt.settings.persona.greeting)
    if turns is not None:
        turns.append(greeting)
    write_wav(out_dir / "00-greeting.wav", greeting.pcm, greeting.sample_rate)
    if not quiet:
        print(f"{rt.settings.persona.name}: {rt.settings.persona.greeting}")
    if player is not None:
        player.submit(greeting.pcm, greeting.sample_rate)
    for i, question in enumerate(script, start=1):
        if not quiet:
            print(f"\nVisitor: {question}\n{rt.settings.persona.name}: ", end="", flush=True)
        audio: list[SpeechAudio] = []

        def show(event: Event, audio: list[SpeechAudio] = audio) -> None:  # this question's clips
            if isinstance(event, AnswerSentence) and not quiet:
                print(event.text, end=" ", flush=True)
            elif isinstance(event, SpeechAudio):
                audio.append(event)
                if player is not None:
                    player.submit(event.clip.pcm, event.clip.sample_rate)

        done = await run_turn(rt.responder, question, on_event=show)
        result = answer_json(done, audio) | {"question": question}
        if not quiet and done.sources:
            top = done.sources[0]
            print(f"\n  [source: {top['path']} > {top['section'] or top['title']}]", end="")
        if audio:
            clip = join_clips([a.clip for a in audio], pause)
            wav = out_dir / f"{_slug(i, question)}.wav"
            write_wav(wav, clip.pcm, clip.sample_rate)
            write_timeline(wav.with_suffix(".visemes.json"), clip.pcm, clip.sample_rate, clip.visemes)
            result["wav"] = str(wav)
        t = done.timings
        if not quiet:
            llm = f" · {t.cached_tokens}/{t.prompt_tokens} prompt tokens cached" if t.prompt_tokens else ""
            print(f"\n  [first token {t.ttft} ms · first sentence {t.first_sentence} ms · first audio "
                  f"{t.first_audio} ms · total {t.total} ms{llm} · {result['audio_s']} s of speech]")
        results.append(result)
        if turns is not None:
            from kiosk.avatar.recording import Turn

            cited = done.sources[0] if done.sources else None
            turns.append(Turn(question, tuple((a.clip.text, a.clip) for a in audio),
                              (cited.get("title") or cited.get("path")) if cited else None,
                              (t.first_audio or 0.0) / 1000, done.grounded))
        if player is not None:
            await player.drain()
    return results


def _demo_kb(settings: Settings, out_dir: Path) -> Path | None:
    """The persona's knowledge base, or the sample company's, indexed (incrementally) for the demo."""
    if settings.persona.knowledge_base or not SAMPLE_KB.is_dir():
        return None
    from kiosk.knowledge.index import ingest

    kb = out_dir / "sample-kb.sqlite"
    ingest(kb, [SAMPLE_KB])
    return kb


def run_demo(settings: Settings, out_dir: Path, speaker: str = "auto", json_out: bool = False,
             video: Path | None = None, size: tuple[int, int] = (1280, 720), fps: int = 30,
             questions: int | None = None, window: bool = False) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    collected: list = []  # the greeting, then each turn (kiosk.avatar.recording.Turn), for the video or window
    turns = collected if video is not None or window else None
    with Runtime(settings, speech=True, kb=_demo_kb(settings, out_dir)) as rt:
        player = None
        if speaker != "off":
            player = open_player(settings.audio.output_device, settings.speech.sentence_pause_s)
            if player is None and speaker == "on":
                print("kiosk demo: --speaker on, but no sound output device was found (see `kiosk doctor`)")
                return 1
        try:
            results = asyncio.run(_run(rt, out_dir, player, quiet=json_out, turns=turns,
                                       script=SCRIPT[:questions] if questions else SCRIPT))
        finally:
            if player is not None:
                player.close()
    first_audio = [r["timings_ms"]["first_audio"] for r in results if r["timings_ms"]["first_audio"]]
    summary = {"turns": results, "first_audio_ms_median": statistics.median(first_audio) if first_audio else None,
               "out_dir": str(out_dir)}
    if video is not None:
        summary["video"] = _record(settings, collected, video, size, fps)
    if window:
        _show(settings, collected, size, fps, speaker)
    if json_out:
        print(json.dumps(summary, ensure_ascii=False, indent=1))
    else:
        print(f"\n{len(results)} answers; median first audio {summary['first_audio_ms_median']} ms; "
              f"WAV files and viseme timelines in {out_dir}/")
    return 0 if all("error" not in r for r in results) else 1


def _show(settings: Settings, turns: list, size: tuple[int, int], fps: int, speaker: str) -> None:
    """Plays the conversation again, live in a window, with sound (the answers are already computed)."""
    import dataclasses

    from kiosk.avatar.backend import open_backend
    from kiosk.avatar.recording import play

    mode = "fullscreen" if settings.screen.mode == "fullscreen" else "window"
    screen = dataclasses.replace(settings.screen, width=size[0], height=size[1])
    backend = open_backend(screen, mode=mode, title=f"kiosk demo: {settings.persona.name}")
    size = backend.size
    face, overlay, cues = _scene(settings, turns, backend, size)
    player = open_player(settings.audio.output_device, 0.0) if speaker != "off" else None
    try:
        asyncio.run(play(cues, face, overlay, backend, player, fps))
    finally:
        if player is not None:
            player.close()


def _scene(settings: Settings, turns: list, backend: Backend,
           size: tuple[int, int]) -> tuple[FaceRenderer, Overlay, list[Cue]]:
    from kiosk.avatar.face import FaceRenderer
    from kiosk.avatar.overlay import Overlay, attract_text
    from kiosk.avatar.pack import resolve_pack
    from kiosk.avatar.recording import plan

    pack, why = resolve_pack(settings.persona.avatar)
    if why:
        print(f"kiosk demo: {why}; using the built-in avatar", file=sys.stderr)
    face = FaceRenderer.presenter(pack, backend)
    cues = plan((settings.persona.greeting, turns[0]), turns[1:], settings.speech.sentence_pause_s)
    overlay = Overlay(backend, size)
    overlay.set_attract(attract_text(settings.listen.wake_phrase))
    return face, overlay, cues


def _record(settings: Settings, turns: list, video: Path, size: tuple[int, int], fps: int) -> dict:
    from kiosk.avatar.backend_pygame import PygameBackend
    from kiosk.avatar.recording import record

    backend = PygameBackend(size, mode="headless")
    face, overlay, cues = _scene(settings, turns, backend, size)
    info = record(cues, video, face, overlay, backend, fps=fps)
    print(f"video: {info['path']} ({info['duration_s']} s, {size[0]}x{size[1]} at {fps} fps)", file=sys.stderr)
    return info
