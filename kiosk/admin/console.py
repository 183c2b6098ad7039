"""The admin console's routes (kiosk/admin/pages.py draws them), on the local API's server.

Who gets in: with `[service] admin_password_hash` set, whoever logs in with that password (a session
cookie, then a CSRF token on every form); without one, only this machine (like the API). Every POST
must also come from the console's own origin (Origin or Referer), and every change is audited."""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from kiosk.admin import pages, persona
from kiosk.admin.auth import loopback
from kiosk.admin.knowledge import Library, UploadRefused
from kiosk.admin.packs_page import PackRefused, Shelf
from kiosk.admin.questions import QuestionLog
from kiosk.admin.sessions import Doorkeeper, Session, check_password, valid_hash
from kiosk.appliance.app import Kiosk, KioskBusy
from kiosk.appliance.pack_archive import PackError
from kiosk.config import Settings

log = logging.getLogger(__name__)
STARTED = time.monotonic()

COOKIE = "kiosk_session"
DOOR = web.AppKey("door", Doorkeeper)
CONSOLE_KIOSK = web.AppKey("console_kiosk", Kiosk)
@dataclass
class Running:
    """The settings the kiosk runs with (replaced when the console changes them; the app itself is frozen)."""

    settings: Settings


RUNNING = web.AppKey("running", Running)
LIBRARY = web.AppKey("library", Library)
QUESTIONS = web.AppKey("questions", QuestionLog)
OVERLAY = web.AppKey("overlay", Path)
BASE_SETTINGS = web.AppKey("base_settings", Settings)
LOCAL = Session(id="", csrf="local", address="127.0.0.1", started=0.0, user="local")
"""the session of this machine's own browser when no password is set"""


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8",
                        headers={"X-Frame-Options": "DENY", "Content-Security-Policy": "default-src 'self'; "
                                 "style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
                                 "Cache-Control": "no-store", "Referrer-Policy": "same-origin"})


def _password(request: web.Request) -> str:
    return request.app[RUNNING].settings.service.admin_password_hash.strip()


def _session(request: web.Request) -> Session | None:
    """The caller's session, LOCAL for this machine when no password is set, or None."""
    if not valid_hash(_password(request)):
        return LOCAL if loopback(request.remote) else None
    return request.app[DOOR].find(request.cookies.get(COOKIE))


def _same_origin(request: web.Request) -> bool:
    """A form posted from the console itself, not from another site in the same browser."""
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin:
        return True  # some browsers omit both on same-origin posts; the CSRF token still has to match
    return urlsplit(origin).netloc == request.host


async def _form(request: web.Request, session: Session) -> dict[str, str] | web.Response:
    """The posted form, after the CSRF and origin checks; or the refusal."""
    form = await request.post()
    if not _same_origin(request) or str(form.get("csrf", "")) != session.csrf:
        return _html(pages.refused("This form expired or did not come from this console; reload the page."), 403)
    return {k: str(v) for k, v in form.items() if isinstance(v, str)}


def _guard(request: web.Request) -> Session | web.Response:
    session = _session(request)
    if session is not None:
        return session
    if not valid_hash(_password(request)):
        return _html(pages.refused("The console is open only on the kiosk itself until an admin password is set "
                                   "(kiosk api password, then admin_password_hash in [service])."), 403)
    raise web.HTTPSeeOther("/admin/login")


async def login_page(request: web.Request) -> web.Response:
    return _html(pages.login())


async def login(request: web.Request) -> web.Response:
    door, address = request.app[DOOR], request.remote or "?"
    if not valid_hash(_password(request)):
        raise web.HTTPSeeOther("/admin/status")
    if door.throttled(address):
        door.audit("?", address, "login refused: too many wrong passwords")
        return _html(pages.login("Too many wrong passwords from this address: wait five minutes."), 429)
    if not _same_origin(request):
        return _html(pages.refused("This form did not come from this console."), 403)
    form = await request.post()
    if not check_password(str(form.get("password", "")), _password(request)):
        door.failed(address)
        door.audit("?", address, "login failed")
        return _html(pages.login("That password is not right."), 401)
    session = door.open(address)
    door.audit(session.user, address, "logged in")
    response = web.HTTPSeeOther("/admin/status")
    response.set_cookie(COOKIE, session.id, httponly=True, samesite="Strict", secure=request.secure,
                        path="/admin", max_age=8 * 3600)
    raise response


