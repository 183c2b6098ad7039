"""The console's Wake phrase page over real HTTP: a recording made at the kiosk's microphone (kept from the
listener, checked, put in the phrase's folder, the running spotter's templates rebuilt), uploads with bad files
named, removal; and the live listener's side of it (the capture, the swap)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient
from test_admin_knowledge import console, csrf
from test_wake_samples import CountingEncoder, speech, take

from kiosk.config import ListenSettings, Settings, with_overrides
from kiosk.events import Heard
from kiosk.listen.listener import Listener
from kiosk.listen.vad import EnergyVad

RATE = 16000


class Microphone:
    """The kiosk's listening side as the console sees it: what the next seconds of the microphone hold, and
    the spotter whose templates the console rebuilds."""

    def __init__(self, pcm: bytes) -> None:
        self.pcm, self.engine, self.sound = pcm, CountingEncoder(), None

    def capture_sample(self, seconds: float) -> bytes:
        return self.pcm

    def use_wake_sound(self, make: Any) -> bool:
        self.sound = make(self.engine)
        return True

    def tap(self, *a: object, **k: object) -> None: ...
    def speaking_started(self) -> None: ...
    def saying(self, text: str) -> None: ...
    def expect(self, context: str) -> None: ...
    def speaking_finished(self, window: str = "follow_up") -> None: ...


def said(text: str, voice: str = "en-gb-scotland") -> bytes:
    room = np.zeros(int(0.5 * RATE), np.int16)
    return np.concatenate([room, speech(text, voice, 165, 45), room]).tobytes()


@pytest.mark.slow
def test_record_at_the_kiosk_upload_and_remove(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    settings = with_overrides(Settings(), listen={"wake_samples": str(tmp_path / "voices")})
    folder = tmp_path / "voices" / "hey-coach"
    audit = tmp_path / "audit.jsonl"
    microphone = Microphone(said("Hey coach."))

    async def body(client: TestClient, _library: object) -> None:
        page = await client.get("/admin/wake")
        html = await page.text()
        assert page.status == 200 and "No recordings yet" in html and "Record at the kiosk" in html
        token = csrf(html)
        kept = await client.post("/admin/wake/record", data={"csrf": token})
        text = await kept.text()
        assert kept.status == 200 and "Kept console-" in text and "The kiosk hears them now" in text, text
        recorded, = folder.iterdir()
        assert f"{recorded.name}</td>" in text and "used (" in text
        assert microphone.sound is not None and len(microphone.sound.templates) >= 1  # rebuilt with it
        microphone.pcm = bytes(2 * 3 * RATE)  # the next take: nobody spoke
        quiet = await client.post("/admin/wake/record", data={"csrf": token})
        assert quiet.status == 400 and "Not kept: no speech heard" in await quiet.text()
        form = FormData()
        form.add_field("csrf", token)
        good = take(tmp_path / "in", "ailsa.wav", "Hey coach.", "en-gb-scotland+f2", 150, 60)
        form.add_field("files", good.read_bytes(), filename="Ailsa at reception.wav", content_type="audio/wav")
        form.add_field("files", b"RIFF not really", filename="notes.wav", content_type="audio/wav")
        added = await client.post("/admin/wake/upload", data=form)
        text = await added.text()
        assert added.status == 200 and "Added upload-Ailsa-at-reception.wav" in text, text
        assert "Not added: notes.wav" in text and (folder / "upload-Ailsa-at-reception.wav").is_file()
        assert not (folder / "notes.wav").exists()
        gone = await client.post("/admin/wake/remove", data={"csrf": token, "name": recorded.name})
        assert gone.status == 200 and f"Removed {recorded.name}" in await gone.text() and not recorded.exists()
        outside = await client.post("/admin/wake/remove", data={"csrf": token, "name": "../../audit.jsonl"})
        assert outside.status == 404 and audit.exists()

    asyncio.run(console(settings, audit, body, microphone))
    logged = audit.read_text()
    assert "recorded the wake phrase" in logged and "uploaded a wake phrase recording" in logged
    assert "removed a wake phrase recording" in logged


@pytest.mark.slow
def test_without_a_microphone_the_page_offers_uploads_only(tmp_path: Path) -> None:
    settings = with_overrides(Settings(), listen={"wake_samples": str(tmp_path / "voices")})

    async def body(client: TestClient, _library: object) -> None:
        html = await (await client.get("/admin/wake")).text()
        assert "no microphone listening" in html and "Record at the kiosk" not in html
        refused = await client.post("/admin/wake/record", data={"csrf": csrf(html)})
        assert refused.status == 409

    asyncio.run(console(settings, tmp_path / "audit.jsonl", body))


class Decoder:
    """A recognizer that writes the same words for any utterance."""

    name = "scripted"

    def __init__(self) -> None:
        self.fed = 0

    def start(self, bias: bool = True) -> None: ...

    def feed(self, pcm: bytes) -> None:
        self.fed += len(pcm)

    def finish(self) -> Any:
        from kiosk.listen.asr import Transcript

        return Transcript(text="where is the canteen", words=(), engine=self.name, final=True)


def test_a_capture_keeps_the_recording_from_the_listener() -> None:
    """What the admin says for a recording is not a visitor's question: the listener hears silence of the same
    length meanwhile (its clock stays right), and what follows is heard again."""
    from kiosk.listen.live import LiveListener

    got: list = []
    live = LiveListener(Listener(EnergyVad(), Decoder(), None, ListenSettings()), "no-such-device", got.append)
    voice = (np.sin(np.arange(RATE) / RATE * 2 * np.pi * 220) * 8000).astype(np.int16).tobytes()
    quiet = bytes(2 * RATE)
    result: list[bytes] = []
    recorder = threading.Thread(target=lambda: result.append(live.capture_sample(1.0, timeout_s=5)))
    recorder.start()
    while live._capture is None:
        pass
    for chunk in range(0, len(voice), 3200):
        live._on_frames(voice[chunk:chunk + 3200], 0)
    recorder.join()
    live._on_frames(quiet, 0)
    live._on_frames(voice + quiet, 0)  # after the capture: a visitor
    live._queue.put(None)
    live._work()
    assert result == [voice]
    assert len([e for e in got if isinstance(e, Heard)]) == 1  # the visitor's, not the recording's
    assert live.listener.position == 4 * RATE


def test_the_spotter_s_templates_are_swapped_in_place() -> None:
    from kiosk.listen.live import LiveListener
    from kiosk.listen.wake import TranscriptSpotter

    engine = Decoder()
    spotter = TranscriptSpotter(engine, "hey coach")
    live = LiveListener(Listener(EnergyVad(), engine, spotter, ListenSettings()), "no-such-device", print)
    assert live.use_wake_sound(lambda asr: ("templates for", asr)) and spotter.sound == ("templates for", engine)
    awake = LiveListener(Listener(EnergyVad(), engine, None, ListenSettings()), "no-such-device", print)
    assert not awake.use_wake_sound(lambda asr: "unused")  # no wake phrase: nothing to swap
