#!/usr/bin/env python3
"""A seeded corpus of kiosk visitors for the conversation benchmark (tools/bench_conversation.py).

    .venv/bin/python tools/conversation_corpus.py [--seed 11] [--out DIR] [--render] [--visitors N]

Each visitor walks up and has a short conversation: a wake line ("Hey coach." then a pause of 0-1.5 s and
the question, or "Hey coach, <question>?" in one breath), a question from samples/halvorsen-eval.jsonl
said the way people talk (openers like "excuse me," or "quick question,"; the eval lines already carry
"um" and "like"), sometimes with a hesitation in the middle ("where is the ... IT help desk", 0.4-0.9 s of
silence: does the kiosk cut the visitor off?), sometimes a follow-up question without the wake phrase
0.5-2 s after the kiosk has finished answering. Some visitors stand in a hall: pink noise plus a quiet
babble of several espeak-ng voices, 10-20 dB below their speech. Bystanders - another voice, 8-15 dB
quieter than the visitor - chat between visitors and right after answers (inside the follow-up window):
statements, questions clearly meant for a colleague ("are you coming to lunch?") and a few near misses of
the wake phrase ("my son's soccer coach called").

Voices: Piper (en_US-joe-medium) and espeak-ng voices at several speeds (140-190 words a minute) and
pitches, male and female. The split is fixed by the seed and written into the manifest: a TUNING part and a
HELD-OUT part with its own questions (about a quarter of the eval questions, drawn per source document)
and two voices that never speak in tuning. Tune on TUNING only; report HELD-OUT separately.

The plan (texts, voices, pauses, levels) is pure data and cheap (`generate`); audio is made on demand
(`render_utterance`, `render_bystander`, `noise_bed`), 16 kHz mono int16 like tools/speech_corpus.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from speech_corpus import RATE, noise, speech_bounds, speech_rms  # noqa: E402

EVAL = ROOT / "samples" / "halvorsen-eval.jsonl"
VERSION = 1
WAKE = "Hey coach"
REF_RMS = 3000.0
"""every visitor's speech is scaled to this active-speech RMS (about -21 dBFS): SNRs and bystander levels are
relative to it"""

PAUSE_AFTER_WAKE_S = (0.0, 1.5)
HESITATION_S = (0.4, 0.9)
FOLLOW_UP_DELAY_S = (0.5, 2.0)
SNR_DB = (10.0, 20.0)
BYSTANDER_ATTEN_DB = (8.0, 15.0)
SPEED_WPM = (140, 190)
AFTER_ANSWER_DELAY_S = (0.3, 2.0)
STRETCH_TARGET_S = (6.0, 12.0)
"""estimated speech per bystander stretch between two visitors"""
MIN_BYSTANDER_MIN = 10.5
"""at the default size the stretches are topped up to at least this many minutes (estimated) of talk"""


@dataclass(frozen=True)
class Voice:
    name: str
    """"piper" or an espeak-ng voice name with its variant ("en-us+f3")"""
    gender: str
    pitch: int
    """centre pitch, espeak-ng's -p (0-99); visitors vary around it"""


TUNING_VOICES = (
    Voice("piper", "m", 50), Voice("en-us", "m", 45), Voice("en-gb", "m", 40), Voice("en-us+f3", "f", 62),
    Voice("en-gb-x-rp", "m", 50), Voice("en-us+m7", "m", 38), Voice("en-gb+f4", "f", 68), Voice("en-us+f2", "f", 58),
)
HELDOUT_VOICES = (Voice("en-gb-scotland", "m", 45), Voice("en-us-nyc+f1", "f", 64))
BYSTANDER_VOICES = (Voice("en-us+m3", "m", 42), Voice("en-gb+f1", "f", 62), Voice("en-us+f5", "f", 66),
                    Voice("en-gb-x-gbclan", "m", 48), Voice("en-029", "m", 44), Voice("en-gb-x-gbcwmd+f2", "f", 60))
BABBLE_VOICES = ("en-us+m1", "en-gb+m2", "en-us+f1", "en-gb-x-gbcwmd", "en-us+f4")

