"""The local API (kiosk/admin/api.py) over real HTTP (aiohttp's test server on a free port), driving a kiosk
loop: the fast tests with the scripted responder of the loop tests, the last ones with the real engines."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from test_kiosk_loop import FakePlayer, FakeRuntime

from kiosk.admin.api import make_app
from kiosk.admin.auth import InsecureBind, allowed, check_bind, token_hash
from kiosk.appliance.app import Kiosk
from kiosk.appliance.notify import Notifier
from kiosk.config import ServiceSettings
from kiosk.events import Heard, VisitorState

pytestmark = pytest.mark.slow  # a kiosk loop and an HTTP server per test: the engine-test tier


async def with_client(kiosk: Kiosk, body, service: ServiceSettings | None = None, app=None):  # noqa: ANN001, ANN201
    """Runs the kiosk's loop and a client of `app` (default: the API alone); `body(client)` is the test."""
    stop = asyncio.Event()
    loop_task = asyncio.create_task(kiosk.run(stop))
    await asyncio.sleep(0)
    client = TestClient(TestServer(app if app is not None else make_app(kiosk, service or ServiceSettings())))
    await client.start_server()
    try:
        return await body(client)
    finally:
        await client.close()
        stop.set()
        await loop_task


def kiosk(**service: object) -> Kiosk:
    return Kiosk(FakeRuntime(greeting=False, **service), player=FakePlayer(), notifier=Notifier(env={}))


def test_ask_answers_and_refuses_bad_input_with_codes() -> None:
    async def body(client: TestClient) -> None:
        ok = await client.post("/api/v1/ask", json={"question": "where is hr"})
        assert ok.status == 200 and (await ok.json())["answer"] == "answer to where is hr"
        cases = [(b"{not json", 400, "bad_json"), (b'{"q": "x"}', 400, "missing_field"),
                 (b'{"question": 5}', 400, "wrong_type"), (b'{"question": "  "}', 400, "empty"),
                 (json.dumps({"question": "x" * 2001}).encode(), 413, "too_long"),
                 (json.dumps({"question": "x" * 70_000}).encode(), 413, "too_large")]
        for raw, status, code in cases:
            response = await client.post("/api/v1/ask", data=raw, headers={"Content-Type": "application/json"})
            payload = await response.json()
            assert (response.status, payload["error"]["code"]) == (status, code), raw[:40]
            assert "{not" not in payload["error"]["message"]  # nothing sent is echoed back
        missing = await client.get("/api/v1/nothing")
        assert missing.status == 404 and (await missing.json())["error"]["code"] == "not_found"

    asyncio.run(with_client(kiosk(), body))


def test_the_visitor_goes_first() -> None:
    k = kiosk()

    async def body(client: TestClient) -> None:
        k._set_phase(VisitorState.SPEAKING)
        busy = await client.post("/api/v1/ask", json={"question": "where is hr"})
        assert busy.status == 409 and (await busy.json())["error"]["code"] == "busy"
        say = await client.post("/api/v1/say", json={"text": "The fire drill starts in five minutes."})
        assert say.status == 409
        k._set_phase(VisitorState.IDLE)
        asking = asyncio.create_task(client.post("/api/v1/ask", json={"question": "tell me everything"}))
        await asyncio.sleep(0.02)
        k.post(Heard(0.0, "where is the canteen", "whisper"))  # a visitor starts meanwhile: their turn wins
        stopped = await asking
        assert stopped.status == 409
        for _ in range(50):  # the visitor's answer plays (the fake player takes 0.3 s)
            if k.turns:
                break
            await asyncio.sleep(0.05)
        assert [t["question"] for t in k.turns] == ["where is the canteen"]

    asyncio.run(with_client(k, body))


def test_wake_say_reset_events_and_metrics() -> None:
    k = kiosk()

    async def body(client: TestClient) -> None:
        stream = await client.get("/api/v1/events")
        assert stream.status == 200 and stream.headers["Content-Type"].startswith("text/event-stream")
        assert (await stream.content.readline()).startswith(b": connected")
        assert (await client.post("/api/v1/wake")).status == 202
        seen: list[str] = []
        while "visitor_changed" not in seen:
            line = (await asyncio.wait_for(stream.content.readline(), 2.0)).decode()
            if line.startswith("event: "):
                seen.append(line.split()[1])
            elif line.startswith("data: "):
                data = json.loads(line[6:])
                assert data["event"] == seen[-1] and "sent_at" in data
        assert seen[:2] == ["wake", "visitor_changed"]
        assert k.phase is VisitorState.LISTENING
        assert (await client.post("/api/v1/reset")).status == 200 and k.phase is VisitorState.IDLE
        said = await client.post("/api/v1/say", json={"text": "The fire drill starts in five minutes."})
        assert said.status == 202
        await asyncio.sleep(0.1)
        assert k.rt.responder.forgotten == 1 and k.player.clips, "the announcement was played"
        metrics = await (await client.get("/metrics")).text()
        assert 'kiosk_wakes_total{source="api"} 1' in metrics and "kiosk_event_subscribers 1" in metrics
        assert 'kiosk_visitor_state{state="speaking"} 1' in metrics  # the announcement is playing
        stream.close()

    asyncio.run(with_client(k, body))


