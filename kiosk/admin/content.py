"""The admin console's content pages: Knowledge (documents, uploads, re-indexing), Questions (what the
documents did not answer), Persona (checked changes kept in the console's overlay) and Content packs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from kiosk.admin import pages, persona
from kiosk.admin.door import CONSOLE_KIOSK, DOOR, RUNNING, checked_multipart, form_route, html_page, page_route
from kiosk.admin.knowledge import Library, UploadRefused
from kiosk.admin.packs_page import PackRefused, Shelf
from kiosk.admin.questions import QuestionLog
from kiosk.admin.sessions import Session
from kiosk.admin.wake_page import add_wake_routes
from kiosk.appliance.app import Kiosk
from kiosk.appliance.pack_archive import PackError
from kiosk.config import Settings

LIBRARY = web.AppKey("library", Library)
QUESTIONS = web.AppKey("questions", QuestionLog)
OVERLAY = web.AppKey("overlay", Path)
BASE_SETTINGS = web.AppKey("base_settings", Settings)


async def knowledge_view(request: web.Request, session: Session, message: str = "", error: bool = False,
                         status: int = 200) -> web.Response:
    library = request.app[LIBRARY]
    folder = str(library.folder) if library.folder is not None else None
    return html_page(pages.knowledge(library.documents(), library.indexing, folder, session, message, error), status)


@page_route
async def knowledge_upload(request: web.Request, session: Session) -> web.Response:
    """multipart: the CSRF token first, then the files, each streamed to the documents folder."""
    library, door, address = request.app[LIBRARY], request.app[DOOR], request.remote or "?"
    reader = await checked_multipart(request, session)
    if isinstance(reader, web.Response):
        return reader
    try:
        saved: list[str] = []
        refused: list[str] = []  # a folder's photos or a file too large are left out, the rest goes in
        while (part := await reader.next()) is not None:
            filename = getattr(part, "filename", None)
            if not filename:
                continue
            try:
                path = await library.save(filename, part)
            except UploadRefused as reason:
                refused.append(str(reason))
                continue
            saved.append(path.name)
            door.audit(session.user, address, "uploaded a document", document=path.name)
    except ValueError:  # a body that is not the form's (aiohttp's multipart reader)
        return await knowledge_view(request, session, "That upload was not understood; try again.", True, 400)
    left_out = f" Not added: {'; '.join(refused[:10])}{' …' if len(refused) > 10 else ''}" if refused else ""
    if not saved:
        return await knowledge_view(request, session, (left_out.strip() or "Choose one or more files first."),
                                    True, 400)
    library.reindex()
    return await knowledge_view(request, session, f"Added {', '.join(saved)}; indexing now.{left_out}", bool(refused))


@form_route
async def knowledge_remove(request: web.Request, session: Session, form: dict[str, str]) -> web.Response:
    library = request.app[LIBRARY]
    try:
        path = library.remove(form.get("name", ""))
    except UploadRefused as refused:
        return await knowledge_view(request, session, f"Not removed: {refused}", error=True, status=400)
    request.app[DOOR].audit(session.user, request.remote or "?", "removed a document", document=path.name)
    library.reindex()
    return await knowledge_view(request, session, f"Removed {path.name}; indexing now.")


@form_route
async def knowledge_reindex(request: web.Request, session: Session, form: dict[str, str]) -> web.Response:
    if not request.app[LIBRARY].reindex():
        return await knowledge_view(request, session, "There is no documents folder to index.", error=True, status=400)
    request.app[DOOR].audit(session.user, request.remote or "?", "re-indexed the documents")
    return await knowledge_view(request, session, "Indexing now.")


@page_route
async def questions(request: web.Request, session: Session) -> web.Response:
    service = request.app[RUNNING].settings.service
    return html_page(pages.questions(request.app[QUESTIONS].report(), service.questions_report,
                                 service.questions_keep_days, session))


@page_route
async def persona_page(request: web.Request, session: Session) -> web.Response:
    settings = request.app[RUNNING].settings
    return html_page(pages.persona(persona.FIELDS, persona.current(settings), session))


@form_route
async def persona_save(request: web.Request, session: Session, form: dict[str, str]) -> web.Response:
    settings = request.app[RUNNING].settings
    changed, values, problems = await asyncio.to_thread(persona.check, settings, form)
    if changed is None:
        return html_page(pages.persona(persona.FIELDS, values, session, problems), 400)
    if changed == settings:
        return html_page(pages.persona(persona.FIELDS, values, session, message="Nothing changed."))
    written = persona.write_overlay(request.app[OVERLAY], changed, request.app[BASE_SETTINGS])
    request.app[DOOR].audit(session.user, request.remote or "?", "changed the persona",
                            changes={k: v for table in written.values() for k, v in table.items()})
    request.app[RUNNING].settings = changed
    request.app[CONSOLE_KIOSK].request_restart("persona changed in the admin console")
    return html_page(pages.persona(persona.FIELDS, persona.current(changed), session,
                               message="Saved. The kiosk restarts now to apply it; reload this page in a minute."))


@page_route
async def persona_avatar(request: web.Request, session: Session) -> web.Response:
    name = request.query.get("name", "")[:300]
    try:
        png = await asyncio.to_thread(persona.avatar_preview, name)
    except Exception:  # noqa: BLE001 - a broken pack shows no picture; the form's check names the problem
        return web.Response(status=404, text="no such avatar")
    return web.Response(body=png, content_type="image/png", headers={"Cache-Control": "no-store"})


@form_route
async def persona_greeting(request: web.Request, session: Session, form: dict[str, str]) -> web.Response:
    kiosk = request.app[CONSOLE_KIOSK]
    if kiosk.rt.speaker is None:
        return html_page(pages.refused("This kiosk has no voice."), 409)
    wav = await asyncio.to_thread(persona.greeting_wav, kiosk.rt.speaker,
                                  request.app[RUNNING].settings.persona.greeting)
    return web.Response(body=wav, content_type="audio/wav", headers={"Cache-Control": "no-store"})


def _shelf(request: web.Request) -> Shelf:
    return Shelf(request.app[RUNNING].settings.service)


async def packs_view(request: web.Request, session: Session, message: str = "", error: bool = False,
                     status: int = 200, verified: dict | None = None) -> web.Response:
    state = await asyncio.to_thread(_shelf(request).state)
    return html_page(pages.packs(state, session, message, error, verified), status)


@page_route
async def packs_upload(request: web.Request, session: Session) -> web.Response:
    reader = await checked_multipart(request, session)
    if isinstance(reader, web.Response):
        return reader
    try:
        part = await reader.next()
        filename = getattr(part, "filename", None)
        if part is None or not filename:
            return await packs_view(request, session, "Choose a .kpack file first.", True, 400)
        path = await _shelf(request).save(filename, part)
    except PackRefused as refused:
        return await packs_view(request, session, f"Not uploaded: {refused}", True, 400)
    request.app[DOOR].audit(session.user, request.remote or "?", "uploaded a content pack", pack=path.name)
    return await packs_view(request, session, f"Uploaded {path.name}: verify it, then install it.")


async def _pack_action(request: web.Request, session: Session, form: dict[str, str], action: str) -> web.Response:
    shelf, door, address = _shelf(request), request.app[DOOR], request.remote or "?"
    try:
        if action == "verify":
            verified = await asyncio.to_thread(shelf.verify, form.get("name", ""))
            return await packs_view(request, session, verified=verified)
        if action == "install":
            done = await asyncio.to_thread(shelf.install, form.get("name", ""))
        else:
            done = await asyncio.to_thread(shelf.activate, form.get("release", ""))
    except (PackRefused, PackError, OSError) as refused:
        door.audit(session.user, address, f"content pack {action} refused", reason=str(refused)[:300])
        return await packs_view(request, session, f"Not done: {refused}", True, 400)
    door.audit(session.user, address, f"content pack {action}", release=done.release.name,
               rolled_back=done.rolled_back, problems=list(done.problems))
    problems = "; ".join(done.problems)
    if done.rolled_back:
        return await packs_view(request, session, f"{done.release.name} failed its health check and was not made "
                                                  f"current: {problems}", True, 400)
    if done.problems:
        return await packs_view(request, session, f"Made current, but with problems: {problems}", True)
    request.app[CONSOLE_KIOSK].request_restart(f"content pack {done.release.name} made current")
    return await packs_view(request, session, f"{done.release.name} is current. The kiosk restarts now to use it.")


@form_route
async def packs_verify(request: web.Request, session: Session, form: dict[str, str]) -> web.Response:
    return await _pack_action(request, session, form, "verify")


@form_route
async def packs_install(request: web.Request, session: Session, form: dict[str, str]) -> web.Response:
    return await _pack_action(request, session, form, "install")


@form_route
async def packs_activate(request: web.Request, session: Session, form: dict[str, str]) -> web.Response:
    return await _pack_action(request, session, form, "activate")





async def upload_js(request: web.Request) -> web.Response:
    return web.Response(text=pages.UPLOAD_JS, content_type="text/javascript", charset="utf-8",
                        headers={"Cache-Control": "max-age=300"})


def add_content_routes(app: web.Application, kiosk: Kiosk, settings: Settings, data: Path,
                       base: Settings | None) -> None:
    """`data`: the kiosk's data folder (the questions report and the console's overlay live there)."""
    app[LIBRARY] = Library(settings)
    app[QUESTIONS] = QuestionLog(data / "questions.sqlite", settings.service)
    kiosk.hub.listen(app[QUESTIONS].observe)
    app[OVERLAY] = persona.overlay_path(data)
    app[BASE_SETTINGS] = base or settings
    app.router.add_get("/admin/knowledge", page_route(knowledge_view))
    app.router.add_post("/admin/knowledge/upload", knowledge_upload)
    app.router.add_post("/admin/knowledge/remove", knowledge_remove)
    app.router.add_post("/admin/knowledge/reindex", knowledge_reindex)
    app.router.add_get("/admin/static/upload.js", upload_js)
    app.router.add_get("/admin/questions", questions)
    app.router.add_get("/admin/persona", persona_page)
    app.router.add_post("/admin/persona", persona_save)
    app.router.add_get("/admin/persona/avatar.png", persona_avatar)
    app.router.add_post("/admin/persona/greeting", persona_greeting)
    add_wake_routes(app)
    app.router.add_get("/admin/packs", page_route(packs_view))
    app.router.add_post("/admin/packs/upload", packs_upload)
    app.router.add_post("/admin/packs/verify", packs_verify)
    app.router.add_post("/admin/packs/install", packs_install)
    app.router.add_post("/admin/packs/activate", packs_activate)