OPENERS = ["", "", "", "", "excuse me, ", "sorry, ", "hi, ", "quick question, ", "okay so ", "um, ", "hello, "]
FOLLOW_OPENERS = ["and ", "oh and ", "one more thing, ", "also, ", "and um ", "okay, and ", "thanks. and "]
FUNCTION_WORDS = {"the", "a", "my", "is", "do", "to", "for", "i", "does", "in", "of", "on", "get", "are", "can",
                  "an", "if", "at", "me", "we", "there", "much", "many", "long", "put", "pay", "find"}

# Bystanders: chat between colleagues, never addressed to the kiosk.
STATEMENTS = [
    "I think the meeting got moved to three.", "The coffee machine upstairs is broken again.",
    "My train was twenty minutes late this morning.", "The new picking arm demo went really well.",
    "I still have to finish those slides.", "She said the shipment comes in on Thursday.",
    "We should really book a table for Friday.", "The parking lot was packed today.",
    "I have to call my sister back later.", "Honestly, the weather has been terrible all week.",
    "Let's check the schedule after lunch.", "I left my umbrella in the car.",
    "The team in Oslo sent the drawings last night.", "My kid has a dentist appointment at four.",
    "That presentation went on forever.", "I'm going to grab a sandwich before the call.",
    "The elevator on the left is out of order.", "We ran out of printer paper on the third floor.",
    "I heard the customer visit went fine.", "The traffic on the bridge was awful.",
    "I need another coffee before this meeting.", "They moved the whiteboard into room twelve.",
    "My laptop battery is almost dead.", "The soup in the canteen was actually good today.",
    "I'll send you the notes this afternoon.", "We finally fixed the conveyor on line two.",
    "My son's soccer coach called this morning.", "The coach to the airport leaves at nine.",
    "I'm taking Friday off to help my parents move.", "Our flight got cancelled, so we drove instead.",
    "The new interns start next Monday.", "I can't believe it's already December.",
    "Somebody left their badge on the table.", "That robot almost ran over my foot, I swear.",
    "I think the quarterly numbers look decent.", "The heating in our office is way too high.",
    "I'm going to the gym after work.", "We have a visitor from the supplier at two.",
    "My phone keeps dropping the call in here.", "It smells like popcorn near the break room.",
]
CHAT_QUESTIONS = [
    "did you see the game last night?", "are you coming to lunch?", "do you want a coffee?",
    "have you met the new intern yet?", "is Sarah in today?", "what time is your flight tomorrow?",
    "did you finish the report?", "can you send me those slides?", "where did you park today?",
    "are we still on for Friday?", "how was your weekend?", "do you know if Tom is coming?",
    "did you watch that show I told you about?", "want to walk over together?",
    "are you going to the team dinner?", "did the package ever arrive?", "can you cover my shift on Sunday?",
    "have you tried the new pizza place?", "is it still raining outside?", "did you get my email?",
    "how's your mom doing?", "are you taking the bus home?", "do you have a charger I could borrow?",
    "what did you think of the demo?", "should we order food for the workshop?",
    "hey, could you hold the door?", "hey Joe, are you ready?", "can you believe that score?",
    "did they fix the printer yet?", "is the meeting still at three?",
]
NAMES = ["Mike", "Priya", "Tom", "Anna", "Carlos", "Jen", "Sam", "Lena", "Omar", "Kate", "Dave", "Mei"]


# -- the plan --------------------------------------------------------------------------------------------------


@dataclass
class Question:
    text: str
    """the words the visitor says (opener included, no wake phrase, no pause marks)"""
    base: str
    """the eval question it comes from"""
    source: str
    key_facts: list
    parts: list[str]
    """text pieces rendered one after another ([text] without a hesitation)"""
    hesitation_s: float | None = None
    """silence between the two parts"""


@dataclass
class Chatter:
    text: str
    voice: str
    gender: str
    speed: int
    pitch: int
    atten_db: float
    """below the visitor reference level"""
    gap_before_s: float = 0.0
    kind: str = "statement"
    """statement | question | near_miss"""


