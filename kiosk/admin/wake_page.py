"""The console's Wake phrase page: recordings of the phrase by the company's own people (kiosk.listen.wake_samples),
made at the kiosk's own microphone or uploaded, listed with why any is not used, removed; the running kiosk hears
them at once (its sound templates are rebuilt), no restart."""

from __future__ import annotations

import asyncio
import tempfile
import time
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from kiosk.admin import pages
from kiosk.admin.door import CONSOLE_KIOSK, DOOR, RUNNING, checked_multipart, form_route, html_page, page_route
from kiosk.admin.sessions import Session
from kiosk.listen.wake_samples import keep_recording, read_sample, sample_files, samples_dir

RECORD_S = 3.0
MAX_UPLOAD = 4 * 1024 * 1024
"""a WAV of a wake phrase is well under this (6 s of 48 kHz stereo 16-bit is 1.1 MB)"""


def recordings(folder: Path) -> list[dict[str, Any]]:
    rows = []
    for path in sample_files(folder):
        try:
            rows.append({"name": path.name, "speech_s": read_sample(path).speech_s, "problem": ""})
        except ValueError as error:
            rows.append({"name": path.name, "speech_s": 0.0, "problem": str(error).removeprefix(f"{path.name}: ")})
    return rows


def page(rows: list[dict[str, Any]], phrase: str, folder: Path, can_record: bool, session: Any,
         message: str = "", error: bool = False) -> str:
    token = escape(session.csrf)
    note = (f'<div class="card" role="status"><p class="{"err" if error else "ok"}">{escape(message)}</p></div>'
            if message else "")
    said = escape(phrase.capitalize())
    body = []
    for r in rows:
        state = (f'<span class="err">not used: {escape(r["problem"])}</span>' if r["problem"]
                 else f'used ({r["speech_s"]:.1f} s of speech)')
        body.append(f'<tr><td>{escape(r["name"])}</td><td>{state}</td><td><form method="post" '
                    f'action="/admin/wake/remove"><input type="hidden" name="csrf" value="{token}"><input '
                    f'type="hidden" name="name" value="{escape(r["name"])}"><button aria-label="Remove '
                    f'{escape(r["name"])}">Remove</button></form></td></tr>')
    table = (f'<table><thead><tr><th>Recording</th><th>State</th><th></th></tr></thead><tbody>{"".join(body)}'
             '</tbody></table>' if body else "<p>No recordings yet: the kiosk knows the phrase from synthetic "
             "voices only.</p>")
    record = (f'<form method="post" action="/admin/wake/record"><input type="hidden" name="csrf" value="{token}">'
              f'<p>Stand at the kiosk, press the button and say <strong>\u201c{said}\u201d</strong> once, as you '
              f'would to the kiosk, within {RECORD_S:.0f} seconds. Three recordings per person, one of them with a '
              f'question after it (\u201c{said}, where is the canteen?\u201d), work best.</p>'
              '<p><button>Record at the kiosk</button></p></form>' if can_record else
              "<p>The kiosk has no microphone listening right now: upload recordings instead.</p>")
    upload = (f'<form method="post" action="/admin/wake/upload" enctype="multipart/form-data"><input type="hidden" '
              f'name="csrf" value="{token}"><label for="wav">Recordings of the phrase (WAV, 16-bit)</label>'
              '<input id="wav" name="files" type="file" accept=".wav,audio/wav" multiple>'
              '<p><button>Upload</button></p></form>')
    html = (f'{note}<div class="card"><h2>Voices that wake the kiosk</h2><p>The kiosk hears \u201c{said}\u201d in '
            "any voice it was taught. People whose accent it misses (it stays asleep when they say the phrase) "
            "can teach it theirs: each recording becomes one more way the phrase may sound. Recordings stay on "
            f"this kiosk, in <code>{escape(str(folder))}</code>; remove them when someone asks.</p>{table}</div>"
            f'<div class="card"><h2>Record</h2>{record}</div><div class="card"><h2>Upload</h2>{upload}</div>')
    return pages.page("Wake phrase", html, "wake", session)


async def wake_view(request: web.Request, session: Session, message: str = "", error: bool = False,
                    status: int = 200) -> web.Response:
    settings = request.app[RUNNING].settings
    folder = samples_dir(settings)
    rows = await asyncio.to_thread(recordings, folder)
    live = request.app[CONSOLE_KIOSK].listener
    return html_page(page(rows, settings.listen.wake_phrase, folder, live is not None, session, message, error),
                     status)


