"""The conversation benchmark's corpus (tools/conversation_corpus.py): seeded, split, in range, answerable.

Fast: the plan only (no kiosk, no models); one render check with espeak-ng where it is installed.
"""

from __future__ import annotations

import json
import shutil
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import conversation_corpus as cc  # noqa: E402

from kiosk.answer.evaluate import has_facts  # noqa: E402
from kiosk.knowledge.parsers import parse_file  # noqa: E402


@lru_cache(maxsize=1)
def manifest() -> dict:
    return cc.generate()


def visitors() -> list[cc.Visitor]:
    return cc.visitors_of(manifest())


def questions(v: cc.Visitor) -> list[cc.Question]:
    return [v.question] + ([v.follow_up] if v.follow_up else [])


def test_the_same_seed_gives_the_same_corpus_and_another_seed_another():
    a = json.dumps(cc.generate(5), sort_keys=True)
    assert a == json.dumps(cc.generate(5), sort_keys=True)
    assert a != json.dumps(cc.generate(6), sort_keys=True)
    assert cc.digest(cc.generate(5)) == cc.digest(cc.generate(5))


def test_default_size_voices_and_conditions():
    m = manifest()
    vs = visitors()
    assert len(vs) >= 40
    assert sum(1 for v in vs if v.part == "tuning") >= 40
    voices = {v.voice for v in vs}
    assert len(voices) >= 8
    assert {v.gender for v in vs} == {"m", "f"}
    assert "piper" in voices and any(v.startswith("en-") for v in voices)
    assert len({(v.speed, v.pitch) for v in vs}) > 20  # several speeds and pitches
    s = m["summary"]
    for key in ("one_breath", "separate_wake", "hesitation", "follow_up", "hall_noise", "after_answer_bystander"):
        assert s[key]["tuning"] > 0 and s[key]["heldout"] > 0, key
    assert all(v.stretch for v in vs)  # bystander talk after every visitor
    kinds = {c.kind for v in vs for c in v.stretch}
    assert {"statement", "question", "near_miss"} <= kinds
    lines = [c.text.lower() for v in vs for c in v.stretch]
    assert not any("hey coach" in t for t in lines)  # bystanders never say the wake phrase