@dataclass
class Visitor:
    id: str
    part: str
    """tuning | heldout"""
    voice: str
    gender: str
    speed: int
    pitch: int
    style: str
    """separate ("Hey coach." + pause + question) | one_breath ("Hey coach, <question>?")"""
    pause_after_wake_s: float | None
    question: Question
    follow_up: Question | None = None
    follow_up_delay_s: float | None = None
    snr_db: float | None = None
    """hall noise (pink + babble) this far below the speech; None: a quiet hall"""
    noise_bed: int = 0
    after_answer: Chatter | None = None
    """a bystander line right after the (last) answer, inside the follow-up window"""
    after_answer_delay_s: float | None = None
    stretch: list[Chatter] = field(default_factory=list)
    """bystander talk after this visitor leaves, before the next one comes"""


def load_eval(path: Path = EVAL) -> list[dict[str, Any]]:
    """Answerable eval questions with key facts, in file order."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if row.get("answerable") and row.get("key_facts"):
                out.append(row)
    return out


def split_questions(rows: list[dict[str, Any]], rng: random.Random, share: float = 0.26) -> tuple[list, list]:
    """(tuning, heldout): about `share` of every source document's questions held out."""
    by_source: dict[str, list] = {}
    for r in rows:
        by_source.setdefault(r["source"], []).append(r)
    tuning, heldout = [], []
    for source in sorted(by_source):
        group = list(by_source[source])
        rng.shuffle(group)
        k = max(1, round(len(group) * share))
        heldout += group[:k]
        tuning += group[k:]
    return tuning, heldout


def chatter_pool(rng: random.Random) -> list[tuple[str, str]]:
    """(text, kind) lines of bystander talk, shuffled; a few hundred distinct ones."""
    lines = [(s, "near_miss" if "coach" in s.lower() else "statement") for s in STATEMENTS]
    for q in CHAT_QUESTIONS:
        kind = "near_miss" if q.startswith("hey") else "question"
        lines.append((q[0].upper() + q[1:], kind))
    for name in NAMES:
        for q in rng.sample(CHAT_QUESTIONS, 8):
            if not q.startswith("hey"):
                lines.append((f"{name}, {q}", "question"))
        for s in rng.sample(STATEMENTS, 3):
            if "coach" not in s.lower():
                lines.append((f"{name} said {s[0].lower()}{s[1:]}", "statement"))
    seen: set[str] = set()
    unique = [x for x in lines if not (x[0] in seen or seen.add(x[0]))]
    rng.shuffle(unique)
    return unique


def estimate_s(text: str, speed: int) -> float:
    """espeak-ng speaks about `speed` words a minute (measured: a little faster); a rough duration."""
    return len(text.split()) * 60.0 / speed * 0.75 + 0.12


def _hesitate(words: list[str], rng: random.Random) -> int:
    """Where a visitor pauses: after a function word in the middle ("where is the ... IT help desk")."""
    candidates = [i for i in range(2, len(words) - 1) if words[i - 1].lower().strip(",") in FUNCTION_WORDS]
    if not candidates:
        candidates = list(range(2, max(3, len(words) - 1)))
    mid = len(words) / 2
    candidates.sort(key=lambda i: abs(i - mid))
    return rng.choice(candidates[:3])


def _question(row: dict[str, Any], opener: str, rng: random.Random, hesitate: bool) -> Question:
    text = (opener + row["question"]).strip()
    words = text.split()
    hesitation = None
    parts = [text]
    if hesitate and len(words) >= 4:
        k = _hesitate(words, rng)
        parts = [" ".join(words[:k]), " ".join(words[k:])]
        hesitation = round(rng.uniform(*HESITATION_S), 2)
    return Question(text, row["question"], row["source"], row["key_facts"], parts, hesitation)


def _flags(n: int, share: float, rng: random.Random) -> list[bool]:
    """Exactly round(n * share) True, shuffled: every condition is represented, even in a few visitors."""
    k = round(n * share)
    flags = [True] * k + [False] * (n - k)
    rng.shuffle(flags)
    return flags


