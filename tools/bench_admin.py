#!/usr/bin/env python3
"""The local API and the admin console measured against the kiosk they must never slow (issue 17):

    .venv/bin/python tools/bench_admin.py [--asks 30] [--turns 5] [--clients none polite:1 nonstop:4 ...]
                                          [--api-rate R] [--pages 200] [--json]

One process, as `kiosk run` has it: the real engines (LLM, Piper, retrieval over the sample documents), the
screen drawn headless at 1280x720 and 30 fps by the kiosk's own Screen task, the API and console served on
the same loop. Measured, each a median or p95 over several:
- `/api/v1/ask` latency (HTTP round trip, the questions of samples/halvorsen-eval.jsonl);
- event stream delay: a wake through the API until its `wake` event reaches an SSE client (from `sent_at`);
- a visitor's turn (question -> first audio ready, and its total) while API clients in other processes ask
  questions, as a ratio to none: `polite` clients ask again as soon as they have an answer and wait as
  Retry-After says on 409/429 (a well-written integration), `nonstop` ones retry at once whatever they are
  told (a broken script); `[service] api_rate` (--api-rate) bounds the latter;
- the screen's frame rate and a visitor's turn while the console re-indexes a 200-page document it was just
  given, as ratios to the same without.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from kiosk.admin.api import ApiServer  # noqa: E402
from kiosk.admin.content import LIBRARY  # noqa: E402
from kiosk.appliance.app import Kiosk  # noqa: E402
from kiosk.appliance.notify import Notifier  # noqa: E402
from kiosk.config import load_settings, with_overrides  # noqa: E402
from kiosk.events import Heard, Wake  # noqa: E402
from kiosk.knowledge.index import ingest  # noqa: E402
from kiosk.runtime import Runtime  # noqa: E402

VISITOR = ("where do I pick up my badge", "when is the canteen open for lunch", "how long is parental leave",
           "where is the IT help desk", "what is the wifi for guests", "how many vacation days do I get")


PACE_S = 0.15
"""between the bench's own requests: under the default api_rate (10 a second), which refuses faster callers"""


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def long_document(pages: int, version: int = 0) -> str:
    """A handbook of `pages` pages (~3,000 characters each) the kiosk has never seen; `version` changes it."""
    words = ("shift", "forklift", "badge", "reception", "canteen", "locker", "training", "safety", "overtime",
             "uniform", "parking", "visitor", "permit", "inspection", "ladder", "pallet", "aisle", "manager")
    out = [f"# Warehouse procedures, version {version + 1}\n"]
    for n in range(pages):
        out.append(f"\n## Procedure {n + 1}\n\n")
        body = " ".join(f"The {words[(n + i) % len(words)]} rule number {i} applies on level {n % 7}."
                        for i in range(55))
        out.append(body + "\n")
    return "".join(out)


