"""Scoring for tools/bench_conversation.py, independent of the model's wording: every turn the kiosk took is
given to the utterance it answered by its words (`attribute`), each visitor's question and follow-up is scored
from those turns (`score_question`, `score`), and the rows are summed up per part (`aggregate`, `table`).
"""

from __future__ import annotations

import statistics
from typing import Any

import conversation_corpus as cc
import numpy as np
from conversation_text import coverage, edits, has_facts, precision, same_words, spoken, words
from speech_corpus import RATE


def halves(q: cc.Question) -> tuple[str, str]:
    if len(q.parts) == 2:
        return q.parts[0], q.parts[1]
    w = q.text.split()
    return " ".join(w[: len(w) // 2]), " ".join(w[len(w) // 2:])


def wakes_between(before: dict, after: dict) -> int | None:
    if isinstance(after.get("wakes"), int) and isinstance(before.get("wakes"), int):
        return after["wakes"] - before["wakes"]
    return None


def attribute(turns: list[dict[str, Any]], visitors: list[cc.Visitor], asked: dict[str, set[str]]) -> None:
    """Gives every turn the utterance it answered, by its words (never by its timing alone): the best match
    among what the current and the previous visitor's scene said - their questions, and the bystanders' lines
    - scored by recall or precision of content words, at least 0.5; else `None` (a mishearing of something
    unknown, or of the hall's noise). A turn that matches nothing while a visitor's question waits is that
    question misheard. A late answer is attributed all the same, and marked late."""
    index = {v.id: i for i, v in enumerate(visitors)}
    for turn in turns:
        heard = turn.get("question") or ""
        i = index.get(turn.get("visitor"), -1)
        best: tuple[float, str | None, str | None] = (0.0, None, None)
        for v in visitors[max(0, i - 1): i + 1] if i >= 0 else []:
            items = [("question", v.question.text)]
            if v.follow_up and "follow_up" in asked.get(v.id, ()):
                items.append(("follow_up", v.follow_up.text))
            if v.after_answer and "after_answer" in asked.get(v.id, ()):
                items.append(("bystander", v.after_answer.text))
            items += [("bystander", c.text) for c in v.stretch]
            for kind, text in items:
                score = max(coverage(text, heard), precision(text, heard))
                if score > best[0]:
                    best = (score, v.id, kind if kind == "bystander" else f"{kind}")
        ok = best[0] >= 0.5
        turn["answered_visitor"] = best[1] if ok else None
        turn["answered_kind"] = best[2] if ok else None
        turn["match"] = round(best[0], 2)
        if not ok and turn.get("step") in ("question", "follow_up"):
            # nobody but the visitor (and the hall) speaks while their question waits: a mishearing of it
            turn["answered_visitor"], turn["answered_kind"] = turn.get("visitor"), turn["step"]


def score_question(step: dict[str, Any] | None, q: cc.Question, turns: list[dict[str, Any]]) -> dict[str, Any]:
    """`turns`: the turns attributed to this question (on time: seen before the visitor went on)."""
    step = step or {}
    on_time = [t for t in turns if t.get("on_time")]
    best = max(on_time, key=lambda t: coverage(q.text, t.get("question", "")), default=None)
    heard = (best or {}).get("question")
    matched = best is not None and coverage(q.text, heard) >= 0.5
    first, second = halves(q)
    first_half_only = (heard is not None and coverage(first, heard) >= 0.5 and coverage(second, heard) < 0.34
                       and len(words(heard)) <= 0.75 * len(words(q.text)))
    answered = bool(on_time)
    ref, hyp = words(q.text), words(heard or "")
    return {
        "kind": step.get("kind"), "text": q.text, "heard": heard, "answer": (best or {}).get("answer"),
        "grounded": (best or {}).get("grounded"), "turns": len(on_time), "late_turns": len(turns) - len(on_time),
        "answered": answered, "matched": matched,
        "facts_ok": bool(matched and has_facts((best or {}).get("answer") or "", q.key_facts)),
        "cut_off": bool(answered and (len(on_time) >= 2 or first_half_only)),
        "hesitation_s": q.hesitation_s, "v2v_s": step.get("v2v_s") if matched else None,
        "wer_edits": edits(ref, hyp) if heard is not None else None, "ref_words": len(ref),
        "timings_ms": (best or {}).get("timings_ms"), "chimes_skipped": step.get("chimes_skipped"),
        "thinking_count": step.get("thinking_count"),
        "pause_actual_s": step.get("pause_actual_s"), "waited_for_kiosk_s": step.get("waited_for_kiosk_s"),
        "kiosk_sound_before_question_s": step.get("kiosk_sound_before_question_s"),
    }


def score(live: dict[str, Any], visitors: list[cc.Visitor], files: dict[str, Any]) -> list[dict[str, Any]]:
    rows_by_id = {row["id"]: row for row in live["rows"]}
    asked: dict[str, set[str]] = {}
    for row in live["rows"]:
        kinds = {st["kind"] for st in row["steps"]}
        asked[row["id"]] = kinds | ({"after_answer"} if any("chatter" in st for st in row["steps"]) else set())
    played = [v for v in visitors if v.id in rows_by_id]
    turns = live.get("turn_log", [])
    attribute(turns, played, asked)
    for t in turns:  # on time: first seen while its own visitor was still at that step (or went on with it)
        kind = t.get("answered_kind")
        t["on_time"] = bool(kind in ("question", "follow_up") and t.get("visitor") == t.get("answered_visitor")
                            and (t.get("step") == kind or (kind == "question" and t.get("step") == "follow_up")))
    out = []
    for v in played:
        row = rows_by_id[v.id]
        steps = {st["kind"]: st for st in row["steps"]}
        mine = [t for t in turns if t.get("answered_visitor") == v.id]
        q = score_question(steps["question"], v.question, [t for t in mine if t["answered_kind"] == "question"])
        wakes = wakes_between(steps["question"]["before"], steps["question"].get("after", {}))
        listening = steps["question"].get("listening")
        heard_wake = listening is not None and listening <= steps["question"]["play"][1] + 3.0
        woke = wakes > 0 if wakes is not None else (heard_wake or q["answered"])
        r: dict[str, Any] = {
            "id": v.id, "part": v.part, "voice": v.voice, "gender": v.gender, "speed": v.speed, "pitch": v.pitch,
            "style": v.style, "pause_after_wake_s": v.pause_after_wake_s, "snr_db": v.snr_db, "woke": bool(woke),
            "wake_evidence": "wakes" if wakes is not None else ("listening" if heard_wake else "turn"),
            # not woken in time, but the kiosk answered the question later (it was running behind)
            "woke_late": bool(not woke and q["late_turns"]),
            # end of the wake line's audio -> the kiosk says it is listening (for one breath: with the question)
            "wake_reaction_s": round(listening - row["t_wake"][1], 2) if listening is not None and woke and (
                steps["question"].get("end") is None or listening <= steps["question"]["end"]) else None,
            "question": q, "follow_up": None, "wall_s": row.get("wall_s"), "timeline": row.get("timeline"),
            "statuses": row.get("statuses"),
        }
        if v.follow_up:
            fu = steps.get("follow_up")
            r["follow_up"] = score_question(fu, v.follow_up, [t for t in mine if t["answered_kind"] == "follow_up"])
            r["follow_up"]["asked"] = fu is not None
        # what the kiosk answered while this visitor's scene went on that was not a visitor's question
        others = [t for t in turns if t.get("visitor") == v.id and t.get("answered_kind") not in ("question",
                                                                                                    "follow_up")]
        window = steps["window"]
        said = "chatter" in window
        r["after_answer"] = {"text": v.after_answer.text if v.after_answer else None, "said": said,
                             "answered": any(t.get("step") == "window" and t.get("answered_kind") == "bystander"
                                             for t in others) if said else False}
        r["non_visitor_turns"] = [{"heard": t.get("question"), "step": t.get("step"), "matched_bystander":
                                   t.get("answered_kind") == "bystander", "answer": (t.get("answer") or "")[:100]}
                                  for t in others]
        for key in ("wakes", "dismissed"):  # by bystanders (or the hall): after the visitor's last answer
            a, b = window["before"].get(key), steps["stretch"]["after"].get(key)
            r[f"bystander_{key}"] = b - a if isinstance(a, int) and isinstance(b, int) else None
        lines = files[v.id].get("stretch", (None, []))[1]
        after_lines = files[v.id].get("after_answer", (None, []))[1] if said else []
        r["bystander"] = {"lines": len(lines) + len(after_lines),
                          "speech_s": round(sum(b - a for a, b in list(lines) + list(after_lines)) / RATE, 2)}
        for kind in ("question", "follow_up"):
            if not r.get(kind):
                continue
            live_heard = r[kind].get("heard")
            if "typed" in row:
                r[kind]["typed_facts_ok"] = row["typed"].get(kind, {}).get("facts_ok")
                b = row["baseline"].get(kind, {})
                r[kind]["baseline"] = b
                # the old comparison: the clean rendered WAV (plus re-mixed noise), not the audio the kiosk got
                r[kind]["live_equals_clean_transcribe"] = (None if live_heard is None else
                                                           words(live_heard) == words(b.get("transcript", "")))
            mic = (steps.get(kind) or {}).get("mic")
            if mic is not None:  # `kiosk transcribe` on what the kiosk's microphone got (conversation_replay)
                r[kind]["mic"] = mic
                r[kind]["live_equals_transcribe"] = (None if live_heard is None else
                                                     same_words(live_heard, mic["question"]))
        out.append(r)
    return out


def _share(hits: int, n: int) -> float | None:
    return round(hits / n, 3) if n else None


def _median(xs: list[float]) -> float | None:
    return round(statistics.median(xs), 3) if xs else None


def aggregate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    if not rows:
        return {"visitors": 0}
    qs = [r["question"] for r in rows]
    fus = [r["follow_up"] for r in rows if r["follow_up"] and r["follow_up"].get("asked")]
    allq = qs + fus
    woke = [r for r in rows if r["woke"]]
    typed_right = [r["question"] for r in rows if r["question"].get("typed_facts_ok")]
    lost = [r for r in woke if not r["question"]["matched"]]
    by_voice: dict[str, list[int]] = {}
    for r in rows:
        by_voice.setdefault(r["voice"], []).append(int(r["woke"]))
    by = sorted(by_voice.items())
    minutes = sum(r["bystander"]["speech_s"] for r in rows) / 60
    bystander_turns = sum(len(r["non_visitor_turns"]) for r in rows)
    after_said = [r for r in rows if r["after_answer"]["said"]]
    v2v = [q["v2v_s"] for q in allq if q.get("v2v_s") is not None]
    base = [q["baseline"]["first_audio_s"] for q in allq if q.get("v2v_s") is not None
            and (q.get("baseline") or {}).get("first_audio_s")]
    base_short = [q["baseline"]["first_audio_s_short_silence"] for q in allq if q.get("v2v_s") is not None
                  and (q.get("baseline") or {}).get("first_audio_s_short_silence")]
    ratios = [q["v2v_s"] / q["baseline"]["first_audio_s"] for q in allq if q.get("v2v_s") is not None
              and (q.get("baseline") or {}).get("first_audio_s")]

    def wer(pred) -> dict[str, Any]:  # noqa: ANN001
        sel = [q for r in rows if r["voice"] != "piper" and pred(r) for q in [r["question"], r["follow_up"]]
               if q and q.get("wer_edits") is not None]
        ref = sum(q["ref_words"] for q in sel)
        return {"wer": round(sum(q["wer_edits"] for q in sel) / ref, 3) if ref else None, "questions": len(sel)}

    eq_clean = [q["live_equals_clean_transcribe"] for q in allq if q.get("live_equals_clean_transcribe") is not None]
    hes = [q for q in allq if q.get("hesitation_s")]
    return {
        "visitors": len(rows),
        "wake_recall": _share(len(woke), len(rows)),
        "woken_too_late": sum(1 for r in rows if r.get("woke_late")),
        "wake_recall_by_voice": {v: {"recall": _share(sum(x), len(x)), "n": len(x)} for v, x in by},
        "typed_right": len(typed_right),
        "answered_from_documents": {"n": len(typed_right),
                                    "share": _share(sum(1 for q in typed_right if q["facts_ok"]), len(typed_right))},
        "questions_lost": {"n": len(lost), "of_woken": len(woke), "share": _share(len(lost), len(woke)),
                           "no_turn": sum(1 for r in lost if not r["question"]["answered"]),
                           "answered_too_late": sum(1 for r in lost if r["question"]["late_turns"])},
        "wake_reaction_s": {"p50": _median([r["wake_reaction_s"] for r in rows if r["wake_reaction_s"] is not None]),
                            "max": max((r["wake_reaction_s"] for r in rows if r["wake_reaction_s"] is not None),
                                       default=None)},
        "follow_ups": {"asked": len(fus), "taken": sum(1 for q in fus if q["matched"]),
                       "share": _share(sum(1 for q in fus if q["matched"]), len(fus))},
        "bystander": {"speech_minutes": round(minutes, 2), "answered": bystander_turns,
                      "per_10_min": round(bystander_turns / minutes * 10, 2) if minutes else None,
                      "in_follow_up_window": {"said": len(after_said),
                                              "answered": sum(1 for r in after_said if r["after_answer"]["answered"])},
                      "matched_a_bystander_line": sum(1 for r in rows for t in r["non_visitor_turns"]
                                                      if t["matched_bystander"])},
        "unprompted_turns": sum(1 for r in rows for t in r["non_visitor_turns"] if not t["matched_bystander"]),
        "bystander_false_wakes": sum(r.get("bystander_wakes") or 0 for r in rows),
        "bystander_dismissed": sum(r.get("bystander_dismissed") or 0 for r in rows),
        "questions_merged_after_a_pause": sum(1 for q in allq if (q.get("thinking_count") or 0) > 1),
        "cut_off": {"questions": sum(1 for q in allq if q["answered"]),
                    "cut": sum(1 for q in allq if q["cut_off"]),
                    "share": _share(sum(1 for q in allq if q["cut_off"]), sum(1 for q in allq if q["answered"])),
                    "hesitation_questions": len(hes), "hesitation_cut": sum(1 for q in hes if q["cut_off"])},
        "v2v_s": {"n": len(v2v), "p50": _median(v2v),
                  "p95": round(float(np.percentile(v2v, 95)), 3) if v2v else None},
        # where voice to voice goes: the kiosk's own stamps (mic's last word -> transcript -> sound device)
        "v2v_stages_ms_p50": {stage: _median([t[stage] for q in allq if q.get("v2v_s") is not None
                                              and (t := q.get("timings_ms") or {}).get(stage) is not None])
                              for stage in ("end_to_heard", "first_audio", "to_speaker")},
        "baseline_first_audio_s_p50": _median(base),
        "v2v_over_baseline": {"ratio_of_medians": round(statistics.median(v2v) / statistics.median(base), 3)
                              if v2v and base else None, "median_of_ratios": _median(ratios),
                              "ratio_of_medians_short_silence": round(statistics.median(v2v) / statistics.median(
                                  base_short), 3) if v2v and base_short else None},
        "question_wer_non_piper": {"clean": wer(lambda r: r["snr_db"] is None),
                                   "noise": wer(lambda r: r["snr_db"] is not None)},
        "live_equals_transcribe": live_equals_transcribe(rows),
        "live_equals_clean_transcribe": {"n": len(eq_clean), "share": _share(sum(eq_clean), len(eq_clean))},
    }


def difference(live: str, file: str) -> str:
    """How the kiosk's words differ from `kiosk transcribe`'s: "fewer words" (a run of them: the kiosk lost
    part of the utterance, e.g. dismissed an opener), "more words", or "other" (decoded differently)."""
    a, b = spoken(live), spoken(file)

    def within(x: list[str], y: list[str]) -> bool:
        return len(x) < len(y) and any(y[i:i + len(x)] == x for i in range(len(y) - len(x) + 1))

    return "fewer words" if within(a, b) else "more words" if within(b, a) else "other"


def live_equals_transcribe(rows: list[dict[str, Any]], examples: int = 12) -> dict[str, Any]:
    """The words the kiosk acted on against `kiosk transcribe` on the audio its microphone got, over every
    question and follow-up the kiosk took a turn for: the share equal (case, punctuation and "okay" aside),
    by step (a question after the wake line, one in the same breath, a follow-up), how the others differ, and
    the first of them."""
    def kind(r: dict[str, Any], q: dict[str, Any]) -> str:
        return "follow_up" if q is r["follow_up"] else f"question_{r['style']}"

    pairs = [(kind(r, q), r["id"], q) for r in rows for q in (r["question"], r["follow_up"])
             if q and q.get("live_equals_transcribe") is not None]
    by: dict[str, list[bool]] = {}
    for k, _, q in pairs:
        by.setdefault(k, []).append(q["live_equals_transcribe"])
    diffs = [{"id": i, "step": k, "live": q["heard"], "transcribe": q["mic"]["question"],
              "how": difference(q["heard"], q["mic"]["question"])} for k, i, q in pairs
             if not q["live_equals_transcribe"]]
    how: dict[str, int] = {}
    for d in diffs:
        how[d["how"]] = how.get(d["how"], 0) + 1
    return {"n": len(pairs), "share": _share(sum(q["live_equals_transcribe"] for _, _, q in pairs), len(pairs)),
            "by_step": {k: {"n": len(x), "share": _share(sum(x), len(x))} for k, x in sorted(by.items())},
            "differ": dict(sorted(how.items())), "differences": diffs[:examples]}


STEP_ABBR = {"question_separate": "sep", "question_one_breath": "1-breath", "follow_up": "f-up"}


def _live_file_cell(x: dict[str, Any]) -> str:
    steps = ", ".join(f"{STEP_ABBR.get(k, k)} {v['share']}" for k, v in x["by_step"].items())
    differ = ", ".join(f"{k} {n}" for k, n in x["differ"].items())
    return f"{x['share']} (n={x['n']}; {steps}" + (f"; {differ}" if differ else "") + ")"


TARGETS = [
    ("wake recall (all voices)", lambda a: f"{a['wake_recall']} (+{a['woken_too_late']} too late)",
     "≥0.95 every voice"),
    ("answered from documents (typed right)", lambda a: f"{a['answered_from_documents']['share']} "
     f"of {a['answered_from_documents']['n']}", ""),
    ("questions lost (of woken)", lambda a: f"{a['questions_lost']['n']} of {a['questions_lost']['of_woken']} "
     f"({a['questions_lost']['answered_too_late']} too late)", ""),
    ("wake → listening p50 / max (s)", lambda a: f"{a['wake_reaction_s']['p50']} / {a['wake_reaction_s']['max']}", ""),
    ("follow-ups taken", lambda a: f"{a['follow_ups']['share']} "
     f"({a['follow_ups']['taken']}/{a['follow_ups']['asked']})", "≥0.90"),
    ("bystander answered / 10 min", lambda a: f"{a['bystander']['per_10_min']} ({a['bystander']['answered']} in "
     f"{a['bystander']['speech_minutes']} min)", "≤1"),
    ("  of which in follow-up window", lambda a: f"{a['bystander']['in_follow_up_window']['answered']}/"
     f"{a['bystander']['in_follow_up_window']['said']}", ""),
    ("bystander false wakes / dismissed", lambda a: f"{a['bystander_false_wakes']} / {a['bystander_dismissed']}", ""),
    ("  answered words nobody said (noise?)", lambda a: a["unprompted_turns"], ""),
    ("cut-off questions", lambda a: f"{a['cut_off']['share']} ({a['cut_off']['cut']}/{a['cut_off']['questions']}; "
     f"hesitations {a['cut_off']['hesitation_cut']}/{a['cut_off']['hesitation_questions']})", "≤0.02"),
    ("questions merged after a pause", lambda a: a["questions_merged_after_a_pause"], ""),
    ("voice to voice p50 / p95 (s)", lambda a: f"{a['v2v_s']['p50']} / {a['v2v_s']['p95']} (n={a['v2v_s']['n']})", ""),
    ("  stages p50 (ms): last word -> transcript / -> first audio / -> device",
     lambda a: " / ".join(str(v) for v in a["v2v_stages_ms_p50"].values()), ""),
    ("sequential baseline p50 (s)", lambda a: a["baseline_first_audio_s_p50"], ""),
    ("v2v ÷ baseline (medians)", lambda a: f"{a['v2v_over_baseline']['ratio_of_medians']} (with the short "
     f"silence: {a['v2v_over_baseline']['ratio_of_medians_short_silence']})", ""),
    ("question WER non-Piper clean", lambda a: f"{a['question_wer_non_piper']['clean']['wer']} "
     f"(n={a['question_wer_non_piper']['clean']['questions']})", ""),
    ("question WER non-Piper noise", lambda a: f"{a['question_wer_non_piper']['noise']['wer']} "
     f"(n={a['question_wer_non_piper']['noise']['questions']})", ""),
    ("live = transcribe --wake (mic audio)", lambda a: _live_file_cell(a["live_equals_transcribe"]), "1.0"),
    ("live = clean-WAV transcribe (old)", lambda a: f"{a['live_equals_clean_transcribe']['share']} "
     f"(n={a['live_equals_clean_transcribe']['n']})", ""),
]


def table(parts: dict[str, dict[str, Any]]) -> str:
    names = [p for p in ("tuning", "heldout", "all") if parts.get(p, {}).get("visitors")]
    lines = [f"{'measure':<40}" + "".join(f"{n:<34}" for n in names) + "target"]
    for label, get, target in TARGETS:
        cells = []
        for n in names:
            try:
                cells.append(str(get(parts[n])))
            except (KeyError, TypeError, ZeroDivisionError):
                cells.append("-")
        lines.append(f"{label:<40}" + "".join(f"{c:<33} " for c in cells) + target)
    lines.append("wake recall by voice:")
    for n in names:
        lines.append(f"  {n}: " + ", ".join(f"{v} {x['recall']} ({x['n']})"
                                           for v, x in parts[n]["wake_recall_by_voice"].items()))
    return "\n".join(lines)