def _chatter(pool: list, index: int, rng: random.Random, avoid: str) -> Chatter:
    text, kind = pool[index % len(pool)]
    voice = rng.choice([v for v in BYSTANDER_VOICES if v.name != avoid])
    return Chatter(text, voice.name, voice.gender, rng.randint(*SPEED_WPM), voice.pitch + rng.choice((-8, 0, 8)),
                   round(rng.uniform(*BYSTANDER_ATTEN_DB), 1), kind=kind)


def generate(seed: int = 11, tuning: int = 40, heldout: int = 16) -> dict[str, Any]:
    """The corpus manifest: split, visitors in run order (held-out ones spread among the tuning ones), totals."""
    rng = random.Random(seed)
    tuning_q, heldout_q = split_questions(load_eval(), rng)
    pool = chatter_pool(rng)
    next_line = 0
    visitors: list[Visitor] = []
    for part, n, questions in (("tuning", tuning, tuning_q), ("heldout", heldout, heldout_q)):
        if n == 0:
            continue
        if part == "tuning":
            voices = [TUNING_VOICES[i % len(TUNING_VOICES)] for i in range(n)]
        else:  # the held-out voices first and mostly; the rest from tuning voices (new questions, known voices)
            k = max(2, (n * 5) // 8)
            voices = [HELDOUT_VOICES[i % len(HELDOUT_VOICES)] for i in range(k)]
            voices += [rng.choice(TUNING_VOICES) for _ in range(n - k)]
        rng.shuffle(voices)
        one_breath, hesitate, follow, noisy = (_flags(n, s, rng) for s in (0.4, 0.25, 0.4, 0.4))
        after = _flags(n, 0.6, rng)
        order = list(questions)
        rng.shuffle(order)
        for i in range(n):
            voice = voices[i]
            row = order[i % len(order)]
            q = _question(row, rng.choice(OPENERS), rng, hesitate[i])
            fu = fu_delay = None
            if follow[i]:
                same = [r for r in questions if r["source"] == row["source"] and r is not row]
                other = rng.choice(same or [r for r in questions if r is not row])
                fu = _question(other, rng.choice(FOLLOW_OPENERS), rng, False)
                fu_delay = round(rng.uniform(*FOLLOW_UP_DELAY_S), 2)
            v = Visitor(id="", part=part, voice=voice.name, gender=voice.gender, speed=rng.randint(*SPEED_WPM),
                        pitch=voice.pitch + rng.choice((-10, -5, 0, 5, 10)),
                        style="one_breath" if one_breath[i] else "separate",
                        pause_after_wake_s=None if one_breath[i] else round(rng.uniform(*PAUSE_AFTER_WAKE_S), 2),
                        question=q, follow_up=fu, follow_up_delay_s=fu_delay,
                        snr_db=round(rng.uniform(*SNR_DB), 1) if noisy[i] else None, noise_bed=rng.randrange(3))
            if after[i]:
                v.after_answer = _chatter(pool, next_line, rng, voice.name)
                next_line += 1
                v.after_answer_delay_s = round(rng.uniform(*AFTER_ANSWER_DELAY_S), 2)
            target = rng.uniform(*STRETCH_TARGET_S)
            while sum(estimate_s(c.text, c.speed) for c in v.stretch) < target:
                c = _chatter(pool, next_line, rng, voice.name)
                c.gap_before_s = round(rng.uniform(0.3, 1.5), 2)
                next_line += 1
                v.stretch.append(c)
            visitors.append(v)
    # top up the talk so a default-size run holds at least MIN_BYSTANDER_MIN minutes of it
    if tuning + heldout >= 40:
        i = 0
        while _bystander_s(visitors) < MIN_BYSTANDER_MIN * 60:
            v = visitors[i % len(visitors)]
            c = _chatter(pool, next_line, rng, v.voice)
            c.gap_before_s = round(rng.uniform(0.3, 1.5), 2)
            next_line += 1
            v.stretch.append(c)
            i += 1
    visitors = _interleave([v for v in visitors if v.part == "tuning"], [v for v in visitors if v.part == "heldout"])
    for i, v in enumerate(visitors):
        v.id = f"{'t' if v.part == 'tuning' else 'h'}{i:02d}"
    return {
        "version": VERSION, "seed": seed, "wake": WAKE, "reference_rms": REF_RMS,
        "ranges": {"pause_after_wake_s": PAUSE_AFTER_WAKE_S, "hesitation_s": HESITATION_S,
                   "follow_up_delay_s": FOLLOW_UP_DELAY_S, "snr_db": SNR_DB, "bystander_atten_db": BYSTANDER_ATTEN_DB,
                   "speed_wpm": SPEED_WPM, "after_answer_delay_s": AFTER_ANSWER_DELAY_S},
        "split": {"tuning_voices": [v.name for v in TUNING_VOICES], "heldout_voices": [v.name for v in HELDOUT_VOICES],
                  "tuning_questions": sorted(r["question"] for r in tuning_q),
                  "heldout_questions": sorted(r["question"] for r in heldout_q),
                  "rule": "held-out visitors ask only held-out questions (main and follow-up); held-out voices "
                          "speak only in the held-out part; never tune on it"},
        "voices": {v.name: {"gender": v.gender, "pitch": v.pitch, "part": p}
                   for p, vs in (("tuning", TUNING_VOICES), ("heldout", HELDOUT_VOICES)) for v in vs},
        "visitors": [dataclasses.asdict(v) for v in visitors],
        "summary": summary(visitors),
    }


def _interleave(tuning: list[Visitor], heldout: list[Visitor]) -> list[Visitor]:
    """Held-out visitors spread evenly through the run, so both parts meet the same kiosk (warm-up, drift)."""
    n = len(tuning) + len(heldout)
    slots = {int((h + 0.5) * n / len(heldout)) for h in range(len(heldout))} if heldout else set()
    t, h = iter(tuning), iter(heldout)
    return [next(h) if i in slots else next(t) for i in range(n)]


def _bystander_s(visitors: list[Visitor]) -> float:
    lines = [c for v in visitors for c in v.stretch] + [v.after_answer for v in visitors if v.after_answer]
    return sum(estimate_s(c.text, c.speed) for c in lines)


def summary(visitors: list[Visitor]) -> dict[str, Any]:
    def count(pred) -> dict[str, int]:  # noqa: ANN001
        out: dict[str, int] = {}
        for part in ("tuning", "heldout"):
            out[part] = sum(1 for v in visitors if v.part == part and pred(v))
        return out

    voices: dict[str, dict[str, int]] = {}
    for v in visitors:
        voices.setdefault(v.voice, {"tuning": 0, "heldout": 0})[v.part] += 1
    return {
        "visitors": count(lambda v: True),
        "by_voice": voices,
        "one_breath": count(lambda v: v.style == "one_breath"),
        "separate_wake": count(lambda v: v.style == "separate"),
        "hesitation": count(lambda v: v.question.hesitation_s is not None),
        "follow_up": count(lambda v: v.follow_up is not None),
        "hall_noise": count(lambda v: v.snr_db is not None),
        "after_answer_bystander": count(lambda v: v.after_answer is not None),
        "bystander_lines": sum(len(v.stretch) + (v.after_answer is not None) for v in visitors),
        "bystander_minutes_estimated": round(_bystander_s(visitors) / 60, 2),
        "questions": sum(1 + (v.follow_up is not None) for v in visitors),
    }


def visitors_of(manifest: dict[str, Any], part: str = "all") -> list[Visitor]:
    """The manifest's visitors as objects, in run order; `part`: tuning | heldout | all."""
    out = []
    for raw in manifest["visitors"]:
        if part not in ("all", raw["part"]):
            continue
        raw = dict(raw)
        raw["question"] = Question(**raw["question"])
        raw["follow_up"] = Question(**raw["follow_up"]) if raw["follow_up"] else None
        raw["after_answer"] = Chatter(**raw["after_answer"]) if raw["after_answer"] else None
        raw["stretch"] = [Chatter(**c) for c in raw["stretch"]]
        out.append(Visitor(**raw))
    return out


# -- audio -----------------------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _piper(rate: float):  # noqa: ANN202 - PiperSpeaker at a speaking rate (speech.rate: 1.0 normal)
    import os

    from kiosk.config import Settings, with_overrides
    from kiosk.runtime import build_speaker

    speaker = build_speaker(with_overrides(Settings(), speech={"rate": rate}))
    if os.environ.get("KIOSK_CORPUS_FIXED_PIPER"):
        speaker.voice.config.noise_scale = 0.0
        speaker.voice.config.noise_w_scale = 0.0
    return speaker


def synth(text: str, voice: str = "piper", speed: int = 160, pitch: int = 50) -> np.ndarray:
    """`text` spoken at `speed` words a minute and `pitch` (espeak-ng -p; Piper: speed only, as its rate),
    trimmed to its speech."""
    pcm = np.frombuffer(_synth(text, voice, speed, pitch), dtype=np.int16)
    start, end = speech_bounds(pcm)
    return pcm[start:end].copy()


@lru_cache(maxsize=2048)
def _synth(text: str, voice: str, speed: int, pitch: int) -> bytes:
    if voice == "piper":
        from kiosk.audio.resample import Resampler

        rate = round(min(1.25, max(0.85, speed / 165)), 2)  # Piper's own pace is about 165 words a minute
        clip = _piper(rate).speak_joined(text)
        return Resampler(clip.sample_rate, 1, RATE).process(clip.pcm)
    if not shutil.which("espeak-ng"):
        raise RuntimeError("espeak-ng is needed for test speech: run tools/dev setup")
    from kiosk.audio.wav import read_pcm16k

    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "e.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(wav), "--stdin"],
                       input=text.encode(), check=True, capture_output=True)
        return read_pcm16k(wav)


