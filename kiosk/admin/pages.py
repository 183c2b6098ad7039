"""The admin console's HTML: server-rendered, no build step, no script needed; readable on a tablet and
with a screen reader (labels, headings, a skip link, text beside every bar). Everything shown is escaped."""

from __future__ import annotations

from html import escape
from typing import Any

CSS = """
body{font:16px/1.45 system-ui,sans-serif;margin:0;color:#14202b;background:#f4f6f8}
header{background:#0e1a24;color:#fff;padding:.6rem 1rem;display:flex;gap:1rem;align-items:center;flex-wrap:wrap}
header a{color:#cfe9e4;text-decoration:none;padding:.5rem .7rem;border-radius:.4rem}
header a[aria-current=page]{background:#2b7a6f;color:#fff}
main{max-width:60rem;margin:1rem auto;padding:0 1rem}
.card{background:#fff;border-radius:.6rem;padding:1rem 1.2rem;margin:0 0 1rem;box-shadow:0 1px 3px #0002}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.35rem .4rem;border-bottom:1px solid #e3e7ea}
.bar{height:.7rem;background:#2b7a6f;border-radius:.3rem;display:inline-block;vertical-align:middle}
.bar.wait{background:#9cc9c1}.err{color:#a4262c}.ok{color:#1e6b3a}
input[type=text],input[type=password],textarea{width:100%;font:inherit;font-size:1.1rem;padding:.6rem;box-sizing:border-box}
button{font-size:1.05rem;padding:.6rem 1.2rem;border:0;border-radius:.4rem;background:#2b7a6f;color:#fff}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;color:#000;padding:.5rem}
"""
NAV = (("status", "Status"), ("live", "Live"), ("knowledge", "Knowledge"), ("questions", "Questions"),
       ("persona", "Persona"), ("wake", "Wake phrase"), ("packs", "Content packs"), ("try", "Try it"),
       ("audit", "Audit log"))


def page(title: str, body: str, current: str = "", session: Any = None, head: str = "") -> str:
    links = "".join(f'<a href="/admin/{key}"{" aria-current=page" if key == current else ""}>{label}</a>'
                    for key, label in NAV)
    logout = (f'<form method="post" action="/admin/logout" style="margin-left:auto">'
              f'<input type="hidden" name="csrf" value="{escape(session.csrf)}"><button>Log out</button></form>'
              if session is not None else "")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">{head}'
            f'<title>{escape(title)} · kiosk</title>'
            f'<style>{CSS}</style></head><body><a class="skip" href="#main">Skip to content</a>'
            f'<header><strong>kiosk admin</strong><nav aria-label="Pages">{links}</nav>{logout}</header>'
            f'<main id="main"><h1>{escape(title)}</h1>{body}</main></body></html>')


def login(message: str = "") -> str:
    note = f'<p class="err" role="alert">{escape(message)}</p>' if message else ""
    return page("Log in", f'<div class="card">{note}<form method="post" action="/admin/login">'
                          '<label for="password">Admin password</label>'
                          '<input id="password" name="password" type="password" autocomplete="current-password" '
                          'required autofocus><p><button>Log in</button></p></form></div>')


def _ms(value: Any) -> str:
    return "–" if value is None else f"{float(value):.0f} ms"


def waterfall(turns: list[dict[str, Any]]) -> str:
    """The latest turns, each stage a bar on one scale: recognition, first token, first audio, total."""
    if not turns:
        return "<p>No visitor has asked anything since the kiosk started.</p>"
    stages = (("recognition", "heard"), ("ttft", "first token"), ("first_audio", "first audio"), ("total", "done"))
    longest = max((float(t.get("timings_ms", {}).get("total") or 0) for t in turns), default=1.0) or 1.0
    rows = []
    for turn in reversed(turns[-10:]):
        timings = turn.get("timings_ms", {})
        bars = "".join(
            f'<div>{escape(label)}: <span class="bar{" wait" if key != "total" else ""}" '
            f'style="width:{min(100.0, 100 * float(timings.get(key) or 0) / longest):.1f}%"></span> '
            f'{_ms(timings.get(key))}</div>' for key, label in stages)
        mark = '<span class="ok">answered from the documents</span>' if turn.get("grounded") else "not grounded"
        rows.append(f'<tr><td><strong>{escape(str(turn.get("question", "")))}</strong><br>{mark}'
                    f'{" · cut off" if turn.get("cut_off") else ""}</td><td style="width:55%">{bars}</td></tr>')
    return f'<table><thead><tr><th>Question</th><th>Timings</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'