def apply(request: web.Request) -> str:
    """The running kiosk's wake phrase templates rebuilt with the recordings; what to tell the admin."""
    from kiosk.listen.wake_samples import phrase_templates

    settings = request.app[RUNNING].settings
    live = request.app[CONSOLE_KIOSK].listener
    if not settings.listen.wake_acoustic:
        return "Set listen.wake_acoustic above 0 for the kiosk to use them."
    listen = settings.listen

    def templates(engine: Any) -> Any:
        if not hasattr(engine, "encode"):
            raise LookupError("not Whisper")
        return phrase_templates(engine, listen.wake_phrase, listen.wake_acoustic, samples_dir(settings))

    if live is None:
        return "The kiosk is not listening now (no microphone, see Status); it hears them when it listens again."
    try:
        if live.use_wake_sound(templates):
            return "The kiosk hears them now."
    except LookupError:
        pass
    return "This kiosk listens with Vosk: recordings help the Whisper recognizer only (listen.asr)."


@form_route
async def wake_record(request: web.Request, session: Session, form: dict[str, str]) -> web.Response:
    live = request.app[CONSOLE_KIOSK].listener
    if live is None:
        return await wake_view(request, session, "The kiosk has no microphone listening.", True, 409)
    pcm = await asyncio.to_thread(live.capture_sample, RECORD_S)
    folder = samples_dir(request.app[RUNNING].settings)
    try:
        kept = await asyncio.to_thread(keep_recording, pcm, folder, f"console-{time.strftime('%Y%m%d-%H%M%S')}")
        path, seconds = kept.path, kept.speech_s
    except ValueError as error:
        return await wake_view(request, session, f"Not kept: {error}. Try again.", True, 400)
    request.app[DOOR].audit(session.user, request.remote or "?", "recorded the wake phrase", recording=path.name)
    done = await asyncio.to_thread(apply, request)
    return await wake_view(request, session, f"Kept {path.name} ({seconds:.1f} s of speech). {done}")


@page_route
async def wake_upload(request: web.Request, session: Session) -> web.Response:
    from kiosk.audio.wav import AudioFileError, read_pcm16k

    reader = await checked_multipart(request, session)
    if isinstance(reader, web.Response):
        return reader
    folder = samples_dir(request.app[RUNNING].settings)
    kept, refused = [], []
    try:
        while (part := await reader.next()) is not None:
            filename = Path(unquote(getattr(part, "filename", None) or "")).name  # browsers send it %-encoded
            if not filename:
                continue
            data = await _read_capped(part)
            if data is None:
                refused.append(f"{filename}: larger than {MAX_UPLOAD // 1024 // 1024} MB")
                continue
            with tempfile.TemporaryDirectory() as tmp:
                raw = Path(tmp) / "upload.wav"
                raw.write_bytes(data)
                try:
                    pcm = read_pcm16k(raw)
                    path = (await asyncio.to_thread(keep_recording, pcm, folder, _stem(filename))).path
                except AudioFileError as error:  # it names the temporary file: the admin's file name instead
                    refused.append(f"{filename}: {str(error).split(': ', 1)[-1]}")
                    continue
                except ValueError as error:
                    refused.append(f"{filename}: {error}")
                    continue
            kept.append(path.name)
            request.app[DOOR].audit(session.user, request.remote or "?", "uploaded a wake phrase recording",
                                    recording=path.name)
    except ValueError:  # a body that is not the form's
        return await wake_view(request, session, "That upload was not understood; try again.", True, 400)
    left_out = f" Not added: {'; '.join(refused[:10])}" if refused else ""
    if not kept:
        return await wake_view(request, session, left_out.strip() or "Choose one or more WAV files first.", True, 400)
    done = await asyncio.to_thread(apply, request)
    return await wake_view(request, session, f"Added {', '.join(kept)}. {done}{left_out}", bool(refused))


@form_route
async def wake_remove(request: web.Request, session: Session, form: dict[str, str]) -> web.Response:
    folder = samples_dir(request.app[RUNNING].settings)
    name = Path(form.get("name", "")).name
    path = folder / name
    if not name or path not in sample_files(folder):
        return await wake_view(request, session, f"No recording {name!r}.", True, 404)
    path.unlink()
    request.app[DOOR].audit(session.user, request.remote or "?", "removed a wake phrase recording", recording=name)
    done = await asyncio.to_thread(apply, request)
    return await wake_view(request, session, f"Removed {name}. {done}")


async def _read_capped(part: Any) -> bytes | None:
    """The part's bytes, or None (the rest drained) once it is larger than MAX_UPLOAD."""
    data = bytearray()
    while chunk := await part.read_chunk():
        data += chunk
        if len(data) > MAX_UPLOAD:
            while await part.read_chunk():
                pass
            return None
    return bytes(data)


def _stem(filename: str) -> str:
    return f"upload-{Path(filename).stem[:60] or 'recording'}"


def add_wake_routes(app: web.Application) -> None:
    app.router.add_get("/admin/wake", page_route(wake_view))
    app.router.add_post("/admin/wake/record", wake_record)
    app.router.add_post("/admin/wake/upload", wake_upload)
    app.router.add_post("/admin/wake/remove", wake_remove)
