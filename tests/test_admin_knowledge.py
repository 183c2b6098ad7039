"""The console's Knowledge page over real HTTP: documents listed from the real index, uploads (type, size,
names that try to leave the folder), removal, background re-indexing with the real parsers and SQLite, and
the skipped files with their reasons."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer
from test_kiosk_loop import FakePlayer, FakeRuntime

from kiosk.admin import knowledge
from kiosk.admin.api import make_app
from kiosk.admin.content import LIBRARY
from kiosk.appliance.app import Kiosk
from kiosk.appliance.notify import Notifier
from kiosk.config import Settings, with_overrides
from kiosk.knowledge.index import ingest
from kiosk.knowledge.retrieve import Retriever

pytestmark = pytest.mark.slow  # a kiosk loop and an HTTP server per test: the engine-test tier


@pytest.fixture
def site(tmp_path: Path) -> tuple[Settings, Path, Path]:
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "parking.md").write_text("# Parking\n\nStaff park in Lot E behind the depot, free of charge.\n")
    kb = tmp_path / "kb.sqlite"
    ingest(kb, [folder])
    settings = with_overrides(Settings(), persona={"knowledge_base": str(kb)},
                              knowledge={"documents_dir": str(folder)})
    return settings, folder, kb


async def console(settings: Settings, audit: Path, body, listener=None):  # noqa: ANN001, ANN201
    """`body(client, library)` run against the console of a kiosk loop; `listener`: its microphone side."""
    kiosk = Kiosk(FakeRuntime(greeting=False), player=FakePlayer(), notifier=Notifier(env={}))
    kiosk.listener = listener
    stop = asyncio.Event()
    loop_task = asyncio.create_task(kiosk.run(stop))
    app = make_app(kiosk, settings.service, settings, audit)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        return await body(client, app[LIBRARY])
    finally:
        await client.close()
        stop.set()
        await loop_task


def csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def upload(token: str | None, *files: tuple[str, bytes]) -> FormData:
    form = FormData()
    if token is not None:
        form.add_field("csrf", token)
    for name, data in files:
        form.add_field("files", data, filename=name, content_type="application/octet-stream")
    return form


def test_upload_index_and_remove(site: tuple[Settings, Path, Path], tmp_path: Path) -> None:
    settings, folder, kb = site

    async def body(client: TestClient, library: knowledge.Library) -> None:
        page = await client.get("/admin/knowledge")
        html = await page.text()
        assert page.status == 200 and "parking.md" in html and "Remove parking.md" in html
        token = csrf(html)
        canteen = b"# Canteen\n\nThe Galley serves lunch from 11:45 to 14:00; soup of the day is Zanzibar stew.\n"
        added = await client.post("/admin/knowledge/upload", data=upload(token, ("canteen.md", canteen)))
        assert added.status == 200 and "Added canteen.md" in await added.text()
        await library.wait()
        with Retriever(kb) as r:
            assert r.search("zanzibar stew", 1)[0].path.endswith("canteen.md")  # answered from the new document
        listed = await (await client.get("/admin/knowledge")).text()
        assert "canteen.md" in listed and "1 added" in listed
        gone = await client.post("/admin/knowledge/remove", data={"csrf": token, "name": "parking.md"})
        assert gone.status == 200 and not (folder / "parking.md").exists()
        await library.wait()
        with Retriever(kb) as r:
            assert not r.search("parking lot depot", 3) or all("parking" not in h.path for h in r.search("Lot E", 3))

    asyncio.run(console(settings, tmp_path / "audit.log", body))
    audit = (tmp_path / "audit.log").read_text()
    assert "uploaded a document" in audit and "canteen.md" in audit and "removed a document" in audit


def test_uploads_that_must_not_land(site: tuple[Settings, Path, Path], tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    settings, folder, _ = site
    monkeypatch.setattr(knowledge, "MAX_UPLOAD_MB", 4 / 1024)  # 4 kB

    async def body(client: TestClient, library: knowledge.Library) -> None:
        token = csrf(await (await client.get("/admin/knowledge")).text())
        escape_attempt = await client.post("/admin/knowledge/upload",
                                           data=upload(token, ("../../../evil.md", b"# Evil\n\ntext\n")))
        assert escape_attempt.status == 200
        await library.wait()
        assert (folder / "evil.md").is_file() and not (tmp_path / "evil.md").exists()
        exe = await client.post("/admin/knowledge/upload", data=upload(token, ("setup.exe", b"MZ....")))
        assert exe.status == 400 and ".exe files cannot be read" in await exe.text()
        big = await client.post("/admin/knowledge/upload", data=upload(token, ("big.txt", b"x" * 10_000)))
        assert big.status == 400 and "larger than" in await big.text()
        empty = await client.post("/admin/knowledge/upload", data=upload(token, ("empty.md", b"")))
        assert empty.status == 400
        forged = await client.post("/admin/knowledge/upload", data=upload("guess", ("a.md", b"# A\n\nB\n")))
        assert forged.status == 403
        no_token = await client.post("/admin/knowledge/upload", data=upload(None, ("a.md", b"# A\n\nB\n")))
        assert no_token.status == 403
        outside = await client.post("/admin/knowledge/remove", data={"csrf": token, "name": "../kb.sqlite"})
        assert outside.status == 400
        assert sorted(p.name for p in folder.iterdir()) == ["evil.md", "parking.md"]  # nothing half-written

    asyncio.run(console(settings, tmp_path / "audit.log", body))


def test_a_broken_document_is_listed_with_its_reason(site: tuple[Settings, Path, Path], tmp_path: Path) -> None:
    settings, folder, _ = site

    async def body(client: TestClient, library: knowledge.Library) -> None:
        token = csrf(await (await client.get("/admin/knowledge")).text())
        broken = await client.post("/admin/knowledge/upload",
                                   data=upload(token, ("handbook.pdf", b"%PDF-1.7\n this is not a real pdf")))
        assert broken.status == 200
        await library.wait()
        html = await (await client.get("/admin/knowledge")).text()
        assert "Skipped files" in html and "handbook.pdf" in html

    asyncio.run(console(settings, tmp_path / "audit.log", body))


def test_without_a_documents_folder_the_page_only_shows_the_index(site: tuple[Settings, Path, Path],
                                                                   tmp_path: Path) -> None:
    settings, _, _ = site
    settings = with_overrides(settings, knowledge={"documents_dir": ""})

    async def body(client: TestClient, library: knowledge.Library) -> None:
        html = await (await client.get("/admin/knowledge")).text()
        assert "parking.md" in html and "No documents folder is configured" in html and "Remove" not in html
        token = csrf(html)
        refused = await client.post("/admin/knowledge/upload", data=upload(token, ("a.md", b"# A\n\nB\n")))
        assert refused.status == 400

    asyncio.run(console(settings, tmp_path / "audit.log", body))


def test_upload_names_are_cleaned() -> None:
    assert knowledge.clean_name("..\\..\\Windows\\x.DOCX") == "x.docx"
    assert knowledge.clean_name("%2e%2e%2f%2e%2e%2fetc%2fpasswd.md") == "passwd.md"
    assert knowledge.clean_name(".hidden.md") == "hidden.md"
    assert knowledge.clean_name("Q&A: first day?.txt") == "Q_A_ first day.txt"
    assert knowledge.clean_name("\x00\x01.md") == "document.md"
    for bad in ("notes", "photo.jpg", "archive.tar.gz"):
        with pytest.raises(knowledge.UploadRefused):
            knowledge.clean_name(bad)


def test_a_folder_upload_takes_what_it_can_read(site: tuple[Settings, Path, Path], tmp_path: Path) -> None:
    settings, folder, _ = site

    async def body(client: TestClient, library: knowledge.Library) -> None:
        token = csrf(await (await client.get("/admin/knowledge")).text())
        files = (("handbook/team-photo.jpg", b"\xff\xd8\xff"), ("handbook/rota.md", b"# Rota\n\nEarly shift 6:00.\n"))
        mixed = await client.post("/admin/knowledge/upload", data=upload(token, *files))
        html = await mixed.text()
        assert mixed.status == 200 and "Added rota.md" in html and ".jpg files cannot be read" in html
        await library.wait()
        assert (folder / "rota.md").is_file() and not (folder / "team-photo.jpg").exists()

    asyncio.run(console(settings, tmp_path / "audit.log", body))
