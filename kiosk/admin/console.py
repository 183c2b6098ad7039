"""The admin console's routes (kiosk/admin/pages.py draws them), on the local API's server: the door (login,
logout), Status, Try it, Audit log and Live here; the content pages in kiosk/admin/content.py.

Who gets in: with `[service] admin_password_hash` set, whoever logs in with that password (a session
cookie, then a CSRF token on every form); without one, only this machine (like the API). Every POST
must also come from the console's own origin (Origin or Referer), and every change is audited."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from aiohttp import web

from kiosk.admin import pages
from kiosk.admin.content import add_content_routes
from kiosk.admin.door import (
    CONSOLE_KIOSK,
    COOKIE,
    DOOR,
    RUNNING,
    Running,
    admin_password,
    form_route,
    html_page,
    page_route,
    same_origin,
)
from kiosk.admin.sessions import Doorkeeper, Session, check_password, valid_hash
from kiosk.appliance.app import Kiosk, KioskBusy
from kiosk.config import Settings

log = logging.getLogger(__name__)
STARTED = time.monotonic()


async def login_page(request: web.Request) -> web.Response:
    return html_page(pages.login())


async def login(request: web.Request) -> web.Response:
    door, address = request.app[DOOR], request.remote or "?"
    if not valid_hash(admin_password(request)):
        raise web.HTTPSeeOther("/admin/status")
    if door.throttled(address):
        door.audit("?", address, "login refused: too many wrong passwords")
        return html_page(pages.login("Too many wrong passwords from this address: wait five minutes."), 429)
    if not same_origin(request):
        return html_page(pages.refused("This form did not come from this console."), 403)
    form = await request.post()
    if not check_password(str(form.get("password", "")), admin_password(request)):
        door.failed(address)
        door.audit("?", address, "login failed")
        return html_page(pages.login("That password is not right."), 401)
    session = door.open(address)
    door.audit(session.user, address, "logged in")
    response = web.HTTPSeeOther("/admin/status")
    response.set_cookie(COOKIE, session.id, httponly=True, samesite="Strict", secure=request.secure,
                        path="/admin", max_age=8 * 3600)
    raise response


@form_route
async def logout(request: web.Request, session: Session, form: dict[str, str]) -> web.Response:
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


@page_route
async def status(request: web.Request, session: Session) -> web.Response:
    kiosk = request.app[CONSOLE_KIOSK]
    return html_page(pages.status(kiosk.snapshot(), _facts(kiosk, request.app[RUNNING].settings), session))


@page_route
async def try_page(request: web.Request, session: Session) -> web.Response:
    return html_page(pages.try_it(session))


@form_route
async def try_ask(request: web.Request, session: Session, form: dict[str, str]) -> web.Response:
    question = form.get("question", "").strip()[:2000]
    if not question:
        return html_page(pages.try_it(session, "", {"error": "Type a question first."}), 400)
    try:
        done = await request.app[CONSOLE_KIOSK].ask_text(question)
    except KioskBusy as busy:
        return html_page(pages.try_it(session, question, {"error": f"Not now: {busy}. Try again in a moment."}), 409)
    request.app[DOOR].audit(session.user, request.remote or "?", "tried a question", question=question[:200])
    return html_page(pages.try_it(session, question, {"answer": done.answer, "grounded": done.grounded,
                                                  "sources": list(done.sources),
                                                  "timings_ms": done.timings.to_dict()}))


@page_route
async def audit(request: web.Request, session: Session) -> web.Response:
    return html_page(pages.audit(request.app[DOOR].read_audit(), session))


@page_route
async def live_page(request: web.Request, session: Session) -> web.Response:
    return html_page(pages.live(session))


async def live_js(request: web.Request) -> web.Response:
    return web.Response(text=pages.LIVE_JS, content_type="text/javascript", charset="utf-8",
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
    app.router.add_get("/admin/live", live_page)
    app.router.add_get("/admin/static/live.js", live_js)
    data = audit_path.parent if audit_path is not None else default_audit_path().parent
    add_content_routes(app, kiosk, settings, data, base)


def default_audit_path() -> Path:
    from kiosk.appliance.last_good import default_path

    return default_path().parent / "audit.log"


