"""The console's Content packs page over real HTTP with real signed packs: upload, verify (a tampered pack
refused), install (an unhealthy one rolled back, never made current), make an older release current again;
the kiosk is asked to restart when the current pack changes, and every step is audited."""

from __future__ import annotations

import asyncio
import io
import re
import tarfile
from pathlib import Path

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer
from test_kiosk_loop import FakePlayer, FakeRuntime
from test_packs import make_src

from kiosk.admin.api import make_app
from kiosk.appliance import pack_archive
from kiosk.appliance.app import Kiosk
from kiosk.appliance.notify import Notifier
from kiosk.config import Settings, with_overrides

pytestmark = pytest.mark.slow  # a kiosk loop and an HTTP server per test: the engine-test tier


def csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def test_upload_verify_install_and_roll_back(tmp_path: Path) -> None:
    private, public = pack_archive.keygen(tmp_path / "keys")
    good = tmp_path / "halvorsen-1.kpack"
    pack_archive.build(make_src(tmp_path / "a"), private, good, version="1")
    newer = tmp_path / "halvorsen-2.kpack"
    pack_archive.build(make_src(tmp_path / "b"), private, newer, version="2")
    broken = tmp_path / "broken.kpack"
    pack_archive.build(make_src(tmp_path / "c", llm="llama-3.2-3b-instruct-q4_k_m"), private, broken, version="3")
    tampered = tmp_path / "tampered.kpack"
    with tarfile.open(good) as src, tarfile.open(tampered, "w") as out:  # a file swapped after signing
        for member in src.getmembers():
            data = src.extractfile(member)
            if member.name.endswith("kiosk.toml") and data is not None:
                body = data.read().replace(b"Ava", b"Eve")
                member.size = len(body)
                out.addfile(member, io.BytesIO(body))
            else:
                out.addfile(member, data)
    root = tmp_path / "packs"
    settings = with_overrides(Settings(), service={"packs_root": str(root), "packs_trust": str(public)})
    kiosk = Kiosk(FakeRuntime(greeting=False), player=FakePlayer(), notifier=Notifier(env={}))

    async def body() -> None:
        stop = asyncio.Event()
        loop_task = asyncio.create_task(kiosk.run(stop))
        client = TestClient(TestServer(make_app(kiosk, settings.service, settings, tmp_path / "audit.log")))
        await client.start_server()
        try:
            token = csrf(await (await client.get("/admin/packs")).text())

            async def upload(path: Path) -> str:
                form = FormData()
                form.add_field("csrf", token)
                form.add_field("pack", path.read_bytes(), filename=path.name)
                response = await client.post("/admin/packs/upload", data=form)
                assert response.status == 200, await response.text()
                return await response.text()

            async def act(action: str, **fields: str) -> tuple[int, str]:
                response = await client.post(f"/admin/packs/{action}", data={"csrf": token, **fields})
                return response.status, await response.text()

            for path in (good, newer, broken, tampered):
                assert f"Uploaded {path.name}" in await upload(path)
            status, html = await act("verify", name="tampered.kpack")
            assert status == 400 and "Not done" in html
            status, html = await act("verify", name="halvorsen-1.kpack")
            assert status == 200 and "signature good" in html
            status, html = await act("install", name="halvorsen-1.kpack")
            assert status == 200 and "is current" in html and kiosk.restart_requested
            kiosk.restart_requested = False
            status, html = await act("install", name="halvorsen-2.kpack")
            assert status == 200 and "halvorsen 2" in html.replace("<strong>", "").replace("</strong>", "")
            status, html = await act("install", name="broken.kpack")
            assert status == 400 and "failed its health check" in html and "llama-3.2-3b" in html
            first = re.search(r'name="release" value="([^"]+-1-[^"]+)"', html)
            assert first, "the first release can be made current again"
            status, html = await act("activate", release=first.group(1))
            assert status == 200 and f"{first.group(1)} is current" in html
            status, html = await act("activate", release="../../etc")
            assert status == 400
            status, html = await act("install", name="../../keys/private.key")
            assert status == 400
        finally:
            await client.close()
            stop.set()
            await loop_task

    asyncio.run(body())
    assert "-1-" in (root / "current").resolve().name  # the first release, made current again by hand
    audit = (tmp_path / "audit.log").read_text()
    assert "uploaded a content pack" in audit and "content pack install" in audit and "refused" in audit