def status(snap: dict[str, Any], facts: dict[str, str], session: Any) -> str:
    errors = snap.get("errors") or []
    error_html = ("".join(f'<li class="err">{escape(str(e))}</li>' for e in errors)
                  if errors else '<li class="ok">none</li>')
    facts_html = "".join(f"<tr><th scope=row>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in facts.items())
    body = (f'<div class="card"><h2>Now</h2><table>{facts_html}</table></div>'
            f'<div class="card"><h2>Errors</h2><ul>{error_html}</ul></div>'
            f'<div class="card"><h2>Latest turns</h2>{waterfall(snap.get("recent") or [])}</div>')
    return page("Status", body, "status", session)


def try_it(session: Any, question: str = "", result: dict[str, Any] | None = None) -> str:
    form = (f'<div class="card"><form method="post" action="/admin/try">'
            f'<input type="hidden" name="csrf" value="{escape(session.csrf if session else "")}">'
            f'<label for="question">Ask what a visitor would ask</label>'
            f'<input id="question" name="question" type="text" maxlength="2000" value="{escape(question)}" required>'
            f'<p><button>Ask</button></p></form></div>')
    if result is None:
        return page("Try it", form, "try", session)
    if "error" in result:
        answer = f'<div class="card" role="alert"><p class="err">{escape(result["error"])}</p></div>'
    else:
        sources = "".join(f'<li>{escape(str(s.get("title") or s.get("path")))}'
                          f'{" › " + escape(str(s["section"])) if s.get("section") else ""}</li>'
                          for s in result.get("sources", [])) or "<li>none</li>"
        timings = "".join(f"<tr><th scope=row>{escape(k)}</th><td>{_ms(v)}</td></tr>"
                          for k, v in result.get("timings_ms", {}).items() if k in ("ttft", "first_sentence", "total"))
        grounded = ('<span class="ok">answered from the documents</span>' if result.get("grounded")
                    else "not grounded: the kiosk declines or answers from the persona only")
        answer = (f'<div class="card" aria-live="polite"><h2>Answer</h2><p id="answer">{escape(result["answer"])}</p>'
                  f"<p>{grounded}</p><h3>Sources</h3><ul id=sources>{sources}</ul>"
                  f"<h3>Timings</h3><table>{timings}</table></div>")
    return page("Try it", form + answer, "try", session)


def audit(lines: list[dict[str, Any]], session: Any) -> str:
    rows = "".join(f"<tr><td>{escape(str(x.get('at', '')))}</td><td>{escape(str(x.get('who', '')))}</td>"
                   f"<td>{escape(str(x.get('from', '')))}</td><td>{escape(str(x.get('what', '')))}</td></tr>"
                   for x in lines) or '<tr><td colspan="4">No changes yet.</td></tr>'
    return page("Audit log", f'<div class="card"><table><thead><tr><th>When</th><th>Who</th><th>From</th>'
                             f'<th>What</th></tr></thead><tbody>{rows}</tbody></table></div>', "audit", session)


def refused(message: str) -> str:
    return page("Not available here", f'<div class="card" role="alert"><p>{escape(message)}</p></div>')


def _size(n: Any) -> str:
    n = float(n or 0)
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 1024:.0f} kB"


