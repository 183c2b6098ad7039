"""The local API's documents against the code (fast, no models): docs/api.md, docs/api-openapi.json and the
Grafana dashboard name exactly the routes, error codes, events and metrics that kiosk/admin/api.py serves."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer
from test_local_api import kiosk

from kiosk.admin import api
from kiosk.config import ServiceSettings
from kiosk.event_json import EVENT_TYPES
from kiosk.events import AnswerDone, ErrorCode, Heard, Timings, Wake, WakeSource

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "api.md"
OPENAPI = ROOT / "docs" / "api-openapi.json"
DASHBOARD = ROOT / "provisioning" / "grafana" / "kiosk-dashboard.json"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def console(path: str) -> bool:
    """The admin console's pages (kiosk/admin/console.py): HTML behind their own door, not the API."""
    return path == "/" or path == "/admin" or path.startswith("/admin/")


def served_routes(folder: Path) -> set[tuple[str, str]]:
    """(METHOD, path) of every route of the server `kiosk run` starts (api.start_api: the API and the console);
    aiohttp adds HEAD to each GET route by itself."""
    k = kiosk()
    app = api.make_app(k, k.rt.settings.service, k.rt.settings, folder / "audit.log")
    return {(route.method, route.resource.canonical) for route in app.router.routes() if route.method != "HEAD"}


@pytest.fixture
def routes(tmp_path: Path) -> set[tuple[str, str]]:
    """The API's routes: what the server serves but the console's pages."""
    found = {(method, path) for method, path in served_routes(tmp_path) if not console(path)}
    assert ("POST", "/api/v1/ask") in found and ("GET", "/metrics") in found  # the app was read at all
    return found


def openapi() -> dict[str, Any]:
    return json.loads(OPENAPI.read_text())


def openapi_routes(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in doc["paths"].items() for method in item
            if method in HTTP_METHODS}


