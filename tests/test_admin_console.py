"""The admin console over real HTTP (aiohttp's test server), on a kiosk loop with the loop tests' scripted
responder: who gets in (password, sessions, CSRF, origin, rate limit), the pages, and the audit log."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient
from test_kiosk_loop import FakePlayer, FakeRuntime
from test_local_api import with_client

from kiosk.admin.api import make_app
from kiosk.admin.sessions import LOGIN_ATTEMPTS, check_password, hash_password
from kiosk.appliance.app import Kiosk
from kiosk.appliance.notify import Notifier
from kiosk.config import Settings, with_overrides

pytestmark = pytest.mark.slow  # a kiosk loop and an HTTP server per test: the engine-test tier

PASSWORD = "correct horse battery"


async def console(body, settings: Settings, audit: Path):  # noqa: ANN001, ANN201
    kiosk = Kiosk(FakeRuntime(greeting=False), player=FakePlayer(), notifier=Notifier(env={}))
    return await with_client(kiosk, body, app=make_app(kiosk, settings.service, settings, audit))


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "every form carries a CSRF token"
    return found.group(1)


def test_on_the_kiosk_itself_without_a_password(tmp_path: Path) -> None:
    async def body(client: TestClient) -> None:
        home = await client.get("/", allow_redirects=False)
        assert home.status == 303 and home.headers["Location"] == "/admin/status"
        page = await client.get("/admin/status")
        html = await page.text()
        assert page.status == 200 and "<h1>Status</h1>" in html and "Latest turns" in html
        assert page.headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in page.headers[
            "Content-Security-Policy"]
        form = await (await client.get("/admin/try")).text()
        asked = await client.post("/admin/try", data={"csrf": csrf(form), "question": "where is <b>hr</b>?"})
        html = await asked.text()
        assert asked.status == 200 and "answer to where is &lt;b&gt;hr&lt;/b&gt;?" in html  # escaped
        forged = await client.post("/admin/try", data={"csrf": "guess", "question": "x"})
        assert forged.status == 403
        elsewhere = await client.post("/admin/try", data={"csrf": csrf(form), "question": "x"},
                                      headers={"Origin": "http://evil.example"})
        assert elsewhere.status == 403
        log = await (await client.get("/admin/audit")).text()
        assert "tried a question" in log and "local" in log

    asyncio.run(console(body, Settings(), tmp_path / "audit.log"))
    assert "tried a question" in (tmp_path / "audit.log").read_text()


def test_a_password_sessions_and_rate_limit(tmp_path: Path) -> None:
    settings = with_overrides(Settings(), service={"admin_password_hash": hash_password(PASSWORD)})

    async def body(client: TestClient) -> None:
        gate = await client.get("/admin/status", allow_redirects=False)
        assert gate.status == 303 and gate.headers["Location"] == "/admin/login"
        wrong = await client.post("/admin/login", data={"password": "nope"})
        assert wrong.status == 401 and "not right" in await wrong.text()
        ok = await client.post("/admin/login", data={"password": PASSWORD}, allow_redirects=False)
        assert ok.status == 303 and "HttpOnly" in ok.headers["Set-Cookie"] and "SameSite=Strict" in ok.headers[
            "Set-Cookie"]
        page = await client.get("/admin/try")
        assert page.status == 200
        token = csrf(await page.text())
        asked = await client.post("/admin/try", data={"csrf": token, "question": "where is hr"})
        assert asked.status == 200 and "answer to where is hr" in await asked.text()
        assert (await client.post("/admin/logout", data={"csrf": token}, allow_redirects=False)).status == 303
        after = await client.get("/admin/status", allow_redirects=False)
        assert after.status == 303  # the session is gone
        async with ClientSession(base_url=str(client.make_url(""))) as other:  # a fresh browser, no cookie
            assert (await other.get("/admin/try", allow_redirects=False)).status == 303
        for _ in range(LOGIN_ATTEMPTS):
            await client.post("/admin/login", data={"password": "guess"})
        throttled = await client.post("/admin/login", data={"password": PASSWORD})
        assert throttled.status == 429  # even the right password waits out the window

    asyncio.run(console(body, settings, tmp_path / "audit.log"))
    audit = (tmp_path / "audit.log").read_text()
    assert audit.count("login failed") == LOGIN_ATTEMPTS and audit.count("too many wrong passwords") == 2
    assert "logged in" in audit and "logged out" in audit
    assert PASSWORD not in audit


def test_password_hashes() -> None:
    stored = hash_password(PASSWORD)
    assert stored.startswith("scrypt$") and PASSWORD not in stored
    assert check_password(PASSWORD, stored) and not check_password("correct horse", stored)
    assert not check_password(PASSWORD, "plain-text") and not check_password(PASSWORD, "scrypt$1$2$3$x$y")
    assert hash_password(PASSWORD) != stored  # salted
