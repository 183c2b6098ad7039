"""`kiosk quiz generate`: a draft quiz from the sample company's ingested documents that passes `kiosk quiz
check`, whose every accepted answer the judge takes as right when said as written, and that neither `kiosk
quiz` nor QuizRun takes while it is marked a draft. The fact finder and the question rules on their own."""

from __future__ import annotations

import io
import re
import sqlite3
from pathlib import Path

import pytest

from kiosk.cli.main import main
from kiosk.knowledge.index import ingest
from kiosk.learn.draft import DraftError, write_draft
from kiosk.learn.facts import faq_answer, find_facts
from kiosk.learn.judge import judge
from kiosk.learn.phrasing import ask
from kiosk.learn.question import Question
from kiosk.learn.quiz import QuizRun
from kiosk.learn.quiz_file import DRAFT_REFUSAL, Quiz, QuizDraftError, QuizError, load_quiz

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kb") / "kb.sqlite"
    ingest(path, [ROOT / "samples" / "halvorsen"])  # no embedder: parsing and FTS only, well under a second
    return path


def _faq(kb: Path) -> dict[str, tuple[str, str]]:
    conn = sqlite3.connect(kb)
    rows = conn.execute("SELECT c.question, c.text, d.path FROM chunks c JOIN documents d ON d.id = c.doc_id "
                        "WHERE c.kind = 'faq'").fetchall()
    conn.close()
    return {q: (a, p) for q, a, p in rows}


def _other_digits(text: str) -> str:
    return re.sub(r"\d", lambda m: str((int(m.group()) + 5) % 10), text)


def test_a_draft_from_the_sample_documents(kb: Path, tmp_path: Path) -> None:
    out = tmp_path / "draft.toml"
    report = write_draft(kb, out, count=500)  # everything the rules find
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# DRAFT") and "a person must review it" in text.splitlines()[0]
    quiz = load_quiz(out)
    assert quiz.draft and len(quiz.questions) == report.faq + report.sentences
    assert report.faq >= 15 and report.sentences >= 60
    faq = _faq(kb)
    # FAQ entries first: their own question, the short answer, the whole answer, the document
    for question in quiz.questions[:report.faq]:
        answer, source = faq[question.text]
        assert question.explanation == answer and question.source == source == "faq.md"
    assert all(q.text not in faq for q in quiz.questions[report.faq:])
    assert {q.source for q in quiz.questions[report.faq:]} >= {"benefits.pdf", "it-guide.md",
                                                               "onboarding-handbook.md", "safety-rules.html"}
    for question in quiz.questions:
        for answer in question.answers:  # said exactly as written, every accepted answer is right
            assert judge(answer, question).correct, (question.text, answer)
        if re.search(r"\d", question.answers[0]):  # and another number is not
            assert not judge(_other_digits(question.answers[0]), question).correct, question.text
        assert question.explanation and question.source
    by_text = {q.text: q for q in quiz.questions}
    assert by_text["Where is the IT help desk?"].answers == ("B-214",)
    assert by_text["What number do I call in an emergency?"].answers == ("911",)
    assert by_text["Can I walk in the blue lanes?"].answers == ("no",)
    assert by_text["What time does new-hire orientation start?"].answers == ("9:30",)
    assert judge("half past nine", by_text["What time does new-hire orientation start?"]).correct
    assert len(by_text) == len(quiz.questions)  # no question twice