def test_tokens_decide_who_may_call() -> None:
    token_line = token_hash("s3cret-token")
    service = ServiceSettings(api_token_sha256=token_line, api_token_local=True)

    async def body(client: TestClient) -> None:
        assert (await client.get("/api/v1/status")).status == 401
        wrong = await client.get("/api/v1/status", headers={"Authorization": "Bearer nope"})
        assert wrong.status == 401 and (await wrong.json())["error"]["code"] == "unauthorized"
        right = await client.get("/api/v1/status", headers={"Authorization": "Bearer s3cret-token"})
        assert right.status == 200 and (await right.json())["state"] == "idle"

    asyncio.run(with_client(kiosk(), body, service))
    plain = ServiceSettings()
    assert allowed(plain, "127.0.0.1", None) and allowed(plain, "::1", None)
    assert not allowed(plain, "192.168.1.20", None)  # no token configured: nobody from elsewhere
    remote = ServiceSettings(api_token_sha256=token_line)
    assert allowed(remote, "192.168.1.20", "Bearer s3cret-token") and not allowed(remote, "10.0.0.2", "Bearer x")
    with pytest.raises(InsecureBind, match="kiosk api token"):
        check_bind(ServiceSettings(api_bind="0.0.0.0"))
    check_bind(ServiceSettings(api_bind="0.0.0.0", api_token_sha256=token_line))
    check_bind(ServiceSettings(api_bind="0.0.0.0", api_port=0))  # off: nothing listens


def test_kiosk_run_refuses_an_open_api_without_a_token(tmp_path: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text('[service]\napi_bind = "0.0.0.0"\n')
    done = subprocess.run([sys.executable, "-m", "kiosk.cli", "run", "--config", str(config)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "service.api_bind" in done.stderr and "kiosk api token" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow  # the real LLM, retrieval and the sample documents
def test_ask_through_the_real_engines_leaves_the_visitor_alone(tmp_path: Path) -> None:
    from kiosk.config import load_settings
    from kiosk.knowledge.index import ingest
    from kiosk.runtime import Runtime

    ROOT = Path(__file__).resolve().parents[1]
    kb = tmp_path / "kb.sqlite"
    ingest(kb, [ROOT / "samples" / "halvorsen"])
    settings = load_settings(ROOT / "provisioning" / "personas" / "onboarding-coach.toml")
    with Runtime(settings, speech=False, kb=kb) as rt:
        rt.engine.conversation.add("where can I park?", "In the north car park.")
        before = rt.engine.conversation.exchanges
        k = Kiosk(rt, notifier=Notifier(env={}))

        async def body(client: TestClient) -> dict:
            response = await client.post("/api/v1/ask", json={"question": "Where is the IT help desk?"})
            assert response.status == 200
            return await response.json()

        answer = asyncio.run(with_client(k, body))
        assert answer["grounded"] and "B-214" in answer["answer"], answer
        assert any("faq" in s["path"] for s in answer["sources"]) and answer["timings_ms"]["total"] > 0
        assert rt.engine.conversation.exchanges == before  # the API's question is not the visitor's


def test_the_stream_leaves_out_what_bystanders_said() -> None:
    from kiosk.events import Dismissed, DismissReason

    k = kiosk()

    async def body(client: TestClient) -> None:
        stream = await client.get("/api/v1/events")
        await stream.content.readline()
        k.post(Dismissed(0.0, DismissReason.NOT_A_QUESTION, "my neighbour's private chat"))
        line = ""
        while not line.startswith("data: "):
            line = (await asyncio.wait_for(stream.content.readline(), 2.0)).decode()
        data = json.loads(line[6:])
        assert data["event"] == "dismissed" and "text" not in data and "neighbour" not in line
        stream.close()

    asyncio.run(with_client(k, body))


def test_a_wake_stops_an_api_question_at_once() -> None:
    k = kiosk()
    k.rt.responder.delay = 0.5  # a slow answer: the visitor wakes the kiosk while it runs

    async def body(client: TestClient) -> None:
        asking = asyncio.create_task(client.post("/api/v1/ask", json={"question": "tell me everything"}))
        await asyncio.sleep(0.1)
        from kiosk.events import Wake

        k.post(Wake(0.0, "tap"))
        stopped = await asking
        assert stopped.status == 409  # stopped, not answered in full: the LLM is free when the visitor asks

    asyncio.run(with_client(k, body))


def test_api_questions_wait_until_the_visitor_is_gone() -> None:
    k = kiosk()

    async def body(client: TestClient) -> None:
        k.post(Heard(0.0, "where is hr", "keyboard"))
        for _ in range(50):
            if k.turns:
                break
            await asyncio.sleep(0.05)
        between = await client.post("/api/v1/ask", json={"question": "where is the canteen"})
        assert between.status == 409  # the visitor may ask a follow-up: their session is not over
        await client.post("/api/v1/reset")  # (or forget_after_s of quiet)
        after = await client.post("/api/v1/ask", json={"question": "where is the canteen"})
        assert after.status == 200

    asyncio.run(with_client(k, body))
