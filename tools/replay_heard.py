#!/usr/bin/env python3
"""Answers to the questions as the kiosk really heard them: every transcript the conversation benchmarks
recorded (live, the file replay, the plain pipeline's) of a question whose typed text is answered right,
asked again of the responder in this process. Misheard document words ("fourklifts", "the ITLP test") are
what this measures; no audio is decoded (unless --audio), so it takes a few minutes and compares settings in
one run.

    .venv/bin/python tools/replay_heard.py [--runs docs/bench/*conversation*.json] [--set knowledge.KEY=VALUE ...]
                                            [--audio DIR] [--json OUT]

Each --set variant is scored beside the shipped settings (several keys in one variant: joined with ";"), and
what reading the questions' terms costs is timed (`terms_ms`). With --audio (a `bench_conversation.py --keep`
folder), the transcripts are not the recorded ones but decoded now from the visitors' WAV files, the hall
noise mixed in as the visitor heard it, through `kiosk transcribe`'s path with the shipped settings (a question
said in one breath with the wake phrase as `--wake` hears it): the same audio, asked of each variant; the
visitors counted are those whose question, typed, each variant answers right. Follow-ups are asked after their
visitor's question (typed), as the conversation went; right = the corpus's key facts in the answer (`kiosk
eval`'s rule); "misheard" = not the true question's content words.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import conversation_corpus as cc  # noqa: E402
from conversation_text import content, has_facts  # noqa: E402


def heard_set(runs: list[str]) -> list[dict[str, Any]]:
    """One item per (visitor, kind, transcript), over all runs, for questions typed right."""
    visitors = {v.id: v for v in cc.visitors_of(cc.generate(11))}
    seen, items = set(), []
    for path in runs:
        data = json.loads(Path(path).read_text())
        if data.get("corpus", {}).get("seed") != 11:
            continue
        for row in data["rows"]:
            v = visitors.get(row["id"])
            for kind in ("question", "follow_up"):
                q = row.get(kind) or {}
                truth = getattr(v, kind, None) if v else None
                if not q.get("typed_facts_ok") or truth is None:
                    continue
                said = [q.get("heard"), (q.get("baseline") or {}).get("transcript"),
                        (q.get("mic") or {}).get("question")]
                for text in said:
                    text = (text or "").strip()
                    if text and (row["id"], kind, text.lower()) not in seen:
                        seen.add((row["id"], kind, text.lower()))
                        items.append({"id": row["id"], "part": v.part, "kind": kind, "heard": text,
                                      "exact": content(text) == content(truth.text),
                                      "before": v.question.text if kind == "follow_up" else None,
                                      "facts": truth.key_facts})
    return items


def visitors_heard(folder: Path) -> Iterator[tuple[Any, str, Any, bytes]]:
    """(visitor, "question" or "follow_up", what they said, its audio) for each visitor whose WAV files a
    `bench_conversation.py --keep` folder holds: the hall noise mixed in as the visitor heard it, a second of
    silence after; a question said in one breath with the wake phrase is the wake line's audio."""
    import numpy as np

    from kiosk.audio.wav import read_pcm16k

    def pcm(name: str, noise: Any) -> bytes:
        clip = np.frombuffer(read_pcm16k(folder / name), np.int16)
        if noise is not None:  # the hall's noise started with the visitor's first line
            bed = np.pad(noise[: clip.size], (0, max(0, clip.size - noise.size)))
            clip = np.clip(clip.astype(np.int32) + bed, -32768, 32767).astype(np.int16)
        return np.concatenate([clip, np.zeros(cc.RATE, np.int16)]).tobytes()

    for v in cc.visitors_of(cc.generate(11)):
        if not (folder / f"{v.id}-wake.wav").is_file():
            continue
        noise_wav = folder / f"{v.id}-noise.wav"
        noise = np.frombuffer(read_pcm16k(noise_wav), np.int16) if noise_wav.is_file() else None
        for kind, truth in [("question", v.question)] + ([("follow_up", v.follow_up)] if v.follow_up else []):
            wav = "wake" if kind == "question" and v.style == "one_breath" else kind.replace("_", "-")
            yield v, kind, truth, pcm(f"{v.id}-{wav}.wav", noise)


def heard_from_audio(folder: Path, settings: Any) -> list[dict[str, Any]]:
    """One item per question and follow-up of the visitors whose WAV files `folder` holds, decoded now."""
    from kiosk.listen.engines import build_asr
    from kiosk.listen.transcribe import transcribe

    asr, items = build_asr(settings), []
    for v, kind, truth, audio in visitors_heard(folder):
        one_breath = kind == "question" and v.style == "one_breath"
        started = time.perf_counter()
        heard = transcribe(asr, audio, settings, wake=one_breath, questions=not one_breath)["questions"]
        asr_s = round(time.perf_counter() - started, 3)  # the whole file: VAD, wake check and decodes
        text = heard[-1] if heard else ""
        items.append({"id": v.id, "part": v.part, "kind": kind, "heard": text, "truth": truth.text, "asr_s": asr_s,
                      "exact": content(text) == content(truth.text),
                      "before": v.question.text if kind == "follow_up" else None, "facts": truth.key_facts,
                      "typed": True})
    return items


