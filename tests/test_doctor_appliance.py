"""`kiosk doctor --appliance` (issue 14): the first-boot checklist read from the running service itself, over
its real status endpoint. A healthy board passes; each way the first boot goes wrong is named with its fix."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kiosk.appliance.status import StatusServer
from kiosk.checks import check_running_appliance
from kiosk.config import Settings, with_overrides

HEALTHY: dict[str, Any] = {
    "state": "idle", "turns": 0, "errors": [], "microphone": "listening", "sound": True,
    "screen": {"backend": "cuda", "fallback": None, "fps": 29.6, "target_fps": 30, "frames": 900},
    "gpu": {"nodes": {"/dev/nvmap": True, "/dev/nvhost-gpu": True}, "llm_offload_supported": True,
            "llm_gpu_layers": -1},
}


@pytest.fixture()
def serve() -> Iterator[Any]:
    servers: list[StatusServer] = []

    def start(snapshot: dict[str, Any]) -> Settings:
        server = StatusServer(lambda: snapshot, "127.0.0.1", 0).start()
        servers.append(server)
        return with_overrides(Settings(), service={"status_port": server.port})

    yield start
    for server in servers:
        server.stop()


def verdicts(settings: Settings) -> dict[str, tuple[str, str]]:
    return {c.name: (c.status, c.detail + " | " + c.fix) for c in check_running_appliance(settings)}


def test_a_healthy_first_boot_passes(serve) -> None:  # noqa: ANN001
    got = verdicts(serve(HEALTHY))
    assert {name: status for name, (status, _) in got.items()} == {
        "GPU in the service": "ok", "LLM on the GPU": "ok", "screen": "ok", "microphone": "ok", "speaker": "ok"}


@pytest.mark.parametrize(("change", "name", "words"), [
    ({"gpu": {"nodes": {}, "llm_offload_supported": True, "llm_gpu_layers": -1}}, "GPU in the service",
     "ProtectClock"),
    ({"gpu": {"nodes": {"/dev/nvmap": False}, "llm_offload_supported": True, "llm_gpu_layers": -1}},
     "GPU in the service", "video and render groups"),
    ({"gpu": {"nodes": {"/dev/nvmap": True}, "llm_offload_supported": False, "llm_gpu_layers": -1}},
     "LLM on the GPU", "without CUDA"),
    ({"screen": {"backend": "pygame", "fallback": "the CUDA backend failed to start: RuntimeError: X",
                 "fps": 30.0, "target_fps": 30}}, "screen", "fell back"),
    ({"screen": {"backend": "pygame", "fallback": None, "fps": 11.0, "target_fps": 30}}, "screen", "11 fps"),
    ({"screen": None}, "screen", "headless"),
    ({"microphone": "retrying"}, "microphone", "retrying"),
    ({"sound": False}, "speaker", "no sound output"),
], ids=["gpu-hidden", "gpu-denied", "llm-cpu-build", "screen-fallback", "screen-slow", "headless", "mic", "speaker"])
def test_each_first_boot_failure_is_named_with_its_fix(serve, change: dict, name: str, words: str) -> None:  # noqa: ANN001
    status, text = verdicts(serve({**HEALTHY, **change}))[name]
    assert status == "fail" and words in text


def test_a_service_that_is_not_running_fails_the_checklist() -> None:
    settings = with_overrides(Settings(), service={"status_port": 1})  # nothing listens there
    (check,) = check_running_appliance(settings)
    assert check.status == "fail" and "systemctl start kiosk" in check.fix


def test_the_running_kiosk_reports_what_the_checklist_reads() -> None:
    """The keys the checklist reads are the ones Kiosk.snapshot() and Screen.report() write."""
    import asyncio

    from test_kiosk_loop import FakeRuntime, Gate

    from kiosk.appliance.app import Kiosk
    from kiosk.appliance.notify import Notifier
    from kiosk.events import MicrophoneStatus

    kiosk = Kiosk(FakeRuntime(greeting=False), listener=Gate(), notifier=Notifier(env={}))
    kiosk.facts["gpu"] = HEALTHY["gpu"]

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(kiosk.run(stop))
        await asyncio.sleep(0)
        kiosk.post(MicrophoneStatus("listening", "USB mic at 48000 Hz x1"))
        await asyncio.sleep(0.05)
        stop.set()
        await task

    asyncio.run(main())
    snapshot = kiosk.snapshot()
    assert snapshot["microphone"] == "listening" and snapshot["gpu"] == HEALTHY["gpu"]
    assert {"screen", "sound"} <= snapshot.keys()