async def logout(request: web.Request) -> web.Response:
    session = _guard(request)
    if isinstance(session, web.Response):
        return session
    form = await _form(request, session)
    if isinstance(form, web.Response):
        return form
    request.app[DOOR].close(session.id)
    request.app[DOOR].audit(session.user, request.remote or "?", "logged out")
    response = web.HTTPSeeOther("/admin/login")
    response.del_cookie(COOKIE, path="/admin")
    raise response


def _facts(kiosk: Kiosk, settings: Settings) -> dict[str, str]:
    snap = kiosk.snapshot()
    screen = snap.get("screen") or {}
    from kiosk.appliance.status import rss_mb

    kb = settings.persona.knowledge_base
    disk = shutil.disk_usage(Path(kb).expanduser().parent if kb else Path.home())
    return {"state": str(snap.get("state")), "microphone": str(snap.get("microphone")),
            "sound output": "yes" if snap.get("sound") else "none (captions only)",
            "screen": f"{screen.get('backend', 'none')} at {screen.get('fps', 0)} fps" if screen else "none",
            "turns answered": str(snap.get("turns")), "wakes": str(snap.get("wakes")),
            "memory": f"{rss_mb():.0f} MB", "disk free": f"{disk.free / 2**30:.1f} GB of {disk.total / 2**30:.1f} GB",
            "language model": settings.persona.llm, "voice": settings.persona.voice,
            "avatar": settings.persona.avatar or "ava", "knowledge base": kb or "none",
            "console up": f"{(time.monotonic() - STARTED) / 3600:.1f} h"}


async def status(request: web.Request) -> web.Response:
    session = _guard(request)
    if isinstance(session, web.Response):
        return session
    kiosk = request.app[CONSOLE_KIOSK]
    return _html(pages.status(kiosk.snapshot(), _facts(kiosk, request.app[RUNNING].settings), session))


async def try_page(request: web.Request) -> web.Response:
    session = _guard(request)
    if isinstance(session, web.Response):
        return session
    return _html(pages.try_it(session))


async def try_ask(request: web.Request) -> web.Response:
    session = _guard(request)
    if isinstance(session, web.Response):
        return session
    form = await _form(request, session)
    if isinstance(form, web.Response):
        return form
    question = form.get("question", "").strip()[:2000]
    if not question:
        return _html(pages.try_it(session, "", {"error": "Type a question first."}), 400)
    try:
        done = await request.app[CONSOLE_KIOSK].ask_text(question)
    except KioskBusy as busy:
        return _html(pages.try_it(session, question, {"error": f"Not now: {busy}. Try again in a moment."}), 409)
    request.app[DOOR].audit(session.user, request.remote or "?", "tried a question", question=question[:200])
    return _html(pages.try_it(session, question, {"answer": done.answer, "grounded": done.grounded,
                                                  "sources": list(done.sources),
                                                  "timings_ms": done.timings.to_dict()}))


async def audit(request: web.Request) -> web.Response:
    session = _guard(request)
    if isinstance(session, web.Response):
        return session
    return _html(pages.audit(request.app[DOOR].read_audit(), session))


async def knowledge_page(request: web.Request, message: str = "", error: bool = False,
                         status: int = 200) -> web.Response:
    session = _guard(request)
    if isinstance(session, web.Response):
        return session
    library = request.app[LIBRARY]
    folder = str(library.folder) if library.folder is not None else None
    return _html(pages.knowledge(library.documents(), library.indexing, folder, session, message, error), status)


