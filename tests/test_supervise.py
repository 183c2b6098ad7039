"""Supervised loop tasks (issue 12): a task of the kiosk's loop that raises is logged with its traceback, listed
in `errors` and /status, and restarted with backoff; one that keeps failing stops the kiosk and `kiosk run`
exits non-zero for systemd; while an essential task is down the watchdog is not fed. Fakes only (fast)."""

from __future__ import annotations

import asyncio
import functools
import json
import logging

import pytest
from test_kiosk_loop import FakeRuntime

from kiosk.appliance.app import Kiosk
from kiosk.appliance.notify import Notifier
from kiosk.appliance.status import StatusServer
from kiosk.appliance.supervise import EXIT_TASK_FAILED, RestartPolicy, Supervisor, TaskState
from kiosk.config import Settings, with_overrides

FAST = RestartPolicy(backoff_s=0.05, max_backoff_s=0.2, max_failures=3, window_s=10.0)


class FlakyScreen:
    """A screen task that raises on its first `failures` starts, then draws until stopped."""

    def __init__(self, failures: int) -> None:
        self.failures, self.starts = failures, 0

    async def run(self, stop: asyncio.Event) -> None:
        self.starts += 1
        if self.starts <= self.failures:
            raise RuntimeError("video system not initialized")
        await stop.wait()

    def report(self) -> dict[str, object]:
        return {"backend": "flaky", "fps": 0.0}


def kiosk_with(screen: FlakyScreen) -> Kiosk:
    return Kiosk(FakeRuntime(greeting=False), screen=screen, notifier=Notifier(env={}), restart=FAST)


def test_a_task_that_raises_is_reported_and_restarted(caplog: pytest.LogCaptureFixture) -> None:
    screen = FlakyScreen(failures=1)
    kiosk = kiosk_with(screen)
    seen: dict[str, object] = {}

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(kiosk.run(stop))
        await asyncio.sleep(0.02)  # the screen has failed; its backoff (50 ms) is running
        seen["down"] = (kiosk.healthy(), kiosk.snapshot()["tasks"]["screen"])
        server = StatusServer(kiosk.snapshot, port=0).start()
        try:
            seen["status"] = json.loads(json.dumps(server.report()))
        finally:
            server.stop()
        await asyncio.sleep(0.15)
        seen["up"] = (kiosk.healthy(), kiosk.snapshot()["tasks"]["screen"])
        stop.set()
        await task

    with caplog.at_level(logging.ERROR, logger="kiosk.appliance.supervise"):
        asyncio.run(main())
    healthy, screen_task = seen["down"]
    assert healthy is False  # the watchdog is not fed while the screen is down
    assert screen_task["state"] == "restarting" and screen_task["restarts"] == 1
    assert "RuntimeError: video system not initialized" in screen_task["last_error"]
    assert seen["status"]["tasks"]["screen"]["state"] == "restarting"  # /status shows it
    assert seen["status"]["tasks"]["watchdog"]["state"] == "running"
    healthy, screen_task = seen["up"]
    assert healthy is True and screen_task["state"] == "running" and screen.starts == 2
    assert any("task screen failed" in e for e in kiosk.errors)
    failure = next(r for r in caplog.records if "task screen failed" in r.getMessage())
    assert failure.exc_info is not None  # with its traceback, in the log only
    assert kiosk.failed_task is None


def test_a_task_that_keeps_failing_stops_the_kiosk() -> None:
    screen = FlakyScreen(failures=100)
    kiosk = kiosk_with(screen)

    async def main() -> None:
        stop = asyncio.Event()
        await asyncio.wait_for(kiosk.run(stop), timeout=5)  # returns by itself: the supervisor set stop
        assert stop.is_set()

    asyncio.run(main())
    assert screen.starts == FAST.max_failures
    assert kiosk.failed_task == "screen"
    assert kiosk.snapshot()["tasks"]["screen"]["state"] == "failed"
    assert kiosk.healthy() is False


def test_backoff_doubles_up_to_its_limit(caplog: pytest.LogCaptureFixture) -> None:
    policy = RestartPolicy(backoff_s=0.01, max_backoff_s=0.04, max_failures=6, window_s=10.0)
    supervisor = Supervisor(policy=policy)
    starts: list[int] = []

    async def failing() -> None:
        starts.append(1)
        raise ValueError("boom")

    async def main() -> None:
        stop = asyncio.Event()
        await supervisor.start("flaky", failing, stop)

    with caplog.at_level(logging.WARNING, logger="kiosk.appliance.supervise"):
        asyncio.run(main())
    delays = [r.getMessage().split(" in ")[1] for r in caplog.records if r.getMessage().startswith("restarting")]
    assert delays == ["0.01 s", "0.02 s", "0.04 s", "0.04 s", "0.04 s"] and len(starts) == 6
    assert supervisor.gave_up == "flaky" and supervisor.tasks["flaky"].state is TaskState.FAILED


def test_a_non_essential_task_down_leaves_the_kiosk_healthy() -> None:
    supervisor = Supervisor(policy=FAST)

    async def failing() -> None:
        raise OSError("gone")

    async def main() -> None:
        stop = asyncio.Event()
        task = supervisor.start("extra", failing, stop, essential=False)
        await asyncio.sleep(0.01)
        assert supervisor.snapshot()["extra"]["state"] == "restarting" and supervisor.healthy()
        stop.set()
        await task

    asyncio.run(main())
    assert supervisor.snapshot()["extra"]["state"] == "done"


def test_a_task_that_returns_is_done_not_restarted() -> None:
    supervisor = Supervisor(policy=FAST)
    runs: list[int] = []

    async def once() -> None:
        runs.append(1)

    async def main() -> None:
        await supervisor.start("once", once, asyncio.Event())

    asyncio.run(main())
    assert runs == [1] and supervisor.snapshot()["once"]["state"] == "done" and supervisor.healthy()


class ContextRuntime(FakeRuntime):
    def __init__(self, settings: Settings, speech: bool = True) -> None:
        super().__init__(greeting=False)
        self.settings = settings

    def __enter__(self) -> ContextRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def test_kiosk_run_exits_non_zero_when_a_task_keeps_failing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The documented exit path: the kiosk stops and `kiosk run` returns EXIT_TASK_FAILED (70), so systemd's
    Restart=always starts a fresh process."""
    import kiosk.appliance.run as run
    import kiosk.audio.playback
    import kiosk.runtime

    async def broken(self: Kiosk, stop: asyncio.Event) -> None:
        raise RuntimeError("forgetting is broken")

    monkeypatch.setattr(kiosk.runtime, "Runtime", ContextRuntime)
    monkeypatch.setattr(kiosk.audio.playback, "open_player", lambda *args, **kwargs: None)
    monkeypatch.setattr(run, "_listener", lambda settings, post: None)
    monkeypatch.setattr(run, "Kiosk", functools.partial(Kiosk, restart=FAST))
    monkeypatch.setattr(Kiosk, "_forget_quiet_visitors", broken)
    settings = with_overrides(Settings(), service={"status_port": 0, "greeting": False})
    assert run.run_kiosk(settings, headless=True) == EXIT_TASK_FAILED == 70
