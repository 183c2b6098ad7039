"""The admin console in a real browser: Debian's headless Chromium driven by Selenium (its driver from the
same package; nothing is downloaded). A kiosk with the real engines and documents runs on its own loop in a
thread, serving the console; the browser logs in, uploads a document (the progress bar moves), sees it
indexed, asks about it on Try it and sees its source, and reads the questions report. Screenshots of each
page go to docs/admin/ when KIOSK_SCREENSHOTS is set."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is installed by tools/dev setup")
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def kiosk_site(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    from aiohttp import web

    from kiosk.admin.api import make_app
    from kiosk.admin.sessions import hash_password
    from kiosk.appliance.app import Kiosk
    from kiosk.appliance.notify import Notifier
    from kiosk.config import load_settings, with_overrides
    from kiosk.knowledge.index import ingest
    from kiosk.runtime import Runtime

    tmp = tmp_path_factory.mktemp("site")
    folder = tmp / "documents"
    shutil.copytree(ROOT / "samples" / "halvorsen", folder)
    kb = tmp / "kb.sqlite"
    ingest(kb, [folder])
    settings = load_settings(ROOT / "provisioning" / "personas" / "onboarding-coach.toml")
    settings = with_overrides(settings, persona={"knowledge_base": str(kb)},
                              knowledge={"documents_dir": str(folder)}, listen={"wake_samples": str(tmp / "voices")},
                              service={"admin_password_hash": hash_password(PASSWORD)})
    port = free_port()
    ready, stop_box = threading.Event(), {}

    def serve() -> None:
        async def main() -> None:
            with Runtime(settings, speech=False, kb=kb) as rt:
                kiosk = Kiosk(rt, notifier=Notifier(env={}))
                stop_box["kiosk"] = kiosk
                stop = asyncio.Event()
                stop_box["stop"], stop_box["loop"] = stop, asyncio.get_running_loop()
                loop_task = asyncio.create_task(kiosk.run(stop))
                runner = web.AppRunner(make_app(kiosk, settings.service, settings, tmp / "audit.log"))
                await runner.setup()
                await web.TCPSite(runner, "127.0.0.1", port).start()
                ready.set()
                await loop_task
                await runner.cleanup()

        asyncio.run(main())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(120), "the kiosk did not start"
    yield f"http://127.0.0.1:{port}", folder, tmp, stop_box
    if not stop_box["loop"].is_closed():  # saving the persona already stopped it (a restart)
        stop_box["loop"].call_soon_threadsafe(stop_box["stop"].set)
    thread.join(30)


@pytest.fixture(scope="module")
def browser():  # noqa: ANN201
    assert CHROMIUM and DRIVER, "chromium and chromium-driver (Debian packages) are installed by tools/dev setup"
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                "--disable-gpu", "--no-first-run"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.implicitly_wait(2)
    yield driver
    driver.quit()


def shot(driver, name: str) -> None:  # noqa: ANN001
    if os.environ.get("KIOSK_SCREENSHOTS"):
        out = ROOT / "docs" / "admin"
        out.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(out / f"{name}.png"))


def until(check, seconds: float = 120.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)


def test_a_training_manager_without_a_shell(kiosk_site, browser, tmp_path: Path) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By

    base, folder, _, box = kiosk_site
    browser.get(base + "/admin/status")
    assert browser.current_url.endswith("/admin/login")  # the door first
    shot(browser, "1-login")
    browser.find_element(By.ID, "password").send_keys("wrong password")
    browser.find_element(By.CSS_SELECTOR, "form button").click()
    until(lambda: "not right" in browser.page_source, 10)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form button").click()
    until(lambda: browser.current_url.endswith("/admin/status"))
    assert "Latest turns" in browser.page_source
    shot(browser, "2-status")

    document = tmp_path / "shuttle-bus.md"
    document.write_text("# Shuttle bus\n\nThe Kestrel shuttle bus leaves the Marine View station for the campus "
                        "every 20 minutes from 6:40 to 9:20, and returns from the Building A stop.\n" * 40)
    browser.get(base + "/admin/knowledge")
    browser.find_element(By.ID, "files").send_keys(str(document))
    browser.execute_script("sessionStorage.removeItem('kiosk-upload-progress')")
    browser.find_element(By.CSS_SELECTOR, "#upload button").click()
    until(lambda: "Added shuttle-bus.md" in browser.page_source)
    assert browser.execute_script("return sessionStorage.getItem('kiosk-upload-progress')") == "1"  # the bar moved
    assert (folder / "shuttle-bus.md").is_file()
    until(lambda: (browser.refresh() or True) and "Indexing" not in browser.page_source
          and "shuttle-bus.md" in browser.find_element(By.TAG_NAME, "table").text)
    shot(browser, "3-knowledge")

    browser.get(base + "/admin/try")
    browser.find_element(By.ID, "question").send_keys("When does the Kestrel shuttle bus leave the station?")
    browser.find_element(By.CSS_SELECTOR, "form[action='/admin/try'] button").click()
    until(lambda: "Answer" in browser.page_source, 120)
    assert "20 minutes" in browser.find_element(By.ID, "answer").text
    assert "Shuttle bus" in browser.find_element(By.ID, "sources").text
    shot(browser, "4-try-it")

    browser.get(base + "/admin/try")
    browser.find_element(By.ID, "question").send_keys("Can I bring my dog to work?")
    browser.find_element(By.CSS_SELECTOR, "form[action='/admin/try'] button").click()
    until(lambda: "Answer" in browser.page_source, 120)
    browser.get(base + "/admin/audit")
    assert "uploaded a document" in browser.page_source and "logged in" in browser.page_source
    shot(browser, "5-audit")
    browser.get(base + "/admin/questions")
    assert "<h1>Questions the documents did not answer</h1>" in browser.page_source  # Try it asks aside: not listed
    shot(browser, "6-questions")

    browser.get(base + "/admin/packs")
    shot(browser, "9-packs")

    from test_wake_samples import take  # a colleague's recording of the wake phrase, made on a phone

    recording = take(tmp_path, "morag-front-desk.wav", "Hey coach.", "en-gb-scotland", 165, 45)
    browser.get(base + "/admin/wake")
    assert "No recordings yet" in browser.page_source and "no microphone listening" in browser.page_source
    browser.find_element(By.ID, "wav").send_keys(str(recording))
    browser.find_element(By.CSS_SELECTOR, "form[action='/admin/wake/upload'] button").click()
    until(lambda: "Added upload-morag-front-desk.wav" in browser.page_source, 30)
    assert (kiosk_site[2] / "voices" / "hey-coach" / "upload-morag-front-desk.wav").is_file()
    shot(browser, "11-wake-phrase")

    from kiosk.events import Heard

    browser.get(base + "/admin/live")  # follows the kiosk's event stream with the console's own session
    until(lambda: browser.execute_script("return typeof stream !== 'undefined' && stream.readyState === 1"), 30)
    box["loop"].call_soon_threadsafe(box["kiosk"].post, Heard(0.0, "where is the IT help desk?", "keyboard"))
    until(lambda: "heard: where is the IT help desk?" in browser.find_element(By.ID, "events").text, 120)
    until(lambda: "B-214" in browser.find_element(By.ID, "events").text, 120)  # the answer's sentences
    until(lambda: browser.find_element(By.ID, "caption").text.startswith("The IT help desk is in room B-214"), 60)
    shot(browser, "10-live")
    browser.get(base + "/admin/persona")
    wake = browser.find_element(By.ID, "listen-wake_phrase")
    wake.clear()  # the wake phrase is required: refused with its key, nothing saved
    browser.find_element(By.CSS_SELECTOR, "form[action='/admin/persona'] button").click()
    until(lambda: "listen.wake_phrase" in browser.page_source)
    assert "Saved" not in browser.page_source
    shot(browser, "7-persona-refused")
    browser.get(base + "/admin/persona")
    greeting = browser.find_element(By.ID, "persona-greeting")
    greeting.clear()
    greeting.send_keys("Hello, I'm Ava. Ask me anything about your first week!")
    browser.find_element(By.CSS_SELECTOR, "form[action='/admin/persona'] button").click()
    until(lambda: "Saved" in browser.page_source)
    shot(browser, "8-persona-saved")
    assert "first week" in (kiosk_site[2] / "console.toml").read_text()  # saving restarts the kiosk: last step

