#!/usr/bin/env python3
"""End of turn: how soon after a visitor stops the kiosk has their question, and how often it cuts them off.

    .venv/bin/python tools/bench_turn_end.py [--part tuning|heldout|all] [--set listen.KEY=VALUE ...]
                                            [--followups] [--json OUT]

The questions (and with --followups the follow-ups) of the conversation corpus (tools/conversation_corpus.py,
seed 11: its voices, openers, hesitations of 0.4-0.9 s mid-question and hall noise at 11-20 dB SNR) go through
the kiosk's own Listener (Silero VAD, endpointer, Whisper base primed with the sample documents' words), fed
in 32-ms frames at the microphone's pace, so the early decode overlaps the pause as it does live. Every
utterance is a question (no wake phrase: that is measured elsewhere).

- latency: wall time from the moment the question's last sample was fed to the final transcript (`Heard`):
  the end-of-turn wait plus the recognition left after it. Voice to voice adds the answer's first audio and
  the sound server's buffers to this.
- cut-off: a transcript delivered before the visitor's true end (the first half of a hesitating question
  taken as the question); `merged` counts those the listener then announced as continued.
- decisions: what the transcript looked like when the adaptive end of turn judged it (complete or not), so
  a rule can be checked on the words it really gets.

Tune on `--part tuning`; report `--part heldout` separately (its questions and two of its voices are never
used in tuning).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import bench_report  # noqa: E402
import conversation_corpus as cc  # noqa: E402
from speech_corpus import RATE  # noqa: E402

from kiosk.config import Settings, with_overrides  # noqa: E402
from kiosk.events import Heard, SpeechStarted  # noqa: E402
from kiosk.listen import listener as listener_module  # noqa: E402
from kiosk.listen.engines import build_listener  # noqa: E402

FRAME = 512
LEAD_S, TAIL_S = 1.0, 3.0


def _value(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text, text)


def overrides(pairs: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        section, _, name = key.partition(".")
        out.setdefault(section, {})[name] = _value(value)
    return out


def utterances(part: str, followups: bool) -> list[dict[str, Any]]:
    items = []
    for v in cc.visitors_of(cc.generate(11), part):
        for kind, q in (("question", v.question), ("follow_up", v.follow_up if followups else None)):
            if q is None:
                continue
            r = cc.render_question(v, q)
            pcm = r.pcm
            if v.snr_db is not None:
                bed = cc.scaled_noise(cc.noise_bed(v.noise_bed), v.snr_db)
                pad = np.zeros(int(LEAD_S * RATE), np.int16), np.zeros(int(TAIL_S * RATE), np.int16)
                pcm = np.concatenate([pad[0], pcm, pad[1]])
                pcm = np.clip(pcm.astype(np.int32) + bed[:pcm.size], -32768, 32767).astype(np.int16)
            else:
                pcm = np.concatenate([np.zeros(int(LEAD_S * RATE), np.int16), pcm,
                                      np.zeros(int(TAIL_S * RATE), np.int16)])
            items.append({"id": v.id, "kind": kind, "voice": v.voice, "snr_db": v.snr_db, "text": q.text,
                          "hesitation_s": q.hesitation_s, "pcm": pcm,
                          "end": int(LEAD_S * RATE) + r.speech_end})
    return items


def run(settings: Settings, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    decisions: list[tuple[str, bool]] = []
    judge = listener_module.sounds_complete

    def recording(text: str, punctuated: bool = True) -> bool:
        verdict = judge(text, punctuated)
        decisions.append((text, verdict))
        return verdict

    listener_module.sounds_complete = recording  # type: ignore[assignment]
    listener = build_listener(settings, wake=False)
    rows = []
    for item in items:
        data, end = item["pcm"].tobytes(), item["end"]
        base = listener.position
        heard: list[tuple[float, str]] = []
        starts = 0
        decisions.clear()
        started = time.perf_counter()
        end_wall: float | None = None
        for off in range(0, len(data), 2 * FRAME):
            time.sleep(max(0.0, started + off / 2 / RATE - time.perf_counter()))
            for e in listener.feed(data[off:off + 2 * FRAME]):
                if isinstance(e, SpeechStarted):
                    starts += 1
                elif isinstance(e, Heard):
                    heard.append((time.perf_counter(), e.text))
            if end_wall is None and off // 2 + FRAME >= end:
                end_wall = started + end / RATE
        at_end = [h for h in heard if h[0] >= (end_wall or 0)]
        rows.append({
            "id": item["id"], "kind": item["kind"], "voice": item["voice"], "snr_db": item["snr_db"],
            "text": item["text"], "hesitation_s": item["hesitation_s"], "heard": [h[1] for h in heard],
            "latency_ms": round((at_end[0][0] - end_wall) * 1000, 1) if at_end and end_wall else None,
            "cut_off": len(heard) > len(at_end), "transcripts": len(heard),
            "decisions": [{"text": t, "complete": c} for t, c in decisions],
            "position_lag_ms": round((listener.position - base - item["pcm"].size) / RATE * 1000, 1),
        })
        print(f"{item['id']} {item['voice']:14} {rows[-1]['latency_ms']!s:>7} ms cut={rows[-1]['cut_off']!s:5} "
              f"{[h[1] for h in heard]}", file=sys.stderr, flush=True)
    listener_module.sounds_complete = judge  # type: ignore[assignment]
    return rows


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    lat = [r["latency_ms"] for r in rows if r["latency_ms"] is not None]
    hes = [r for r in rows if r["hesitation_s"]]
    judged = [d for r in rows for d in r["decisions"]]
    return {
        "questions": len(rows), "with_transcript_after_end": len(lat),
        "latency_ms_p50": round(statistics.median(lat), 1) if lat else None,
        "latency_ms_p90": round(float(np.percentile(lat, 90)), 1) if lat else None,
        "cut_off": sum(r["cut_off"] for r in rows), "cut_off_share": round(sum(r["cut_off"] for r in rows)
                                                                           / max(1, len(rows)), 3),
        "hesitating": len(hes), "hesitating_cut_off": sum(r["cut_off"] for r in hes),
        "judged_complete": sum(d["complete"] for d in judged), "judged": len(judged),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", default="tuning", choices=["tuning", "heldout", "all"])
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--followups", action="store_true", help="the follow-up questions too")
    parser.add_argument("--limit", type=int, help="the first N utterances only (a smoke run)")
    parser.add_argument("--json")
    args = parser.parse_args()
    from kiosk.knowledge.index import ingest

    with tempfile.TemporaryDirectory() as tmp:
        kb = Path(tmp) / "kb.sqlite"
        ingest(kb, [ROOT / "samples" / "halvorsen"])
        extra = overrides(args.set)
        persona = {"knowledge_base": str(kb)}
        settings = with_overrides(Settings(), persona=persona, **extra)
        items = utterances(args.part, args.followups)[:args.limit]
        print(f"{len(items)} utterances ({args.part}); fed at the microphone's pace", file=sys.stderr)
        rows = run(settings, items)
    parts = {p: summary([r for r in rows if p == "all" or r["id"].startswith(p[0])]) for p in ("all",)}
    bench_report.emit({"command": "tools/bench_turn_end.py " + " ".join(sys.argv[1:]), "part": args.part,
                       "settings": extra, "summary": parts["all"], "rows": rows}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
