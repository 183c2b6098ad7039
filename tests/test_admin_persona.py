"""The console's Persona page over real HTTP: the same validation as kiosk.toml (key and what is allowed),
an avatar or voice that does not exist refused, a valid change kept in the console's overlay file (only what
differs from kiosk.toml), audited, and the kiosk asked to restart; `kiosk run` reads the overlay."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from test_kiosk_loop import FakePlayer, FakeRuntime

from kiosk.admin.api import make_app
from kiosk.admin.persona import apply_overlay
from kiosk.appliance.app import Kiosk
from kiosk.appliance.notify import Notifier
from kiosk.config import ConfigError, Settings

pytestmark = pytest.mark.slow  # a kiosk loop and an HTTP server per test: the engine-test tier


def csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def form(token: str, **changes: str) -> dict[str, str]:
    values = {"persona.name": "Ava", "persona.greeting": Settings().persona.greeting,
              "persona.tone": Settings().persona.tone, "persona.fallback_contact": Settings().persona.fallback_contact,
              "persona.avatar": "", "persona.voice": "en_US-joe-medium", "listen.wake_phrase": "hey coach"}
    values.update({k.replace("__", "."): v for k, v in changes.items()})
    return {"csrf": token, **values}


def test_persona_changes_are_checked_kept_and_applied(tmp_path: Path) -> None:
    kiosk = Kiosk(FakeRuntime(greeting=False), player=FakePlayer(), notifier=Notifier(env={}))

    async def body() -> None:
        stop = asyncio.Event()
        loop_task = asyncio.create_task(kiosk.run(stop))
        client = TestClient(TestServer(make_app(kiosk, Settings().service, Settings(), tmp_path / "audit.log")))
        await client.start_server()
        try:
            page = await client.get("/admin/persona")
            html = await page.text()
            assert page.status == 200 and 'value="hey coach"' in html
            token = csrf(html)
            for changes, words in (({"listen__wake_phrase": ""}, "listen.wake_phrase"),
                                   ({"persona__voice": "en_XX-nobody-medium"}, "persona.voice"),
                                   ({"persona__avatar": "no-such-avatar"}, "persona.avatar"),
                                   ({"persona__name": "x" * 600}, "at most 500")):
                refused = await client.post("/admin/persona", data=form(token, **changes))
                assert refused.status == 400 and words in await refused.text(), changes
            assert not (tmp_path / "console.toml").exists() and not kiosk.restart_requested
            picture = await client.get("/admin/persona/avatar.png?name=ava")
            assert picture.status == 200 and (await picture.read())[:4] == b"\x89PNG"
            hear = await client.post("/admin/persona/greeting", data={"csrf": token})
            assert hear.status == 200 and (await hear.read())[:4] == b"RIFF"
            saved = await client.post("/admin/persona", data=form(
                token, persona__name="Nova", persona__greeting="Hello, I'm Nova. Ask me about your first day!",
                persona__avatar="nova", listen__wake_phrase="hey nova"))
            assert saved.status == 200 and "Saved" in await saved.text()
            await asyncio.wait_for(loop_task, 5)  # the kiosk stopped itself to restart with the change
            assert kiosk.restart_requested
        finally:
            await client.close()
            stop.set()

    asyncio.run(body())
    overlay = (tmp_path / "console.toml").read_text()
    assert 'name = "Nova"' in overlay and 'wake_phrase = "hey nova"' in overlay and "tone" not in overlay
    applied = apply_overlay(Settings(), tmp_path / "console.toml")
    assert applied.persona.name == "Nova" and applied.listen.wake_phrase == "hey nova"
    assert applied.persona.avatar == "nova" and applied.persona.tone == Settings().persona.tone
    assert "changed the persona" in (tmp_path / "audit.log").read_text()


@pytest.mark.parametrize("text, words", [
    ('[persona]\nname = "Nova"\nllm = "huge"\n', "persona.llm cannot be set here"),
    ('[persona\nname = "x"', "not valid TOML"),
    ('[listen]\nwake_phrase = ""\n', "wake_phrase"),
])
def test_a_broken_overlay_names_its_file(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "console.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as broken:
        apply_overlay(Settings(), path)
    assert words in str(broken.value) and str(path) in str(broken.value)