def long_pdf(path: Path, pages: int, version: int = 0) -> None:
    """The same handbook as a PDF of `pages` pages: what a training team uploads, and slower to read."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=10)
    for block in long_document(pages, version).split("\n## ")[1:]:
        title, _, body = block.partition("\n")
        pdf.add_page()
        pdf.set_font("helvetica", style="B", size=14)
        pdf.cell(0, 10, f"{title.strip()} (version {version + 1})", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("helvetica", size=10)
        pdf.multi_cell(0, 5, body.strip())
    pdf.output(str(path))


async def visitor_turns(kiosk: Kiosk, n: int) -> list[dict]:
    out = []
    for i in range(n):
        before = len(kiosk.turns)
        kiosk.post(Wake(0.0, "tap"))  # as a visitor does: a wake (tap), then the question a moment later
        await asyncio.sleep(1.0)
        kiosk.post(Heard(0.0, VISITOR[i % len(VISITOR)], "keyboard"))
        while len(kiosk.turns) == before:
            await asyncio.sleep(0.02)
        out.append(kiosk.turns[-1]["timings_ms"])
        await asyncio.sleep(0.3)
    return out


def summary(timings: list[dict]) -> dict:
    return {k: round(statistics.median(t[k] for t in timings if t.get(k) is not None), 1)
            for k in ("first_audio", "total")}


async def measure(args: argparse.Namespace, kiosk: Kiosk, base: str, server: ApiServer, tmp: Path) -> dict:
    questions = [json.loads(line)["question"] for line in (ROOT / "samples" / "halvorsen-eval.jsonl").open()
                 if line.strip()][: args.asks]
    result: dict = {}
    async with aiohttp.ClientSession() as http:
        times = []
        for q in questions:
            t = time.perf_counter()
            async with http.post(f"{base}/api/v1/ask", json={"question": q}) as r:
                await r.read()
            times.append((time.perf_counter() - t) * 1000)
            await asyncio.sleep(PACE_S)  # a well-behaved caller: within [service] api_rate
        result["ask_ms"] = {"n": len(times), "p50": round(statistics.median(times), 1), "p95": round(p95(times), 1)}

        delays = []
        async with http.get(f"{base}/api/v1/events") as stream:
            await stream.content.readline()
            for _ in range(args.wakes):
                await http.post(f"{base}/api/v1/wake")
                while True:
                    line = (await stream.content.readline()).decode()
                    if line.startswith("data: ") and '"event": "wake"' in line:
                        delays.append((time.time() - json.loads(line[6:])["sent_at"]) * 1000)
                        break
                await http.post(f"{base}/api/v1/reset")
                await asyncio.sleep(2 * PACE_S)
        result["event_delay_ms"] = {"n": len(delays), "p50": round(statistics.median(delays), 2),
                                    "p95": round(p95(delays), 2)}

        by_clients = {}
        for spec in args.clients:
            mode, _, count = spec.partition(":")
            procs = [subprocess.Popen([sys.executable, __file__, "--load", base, "--mode", mode],
                                      stdout=subprocess.PIPE, text=True) for _ in range(int(count or 0))]
            await asyncio.sleep(1.0 if procs else 0.0)  # the clients are started and asking
            turns = summary(await visitor_turns(kiosk, args.turns))
            for p in procs:
                p.send_signal(signal.SIGINT)
            # off the loop: the kiosk must go on answering the clients' last requests while they stop
            outs = [await asyncio.to_thread(p.communicate, timeout=30) for p in procs]
            loads = [json.loads(out[0] or "{}") for out in outs]
            by_clients[spec] = {**turns, "clients": loads}
        base0 = by_clients[args.clients[0]]
        result["visitor_with_api_clients"] = {
            c: {**v, "first_audio_ratio": round(v["first_audio"] / base0["first_audio"], 3)}
            for c, v in by_clients.items()}
        result["api_rate"] = server.service.api_rate

        screen = kiosk.screen
        assert screen is not None
        await asyncio.sleep(3)
        idle = {"fps": screen.report()["fps"], **summary(await visitor_turns(kiosk, args.turns))}
        library = server.app[LIBRARY]
        assert library.folder is not None
        # A 200-page document indexes in about half a second here: shorter than a turn. So the console indexes
        # it again and again (a new version each time, so it is read in full) for as long as the visitor's
        # turns last: the worst case, not one lucky overlap.
        runs: list[dict] = []
        stop = asyncio.Event()

        versions = []  # two versions made beforehand (writing a PDF is the bench's work, not the kiosk's)
        for v in range(2):
            made = tmp / f"v{v}.{args.format}"
            if args.format == "pdf":
                long_pdf(made, args.pages, v)
            else:
                made.write_text(long_document(args.pages, v))
            versions.append(made.read_bytes())

        async def index_nonstop() -> None:
            while not stop.is_set():
                (library.folder / f"warehouse-procedures.{args.format}").write_bytes(versions[len(runs) % 2])
                t = time.perf_counter()
                library.reindex()
                await library.wait()
                runs.append({"s": round(time.perf_counter() - t, 2), **(library.indexing.last or {})})

        indexer = asyncio.create_task(index_nonstop())
        fps: list[float] = []

        async def sample_fps() -> None:
            while not stop.is_set():
                await asyncio.sleep(1.0)
                fps.append(screen.report()["fps"])

        sampler = asyncio.create_task(sample_fps())
        while not runs:
            await asyncio.sleep(0.05)
        turns = await visitor_turns(kiosk, args.turns)
        stop.set()
        await asyncio.gather(indexer, sampler)
        busy = {"fps": round(statistics.median(fps), 1), **summary(turns)}
        result["while_indexing"] = {
            "pages": args.pages, "format": args.format, "index_runs": len(runs),
            "index_s_median": statistics.median(r["s"] for r in runs), "idle": idle, "indexing": busy,
            "fps_ratio": round(busy["fps"] / idle["fps"], 3) if idle["fps"] else None,
            "first_audio_ratio": round(busy["first_audio"] / idle["first_audio"], 3),
            "total_ratio": round(busy["total"] / idle["total"], 3), "last_run": runs[-1]}
    return result


async def load(base: str, mode: str) -> dict:
    """An API client in its own process, asking until SIGINT; what it was answered, by status."""
    questions = [json.loads(line)["question"] for line in (ROOT / "samples" / "halvorsen-eval.jsonl").open()
                 if line.strip()]
    statuses: dict[str, int] = {}
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGINT, stop.set)
    started, i = time.perf_counter(), 0
    async with aiohttp.ClientSession() as http:
        while not stop.is_set():
            wait = 0.0
            with contextlib.suppress(aiohttp.ClientError):
                async with http.post(f"{base}/api/v1/ask", json={"question": questions[i % len(questions)]}) as r:
                    await r.read()
                    statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
                    if mode == "polite" and r.status in (409, 429):
                        wait = float(r.headers.get("Retry-After", "1"))
            i += 1
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), wait or 0.0001)
    seconds = time.perf_counter() - started
    return {"mode": mode, "requests": i, "per_s": round(i / seconds, 1), "statuses": statuses}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--asks", type=int, default=30)
    parser.add_argument("--wakes", type=int, default=20)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--clients", nargs="+", default=["none", "polite:1", "polite:4", "nonstop:1", "nonstop:4"],
                        help="API clients beside the visitor, MODE:COUNT (polite | nonstop); the first is the base")
    parser.add_argument("--api-rate", type=float, help="[service] api_rate for this run (default: the persona's)")
    parser.add_argument("--load", metavar="URL", help=argparse.SUPPRESS)  # one client process (internal)
    parser.add_argument("--mode", default="polite", help=argparse.SUPPRESS)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--format", choices=["pdf", "md"], default="pdf", help="the long document's format")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.load:
        print(json.dumps(asyncio.run(load(args.load, args.mode))))
        return 0
    from kiosk.avatar.backend_pygame import PygameBackend
    from kiosk.avatar.pack import resolve_pack
    from kiosk.avatar.screen import Screen

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        folder = tmp / "documents"
        shutil.copytree(ROOT / "samples" / "halvorsen", folder)
        kb = tmp / "kb.sqlite"
        ingest(kb, [folder])
        settings = load_settings(ROOT / "provisioning" / "personas" / "onboarding-coach.toml")
        service: dict = {"api_port": 0} if args.api_rate is None else {"api_port": 0, "api_rate": args.api_rate}
        settings = with_overrides(settings, persona={"knowledge_base": str(kb)},
                                  knowledge={"documents_dir": str(folder)}, service=service)
        with Runtime(settings, speech=True, kb=kb) as rt:
            async def run() -> dict:
                posts: list = []
                screen = Screen(PygameBackend((1280, 720), mode="headless"), resolve_pack(settings.persona.avatar)[0],
                                lambda event: posts[0](event))
                kiosk = Kiosk(rt, screen=screen, notifier=Notifier(env={}))
                posts.append(kiosk.post)
                stop = asyncio.Event()
                loop_task = asyncio.create_task(kiosk.run(stop))
                server = ApiServer(kiosk, settings.service, settings, tmp / "audit.log")
                await server.start()
                try:
                    return await measure(args, kiosk, f"http://127.0.0.1:{server.port}", server, tmp)
                finally:
                    await server.stop()
                    stop.set()
                    await loop_task

            result = asyncio.run(run())
    result["cpus"] = os.cpu_count()
    print(json.dumps(result, indent=1) if args.json else result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