def test_the_cli_writes_a_draft_that_check_passes_and_quiz_refuses(kb: Path, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "quiz.toml"
    assert main(["quiz", "generate", "--kb", str(kb), "--out", str(out), "--questions", "5"]) == 0
    assert "a draft of 5 questions" in capsys.readouterr().out
    assert main(["quiz", "check", str(out)]) == 0
    assert DRAFT_REFUSAL in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))
    assert main(["quiz", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{out}:" in err and "quiz.draft: a draft: review it and remove draft = true" in err
    # never over an existing file without --force
    before = out.read_text()
    out.write_text(before + "# edited by the trainer\n")
    assert main(["quiz", "generate", "--kb", str(kb), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err and out.read_text().endswith("# edited by the trainer\n")
    assert main(["quiz", "generate", "--kb", str(kb), "--out", str(out), "--force", "--questions", "3",
                 "--title", 'Badges "and" access']) == 0
    reviewed = load_quiz(out)
    assert reviewed.title == 'Badges "and" access' and len(reviewed.questions) == 3
    # reviewed: the draft line removed, the quiz is taken
    out.write_text(out.read_text().replace("draft = true\n", ""))
    monkeypatch.setattr("sys.stdin", io.StringIO("stop\n"))
    assert main(["quiz", str(out), "--json"]) == 0
    assert main(["quiz", "generate", "--kb", str(tmp_path / "none.sqlite"), "--out", str(tmp_path / "x.toml")]) == 4
    assert "kiosk ingest" in capsys.readouterr().err and not (tmp_path / "x.toml").exists()


def test_nothing_to_draft_and_escaped_text(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.md").write_text("# Notes\n\nBe kind to each other and keep the kitchen tidy.\n")
    kb = tmp_path / "kb.sqlite"
    ingest(kb, [docs])
    with pytest.raises(DraftError, match="no question could be drafted"):
        write_draft(kb, tmp_path / "out.toml")
    assert not (tmp_path / "out.toml").exists()
    (docs / "faq.md").write_text('# FAQ\n\nQ: Where is the "quiet" room?\nA: The "quiet" room is A-115 '
                                 '(path C:\\rooms\\quiet), next to The Galley.\n')
    ingest(kb, [docs])
    write_draft(kb, tmp_path / "out.toml")
    question = load_quiz(tmp_path / "out.toml").questions[0]
    assert question.text == 'Where is the "quiet" room?' and question.answers == ("A-115",)
    assert "C:\\rooms\\quiet" in question.explanation


def test_a_draft_is_never_taken(tmp_path: Path) -> None:
    quiz = Quiz("Hall safety", (Question("Which hall?", ("hall 2",)),), draft=True)
    with pytest.raises(QuizDraftError, match=DRAFT_REFUSAL):
        QuizRun(quiz)
    bad = tmp_path / "bad.toml"
    bad.write_text('[quiz]\ntitle = "x"\ndraft = "yes"\n\n[[question]]\ntext = "y"\nanswers = ["z"]\n')
    with pytest.raises(QuizError) as error:
        load_quiz(bad)
    assert error.value.problems[0].startswith("3: quiz.draft: true or false")


@pytest.mark.parametrize("sentence, kinds", [
    ("The IT help desk is in room B-214 and opens at 7:30.", ["room", "time"]),
    ("Each further replacement costs $1,500, or 20 days of pay.", ["money", "quantity"]),
    ("Call Security at extension 411 or use HALVORSEN-GUEST in Building C.", ["extension", "name", "place"]),
    ("Meet at Building A, room 3, at 14:00.", ["time"]),  # "Building A" would lose its "A" to the judge
])
def test_facts_in_a_sentence(sentence: str, kinds: list[str]) -> None:
    assert [f.kind for f in find_facts(sentence)] == kinds


@pytest.mark.parametrize("question, answer, short", [
    ("Where is the first aid room?", "The first aid room is C-110, next to assembly line 3.", ("C-110",)),
    ("What number do I call in an emergency?", "Call 911 first, then Security at extension 411.", ("911",)),
    ("How many sick days do I get?", "You receive 80 hours, which is 10 days, of sick leave.", ("10 days",)),
    ("I clicked a link in an email. Am I in trouble?", "No. Call the help desk at extension 4357.", ("no",)),
    ("Does a badge cost anything?", "The first one is free. Each further one costs $20.", ()),
    ("When is the canteen open?", "Monday to Friday, from 7:00 to 14:00.", ()),  # one end of a range misleads
    ("How do I report a near miss?", "Tell your supervisor and complete form EHS-01.", ()),
])
def test_the_short_answer_of_an_faq_entry(question: str, answer: str, short: tuple[str, ...]) -> None:
    assert faq_answer(question, answer) == short


@pytest.mark.parametrize("sentence, question", [
    ("The IT help desk is in room B-214 on the 2nd floor.", "Where is the IT help desk?"),
    ("New-hire orientation starts at 9:30 in the Fjord room.", "What time does new-hire orientation start?"),
    ("The company reimburses up to $50 per month for a gym membership, fitness classes or an app.",
     "How much does the company reimburse per month for a gym membership?"),
    ("All parents can take 16 weeks of fully paid parental leave.",
     "How many weeks of fully paid parental leave can all parents take?"),
    ("Questions about your paycheck go to Payroll at extension 210.", "Which extension do you call for Payroll?"),
    ("Book domestic flights at least 14 days before departure.",
     'Fill the gap: "Book domestic flights at least … days before departure."'),
])
def test_a_sentence_asked(sentence: str, question: str) -> None:
    fact = next(f for f in find_facts(sentence) if f.kind != "place")
    asked, answers = ask(sentence, fact)
    assert asked == question
    assert judge(answers[0], Question(asked, answers)).correct
