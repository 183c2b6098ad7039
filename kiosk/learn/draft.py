"""`kiosk quiz generate`: a draft quiz from an ingested knowledge base, for a person to edit.

FAQ entries first (their own question, the short answer found in the answer, the whole answer as the
explanation), then document sentences with a checkable fact (kiosk/learn/facts.py) asked by simple rules
(kiosk/learn/phrasing.py), taken from the documents in turn so that the draft covers all of them. Every
drafted answer is judged right by kiosk/learn/judge.py when said as written, or it is left out. The file
carries `draft = true`, which `kiosk quiz` and the kiosk refuse until a person has reviewed it."""

from __future__ import annotations

import datetime
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

from kiosk.knowledge.chunking import split_sentences
from kiosk.knowledge.index import open_index
from kiosk.learn.facts import faq_answer, find_facts
from kiosk.learn.judge import judge, normalize
from kiosk.learn.phrasing import ask, usable
from kiosk.learn.question import Question
from kiosk.learn.quiz_file import load_quiz

# The kinds of fact asked about in document sentences, the most checkable first.
_SENTENCE_KINDS = ("room", "time", "money", "quantity", "extension", "name", "place")


@dataclass(frozen=True)
class Drafted:
    text: str
    answers: tuple[str, ...]
    explanation: str
    source: str
    origin: str
    """faq | sentence"""


@dataclass(frozen=True)
class DraftReport:
    path: Path
    faq: int
    sentences: int


class DraftError(ValueError):
    """Nothing to draft, or the output file is in the way; the message says what to do."""


def _checked(text: str, answers: tuple[str, ...]) -> tuple[str, ...]:
    """The answers the judge takes as right when said exactly as written (all, normally)."""
    question = Question(text, answers)
    return tuple(a for a in answers if judge(a, question).correct)


def _from_faq(source: str, question: str, answer: str) -> Drafted | None:
    short = _checked(question, faq_answer(question, answer))
    return Drafted(question.strip(), short, answer.strip(), source, "faq") if short else None


def _from_text(source: str, text: str) -> Iterator[Drafted]:
    for sentence in split_sentences(text):
        sentence = sentence.lstrip("-•* ").strip()
        if not usable(sentence):
            continue
        facts = sorted((f for f in find_facts(sentence) if f.kind in _SENTENCE_KINDS),
                       key=lambda f: _SENTENCE_KINDS.index(f.kind))
        asked = [ask(sentence, f) for f in facts]
        # a question of its own shape before a gap to fill
        for question, answers in sorted(asked, key=lambda qa: qa[0].startswith("Fill the gap")):
            answers = _checked(question, answers)
            if answers:
                yield Drafted(question, answers, sentence, source, "sentence")
                break


def _same(a: Drafted, b: Drafted) -> bool:
    """The same fact asked twice (the FAQ and the handbook both say where the help desk is)."""
    if normalize(a.answers[0]) != normalize(b.answers[0]):
        return False
    wa, wb = set(normalize(a.text)), set(normalize(b.text))
    return len(wa & wb) >= 0.5 * min(len(wa), len(wb))


def draft_questions(kb: Path, limit: int) -> list[Drafted]:
    """Up to `limit` questions from the knowledge index at `kb` (KnowledgeError when it is not one)."""
    faq: list[Drafted] = []
    by_document: dict[str, list[Drafted]] = {}
    with open_index(kb) as index:
        rows = index.conn.execute(
            "SELECT d.path, c.kind, c.question, c.text FROM chunks c JOIN documents d ON d.id = c.doc_id "
            "ORDER BY d.path, c.ordinal").fetchall()
    for source, kind, question, text in rows:
        if kind == "faq":
            if (drafted := _from_faq(source, question, text)) is not None:
                faq.append(drafted)
        elif kind == "text":  # tables read badly as sentences
            by_document.setdefault(source, []).extend(_from_text(source, text))
    chosen: list[Drafted] = []
    in_turn = (d for row in zip_longest(*by_document.values()) for d in row if d is not None)
    for drafted in (*faq, *in_turn):
        if len(chosen) >= limit:
            break
        if not any(_same(drafted, other) for other in chosen):
            chosen.append(drafted)
    return chosen


def _toml(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's; DEL must be escaped in TOML)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def draft_toml(questions: list[Drafted], title: str, kb: Path, day: datetime.date | None = None) -> str:
    day = day or datetime.date.today()
    lines = [
        f"# DRAFT written by `kiosk quiz generate` from {kb.name} on {day.isoformat()}: a person must review it.",
        "# The questions were drafted by simple rules from the documents: an answer may be incomplete, a",
        "# question oddly put or not worth asking. Fix or delete questions, add answers people may say and",
        "# choices, then remove `draft = true` below: until then `kiosk quiz` and the kiosk refuse this file.",
        "# Check it with `kiosk quiz check FILE` (docs/learning.md).",
        "[quiz]",
        f"title = {_toml(title)}",
        "draft = true",
        "pass_score = 0.8",
        "shuffle = true",
    ]
    for q in questions:
        lines += ["", f"# from {'an FAQ entry in ' if q.origin == 'faq' else ''}{q.source}", "[[question]]",
                  f"text = {_toml(q.text)}",
                  f"answers = [{', '.join(_toml(a) for a in q.answers)}]",
                  f"explanation = {_toml(q.explanation)}",
                  f"source = {_toml(q.source)}"]
    return "\n".join(lines) + "\n"


def write_draft(kb: Path, out: Path, count: int = 10, title: str = "", force: bool = False) -> DraftReport:
    """Draft up to `count` questions from `kb` into `out` (never over an existing file without `force`)."""
    out = Path(out)
    if out.exists() and not force:
        raise DraftError(f"{out} exists: pass --force to overwrite it, or choose another --out")
    questions = draft_questions(Path(kb), count)
    if not questions:
        raise DraftError(f"{kb}: no question could be drafted: it holds no FAQ entries and no sentences with a "
                         "time, a room, a number or a named place; write the quiz by hand (docs/learning.md)")
    text = draft_toml(questions, title.strip() or "Quiz from the documents", Path(kb))
    with tempfile.TemporaryDirectory() as tmp:  # what is written passes `kiosk quiz check`, or nothing is
        trial = Path(tmp) / "draft.toml"
        trial.write_text(text, encoding="utf-8")
        load_quiz(trial)
    try:
        with out.open("w" if force else "x", encoding="utf-8") as f:
            f.write(text)
    except FileExistsError:
        raise DraftError(f"{out} exists: pass --force to overwrite it, or choose another --out") from None
    except OSError as error:
        raise DraftError(f"{out}: cannot be written ({error.strerror or error})") from None
    faq = sum(q.origin == "faq" for q in questions)
    return DraftReport(out, faq, len(questions) - faq)