async def knowledge_upload(request: web.Request) -> web.Response:
    """multipart: the CSRF token first, then the files, each streamed to the documents folder."""
    session = _guard(request)
    if isinstance(session, web.Response):
        return session
    if not _same_origin(request):
        return _html(pages.refused("This form did not come from this console."), 403)
    library, door, address = request.app[LIBRARY], request.app[DOOR], request.remote or "?"
    try:
        reader = await request.multipart()
        first = await reader.next()
        if first is None or getattr(first, "name", "") != "csrf" or (await first.text()) != session.csrf:  # type: ignore[union-attr]
            return _html(pages.refused("This form expired or did not come from this console; reload the page."), 403)
        saved: list[str] = []
        while (part := await reader.next()) is not None:
            filename = getattr(part, "filename", None)
            if not filename:
                continue
            path = await library.save(filename, part)
            saved.append(path.name)
            door.audit(session.user, address, "uploaded a document", document=path.name)
    except UploadRefused as refused:
        return await knowledge_page(request, f"Not added: {refused}", error=True, status=400)
    except ValueError:  # a body that is not the form's (aiohttp's multipart reader)
        return await knowledge_page(request, "That upload was not understood; try again.", error=True, status=400)
    if not saved:
        return await knowledge_page(request, "Choose one or more files first.", error=True, status=400)
    library.reindex()
    return await knowledge_page(request, f"Added {', '.join(saved)}; indexing now.")


async def knowledge_remove(request: web.Request) -> web.Response:
    session = _guard(request)
    if isinstance(session, web.Response):
        return session
    form = await _form(request, session)
    if isinstance(form, web.Response):
        return form
    library = request.app[LIBRARY]
    try:
        path = library.remove(form.get("name", ""))
    except UploadRefused as refused:
        return await knowledge_page(request, f"Not removed: {refused}", error=True, status=400)
    request.app[DOOR].audit(session.user, request.remote or "?", "removed a document", document=path.name)
    library.reindex()
    return await knowledge_page(request, f"Removed {path.name}; indexing now.")


async def knowledge_reindex(request: web.Request) -> web.Response:
    session = _guard(request)
    if isinstance(session, web.Response):
        return session
    form = await _form(request, session)
    if isinstance(form, web.Response):
        return form
    if not request.app[LIBRARY].reindex():
        return await knowledge_page(request, "There is no documents folder to index.", error=True, status=400)
    request.app[DOOR].audit(session.user, request.remote or "?", "re-indexed the documents")
    return await knowledge_page(request, "Indexing now.")


async def questions(request: web.Request) -> web.Response:
    session = _guard(request)
    if isinstance(session, web.Response):
        return session
    service = request.app[RUNNING].settings.service
    return _html(pages.questions(request.app[QUESTIONS].report(), service.questions_report,
                                 service.questions_keep_days, session))


async def persona_page(request: web.Request) -> web.Response:
    session = _guard(request)
    if isinstance(session, web.Response):
        return session
    settings = request.app[RUNNING].settings
    return _html(pages.persona(persona.FIELDS, persona.current(settings), session))


async def persona_save(request: web.Request) -> web.Response:
    session = _guard(request)
    if isinstance(session, web.Response):
        return session
    form = await _form(request, session)
    if isinstance(form, web.Response):
        return form
    settings = request.app[RUNNING].settings
    changed, values, problems = await asyncio.to_thread(persona.check, settings, form)
    if changed is None:
        return _html(pages.persona(persona.FIELDS, values, session, problems), 400)
    if changed == settings:
        return _html(pages.persona(persona.FIELDS, values, session, message="Nothing changed."))
    written = persona.write_overlay(request.app[OVERLAY], changed, request.app[BASE_SETTINGS])
    request.app[DOOR].audit(session.user, request.remote or "?", "changed the persona",
                            changes={k: v for table in written.values() for k, v in table.items()})
    request.app[RUNNING].settings = changed
    request.app[CONSOLE_KIOSK].request_restart("persona changed in the admin console")
    return _html(pages.persona(persona.FIELDS, persona.current(changed), session,
                               message="Saved. The kiosk restarts now to apply it; reload this page in a minute."))


