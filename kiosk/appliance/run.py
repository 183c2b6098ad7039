"""`kiosk run [--headless]`: builds the appliance from the config, degrading instead of failing.

No microphone: touch/text only (a notice says so). No sound output: captions only. No screen
(`--headless`, tests and benchmarks): no drawing at all. A missing model: the reason and the fetch
command on screen and in the log, and exit code 2 (systemd restarts it; provisioning fixes it). A task of
the event loop that keeps failing (kiosk/appliance/supervise.py) stops the kiosk with exit code 70
(`EXIT_TASK_FAILED`), so systemd starts a fresh process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from kiosk.appliance import last_good
from kiosk.appliance.app import Kiosk
from kiosk.appliance.notify import Notifier
from kiosk.appliance.supervise import EXIT_TASK_FAILED
from kiosk.config import ConfigError, Settings
from kiosk.models.manifest import ModelMissingError

DISPLAY_WAIT_S = 90.0  # the autologin session comes up after the service at boot
EXIT_NO_DISPLAY = 75  # EX_TEMPFAIL: try again later (Restart=always does)

log = logging.getLogger(__name__)


def _screen(settings: Settings, on_input: Any) -> Any:
    from kiosk.avatar.backend import kiosk_mode, open_backend
    from kiosk.avatar.overlay import attract_text
    from kiosk.avatar.pack import resolve_pack
    from kiosk.avatar.screen import Screen
    from kiosk.board import is_jetson

    mode = kiosk_mode(settings.screen.mode, is_jetson())  # full screen without a pointer wherever there is a display
    backend = open_backend(settings.screen, mode=mode, title=f"kiosk: {settings.persona.name}")
    pack, why = resolve_pack(settings.persona.avatar)
    screen = Screen(backend, pack, on_input, fps=settings.screen.fps)
    screen.overlay.set_attract(attract_text(settings.listen.wake_phrase))
    if why:
        log.warning("avatar: %s", why)
    return screen


def _listener(settings: Settings, post: Any) -> Any:
    try:
        from kiosk.listen.engines import build_listener
        from kiosk.listen.flight import open_recorder
        from kiosk.listen.live import LiveListener

        return LiveListener(build_listener(settings), settings.audio.input_device, post,
                            record=open_recorder(settings.listen.record_dir))
    except (ModelMissingError, ValueError, OSError) as error:
        log.error("listening is off (%s); visitors can tap and type", error)
        return None


def _display_ready(notifier: Notifier) -> bool:
    """On a machine with a screen (the appliance, or DISPLAY set), its X server: found (not assumed to be :0)
    and waited for while the desktop session comes up after boot. False: none came up (systemd restarts)."""
    from kiosk.appliance.display import use_session_display
    from kiosk.board import has_display, is_jetson

    if not (is_jetson() or has_display()):
        return True  # a desktop without a display, a test: headless drawing
    notifier.status("waiting for the display")
    if use_session_display(DISPLAY_WAIT_S) is not None:
        return True
    message = (f"no X display came up within {DISPLAY_WAIT_S:g} s (DISPLAY={os.environ.get('DISPLAY', '(unset)')}, "
               "no X11 session of this user in logind or /tmp/.X11-unix): is the autologin session running?")
    log.error("cannot start: %s", message)
    print(f"kiosk run: {message}", file=sys.stderr)
    return False


def _gpu_facts(settings: Settings) -> dict[str, Any]:
    """What this process (inside the service's sandbox) can reach of the GPU, and whether the LLM uses it."""
    from kiosk.board import gpu_nodes, llm_gpu_offload

    supported, nodes = llm_gpu_offload(), gpu_nodes()
    if supported and settings.llm.gpu_layers != 0 and not any(nodes.values()):
        log.error("the LLM is set to run on the GPU but no GPU device can be opened by this process: %s",
                  nodes or "none present")
    return {"nodes": nodes, "llm_offload_supported": supported, "llm_gpu_layers": settings.llm.gpu_layers}


def _index_damage(settings: Settings) -> str | None:
    from kiosk.knowledge.integrity import damage, damage_message
    from kiosk.models.locate import knowledge_path

    path = knowledge_path(settings)
    if path is None or (problem := damage(path)) is None:
        return None
    message = damage_message(path, problem)
    log.error("%s", message)
    return message


Service = Callable[[Kiosk, Settings], Awaitable[Any]]
"""started on the kiosk's loop once it runs (the local API): returns something with `async stop()`, or None"""


def _lessons(settings: Settings, rt: Any) -> tuple[Any, list[str]]:
    """The quizzes and practice conversations of [learn] (None when there are none), and why any is not offered."""
    from kiosk.appliance.lessons import Lessons, SharedLlm, load_activities, results_path
    from kiosk.learn.results import QuizResults

    learn = settings.learn
    if not learn.quizzes and not learn.scenarios:
        return None, []
    base = settings.source.parent if settings.source is not None else Path.cwd()
    activities, problems = load_activities([base / p for p in learn.quizzes], [base / p for p in learn.scenarios])
    results = QuizResults(results_path(), settings.service.questions_keep_days) if learn.results else None
    llm_path = getattr(rt.llm, "model_path", None)
    return Lessons(activities, results, SharedLlm(rt.llm, rt.engine.lock), llm_path, learn.judge), problems


def run_kiosk(settings: Settings, headless: bool = False, problem: str | None = None,
              services: Sequence[Service] = ()) -> int:
    """`problem`: started on the last configuration that worked, because of this (shown on /status).
    `services`: started on the loop after the kiosk (kiosk/admin/api.py's local API, from `kiosk run`)."""
    from kiosk.audio.playback import open_player
    from kiosk.runtime import Runtime

    notifier = Notifier()
    notifier.status("loading models")
    try:
        try:
            runtime = Runtime(settings, speech=True)
        except ConfigError as error:  # it parsed but does not fit the model (a persona prompt too long)
            if problem is not None:
                raise
            settings, problem = last_good.fallback(error)  # re-raises when there is none to fall back on
            runtime = Runtime(settings, speech=True)
    except ModelMissingError as error:
        message = str(error)
        log.error("cannot start: %s", message)
        print(f"kiosk run: {message}", file=sys.stderr)
        notifier.status(f"setup needed: {message.splitlines()[0]}")
        return 2
    if problem is None:
        last_good.remember(settings)  # it loaded: the configuration to fall back on next time
    with runtime as rt:
        # With voice barge-in an echo canceller listens to the loudspeaker: its stream must never restart.
        player = open_player(settings.audio.output_device, settings.speech.sentence_pause_s,
                             keep_alive=settings.listen.barge_in == "voice")
        if player is None:
            log.warning("no sound output: answers are shown as captions only")
        posts: list[Any] = []  # the kiosk's post, once it exists (the screen is made first)
        if not headless and not _display_ready(notifier):
            return EXIT_NO_DISPLAY
        screen = None if headless else _screen(settings, lambda event: posts[0](event))
        lessons, lesson_problems = _lessons(settings, rt)
        kiosk = Kiosk(rt, player=player, screen=screen, notifier=notifier, lessons=lessons)
        kiosk.errors.extend(lesson_problems)
        kiosk.facts["gpu"] = _gpu_facts(settings)
        if problem is not None:
            kiosk.errors.append(problem)
        fallback = getattr(screen.backend, "fallback", None) if screen is not None else None
        if fallback:  # drawing on the CPU although the GPU was wanted: the operator should know
            kiosk.errors.append(f"screen: {fallback}")
        if damaged := _index_damage(settings):
            kiosk.errors.append(damaged)  # it answers on: most of a damaged index is usually still readable
        posts.append(kiosk.post)
        live = _listener(settings, kiosk.post)
        kiosk.listener = live
        if live is None and screen is not None:
            screen.set_voice(False)  # the notice, prompt and buttons offer typing only

        status = None
        if settings.service.status_port:
            from kiosk.appliance.status import StatusServer

            bind, port = settings.service.status_bind, settings.service.status_port
            try:
                status = StatusServer(kiosk.snapshot, bind, port).start()
            except OSError as error:
                log.error("status endpoint off: %s:%d: %s", bind, port, error)

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            kiosk.bind(loop)
            started = [s for s in [await start(kiosk, settings) for start in services] if s is not None]
            if live is not None:
                live.start()
            try:
                await kiosk.run(stop)
            finally:
                if live is not None:
                    live.stop()
                for service in started:
                    await service.stop()

        try:
            asyncio.run(main())
        finally:
            if status is not None:
                status.stop()
            if player is not None:
                player.close()
        if rt.responder.busy():  # an engine call that never returned (a hung LLM): it would block the exit
            log.critical("an engine call is still running at exit (hung): leaving without waiting for it")
            logging.shutdown()
            os._exit(EXIT_TASK_FAILED)  # the stuck worker thread cannot be joined or interrupted
        if kiosk.failed_task is not None:
            message = f"task {kiosk.failed_task} kept failing"
            log.critical("%s: exiting with code %d for systemd to restart the kiosk", message, EXIT_TASK_FAILED)
            notifier.status(f"stopped: {message}")
            return EXIT_TASK_FAILED
    return 0
