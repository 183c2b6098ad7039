"""The evaluation sets in samples/: well-formed, their sources exist, every key fact is in the source text.

Covers every samples/<company>-eval.jsonl, -followups.jsonl and -paraphrases.jsonl that is present, each
checked against the documents in samples/<company>/ as the kiosk's own parsers read them. A line is
either one case ({"question", "answerable", "source", "also", "key_facts"}) or a conversation
({"conversation": [case, case, ...]}), whose later turns may carry "new_topic": true when they leave
the topic of the turns before. The held-out (Brackwater) and validation (Northpine) sets must also keep their
minimum sizes, and ingesting each company's folder must skip no document.

Fast: parsers and an FTS-only ingest, no models.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from kiosk.answer.evaluate import load_cases
from kiosk.knowledge.index import ingest
from kiosk.knowledge.parsers import parse_file

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
SETS = sorted([*SAMPLES.glob("*-eval.jsonl"), *SAMPLES.glob("*-followups.jsonl"), *SAMPLES.glob("*-paraphrases.jsonl")])
HELD_OUT = [SAMPLES / "brackwater-eval.jsonl", SAMPLES / "northpine-eval.jsonl"]
"""the held-out set and the validation set (samples/README.md); their minimum sizes are checked below"""
CASE_KEYS = {"question", "answerable", "source", "also", "key_facts", "new_topic"}


@dataclass(frozen=True)
class Entry:
    line: int
    turns: tuple[dict, ...]
    """one case, or the turns of a conversation"""
    conversation: bool


def company(path: Path) -> str:
    """samples/brackwater-eval.jsonl -> "brackwater" """
    return path.name.rsplit("-", 1)[0]


def entries(path: Path) -> list[Entry]:
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        raw = json.loads(line)
        assert isinstance(raw, dict), f"{path.name}:{n}: not a JSON object"
        if "conversation" in raw:
            assert set(raw) == {"conversation"}, f"{path.name}:{n}: a conversation line has only 'conversation'"
            turns = raw["conversation"]
            assert isinstance(turns, list) and len(turns) >= 2, f"{path.name}:{n}: a conversation has 2+ turns"
            out.append(Entry(n, tuple(turns), True))
        else:
            out.append(Entry(n, (raw,), False))
    return out


def cases(path: Path) -> list[tuple[int, dict]]:
    """(line, case) for every case of the file, conversation turns included."""
    return [(e.line, turn) for e in entries(path) for turn in e.turns]


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


@cache
def document_text(path: Path) -> str:
    """The text the kiosk indexes for one file: every block, FAQ questions included, whitespace and case normalised."""
    doc = parse_file(path)
    return normalise("\n".join(f"{b.question}\n{b.text}" for b in doc.blocks))


def ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def test_the_eval_sets_are_there():
    names = {p.name for p in SETS}
    assert {"halvorsen-eval.jsonl", "brackwater-eval.jsonl", "northpine-eval.jsonl"} <= names


@pytest.mark.parametrize("path", SETS, ids=ids(SETS))
def test_every_line_is_a_well_formed_case_or_conversation(path: Path):
    assert (SAMPLES / company(path)).is_dir(), f"{path.name}: no folder samples/{company(path)}/"
    found = entries(path)
    assert found, f"{path.name}: empty"
    for e in found:
        where = f"{path.name}:{e.line}"
        for i, case in enumerate(e.turns):
            assert isinstance(case, dict), f"{where}: turn {i + 1} is not an object"
            assert not set(case) - CASE_KEYS, f"{where}: unknown keys {sorted(set(case) - CASE_KEYS)}"
            assert isinstance(case.get("question"), str) and case["question"].strip(), f"{where}: no question"
            assert isinstance(case.get("answerable"), bool), f"{where}: 'answerable' must be true or false"
            if "new_topic" in case:
                assert e.conversation and i > 0, f"{where}: new_topic only on a later turn of a conversation"
                assert case["new_topic"] is True, f"{where}: new_topic, when present, is true"
            if not case["answerable"]:
                assert not {"source", "also", "key_facts"} & set(case), f"{where}: an unanswerable case has no sources"
                continue
            assert isinstance(case.get("source"), str) and case["source"], f"{where}: no source"
            also = case.get("also", [])
            assert isinstance(also, list) and all(isinstance(a, str) and a for a in also), f"{where}: bad 'also'"
            assert case["source"] not in also, f"{where}: the source is repeated in 'also'"
            facts = case.get("key_facts")
            assert isinstance(facts, list) and facts, f"{where}: an answerable case needs key_facts"
            for group in facts:
                alts = [group] if isinstance(group, str) else group
                assert isinstance(alts, list) and alts, f"{where}: empty key-fact group"
                assert all(isinstance(a, str) and a.strip() for a in alts), f"{where}: bad key fact {group!r}"


@pytest.mark.parametrize("path", SETS, ids=ids(SETS))
def test_the_eval_loader_reads_every_case_and_marks_follow_ups(path: Path):
    """`kiosk eval` reads the whole file: single questions, and conversations whose later turns are follow-ups."""
    cases = load_cases(path)
    turns = [(i, turn) for e in entries(path) for i, turn in enumerate(e.turns)]
    assert len(cases) == len(turns)
    assert [c.follow_up for c in cases] == [i > 0 for i, _ in turns]
    assert [c.question for c in cases] == [turn["question"] for _, turn in turns]


@pytest.mark.parametrize("path", SETS, ids=ids(SETS))
def test_every_source_file_exists(path: Path):
    folder = SAMPLES / company(path)
    missing = sorted({
        f"{path.name}:{n}: {name}"
        for n, case in cases(path) if case.get("answerable")
        for name in (case["source"], *case.get("also", ()))
        if not (folder / name).is_file()
    })  # fmt: skip
    assert not missing, "source files not found in samples/{}/:\n{}".format(company(path), "\n".join(missing))


@pytest.mark.parametrize("path", SETS, ids=ids(SETS))
def test_every_key_fact_is_in_its_source_documents(path: Path):
    """Each group of alternatives has one that occurs, case-insensitively, in the source or `also` documents."""
    folder = SAMPLES / company(path)
    missing = []
    for n, case in cases(path):
        if not case.get("answerable"):
            continue
        names = (case["source"], *case.get("also", ()))
        text = "\n".join(document_text(folder / name) for name in names if (folder / name).is_file())
        for group in case["key_facts"]:
            alts = [group] if isinstance(group, str) else group
            if not any(normalise(alt) in text for alt in alts):
                missing.append(f"{path.name}:{n}: {case['question']!r}: none of {alts} in {', '.join(names)}")
    assert not missing, "key facts not found in their documents:\n" + "\n".join(missing)


@pytest.mark.parametrize("held_out", HELD_OUT, ids=ids(HELD_OUT))
def test_the_held_out_set_has_its_minimum_sizes(held_out: Path):
    found = entries(held_out)
    singles = [e.turns[0] for e in found if not e.conversation]
    conversations = [e.turns for e in found if e.conversation]
    follow_ups = [t for turns in conversations for t in turns[1:]]
    assert sum(1 for c in singles if c["answerable"]) >= 45
    assert sum(1 for c in singles if not c["answerable"]) >= 12
    assert len(conversations) >= 22
    assert all(turns[0]["answerable"] and "new_topic" not in turns[0] for turns in conversations)
    # Most follow-ups are answerable, a few are not; 3+ conversations change topic at the second turn.
    assert sum(1 for t in follow_ups if t["answerable"]) >= 0.8 * len(follow_ups)
    assert sum(1 for t in follow_ups if not t["answerable"]) >= 3
    assert sum(1 for turns in conversations if turns[1].get("new_topic")) >= 3
    # Every document of the held-out company is the source of some question.
    documents = {p.name for p in (SAMPLES / company(held_out)).iterdir()}
    used = {c["source"] for _, c in cases(held_out) if c["answerable"]}
    assert used == documents, f"documents without a question: {sorted(documents - used)}"


COMPANIES = sorted({company(p) for p in SETS})


@pytest.mark.parametrize("name", COMPANIES)
def test_ingest_indexes_every_document_and_skips_none(name: str, tmp_path: Path):
    folder = SAMPLES / name
    files = sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    report = ingest(tmp_path / "kb.sqlite", [folder])
    assert report.skipped == ()
    assert sorted(report.added) == files
    assert report.chunks >= len(files)