def typed_right(rt: Any, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items whose question, typed, is answered with its key facts (with `rt`'s settings)."""
    keep = []
    for item in items:
        rt.engine.reset()
        if item["before"]:
            asyncio.run(_ask(rt, item["before"]))
        if has_facts(asyncio.run(_ask(rt, item["truth"])), item["facts"]):
            keep.append(item)
    return keep


async def _ask(rt: Any, text: str) -> str:
    from kiosk.answer.pipeline import run_turn

    done = await run_turn(rt.responder, text, speak=False)
    return done.answer if done else ""


def score(settings: Any, items: list[dict[str, Any]]) -> dict[str, Any]:
    from kiosk.runtime import Runtime

    rows = []
    with Runtime(settings, speech=False) as rt:
        if any(item.get("typed") for item in items):  # decoded from audio: typed right with these settings
            items = typed_right(rt, items)
        for item in items:
            rt.engine.reset()
            if item["before"]:
                asyncio.run(_ask(rt, item["before"]))
            answer = asyncio.run(_ask(rt, item["heard"]))
            rows.append({**item, "answer": answer, "right": has_facts(answer, item["facts"])})
    parts: dict[str, Any] = {}
    for part in ("tuning", "heldout"):
        mine = [r for r in rows if r["part"] == part]
        misheard = [r for r in mine if not r["exact"]]
        parts[part] = {"transcripts": len(mine), "right": sum(r["right"] for r in mine),
                       "misheard": len(misheard), "misheard_right": sum(r["right"] for r in misheard)}
        decoded = sorted(r["asr_s"] for r in mine if "asr_s" in r)
        if decoded:  # --audio: seconds to transcribe each file (its median)
            parts[part]["asr_s_median"] = decoded[len(decoded) // 2]
    return {"parts": parts, "terms_ms": terms_ms(settings, [r["heard"] for r in rows]), "rows": rows}


def terms_ms(settings: Any, questions: list[str], repeats: int = 3) -> dict[str, float]:
    """What reading a question's terms costs (spellings, misheard words; caches emptied for each question), the
    median over `repeats` passes of each pass's median and p95."""
    import statistics
    import time

    from kiosk.knowledge.retrieve import Retriever

    k = settings.knowledge
    passes = []
    with Retriever(settings.persona.knowledge_base, misheard_words=k.misheard_words) as retriever:
        for _ in range(repeats):
            times = []
            for question in questions:
                retriever._weights.clear()
                retriever._df.clear()
                start = time.perf_counter()
                retriever.term_weights(question)
                times.append((time.perf_counter() - start) * 1000)
            times.sort()
            passes.append((statistics.median(times), times[int(0.95 * (len(times) - 1))]))
    return {"median": round(statistics.median(m for m, _ in passes), 2),
            "p95": round(statistics.median(p for _, p in passes), 2)}


def main() -> int:
    from kiosk.config import load_settings, with_overrides
    from kiosk.knowledge.index import ingest

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="*", default=sorted(glob.glob(str(ROOT / "docs/bench/*conversation*.json"))))
    parser.add_argument("--set", nargs="*", default=[], help="knowledge.KEY=VALUE (TOML value): a variant")
    parser.add_argument("--config", default=str(ROOT / "provisioning/personas/onboarding-coach.toml"))
    parser.add_argument("--audio", type=Path, help="decode the WAV files of this bench_conversation --keep folder")
    parser.add_argument("--json")
    args = parser.parse_args()
    kb = Path(tempfile.mkdtemp()) / "kb.sqlite"
    ingest(kb, [ROOT / "samples" / "halvorsen"])
    shipped = with_overrides(load_settings(args.config), persona={"knowledge_base": str(kb)})
    items = heard_from_audio(args.audio, shipped) if args.audio else heard_set(args.runs)
    variants = [("shipped", shipped)]
    for spec in args.set:
        import tomllib

        changes: dict[str, dict[str, Any]] = {}
        for one in spec.split(";"):
            key, value = one.split("=", 1)
            section, name = key.strip().split(".", 1)
            changes.setdefault(section, {})[name] = tomllib.loads(f"v = {value}")["v"]
        variants.append((spec, with_overrides(shipped, **changes)))
    report = {"command": " ".join(["tools/replay_heard.py", *sys.argv[1:]]), "runs": [Path(r).name for r in args.runs]}
    for name, settings in variants:
        result = score(settings, items)
        print(name, json.dumps(result["parts"]), "terms ms", result["terms_ms"], flush=True)
        report[name] = result
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
