"""The local API (docs/api.md, docs/api-openapi.json): other systems on site talk to the kiosk.

aiohttp, run by `kiosk run` as part of its own asyncio loop (no second process, no thread): a request is a
coroutine like the kiosk's own work, and the visitor always goes first (an ask or an announcement while a
visitor is served is refused with 409, and a visitor who starts meanwhile stops it). Every error is JSON
`{"error": {"code", "message"}}` with a fixed code; nothing a caller sends is echoed back or crashes it.

    POST /api/v1/ask     {"question": "..."} -> answer, grounded, sources, timings_ms
    POST /api/v1/say     {"text": "..."}     -> the avatar says it (202; it speaks in the background)
    POST /api/v1/wake                        -> push-to-talk, like the wake phrase
    POST /api/v1/reset                       -> forget the visitor
    GET  /api/v1/status                      -> what /status shows
    GET  /api/v1/events                      -> the kiosk's typed events, Server-Sent Events
    GET  /metrics                            -> Prometheus text format
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from kiosk.admin.auth import allowed
from kiosk.admin.metrics import Metrics
from kiosk.admin.ratelimit import HOLD_MAX_S, RateLimit
from kiosk.appliance.app import Kiosk, KioskBusy
from kiosk.config import ServiceSettings, Settings
from kiosk.event_json import to_json
from kiosk.events import Wake, WakeSource

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
MAX_QUESTION = 2000
MAX_SAY = 2000
HEARTBEAT_S = 15.0
ERRORS = ("bad_json", "missing_field", "wrong_type", "too_long", "empty", "busy", "unauthorized", "not_found",
          "method_not_allowed", "too_large", "rate_limited", "internal")
BUSY_RETRY_S = 2
"""Retry-After sent with 409 busy: a visitor's turn takes a few seconds"""
WITHHELD = {"dismissed": ("text",)}
"""fields the event stream leaves out: what a bystander said is theirs, the stream says only that it was dismissed"""
KIOSK = web.AppKey("kiosk", Kiosk)
METRICS = web.AppKey("metrics", Metrics)
SERVICE = web.AppKey("service", ServiceSettings)
TASKS = web.AppKey("tasks", list)  # announcements speaking in the background (kept so they are not collected)
LIMIT = web.AppKey("limit", RateLimit)


def error(status: int, code: str, message: str, retry_after: float | None = None) -> web.Response:
    assert code in ERRORS
    headers = {"Retry-After": str(max(1, math.ceil(retry_after)))} if retry_after is not None else None
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


async def _over_budget(request: web.Request) -> web.Response | None:
    """429 for a caller over `service.api_rate`, after holding the answer back (see kiosk/admin/ratelimit.py)."""
    wait = request.app[LIMIT].take(request.remote or "")
    if not wait:
        return None
    await asyncio.sleep(min(wait, HOLD_MAX_S))
    return error(429, "rate_limited", "too many requests from this address; wait as Retry-After says",
                 retry_after=wait)


@web.middleware
async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
    """The token rule, and JSON for every failure (aiohttp's own errors included). The console's pages
    (/, /admin/...) keep their own door: a password and a session (kiosk/admin/console.py)."""
    console = request.path == "/" or request.path == "/admin" or request.path.startswith("/admin/")
    if not console and (refused := await _over_budget(request)) is not None:
        return refused
    if not console and not allowed(request.app[SERVICE], request.remote, request.headers.get("Authorization")) \
            and not (request.path == "/api/v1/events" and _console_user(request)):
        return error(401, "unauthorized", "this address needs the API token: Authorization: Bearer TOKEN")
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge:
        return error(413, "too_large", f"the body is over {MAX_BODY} bytes")
    except web.HTTPNotFound:
        return error(404, "not_found", "no such endpoint (see docs/api.md)")
    except web.HTTPMethodNotAllowed:
        return error(405, "method_not_allowed", "this endpoint does not take that method")
    except web.HTTPException:
        raise
    except Exception:  # noqa: BLE001 - a caller never sees a traceback, and the kiosk goes on
        log.exception("local API: %s %s failed", request.method, request.path)
        return error(500, "internal", "the kiosk could not do that; details are in its log")


def _console_user(request: web.Request) -> bool:
    """The event stream also follows a logged-in console user's cookie (the console's Live page)."""
    from kiosk.admin.door import console_session

    return console_session(request)