def level(pcm: np.ndarray, atten_db: float = 0.0) -> np.ndarray:
    """`pcm` scaled to the reference speech level, `atten_db` below it."""
    rms = speech_rms(pcm)
    if rms <= 0:
        return pcm
    gain = REF_RMS / rms / 10 ** (atten_db / 20)
    return np.clip(pcm.astype(np.float64) * gain, -32768, 32767).astype(np.int16)


@dataclass
class Rendered:
    pcm: np.ndarray
    speech_end: int
    """sample where the speech really ends"""
    boundaries: list[tuple[int, int]]
    """(start, end) sample of every rendered part's speech"""

    @property
    def seconds(self) -> float:
        return self.pcm.size / RATE


def render_parts(parts: list[str], voice: str, speed: int, pitch: int, gaps_s: list[float],
                 atten_db: float = 0.0, lead_s: float = 0.0, tail_s: float = 0.0) -> Rendered:
    """Parts spoken one after another with the given silences between them, at one level."""
    clips = [synth(p, voice, speed, pitch) for p in parts]
    rms = speech_rms(np.concatenate(clips)) if clips else 0.0
    gain = REF_RMS / rms / 10 ** (atten_db / 20) if rms > 0 else 1.0
    out = [np.zeros(int(lead_s * RATE), np.int16)]
    bounds = []
    pos = out[0].size
    for i, clip in enumerate(clips):
        if i:
            gap = np.zeros(int(gaps_s[i - 1] * RATE), np.int16)
            out.append(gap)
            pos += gap.size
        scaled = np.clip(clip.astype(np.float64) * gain, -32768, 32767).astype(np.int16)
        out.append(scaled)
        bounds.append((pos, pos + scaled.size))
        pos += scaled.size
    out.append(np.zeros(int(tail_s * RATE), np.int16))
    return Rendered(np.concatenate(out), bounds[-1][1], bounds)