async def persona_avatar(request: web.Request) -> web.Response:
    session = _guard(request)
    if isinstance(session, web.Response):
        return session
    name = request.query.get("name", "")[:300]
    try:
        png = await asyncio.to_thread(persona.avatar_preview, name)
    except Exception:  # noqa: BLE001 - a broken pack shows no picture; the form's check names the problem
        return web.Response(status=404, text="no such avatar")
    return web.Response(body=png, content_type="image/png", headers={"Cache-Control": "no-store"})


async def persona_greeting(request: web.Request) -> web.Response:
    session = _guard(request)
    if isinstance(session, web.Response):
        return session
    form = await _form(request, session)
    if isinstance(form, web.Response):
        return form
    kiosk = request.app[CONSOLE_KIOSK]
    if kiosk.rt.speaker is None:
        return _html(pages.refused("This kiosk has no voice."), 409)
    wav = await asyncio.to_thread(persona.greeting_wav, kiosk.rt.speaker,
                                  request.app[RUNNING].settings.persona.greeting)
    return web.Response(body=wav, content_type="audio/wav", headers={"Cache-Control": "no-store"})


def _shelf(request: web.Request) -> Shelf:
    return Shelf(request.app[RUNNING].settings.service)


async def packs_page(request: web.Request, message: str = "", error: bool = False, status: int = 200,
                     verified: dict | None = None) -> web.Response:
    session = _guard(request)
    if isinstance(session, web.Response):
        return session
    state = await asyncio.to_thread(_shelf(request).state)
    return _html(pages.packs(state, session, message, error, verified), status)


async def packs_upload(request: web.Request) -> web.Response:
    session = _guard(request)
    if isinstance(session, web.Response):
        return session
    if not _same_origin(request):
        return _html(pages.refused("This form did not come from this console."), 403)
    try:
        reader = await request.multipart()
        first = await reader.next()
        if first is None or getattr(first, "name", "") != "csrf" or (await first.text()) != session.csrf:  # type: ignore[union-attr]
            return _html(pages.refused("This form expired or did not come from this console; reload the page."), 403)
        part = await reader.next()
        filename = getattr(part, "filename", None)
        if part is None or not filename:
            return await packs_page(request, "Choose a .kpack file first.", True, 400)
        path = await _shelf(request).save(filename, part)
    except PackRefused as refused:
        return await packs_page(request, f"Not uploaded: {refused}", True, 400)
    request.app[DOOR].audit(session.user, request.remote or "?", "uploaded a content pack", pack=path.name)
    return await packs_page(request, f"Uploaded {path.name}: verify it, then install it.")


async def _pack_action(request: web.Request, action: str) -> web.Response:
    session = _guard(request)
    if isinstance(session, web.Response):
        return session
    form = await _form(request, session)
    if isinstance(form, web.Response):
        return form
    shelf, door, address = _shelf(request), request.app[DOOR], request.remote or "?"
    try:
        if action == "verify":
            verified = await asyncio.to_thread(shelf.verify, form.get("name", ""))
            return await packs_page(request, verified=verified)
        if action == "install":
            done = await asyncio.to_thread(shelf.install, form.get("name", ""))
        else:
            done = await asyncio.to_thread(shelf.activate, form.get("release", ""))
    except (PackRefused, PackError, OSError) as refused:
        door.audit(session.user, address, f"content pack {action} refused", reason=str(refused)[:300])
        return await packs_page(request, f"Not done: {refused}", True, 400)
    door.audit(session.user, address, f"content pack {action}", release=done.release.name,
               rolled_back=done.rolled_back, problems=list(done.problems))
    if done.rolled_back:
        return await packs_page(request, f"{done.release.name} failed its health check and was not made current: "
                                         + "; ".join(done.problems), True, 400)
    if done.problems:
        return await packs_page(request, "Made current, but with problems: " + "; ".join(done.problems), True)
    request.app[CONSOLE_KIOSK].request_restart(f"content pack {done.release.name} made current")
    return await packs_page(request, f"{done.release.name} is current. The kiosk restarts now to use it.")


