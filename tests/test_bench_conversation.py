"""tools/bench_conversation.py's live = file comparison, its pure parts (no audio devices, no models): the
utterance cut out of the microphone's recording, the comparison's normalisation, and how the rows and the
summary carry the new and the old comparison."""

from __future__ import annotations

import conversation_corpus as cc
import conversation_measure as cm
import conversation_replay as cr
import conversation_score as cs
import conversation_text as ct
import numpy as np

RATE = cc.RATE


def test_an_utterance_is_cut_out_of_the_microphone_recording() -> None:
    rng = np.random.default_rng(3)
    clip = np.clip(rng.normal(0, 3000, RATE), -32768, 32767).astype(np.int16)  # 1 s of "speech"
    recording = np.clip(rng.normal(0, 100, 10 * RATE), -32768, 32767).astype(np.int16)  # hall noise
    at = 4 * RATE + 1234
    recording[at:at + clip.size] += clip
    start = cm.locate(recording, clip, at - int(0.3 * RATE))  # the recorder's read times: a hint, ms off
    assert start == at
    speech_end = clip.size - 1600  # the clip's last 0.1 s is silence
    lo, hi = cr.cut(recording.size, start, speech_end)
    assert lo == at - int(cr.PRE_S * RATE)
    assert hi == at + speech_end + int(cr.AFTER_S * RATE)
    assert cm.locate(recording[lo:hi], clip, 0, before_s=0.0) == start - lo  # the whole utterance is in it
    # never back into the wake line before it, never past the recording's end, never reversed
    assert cr.cut(recording.size, start, speech_end, not_before=at - 800)[0] == at - 800
    assert cr.cut(recording.size, recording.size - 100, speech_end)[1] == recording.size
    assert cr.cut(recording.size, 1000, speech_end)[0] == 0
    assert cr.cut(100, 20000, 10) == (100, 100)


def test_live_and_file_are_compared_by_words_only() -> None:
    assert ct.same_words("OK, where's the canteen?", "okay where is the Canteen")
    assert ct.same_words("O.K. so where is it", "Okay so where is it?")
    assert ct.same_words("Alright, where is it?", "all right where is it")
    assert ct.same_words("Um, where is the help-desk?", "where is the help desk")  # words(): fillers, hyphens
    assert not ct.same_words("Where is the canteen?", "Where is the cantina?")
    assert not ct.same_words("Where is the canteen?", "Where is the canteen open?")
    assert not ct.same_words("Is it open on Sunday?", "Is it open on Sundays?")


def _scored(heard: str, mic_question: str, clean_transcript: str) -> dict:
    v = cc.visitors_of(cc.generate(), "tuning")[0]
    step = {"kind": "question", "wav": "question", "play": (10.0, 12.0), "listening": 9.5, "end": 20.0,
            "before": {"wakes": 0}, "after": {"wakes": 1},
            "mic": {"transcript": mic_question, "question": mic_question, "cut_s": [9.5, 13.0]}}
    row = {"id": v.id, "t_wake": (8.0, 9.0), "steps": [
        step, {"kind": "window", "before": {}}, {"kind": "stretch", "after": {}}],
        "typed": {"question": {"facts_ok": True}}, "baseline": {"question": {"transcript": clean_transcript}}}
    turn = {"question": heard, "answer": "", "visitor": v.id, "step": "question"}
    live = {"rows": [row], "turn_log": [turn]}
    files = {v.id: {}}
    (r,) = cs.score(live, [v], files)
    return r


def test_rows_carry_the_new_and_the_old_comparison() -> None:
    v = cc.visitors_of(cc.generate(), "tuning")[0]
    q = v.question.text
    r = _scored(q, q.upper() + "?", "something else")
    assert r["question"]["heard"] == q
    assert r["question"]["live_equals_transcribe"] is True
    assert r["question"]["live_equals_clean_transcribe"] is False
    assert r["question"]["mic"]["cut_s"] == [9.5, 13.0]
    r = _scored(q, q + " please", q)
    assert r["question"]["live_equals_transcribe"] is False
    assert r["question"]["live_equals_clean_transcribe"] is True


def test_differences_are_told_apart() -> None:
    assert cs.difference("how do I report a near miss?", "One more thing. How do I report a near miss?") == (
        "fewer words")  # the kiosk dismissed the opener
    assert cs.difference("OK, and where is it?", "and where is it") == "more words"
    assert cs.difference("I might last my badge", "I might lost my badge") == "other"


def test_the_summary_counts_by_step_and_shows_differences() -> None:
    def q(heard: str | None, mic: str, equal: bool | None) -> dict:
        return {"heard": heard, "mic": {"question": mic}, "live_equals_transcribe": equal}

    rows = [
        {"id": "a", "style": "separate", "question": q("where is it", "where is it", True),
         "follow_up": q("and when", "and when", True)},
        {"id": "b", "style": "one_breath", "question": q("where is the canteen", "where is the cantina", False),
         "follow_up": None},
        {"id": "c", "style": "one_breath", "question": q(None, "what time", None),  # no turn: not compared
         "follow_up": {"asked": False}},
    ]
    s = cs.live_equals_transcribe(rows)
    assert (s["n"], s["share"]) == (3, 0.667)
    assert s["by_step"] == {"follow_up": {"n": 1, "share": 1.0}, "question_one_breath": {"n": 1, "share": 0.0},
                            "question_separate": {"n": 1, "share": 1.0}}
    assert s["differences"] == [{"id": "b", "step": "question_one_breath", "live": "where is the canteen",
                                 "transcribe": "where is the cantina", "how": "other"}]
    assert s["differ"] == {"other": 1}
    part = {"visitors": 3, "wake_recall_by_voice": {}, "live_equals_transcribe": s,
            "live_equals_clean_transcribe": {"n": 2, "share": 0.5}}
    lines = {line[:40].strip(): line[40:].strip() for line in cs.table({"all": part}).splitlines()}
    assert lines["live = transcribe --wake (mic audio)"] == "0.667 (n=3; f-up 1.0, 1-breath 0.0, sep 1.0; other 1) 1.0"
    assert lines["live = clean-WAV transcribe (old)"] == "0.5 (n=2)"


def test_a_question_the_kiosk_joined_after_a_pause_counts_as_heard_the_same() -> None:
    """The kiosk joins a question the visitor went on with ("sorry." ... "where is it?") into one; its replay
    hears the two transcripts: counted as the same, once. Otherwise the words must be identical."""
    acted = ["sorry. where's the IT help desk?", "High, new people get a mentor.", "what time is lunch?"]
    heard = ["what time is lunch?", "sorry.", "where's the IT help desk?", "Hi, new people get a mentor.", "sorry."]
    same, differ, left = cr.compare_heard(acted, heard)
    assert (same, differ, left) == (2, ["High, new people get a mentor."], ["Hi, new people get a mentor.", "sorry."])
    # each replayed transcript is used once: the same question twice needs two replays of it
    assert cr.compare_heard(["a b", "a b"], ["a", "b"]) == (1, ["a b"], [])
    assert cr.compare_heard(["quick question. and how fast? L-line"],
                            ["quick question.", "and how fast?", "L-line"]) == (1, [], [])  # went on twice