def render_wake(v: Visitor) -> Rendered:
    """What the visitor says first: "Hey coach." alone, or the wake phrase and the question in one breath."""
    if v.style == "separate":
        return render_parts([f"{WAKE}."], v.voice, v.speed, v.pitch, [])
    parts = list(v.question.parts)
    parts[0] = f"{WAKE}, {parts[0]}"
    parts[-1] = parts[-1] + "?"
    gaps = [v.question.hesitation_s] if v.question.hesitation_s else []
    return render_parts(parts, v.voice, v.speed, v.pitch, gaps)


def render_question(v: Visitor, q: Question) -> Rendered:
    parts = list(q.parts)
    parts[0] = parts[0][0].upper() + parts[0][1:]
    parts[-1] = parts[-1] + "?"
    return render_parts(parts, v.voice, v.speed, v.pitch, [q.hesitation_s] if q.hesitation_s else [])


def render_bystander(lines: list[Chatter]) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """A stretch of bystander talk (each line at its own voice and level), and where each line's speech is."""
    out, bounds, pos = [], [], 0
    for c in lines:
        gap = np.zeros(int(c.gap_before_s * RATE), np.int16)
        clip = level(synth(c.text, c.voice, c.speed, c.pitch), c.atten_db)
        out += [gap, clip]
        pos += gap.size
        bounds.append((pos, pos + clip.size))
        pos += clip.size
    out.append(np.zeros(int(0.2 * RATE), np.int16))
    return np.concatenate(out), bounds