async def _body(request: web.Request, field: str, limit: int) -> str | web.Response:
    """The one string field of a JSON body, or the error to answer."""
    try:
        data = json.loads(await request.read() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return error(400, "bad_json", "the body is not JSON")
    if not isinstance(data, dict) or field not in data:
        return error(400, "missing_field", f'a JSON object with "{field}" is needed')
    value = data[field]
    if not isinstance(value, str):
        return error(400, "wrong_type", f'"{field}" must be a string')
    if len(value) > limit:
        return error(413, "too_long", f'"{field}" is longer than {limit} characters')
    if not value.strip():
        return error(400, "empty", f'"{field}" is empty')
    return value.strip()


async def ask(request: web.Request) -> web.Response:
    question = await _body(request, "question", MAX_QUESTION)
    if isinstance(question, web.Response):
        return question
    try:
        done = await request.app[KIOSK].ask_text(question)
    except KioskBusy as busy:
        return error(409, "busy", f"{busy}; try again in a moment", retry_after=BUSY_RETRY_S)
    return web.json_response({"answer": done.answer, "grounded": done.grounded, "sources": list(done.sources),
                              "timings_ms": done.timings.to_dict(), "error": done.error,
                              "error_codes": [str(c) for c in done.error_codes]})


async def say(request: web.Request) -> web.Response:
    text = await _body(request, "text", MAX_SAY)
    if isinstance(text, web.Response):
        return text
    kiosk = request.app[KIOSK]
    if kiosk.busy():
        return error(409, "busy", "a visitor is being served; try again in a moment", retry_after=BUSY_RETRY_S)
    tasks: list[asyncio.Task] = request.app[TASKS]
    tasks[:] = [t for t in tasks if not t.done()]
    tasks.append(asyncio.create_task(_announce(kiosk, text)))
    return web.json_response({"accepted": True, "characters": len(text)}, status=202)


async def _announce(kiosk: Kiosk, text: str) -> None:
    try:
        await kiosk.announce(text)
    except KioskBusy as busy:
        log.info("announcement not said: %s", busy)


async def wake(request: web.Request) -> web.Response:
    kiosk = request.app[KIOSK]
    kiosk.post(Wake(time.monotonic(), WakeSource.API))
    return web.json_response({"accepted": True}, status=202)


async def reset(request: web.Request) -> web.Response:
    request.app[KIOSK].forget_visitor()
    return web.json_response({"forgotten": True})


async def status(request: web.Request) -> web.Response:
    return web.json_response(request.app[KIOSK].snapshot(), dumps=lambda d: json.dumps(d, default=str))


async def events(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: `event: <type>` and `data: <JSON>` per kiosk event, a comment every 15 s."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    with contextlib.suppress(ConnectionResetError):  # the client went away (aiohttp's ClientConnectionResetError)
        await _stream(response, request.app[KIOSK])
    return response


async def _stream(response: web.StreamResponse, kiosk: Kiosk) -> None:
    async with kiosk.hub.subscribe() as queue:
        await response.write(b": connected\n\n")
        while True:
            try:
                at, event = await asyncio.wait_for(queue.get(), timeout=HEARTBEAT_S)
            except asyncio.TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            data = to_json(event)
            for field in WITHHELD.get(data["event"], ()):
                data.pop(field, None)
            line = json.dumps({**data, "sent_at": at}, ensure_ascii=False, default=str)
            await response.write(f"event: {data['event']}\ndata: {line}\n\n".encode())


async def metrics(request: web.Request) -> web.Response:
    kiosk = request.app[KIOSK]
    extra = {"kiosk_event_subscribers": float(kiosk.hub.subscribers),
             "kiosk_events_dropped_total": float(kiosk.hub.dropped),
             "kiosk_api_rate_limited_total": float(request.app[LIMIT].refused)}
    return web.Response(text=request.app[METRICS].render(extra), content_type="text/plain", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})


def make_app(kiosk: Kiosk, service: ServiceSettings, settings: Settings | None = None,
             audit: Path | None = None, base: Settings | None = None) -> web.Application:
    """The API; with `settings`, the admin console too (its audit log at `audit`)."""
    app = web.Application(middlewares=[guard], client_max_size=MAX_BODY)
    app[KIOSK], app[SERVICE], app[TASKS] = kiosk, service, []
    app[LIMIT] = RateLimit(service.api_rate, service.api_burst)
    app[METRICS] = Metrics(kiosk.snapshot)
    kiosk.hub.listen(app[METRICS].observe)
    app.router.add_post("/api/v1/ask", ask)
    app.router.add_post("/api/v1/say", say)
    app.router.add_post("/api/v1/wake", wake)
    app.router.add_post("/api/v1/reset", reset)
    app.router.add_get("/api/v1/status", status)
    app.router.add_get("/api/v1/events", events, allow_head=False)  # a HEAD would get the stream's first bytes
    app.router.add_get("/metrics", metrics)
    if settings is not None:
        from kiosk.admin.console import add_console

        add_console(app, kiosk, settings, audit, base)
    return app


class ApiServer:
    """Started and stopped on the kiosk's loop (kiosk/appliance/run.py)."""

    def __init__(self, kiosk: Kiosk, service: ServiceSettings, settings: Settings | None = None,
                 audit: Path | None = None, base: Settings | None = None) -> None:
        self.app = make_app(kiosk, service, settings, audit, base)
        self.service = service
        self._runner: web.AppRunner | None = None
        self.port = service.api_port

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.service.api_bind, self.service.api_port)
        await site.start()
        if self._runner.addresses:  # the port the system gave, for api_port = 0 in tests
            self.port = self._runner.addresses[0][1]
        log.info("local API on http://%s:%d (docs/api.md)", self.service.api_bind, self.port)

    async def stop(self) -> None:
        tasks: list[asyncio.Task] = self.app[TASKS]
        for task in tasks:
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()


async def start_api(kiosk: Kiosk, settings: Settings, base: Settings | None = None) -> ApiServer | None:
    """`kiosk run`'s service (kiosk/appliance/run.py): the local API on the kiosk's loop, or None when it is
    off or its port is taken (listed on /status; the kiosk serves its visitors anyway)."""
    if not settings.service.api_port:
        return None
    from kiosk.admin.console import default_audit_path

    server = ApiServer(kiosk, settings.service, settings, default_audit_path(), base)
    try:
        await server.start()
    except OSError as error:
        message = f"local API off: {settings.service.api_bind}:{settings.service.api_port}: {error}"
        log.error("%s", message)
        kiosk.errors.append(message)
        return None
    return server