def knowledge(docs: list[dict[str, Any]], indexing: Any, folder: str | None, session: Any, message: str = "",
              error: bool = False) -> str:
    token = escape(session.csrf)
    note = f'<p class="{"err" if error else "ok"}" role="status">{escape(message)}</p>' if message else ""
    head = '<meta http-equiv="refresh" content="2">' if indexing.running else ""
    if indexing.running:
        share = indexing.done / indexing.total if indexing.total else 0.0
        progress = (f'<div class="card" role="status"><h2>Indexing</h2><progress max="1" value="{share:.3f}">'
                    f'{share:.0%}</progress> {indexing.done} of {indexing.total or "?"} '
                    f'{escape(indexing.current)}<p>The kiosk answers from the documents it had until this is done.</p>'
                    "</div>")
    elif indexing.last:
        last = indexing.last
        outcome = (f'<p class="ok">{last.get("added", 0)} added, {last.get("updated", 0)} updated, '
                   f'{last.get("removed", 0)} removed; {last.get("chunks", 0)} passages in the index.</p>'
                   if last.get("ok") else f'<p class="err">Failed: {escape(str(last.get("error")))}</p>')
        progress = f'<div class="card" role="status"><h2>Last indexing</h2>{outcome}</div>'
    else:
        progress = ""
    rows, skipped = [], []
    for d in docs:
        if "skipped" in d:
            skipped.append(f'<li><strong>{escape(d["path"])}</strong>: {escape(d["skipped"])}</li>')
            continue
        remove = (f'<form method="post" action="/admin/knowledge/remove"><input type="hidden" name="csrf" '
                  f'value="{token}"><input type="hidden" name="name" value="{escape(d["path"])}">'
                  f'<button aria-label="Remove {escape(d["path"])}">Remove</button></form>' if d.get("managed") else "")
        rows.append(f'<tr><td><strong>{escape(d["path"])}</strong><br>{escape(d["title"])}</td>'
                    f'<td>{float(d["pages"]):.1f}</td><td>{d["passages"]}</td><td>{_size(d["size"])}</td>'
                    f"<td>{remove}</td></tr>")
    table = (f'<table><thead><tr><th>Document</th><th>Pages</th><th>Passages</th><th>Size</th><th></th></tr></thead>'
             f'<tbody>{"".join(rows)}</tbody></table>' if rows else "<p>The index holds no documents yet.</p>")
    if folder:
        upload = (f'<div class="card"><h2>Add documents</h2><form id="upload" method="post" '
                  f'action="/admin/knowledge/upload" enctype="multipart/form-data">'
                  f'<input type="hidden" name="csrf" value="{token}">'
                  f'<label for="files">Files (Markdown, text, HTML, PDF, Word, CSV FAQ; up to 50 MB each)</label>'
                  f'<input id="files" name="files" type="file" multiple '
                  f'accept=".md,.markdown,.txt,.html,.htm,.pdf,.docx,.csv">'
                  f'<label for="folder">or a whole folder (the files the kiosk can read are taken)</label>'
                  f'<input id="folder" name="files" type="file" webkitdirectory multiple>'
                  f'<p><progress id="upload-progress" max="1" value="0" hidden></progress></p>'
                  f'<p><button>Upload and index</button></p></form>'
                  f'<form method="post" action="/admin/knowledge/reindex"><input type="hidden" name="csrf" '
                  f'value="{token}"><button>Re-index now</button></form>'
                  f'<p>Folder: <code>{escape(folder)}</code></p></div><script src="/admin/static/upload.js"></script>')
    else:
        upload = ('<div class="card"><p>No documents folder is configured: set <code>documents_dir</code> in '
                  '<code>[knowledge]</code> to add and remove documents here.</p></div>')
    skipped_html = (f'<div class="card"><h2>Skipped files</h2><ul>{"".join(skipped)}</ul></div>' if skipped else "")
    body = f'{note}{progress}{upload}<div class="card"><h2>In the index</h2>{table}</div>{skipped_html}'
    return page("Knowledge", body, "knowledge", session, head)


UPLOAD_JS = """
// Upload progress for the Knowledge page; without script the form posts the same way.
const form = document.getElementById("upload");
if (form) form.addEventListener("submit", (event) => {
  event.preventDefault();
  const bar = document.getElementById("upload-progress");
  const request = new XMLHttpRequest();
  request.open("POST", form.action);
  bar.hidden = false;
  request.upload.onprogress = (e) => {
    if (!e.lengthComputable) return;
    bar.value = e.loaded / e.total;
    sessionStorage.setItem("kiosk-upload-progress", String(bar.value));  // the result page can tell it moved
  };
  request.onload = () => { document.open(); document.write(request.responseText); document.close(); };
  request.send(new FormData(form));
});
"""