def _document_sentences() -> list[str]:
    out = []
    for path in sorted((ROOT / "samples" / "halvorsen-src").glob("*.md")) + sorted(
            (ROOT / "samples" / "halvorsen").glob("*.md")):
        text = re.sub(r"[#*_`>|\[\]()]", " ", path.read_text(encoding="utf-8"))
        for s in re.split(r"(?<=[.?!])\s+|\n\s*\n", text):
            s = " ".join(s.split())
            if 5 <= len(s.split()) <= 22 and "coach" not in s.lower():
                out.append(s)
    return out


def noise_bed(index: int, seconds: float = 90.0, seed: int = 11) -> np.ndarray:
    """Hall noise at unit RMS (float64): pink noise plus, 6 dB below it, a babble of four espeak-ng voices
    reading the company documents at once. Scale it by REF_RMS / 10**(snr/20)."""
    rng = np.random.default_rng(seed * 100 + index)
    n = int(seconds * RATE)
    pink = noise(n, 1.0, "pink", rng)
    sentences = _document_sentences()
    order = random.Random(seed * 100 + index)
    babble = np.zeros(n)
    for k in range(4):
        voice = BABBLE_VOICES[(index + k) % len(BABBLE_VOICES)]
        stream, filled = [], 0
        while filled < n:
            clip = synth(order.choice(sentences), voice, order.randint(150, 185), order.randint(35, 70))
            gap = np.zeros(int(order.uniform(0.1, 0.6) * RATE), np.int16)
            clip = level(clip)
            stream += [clip, gap]
            filled += clip.size + gap.size
        s = np.concatenate(stream)[:n].astype(np.float64)
        babble += s / max(float(np.sqrt(np.mean(s * s))), 1e-9)
    babble /= max(float(np.sqrt(np.mean(babble * babble))), 1e-9)
    bed = pink + babble * 10 ** (-6 / 20)
    return bed / float(np.sqrt(np.mean(bed * bed)))


def scaled_noise(bed: np.ndarray, snr_db: float) -> np.ndarray:
    return np.clip(bed * REF_RMS / 10 ** (snr_db / 20), -32768, 32767).astype(np.int16)


def digest(manifest: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(manifest["visitors"], sort_keys=True).encode()).hexdigest()[:12]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--tuning", type=int, default=40, help="visitors in the tuning part")
    parser.add_argument("--heldout", type=int, default=16, help="visitors in the held-out part")
    parser.add_argument("--out", help="write manifest.json here (and WAVs with --render)")
    parser.add_argument("--render", action="store_true", help="also synthesize every visitor's audio")
    args = parser.parse_args()
    manifest = generate(args.seed, args.tuning, args.heldout)
    print(json.dumps(manifest["summary"], indent=1))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
        if args.render:
            from speech_corpus import write_wav

            for v in visitors_of(manifest):
                write_wav(out / f"{v.id}-wake.wav", render_wake(v).pcm)
                if v.style == "separate":
                    write_wav(out / f"{v.id}-question.wav", render_question(v, v.question).pcm)
                if v.follow_up:
                    write_wav(out / f"{v.id}-follow-up.wav", render_question(v, v.follow_up).pcm)
                write_wav(out / f"{v.id}-bystanders.wav", render_bystander(v.stretch)[0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
