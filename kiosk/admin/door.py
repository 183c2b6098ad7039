"""The admin console's door, shared by its pages: who is asking (a session, or this machine when no admin
password is set), the CSRF and same-origin checks on every form, and the security headers of every page."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import BodyPartReader, MultipartReader, web

from kiosk.admin import pages
from kiosk.admin.auth import loopback
from kiosk.admin.sessions import Doorkeeper, Session, valid_hash
from kiosk.appliance.app import Kiosk
from kiosk.config import Settings

COOKIE = "kiosk_session"
DOOR = web.AppKey("door", Doorkeeper)
CONSOLE_KIOSK = web.AppKey("console_kiosk", Kiosk)


@dataclass
class Running:
    """The settings the kiosk runs with (replaced when the console changes them; the app itself is frozen)."""

    settings: Settings


RUNNING = web.AppKey("running", Running)
LOCAL = Session(id="", csrf="local", address="127.0.0.1", started=0.0, user="local")
"""the session of this machine's own browser when no password is set"""


def html_page(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8",
                        headers={"X-Frame-Options": "DENY", "Content-Security-Policy": "default-src 'self'; "
                                 "style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
                                 "Cache-Control": "no-store", "Referrer-Policy": "same-origin"})


def admin_password(request: web.Request) -> str:
    return request.app[RUNNING].settings.service.admin_password_hash.strip()


def session_of(request: web.Request) -> Session | None:
    """The caller's session, LOCAL for this machine when no password is set, or None."""
    if not valid_hash(admin_password(request)):
        return LOCAL if loopback(request.remote) else None
    return request.app[DOOR].find(request.cookies.get(COOKIE))


def same_origin(request: web.Request) -> bool:
    """A form posted from the console itself, not from another site in the same browser."""
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin:
        return True  # some browsers omit both on same-origin posts; the CSRF token still has to match
    return urlsplit(origin).netloc == request.host


async def checked_form(request: web.Request, session: Session) -> dict[str, str] | web.Response:
    """The posted form, after the CSRF and origin checks; or the refusal."""
    form = await request.post()
    if not same_origin(request) or str(form.get("csrf", "")) != session.csrf:
        return html_page(pages.refused("This form expired or did not come from this console; reload the page."), 403)
    return {k: str(v) for k, v in form.items() if isinstance(v, str)}


async def checked_multipart(request: web.Request, session: Session) -> MultipartReader | web.Response:
    """An upload form's parts after its first one, the CSRF token, has been checked (and its origin)."""
    if not same_origin(request):
        return html_page(pages.refused("This form did not come from this console."), 403)
    reader = await request.multipart()
    first = await reader.next()
    if not isinstance(first, BodyPartReader) or first.name != "csrf" or (await first.text()) != session.csrf:
        return html_page(pages.refused("This form expired or did not come from this console; reload the page."), 403)
    return reader


def gate(request: web.Request) -> Session | web.Response:
    session = session_of(request)
    if session is not None:
        return session
    if not valid_hash(admin_password(request)):
        return html_page(pages.refused("The console is open only on the kiosk itself until an admin password is set "
                                   "(kiosk api password, then admin_password_hash in [service])."), 403)
    raise web.HTTPSeeOther("/admin/login")


PageHandler = Callable[[web.Request, Session], Awaitable[web.StreamResponse]]
FormHandler = Callable[[web.Request, Session, dict[str, str]], Awaitable[web.StreamResponse]]


def page_route(handler: PageHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A console page: only for whoever the door lets in (a session, or this machine without a password)."""
    @functools.wraps(handler)
    async def route(request: web.Request) -> web.StreamResponse:
        session = gate(request)
        if isinstance(session, web.Response):
            return session
        return await handler(request, session)

    return route


def form_route(handler: FormHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A console form's target: the door, then the form's CSRF token and origin."""
    @functools.wraps(handler)
    async def with_form(request: web.Request, session: Session) -> web.StreamResponse:
        form = await checked_form(request, session)
        if isinstance(form, web.Response):
            return form
        return await handler(request, session, form)

    return page_route(with_form)


def console_session(request: web.Request) -> bool:
    """A logged-in console user (the Live page follows /api/v1/events with the console's own cookie)."""
    return DOOR in request.app and session_of(request) is not None