def questions(report: dict[str, Any], keeping: bool, days: int, session: Any) -> str:
    """What visitors asked that the documents did not answer, grouped: the list of what is missing."""
    rows = "".join(f'<tr><td>{escape(str(g["question"]))}</td><td>{g["count"]}</td><td>{escape(g["last_day"])}</td>'
                   f'<td>{escape(g["outcome"])}{": " + escape(g["why"]) if g["why"] else ""}</td>'
                   f'<td>{escape(g["nearest"] or "–")}</td></tr>' for g in report["groups"])
    table = (f'<table><thead><tr><th>Question</th><th>Times</th><th>Last asked</th><th>Why</th>'
             f'<th>Closest document</th></tr></thead><tbody>{rows}</tbody></table>' if rows
             else "<p>Nothing unanswered has been asked.</p>")
    privacy = (f"Questions are kept as text only for {days} days, never audio and never who asked; then only "
               "their count." if keeping else
               "Keeping questions is off (service.questions_report): only counts are kept, without any text.")
    body = (f'<div class="card"><p>{escape(privacy)}</p><p>{report["total"]} unanswered in all; '
            f'{report["without_text"]} counted without text.</p></div><div class="card">{table}</div>')
    return page("Questions the documents did not answer", body, "questions", session)


def persona(fields: tuple[tuple[str, str, str], ...], values: dict[str, str], session: Any,
            problems: list[str] | None = None, message: str = "") -> str:
    token = escape(session.csrf)
    note = ('<div class="card" role="alert"><ul>' + "".join(f'<li class="err">{escape(p)}</li>' for p in problems)
            + "</ul></div>" if problems else "")
    if message:
        note += f'<div class="card" role="status"><p class="ok">{escape(message)}</p></div>'
    inputs = []
    for section, key, label in fields:
        name = f"{section}.{key}"
        value = escape(values.get(name, ""))
        field_id = name.replace(".", "-")
        control = (f'<textarea id="{field_id}" name="{name}" rows="3" maxlength="500">{value}</textarea>'
                   if key == "greeting" else
                   f'<input id="{field_id}" name="{name}" type="text" maxlength="500" value="{value}">')
        inputs.append(f'<p><label for="{field_id}">{escape(label)}</label>{control}</p>')
    avatar = escape(values.get("persona.avatar", ""))
    body = (f'{note}<div class="card"><form method="post" action="/admin/persona">'
            f'<input type="hidden" name="csrf" value="{token}">{"".join(inputs)}'
            '<p><button>Save and restart the kiosk</button></p></form></div>'
            f'<div class="card"><h2>Preview</h2><img src="/admin/persona/avatar.png?name={avatar}" width="360" '
            f'alt="The avatar {avatar} at rest"><form method="post" action="/admin/persona/greeting">'
            f'<input type="hidden" name="csrf" value="{token}"><p><button>Hear the greeting</button></p></form>'
            "<p>Changes are kept in the kiosk's own settings file (console.toml) on top of kiosk.toml; "
            "the kiosk restarts to apply them (a few seconds to a minute: the models load again).</p></div>")
    return page("Persona", body, "persona", session)