def test_split_keeps_heldout_voices_and_questions_out_of_tuning():
    m = manifest()
    split = m["split"]
    held_voices, held_q = set(split["heldout_voices"]), set(split["heldout_questions"])
    assert len(held_voices) >= 2
    assert not held_voices & set(split["tuning_voices"])
    assert not held_q & set(split["tuning_questions"])
    tuning = [v for v in visitors() if v.part == "tuning"]
    heldout = [v for v in visitors() if v.part == "heldout"]
    assert heldout and tuning
    assert not {v.voice for v in tuning} & held_voices
    assert {v.voice for v in heldout} >= held_voices
    assert not {q.base for v in tuning for q in questions(v)} & held_q
    assert {q.base for v in heldout for q in questions(v)} <= held_q
    # the split is part of the manifest, and the run order spreads the held-out visitors
    order = [v.part for v in visitors()]
    assert "heldout" in order[: len(order) // 3] and "heldout" in order[-len(order) // 3:]
    assert [v.id for v in cc.visitors_of(m, "heldout")] == [v.id for v in heldout]


def test_pauses_levels_and_speeds_are_in_their_ranges():
    for v in visitors():
        assert 140 <= v.speed <= 190
        if v.style == "separate":
            assert 0.0 <= v.pause_after_wake_s <= 1.5
        else:
            assert v.pause_after_wake_s is None
        if v.snr_db is not None:
            assert 10.0 <= v.snr_db <= 20.0
        for q in questions(v):
            if q.hesitation_s is not None:
                assert 0.4 <= q.hesitation_s <= 0.9
                assert len(q.parts) == 2 and " ".join(q.parts) == q.text
            else:
                assert q.parts == [q.text]
        if v.follow_up:
            assert 0.5 <= v.follow_up_delay_s <= 2.0
            assert v.follow_up.hesitation_s is None
        chatter = v.stretch + ([v.after_answer] if v.after_answer else [])
        for c in chatter:
            assert 8.0 <= c.atten_db <= 15.0
            assert c.voice != v.voice  # another voice than the visitor's
            assert 140 <= c.speed <= 190
        if v.after_answer:
            assert 0.3 <= v.after_answer_delay_s <= 2.0
    pauses = [v.pause_after_wake_s for v in visitors() if v.pause_after_wake_s is not None]
    assert min(pauses) < 0.3 and max(pauses) > 1.2  # the range is used, not one value


def test_at_least_ten_minutes_of_bystander_talk():
    assert manifest()["summary"]["bystander_minutes_estimated"] >= 10.0


@lru_cache(maxsize=1)
def documents() -> dict[str, str]:
    out = {}
    for path in sorted((ROOT / "samples" / "halvorsen").iterdir()):
        doc = parse_file(path)
        out[path.name] = "\n".join(f"{b.question}\n{b.text}" for b in doc.blocks)
    return out


def test_every_key_fact_is_in_the_documents():
    docs = documents()
    everything = "\n".join(docs.values())
    for v in visitors():
        for q in questions(v):
            facts = tuple((f,) if isinstance(f, str) else tuple(f) for f in q.key_facts)
            assert facts, q.base
            assert q.source in docs, q.source
            assert has_facts(everything, facts), (q.base, q.key_facts)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_render_speed_pitch_and_hesitation():
    slow = cc.synth("where is the IT help desk", "en-us", 140, 50)
    fast = cc.synth("where is the IT help desk", "en-us", 190, 50)
    high = cc.synth("where is the IT help desk", "en-us", 140, 80)
    assert slow.size > fast.size * 1.15
    assert not np.array_equal(slow[: high.size], high[: slow.size])
    q = cc.Question("where is the IT help desk", "where's the IT help desk", "faq.md", ["B-214"],
                    ["where is the", "IT help desk"], 0.6)
    v = cc.Visitor("t00", "tuning", "en-us", "m", 160, 50, "separate", 0.5, q)
    r = cc.render_question(v, q)
    (a0, a1), (b0, b1) = r.boundaries
    assert abs((b0 - a1) / cc.RATE - 0.6) < 0.01  # the hesitation is silence of its length
    assert r.speech_end == b1 == r.pcm.size
    assert abs(cc.speech_rms(r.pcm) - cc.REF_RMS) / cc.REF_RMS < 0.05  # at the reference level
    quiet = cc.render_bystander([cc.Chatter("are you coming to lunch?", "en-gb+f1", "f", 160, 60, 12.0)])[0]
    assert 10.5 < 20 * np.log10(cc.REF_RMS / cc.speech_rms(quiet)) < 13.5


# -- the benchmark's scoring (tools/bench_conversation.py): independent of the model's wording ------------------


def test_scoring_reads_words_not_wording():
    import bench_conversation as bc

    assert bc.words("Where's the IT help-desk, um?") == ["where", "is", "the", "it", "help", "desk"]
    assert bc.coverage("where is the IT help desk", "Where's the help desk?") == 1.0  # content words only
    assert bc.coverage("where is the IT help desk", "where is the cafeteria") < 0.5
    assert bc.coverage("where is the IT help desk", "where is the it help desk") == 1.0
    assert bc.edits(["a", "b", "c"], ["a", "c"]) == 1
    assert bc.has_facts("Room B-214, open 7:30 to 17:30.", [["7:30", "seven thirty"], "B-214"])


def test_turns_are_given_to_what_they_answered():
    import bench_conversation as bc

    m = cc.generate()
    vs = cc.visitors_of(m, "tuning")[:2]
    a, b = vs
    turns = [
        {"question": a.question.text, "visitor": a.id, "step": "question"},
        {"question": a.stretch[0].text, "visitor": a.id, "step": "stretch"},
        {"question": "the weather in Bergen", "visitor": b.id, "step": "question"},  # b's question, misheard
        {"question": a.question.text, "visitor": b.id, "step": "stretch"},  # a's question, answered very late
    ]
    bc.attribute(turns, vs, {a.id: {"question", "window", "stretch"}, b.id: {"question"}})
    assert (turns[0]["answered_visitor"], turns[0]["answered_kind"]) == (a.id, "question")
    assert turns[1]["answered_kind"] == "bystander"
    assert (turns[2]["answered_visitor"], turns[2]["answered_kind"]) == (b.id, "question")
    assert (turns[3]["answered_visitor"], turns[3]["answered_kind"]) == (a.id, "question")


def test_voice_to_voice_skips_the_wake_chime():
    import bench_conversation as bc

    from kiosk.audio.earcon import RATE as EARCON_RATE
    from kiosk.audio.earcon import chime
    from kiosk.audio.resample import Resampler

    ding = np.frombuffer(Resampler(EARCON_RATE, 1, cc.RATE).process(chime()), dtype=np.int16)
    rng = np.random.default_rng(1)
    speech = np.clip(rng.normal(0, 3000, cc.RATE), -32768, 32767).astype(np.int16)  # broadband, like a voice
    audio = np.zeros(cc.RATE * 5, np.int16)
    audio[20000:20000 + ding.size] = ding
    audio[23100:23100 + speech.size] = speech
    onset, chimes = bc.answer_onset(audio, 16000, None)
    assert chimes == 1 and abs(onset - 23100) < 5  # the answer's first sound, not the chime
    assert bc.is_earcon(ding) and not bc.is_earcon(speech[4000:6560])
