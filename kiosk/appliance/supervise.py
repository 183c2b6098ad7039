"""Supervised tasks of the kiosk's event loop: a task that dies is logged, reported and restarted, never lost.

Before, `Kiosk.run` gathered its tasks only at the end, so a task that raised (the screen, say) died
silently and the kiosk went on as a half-kiosk that systemd's watchdog still saw as healthy. Now each task
runs under `Supervisor.start`: an exception (never `CancelledError`, which is how the loop stops them) is
logged with its traceback (the journal; never the screen), handed to `on_error` (the kiosk's `errors`,
shown by /status), and the task is started again after a backoff (1 s doubling to 30 s). A task that fails
`max_failures` times within `window_s` is given up: the stop event is set, `gave_up` names it and
`kiosk run` exits with `EXIT_TASK_FAILED`, so systemd (`Restart=always`) starts a fresh process.

While an essential task is restarting or given up, `healthy()` is False: the watchdog is not fed for a
kiosk that is only partly alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)

EXIT_TASK_FAILED = 70  # `kiosk run` exits so when a loop task kept failing (sysexits EX_SOFTWARE; 2: setup needed)

TaskFactory = Callable[[], Coroutine[Any, Any, object]]


class TaskState(enum.Enum):
    RUNNING = "running"
    RESTARTING = "restarting"  # failed; waiting out its backoff before the next start
    FAILED = "failed"  # failed too often: given up, the kiosk stops
    DONE = "done"  # returned (the kiosk is stopping, or the screen's window was closed)


@dataclasses.dataclass(frozen=True)
class RestartPolicy:
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    max_failures: int = 5  # within window_s: then the task is given up
    window_s: float = 60.0


@dataclasses.dataclass
class TaskHealth:
    essential: bool
    state: TaskState = TaskState.RUNNING
    restarts: int = 0
    last_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state.value, "restarts": self.restarts, "last_error": self.last_error,
                "essential": self.essential}


class Supervisor:
    def __init__(self, on_error: Callable[[str], None] = lambda message: None,
                 policy: RestartPolicy | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.on_error, self.policy, self.clock = on_error, policy or RestartPolicy(), clock
        self.tasks: dict[str, TaskHealth] = {}
        self.gave_up: str | None = None  # the task that failed for good, if any
        self._published: dict[str, dict[str, Any]] = {}

    def start(self, name: str, factory: TaskFactory, stop: asyncio.Event, essential: bool = True) -> asyncio.Task:
        """Runs `factory()` as a task named `name` until it returns, `stop` is set or it is given up."""
        if name in self.tasks and self.tasks[name].state in (TaskState.RUNNING, TaskState.RESTARTING):
            raise ValueError(f"a task named {name!r} is already supervised")
        self.tasks[name] = TaskHealth(essential)
        self._publish()
        return asyncio.create_task(self._supervise(name, factory, stop), name=name)

    def healthy(self) -> bool:
        """False while an essential task is down (restarting or given up)."""
        return all(h.state in (TaskState.RUNNING, TaskState.DONE) for h in self.tasks.values() if h.essential)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """{name: {"state", "restarts", "last_error", "essential"}}; a dict replaced whole at each change, so
        the status endpoint's thread can read it while the loop runs."""
        return self._published

    def _publish(self) -> None:
        self._published = {name: health.to_dict() for name, health in self.tasks.items()}

    def _set(self, health: TaskHealth, state: TaskState) -> None:
        health.state = state
        self._publish()

    async def _supervise(self, name: str, factory: TaskFactory, stop: asyncio.Event) -> None:
        policy, health = self.policy, self.tasks[name]
        failures: deque[float] = deque()
        delay = policy.backoff_s
        while True:
            started = self.clock()
            try:
                await factory()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - any failure of a task is the supervisor's business
                now = self.clock()
                if now - started >= policy.window_s:  # it had been running well: a fresh start, not a loop
                    delay = policy.backoff_s
                failures.append(now)
                while failures and now - failures[0] > policy.window_s:
                    failures.popleft()
                message = f"task {name} failed: {type(error).__name__}: {error}"
                log.error("%s", message, exc_info=error)  # the traceback goes to the journal, never the screen
                health.last_error = message
                self.on_error(message)
                if len(failures) >= policy.max_failures:
                    log.critical("task %s failed %d times in %g s: stopping the kiosk (exit code %d)",
                                 name, len(failures), policy.window_s, EXIT_TASK_FAILED)
                    self.gave_up = self.gave_up or name
                    self._set(health, TaskState.FAILED)
                    stop.set()
                    return
                health.restarts += 1
                self._set(health, TaskState.RESTARTING)
                log.warning("restarting task %s in %g s", name, delay)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                if stop.is_set():
                    self._set(health, TaskState.DONE)
                    return
                delay = min(delay * 2, policy.max_backoff_s)
                self._set(health, TaskState.RUNNING)
            else:
                self._set(health, TaskState.DONE)
                return