async def packs_verify(request: web.Request) -> web.Response:
    return await _pack_action(request, "verify")


async def packs_install(request: web.Request) -> web.Response:
    return await _pack_action(request, "install")


async def packs_activate(request: web.Request) -> web.Response:
    return await _pack_action(request, "activate")


async def live_page(request: web.Request) -> web.Response:
    session = _guard(request)
    if isinstance(session, web.Response):
        return session
    return _html(pages.live(session))


async def live_js(request: web.Request) -> web.Response:
    return web.Response(text=pages.LIVE_JS, content_type="text/javascript", charset="utf-8",
                        headers={"Cache-Control": "max-age=300"})


def console_session(request: web.Request) -> bool:
    """A logged-in console user (the Live page follows /api/v1/events with the console's own cookie)."""
    return DOOR in request.app and _session(request) is not None


async def upload_js(request: web.Request) -> web.Response:
    return web.Response(text=pages.UPLOAD_JS, content_type="text/javascript", charset="utf-8",
                        headers={"Cache-Control": "max-age=300"})


async def home(request: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/admin/status")


def add_console(app: web.Application, kiosk: Kiosk, settings: Settings, audit_path: Path | None,
                base: Settings | None = None) -> None:
    """`settings`: what the kiosk runs with; `base`: kiosk.toml alone (the console's overlay keeps only what
    differs from it)."""
    app[DOOR] = Doorkeeper(audit_path)
    app[CONSOLE_KIOSK], app[RUNNING] = kiosk, Running(settings)
    app.router.add_get("/", home)
    app.router.add_get("/admin", home)
    app.router.add_get("/admin/login", login_page)
    app.router.add_post("/admin/login", login)
    app.router.add_post("/admin/logout", logout)
    app.router.add_get("/admin/status", status)
    app.router.add_get("/admin/try", try_page)
    app.router.add_post("/admin/try", try_ask)
    app.router.add_get("/admin/audit", audit)
    app[LIBRARY] = Library(settings)
    folder = audit_path.parent if audit_path is not None else default_audit_path().parent
    app[QUESTIONS] = QuestionLog(folder / "questions.sqlite", settings.service)
    kiosk.hub.listen(app[QUESTIONS].observe)
    app.router.add_get("/admin/questions", questions)
    app[OVERLAY] = persona.overlay_path(folder)
    app[BASE_SETTINGS] = base or settings
    app.router.add_get("/admin/packs", packs_page)
    app.router.add_post("/admin/packs/upload", packs_upload)
    app.router.add_post("/admin/packs/verify", packs_verify)
    app.router.add_post("/admin/packs/install", packs_install)
    app.router.add_post("/admin/packs/activate", packs_activate)
    app.router.add_get("/admin/persona", persona_page)
    app.router.add_post("/admin/persona", persona_save)
    app.router.add_get("/admin/persona/avatar.png", persona_avatar)
    app.router.add_post("/admin/persona/greeting", persona_greeting)
    app.router.add_get("/admin/knowledge", knowledge_page)
    app.router.add_post("/admin/knowledge/upload", knowledge_upload)
    app.router.add_post("/admin/knowledge/remove", knowledge_remove)
    app.router.add_post("/admin/knowledge/reindex", knowledge_reindex)
    app.router.add_get("/admin/static/upload.js", upload_js)
    app.router.add_get("/admin/live", live_page)
    app.router.add_get("/admin/static/live.js", live_js)


def default_audit_path() -> Path:
    from kiosk.appliance.last_good import default_path

    return default_path().parent / "audit.log"