def packs(state: dict[str, Any], session: Any, message: str = "", error: bool = False,
          verified: dict[str, Any] | None = None) -> str:
    token = escape(session.csrf)
    note = f'<div class="card" role="status"><p class="{"err" if error else "ok"}">{escape(message)}</p></div>' \
        if message else ""
    current = state["current"]
    now = (f'<p>Current: <strong>{escape(str(current["name"]))} {escape(str(current["version"]))}</strong> '
           f'({escape(current["release"])})</p>' if current else "<p>No content pack is installed.</p>")
    rows = []
    for r in state["releases"]:
        action = ("current" if r["current"] else
                  f'<form method="post" action="/admin/packs/activate"><input type="hidden" name="csrf" '
                  f'value="{token}"><input type="hidden" name="release" value="{escape(r["release"])}">'
                  f'<button>Make current</button></form>')
        rows.append(f'<tr><td>{escape(str(r["name"]))}</td><td>{escape(str(r["version"]))}</td>'
                    f'<td><code>{escape(r["release"])}</code></td><td>{action}</td></tr>')
    table = (f'<table><thead><tr><th>Pack</th><th>Version</th><th>Release</th><th></th></tr></thead>'
             f'<tbody>{"".join(rows)}</tbody></table>' if rows else "")
    uploaded = "".join(
        f'<li>{escape(n)} <form method="post" action="/admin/packs/verify" style="display:inline">'
        f'<input type="hidden" name="csrf" value="{token}"><input type="hidden" name="name" value="{escape(n)}">'
        f'<button>Verify</button></form> <form method="post" action="/admin/packs/install" style="display:inline">'
        f'<input type="hidden" name="csrf" value="{token}"><input type="hidden" name="name" value="{escape(n)}">'
        f'<button>Install</button></form></li>' for n in state["uploaded"])
    result = ""
    if verified is not None:
        result = (f'<div class="card" role="status"><h2>Verified</h2><p class="ok">{escape(str(verified["name"]))} '
                  f'{escape(str(verified["version"]))}: signature good, {verified["files"]} files checked.</p></div>')
    body = (f'{note}{result}<div class="card"><h2>Installed</h2>{now}{table}</div>'
            f'<div class="card"><h2>Add a pack</h2><form method="post" action="/admin/packs/upload" '
            f'enctype="multipart/form-data"><input type="hidden" name="csrf" value="{token}">'
            f'<label for="pack">Signed content pack (.kpack, made with kiosk pack build)</label>'
            f'<input id="pack" name="pack" type="file" accept=".kpack"><p><button>Upload</button></p></form>'
            f'<ul>{uploaded}</ul><p>Packs must be signed with a key in <code>{escape(state["trust"])}</code>. '
            "A pack that fails its health check is not made current; the kiosk restarts to use a new one.</p></div>")
    return page("Content packs", body, "packs", session)


def live(session: Any) -> str:
    """The kiosk's events as they happen (the local API's stream), e.g. captions on a second screen."""
    body = ('<div class="card"><p>State: <strong id="state">…</strong></p><p id="caption" aria-live="polite" '
            'style="font-size:1.6rem;min-height:2.2em"></p></div><div class="card"><h2>Events</h2>'
            '<ol id="events" reversed></ol></div><script src="/admin/static/live.js"></script>')
    return page("Live", body, "live", session)


LIVE_JS = r"""
// Follows /api/v1/events: the visitor's state, what they asked and the answer's sentences, newest first.
const list = document.getElementById("events"), caption = document.getElementById("caption");
const state = document.getElementById("state");
let open = false;  // the caption's sentence is not finished yet
const stream = new EventSource("/api/v1/events");
const shown = {wake: (d) => "wake (" + d.source + ")", heard: (d) => "heard: " + d.text,
  visitor_changed: (d) => "state: " + d.state, answer_sentence: (d) => "said: " + d.text,
  answer_done: (d) => "done" + (d.grounded ? " (from the documents)" : ""), turn_error: (d) => "error: " + d.code};
for (const kind of Object.keys(shown)) stream.addEventListener(kind, (message) => {
  const data = JSON.parse(message.data);
  const item = document.createElement("li");
  item.textContent = shown[kind](data);
  item.dataset.event = kind;
  list.prepend(item);
  while (list.children.length > 100) list.lastChild.remove();
  if (kind === "visitor_changed") state.textContent = data.state;
  if (kind === "heard") { caption.textContent = data.text; open = false; }
  if (kind === "answer_sentence") {  // a chunk that continues a sentence grows its caption, as on the kiosk
    caption.textContent = open ? caption.textContent + " " + data.text : data.text;
    open = !/[.!?…]["')\]]*$/.test(data.text.trim());
  }
});
"""