def deref(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """A "#/components/..." reference followed to its target."""
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def guide_code_blocks(text: str | None = None) -> list[str]:
    return re.findall(r"^```[a-z]*\n(.*?)^```", GUIDE.read_text() if text is None else text, flags=re.S | re.M)


def curl_calls(text: str | None = None) -> list[tuple[str, str, list[str]]]:
    """(METHOD, path, arguments) of every curl command in the guide's code blocks."""
    calls = []
    for block in guide_code_blocks(text):
        for line in block.replace("\\\n", " ").splitlines():
            if "curl " not in line:
                continue
            args = shlex.split(line[line.index("curl "):].split("#")[0])
            urls = [a for a in args if a.startswith(("http://", "https://"))]
            assert len(urls) == 1, line
            if "-X" in args:
                method = args[args.index("-X") + 1]
            else:
                method = "POST" if {"-d", "--data", "--data-binary", "--json"} & set(args) else "GET"
            calls.append((method, urlsplit(urls[0]).path, args))
    return calls


def test_the_openapi_file_has_exactly_the_apps_routes(routes: set[tuple[str, str]]) -> None:
    documented = openapi_routes(openapi())
    assert documented - routes == set(), "OpenAPI lists routes the app lacks"
    assert routes - documented == set(), "routes missing from docs/api-openapi.json"


def test_the_console_pages_are_apart_from_the_api(tmp_path: Path) -> None:
    pages = {path for _, path in served_routes(tmp_path) if console(path)}
    assert "/admin/login" in pages  # the server was built as kiosk run builds it
    assert not [path for path in openapi()["paths"] if console(path)], "the console is not part of the API"
    assert "admin console" in GUIDE.read_text()


def test_the_guide_has_a_section_and_a_curl_example_for_every_route(routes: set[tuple[str, str]]) -> None:
    headings = set(re.findall(r"^### (GET|POST|PUT|PATCH|DELETE) (\S+)$", GUIDE.read_text(), flags=re.M))
    assert headings == routes, "### METHOD /path sections of docs/api.md"
    calls = curl_calls()
    assert {(method, path) for method, path, _ in calls} == routes  # every example is real, every route has one
    assert any("-N" in args and path == "/api/v1/events" for _, path, args in calls), "curl -N for the stream"
    assert any(any(a.startswith("Authorization: Bearer ") for a in args) for _, _, args in calls), "token variant"


def test_a_renamed_route_or_method_breaks_the_examples(routes: set[tuple[str, str]]) -> None:
    text = GUIDE.read_text()
    renamed = {(m, p) for m, p, _ in curl_calls(text.replace("/api/v1/ask", "/api/v1/question"))}
    assert ("POST", "/api/v1/question") in renamed and renamed != routes
    get_instead = {(m, p) for m, p, _ in curl_calls(text.replace("-X POST http://127.0.0.1:8788/api/v1/wake",
                                                                     "http://127.0.0.1:8788/api/v1/wake"))}
    assert ("GET", "/api/v1/wake") in get_instead and get_instead != routes


def error_statuses_in_code() -> set[tuple[int, str]]:
    """(status, code) of every error(...) call in kiosk/admin/api.py."""
    pairs = {(int(status), code) for status, code in re.findall(r'\berror\((\d{3}), "(\w+)"', inspect.getsource(api))}
    assert {code for _, code in pairs} == set(api.ERRORS), "an error code is never used, or used without ERRORS"
    return pairs


def test_every_error_code_is_documented_with_its_status() -> None:
    text = GUIDE.read_text()
    table = {code: int(status) for code, status in re.findall(r"^\| `(\w+)` \| (\d{3}) \|", text, flags=re.M)}
    assert set(table) == set(api.ERRORS), "the guide's error table"
    for status, code in error_statuses_in_code():
        assert table[code] == status, f"{code}: the guide says {table[code]}, the code answers {status}"

    doc = openapi()
    error = doc["components"]["schemas"]["Error"]["properties"]["error"]
    assert error["required"] == ["code", "message"]
    assert error["properties"]["code"]["enum"] == list(api.ERRORS)
    documented: set[tuple[int, str]] = set()
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            for status, response in operation["responses"].items():
                response = deref(doc, response)
                for media in response.get("content", {}).values():
                    if deref(doc, media.get("schema", {})) is doc["components"]["schemas"]["Error"]:
                        for example in media.get("examples", {}).values():
                            documented.add((int(status), example["value"]["error"]["code"]))
                assert int(status) < 400 or response.get("content"), f"{method} {path} {status}: no error body"
    # not_found belongs to no route (any unknown path); the OpenAPI file says so in its description
    missing = {pair for pair in error_statuses_in_code() if pair[1] != "not_found"} - documented
    assert not missing, f"error responses missing from docs/api-openapi.json: {sorted(missing)}"
    assert "not_found" in doc["info"]["description"]
    scheme = doc["components"]["securitySchemes"]["bearerToken"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer") and {"bearerToken": []} in doc["security"]


def test_the_limits_in_the_guide_are_the_codes() -> None:
    text = GUIDE.read_text()
    assert api.MAX_BODY == 64 * 1024 and "64 KiB" in text and f"{api.MAX_BODY:,} bytes" in text
    assert api.MAX_QUESTION == api.MAX_SAY and f"{api.MAX_QUESTION:,} characters" in text
    assert f"every {api.HEARTBEAT_S:g} s" in text
    schemas = openapi()["components"]["schemas"]
    assert schemas["AskRequest"]["properties"]["question"]["maxLength"] == api.MAX_QUESTION
    assert schemas["SayRequest"]["properties"]["text"]["maxLength"] == api.MAX_SAY


def test_the_streamed_events_are_documented() -> None:
    doc = openapi()
    schemas = doc["components"]["schemas"]
    mapping = schemas["Event"]["discriminator"]["mapping"]
    assert set(mapping) == set(EVENT_TYPES)
    text = GUIDE.read_text()
    for name, cls in EVENT_TYPES.items():
        schema = deref(doc, {"$ref": mapping[name]})
        assert schema["properties"]["event"] == {"const": name}
        fields = {f.name for f in dataclasses.fields(cls)} - set(api.WITHHELD.get(name, ()))
        assert set(schema["properties"]) == fields | {"event", "sent_at"}, name
        assert f"| `{name}` |" in text, f"{name} missing from the guide's event table"
    assert "text/event-stream" in doc["paths"]["/api/v1/events"]["get"]["responses"]["200"]["content"]
    assert "text/plain" in doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    # the guide's example stream is what the kiosk sends: known events, JSON data with sent_at
    stream = [block for block in guide_code_blocks() if block.startswith(": connected")]
    assert stream, "an example of the event stream"
    kinds = re.findall(r"^event: (\w+)\ndata: (.*)$", stream[0], flags=re.M)
    assert len(kinds) >= 5
    for kind, data in kinds:
        payload = json.loads(data)
        assert payload["event"] == kind and kind in EVENT_TYPES and "sent_at" in payload


# -- metrics and the dashboard ---------------------------------------------------------------------------------

PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
                "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression (or a Grafana label_values() query) reads."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", " ", expr)
    expr = re.sub(r"\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    expr = re.sub(r"label_values\(\s*([A-Za-z_:][\w:]*)\s*,[^)]*\)", r" \1 ", expr)
    expr = re.sub(r"\$\{?\w+\}?", " ", expr)
    names = set()
    for match in re.finditer(r"(?<![\w.$])[A-Za-z_:][\w:]*", expr):
        if re.match(r"\s*\(", expr[match.end():]) or match.group().lower() in PROMQL_WORDS:
            continue
        names.add(match.group())
    return names


def selectors(expr: str) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """(metric, [(label, operator, value)]) of every `metric{...}` in an expression."""
    found = []
    for name, body in re.findall(r"([A-Za-z_:][\w:]*)\{([^}]*)\}", expr):
        found.append((name, re.findall(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"', body)))
    return found


def test_the_promql_reader_finds_names() -> None:
    assert metric_names('sum by (stage, le) (rate(kiosk_nope_bucket{stage="x",instance=~"$i"}[$window])) / up'
                        ' or vector(0)') == {"kiosk_nope_bucket", "up"}
    assert metric_names("histogram_quantile(0.95, sum by (le) (rate(a_b[5m]))) * 60") == {"a_b"}
    assert metric_names("label_values(kiosk_uptime_seconds, instance)") == {"kiosk_uptime_seconds"}


def rendered_metrics() -> dict[str, dict[str, set[str]]]:
    """GET /metrics of the app after events of every kind: {name: {label: values}}."""
    k = kiosk()

    async def scrape() -> str:
        client = TestClient(TestServer(api.make_app(k, ServiceSettings())))
        await client.start_server()
        try:
            for source in WakeSource:
                k.hub.publish(Wake(1.0, source))
            k.hub.publish(Heard(2.0, "where is hr", "whisper", recognition_ms=180.0))
            timings = Timings(ttft=300.0, first_sentence=500.0, first_audio=800.0, total=1500.0)
            k.hub.publish(AnswerDone(1, "a", False, timings, grounded=True))
            k.hub.publish(AnswerDone(2, "b", False, timings, grounded=False, error_codes=tuple(ErrorCode)))
            k.hub.publish(AnswerDone(3, "c", True, timings))
            response = await client.get("/metrics")
            assert response.status == 200
            return await response.text()
        finally:
            await client.close()

    metrics: dict[str, dict[str, set[str]]] = {}
    for line in asyncio.run(scrape()).splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.match(r"([A-Za-z_:][\w:]*)(?:\{(.*)\})? \S+$", line)
        assert match, line
        labels = metrics.setdefault(match.group(1), {})
        for label, value in re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""):
            labels.setdefault(label, set()).add(value)
    return metrics


def dashboard_queries(dashboard: dict[str, Any]) -> list[str]:
    queries = []
    for panel in dashboard["panels"]:
        queries.extend(target["expr"] for target in panel.get("targets", []))
        for inner in panel.get("panels", []):  # collapsed rows
            queries.extend(target["expr"] for target in inner.get("targets", []))
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            queries.append(query["query"] if isinstance(query, dict) else query)
            queries.extend([variable["definition"]] if variable.get("definition") else [])
    return queries


def test_the_dashboard_reads_only_metrics_the_kiosk_exports() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["schemaVersion"] >= 36
    assert [i["name"] for i in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
    metrics = rendered_metrics()
    assert {"kiosk_event_subscribers", "kiosk_events_dropped_total"} <= set(metrics)  # api.py's two extras
    used: set[str] = set()
    for expr in dashboard_queries(dashboard):
        names = metric_names(expr)
        assert names, expr
        unknown = names - set(metrics)
        assert not unknown, f"{expr!r} reads metrics /metrics does not have: {sorted(unknown)}"
        used |= names
        for name, matchers in selectors(expr):
            for label, operator, value in matchers:
                if label in ("instance", "job"):  # added by Prometheus when it scrapes
                    continue
                assert label in metrics[name], f"{name} has no label {label} ({expr!r})"
                if operator in ("=", "!=") and "$" not in value and value != "none":
                    assert value in metrics[name][label], f'{name}{{{label}="{value}"}} never appears'
        for group in re.findall(r"\bby\s*\(([^)]*)\)", expr):
            labels = set().union(*(metrics[name] for name in names))
            for label in (g.strip() for g in group.split(",")):
                assert label in labels | {"instance", "job"}, f"{expr!r} groups by {label}, which no metric has"
    wanted = {"kiosk_turns_total", "kiosk_stage_seconds_bucket", "kiosk_turn_errors_total", "kiosk_wakes_total",
              "kiosk_visitor_state", "kiosk_microphone_up", "kiosk_frame_rate", "kiosk_uptime_seconds",
              "kiosk_event_subscribers", "kiosk_events_dropped_total"}
    assert wanted <= used, f"panels missing for {sorted(wanted - used)}"


def test_the_guide_lists_every_exported_metric() -> None:
    families = {re.sub(r"_(bucket|sum|count)$", "", name) for name in rendered_metrics()}
    listed = set(re.findall(r"^\| `(kiosk_\w+)` \| (?:counter|gauge|histogram) \|", GUIDE.read_text(), flags=re.M))
    assert listed == families


@pytest.mark.parametrize("path", [OPENAPI, DASHBOARD])
def test_the_json_files_parse(path: Path) -> None:
    assert isinstance(json.loads(path.read_text()), dict)
    assert path.read_text().endswith("}\n")
